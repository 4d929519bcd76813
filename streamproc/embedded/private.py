"""Throwaway servers owned by the process that starts them, for tests and benchmarks.

Unlike the shared servers of ``ensure_redis``/``ensure_postgres``, a private
server is a child process: ``stop()`` ends and reaps it, and on Linux the
kernel sends it SIGTERM (Redis) or SIGINT (PostgreSQL's fast shutdown) when
the thread that started it dies (``PR_SET_PDEATHSIG``), so a crashed or
killed test run does not leave servers behind. Start them from the main
thread (pytest fixtures run there), not from a worker thread that may exit
first. ``restart()`` keeps the data and the address, so clients reconnect
to the same URL; ``kill()`` simulates a crash.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from types import TracebackType

from streamproc.embedded.postgres import (
    DATABASE,
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    Postmaster,
    create_database,
    postgres_dsn,
    wait_ready,
)
from streamproc.embedded.postgres_cluster import (
    PostgresLayout,
    ServiceUser,
    clear_stale_locks,
    postgres_bin,
    prepare,
    run_as,
    service_user,
    write_settings,
)
from streamproc.embedded.process import die_with_parent
from streamproc.embedded.redis import find_redis_server, server_version, wait_for_ping
from streamproc.embedded.redis_config import (
    AppendFsync,
    RedisLayout,
    choose_endpoint,
    redis_settings,
    render_redis_config,
)


class _Child:
    """A server process started by this one, stopped with a signal and always reaped."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The server's pid, or None while it is stopped."""
        return None if self._process is None else self._process.pid

    def _spawn(
        self, args: list[str], log: Path, sig: signal.Signals, user: ServiceUser | None = None
    ) -> None:
        with log.open("ab") as output:
            # The preexec hook only calls prctl and getppid, both safe between fork and exec.
            self._process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
                preexec_fn=die_with_parent(sig),  # noqa: PLW1509
                **run_as(user),
            )

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _halt(self, sig: signal.Signals, *, group: bool = False) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            # The server leads its own session, so its group holds it and every worker it forked.
            (os.killpg if group else os.kill)(process.pid, sig)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class PrivateRedis(_Child):
    """A Redis server in its own directory, owned by this process."""

    def __init__(
        self,
        root: Path,
        binary: Path,
        *,
        appendonly: bool = True,
        appendfsync: AppendFsync = "everysec",
        timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        super().__init__()
        self.layout = RedisLayout(root.absolute())
        self.binary = binary
        self.version = ""
        self._timeout = timeout
        self._endpoint = choose_endpoint(self.layout)
        settings = redis_settings(
            self.layout,
            self._endpoint,
            daemonize=False,
            appendonly=appendonly,
            appendfsync=appendfsync,
        )
        root.mkdir(parents=True, exist_ok=True)
        self.layout.config.write_text(render_redis_config(settings))

    @property
    def url(self) -> str:
        """The server's redis-py URL; unchanged by ``restart()``."""
        return self._endpoint.url

    def start(self) -> None:
        """Start the server (no-op if running) and wait until it answers PING."""
        if self._alive():
            return
        self._spawn([str(self.binary), str(self.layout.config)], self.layout.log, signal.SIGTERM)
        try:
            wait_for_ping(self.url, self.layout, self._alive, self._timeout)
        except BaseException:
            self.kill()
            raise
        self.version = server_version(self.url)

    def stop(self) -> None:
        """Shut down cleanly (SIGTERM: Redis flushes the AOF) and reap the process."""
        self._halt(signal.SIGTERM)

    def kill(self) -> None:
        """Crash the server and any AOF-rewrite child (SIGKILL); ``everysec`` may lose a second."""
        self._halt(signal.SIGKILL, group=True)

    def restart(self) -> None:
        """Stop and start again on the same address; data survives through the AOF."""
        self.stop()
        self.start()

    def __enter__(self) -> PrivateRedis:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class PrivatePostgres(_Child):
    """A PostgreSQL server in its own directory, owned by this process."""

    def __init__(self, root: Path, *, timeout: float = STARTUP_TIMEOUT) -> None:
        super().__init__()
        self.layout = PostgresLayout(root.absolute())
        self._timeout = timeout
        self._user = service_user()
        self._postmaster: Postmaster | None = None
        prepare(self.layout, self._user, timeout)
        write_settings(self.layout)

    @property
    def dsn(self) -> str:
        """A DSN for the ``streamproc`` database; unchanged by ``restart()``."""
        return self.dsn_for(DATABASE)

    def dsn_for(self, database: str) -> str:
        """A DSN for ``database`` on this server (see ``create_database``)."""
        return postgres_dsn(self._started(), database)

    def create_database(self, database: str) -> str:
        """Create ``database`` unless it exists; return its DSN (one database per test)."""
        create_database(self._started(), database, self._timeout)
        return self.dsn_for(database)

    def _started(self) -> Postmaster:
        if self._postmaster is None:
            raise RuntimeError(f"PostgreSQL under {self.layout.root} has not been started")
        return self._postmaster

    def start(self) -> None:
        """Start the server (no-op if running), wait until ready, create ``streamproc``."""
        if self._alive():
            return
        clear_stale_locks(self.layout)
        postgres = [str(postgres_bin() / "postgres"), "-D", str(self.layout.pgdata)]
        self._spawn(postgres, self.layout.log, signal.SIGINT, self._user)
        try:
            self._postmaster = wait_ready(
                self.layout, self._timeout, pid=self.pid, alive=self._alive
            )
            create_database(self._postmaster, DATABASE, self._timeout)
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """Fast shutdown (SIGINT: sessions are rolled back) and reap the process."""
        self._halt(signal.SIGINT)

    def kill(self) -> None:
        """Crash the server and its backends (SIGKILL to its process group)."""
        self._halt(signal.SIGKILL, group=True)

    def restart(self) -> None:
        """Stop and start again; committed data survives."""
        self.stop()
        self.start()

    def __enter__(self) -> PrivatePostgres:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_private_redis(
    dir: Path,
    *,
    binary: Path | None = None,
    appendonly: bool = True,
    appendfsync: AppendFsync = "everysec",
) -> PrivateRedis:
    """Start a throwaway Redis server with its files in ``dir``; ``stop()`` it when done."""
    server = PrivateRedis(
        dir, binary or find_redis_server(), appendonly=appendonly, appendfsync=appendfsync
    )
    server.start()
    return server


def start_private_postgres(dir: Path) -> PrivatePostgres:
    """Start a throwaway PostgreSQL server with its files in ``dir``; ``stop()`` it when done."""
    server = PrivatePostgres(dir)
    server.start()
    return server
