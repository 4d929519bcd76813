"""The embedded PostgreSQL server: start one per data directory, reuse it, stop it.

Everything lives in ``<data_dir>/postgres``: the cluster in ``data``,
``postgres.log`` and ``lock`` (see ``postgres_cluster`` for how the cluster
is made). The shared server is started with ``pg_ctl``, which detaches it,
so it outlives its caller and is never a zombie of a long-lived supervisor.

pgserver's own ``get_server`` is not used: it caches one handle per process
(so a server stopped and started again in one process is reported with its
old pid), stops the server when the last Python process that asked for it
exits, takes one lock for every cluster of the user, and importing it warns
when XDG_RUNTIME_DIR is unset. Only its binaries and its way of running as
root are kept.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from streamproc.embedded.locking import exclusive_lock
from streamproc.embedded.postgres_cluster import (
    SUPERUSER,
    PostgresLayout,
    clear_stale_locks,
    postgres_bin,
    prepare,
    run,
    service_user,
    write_settings,
)
from streamproc.embedded.process import log_tail, process_runs, terminate, wait_until
from streamproc.errors import ConfigurationError

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
DATABASE = "streamproc"


@dataclass(frozen=True)
class Postmaster:
    """What ``postmaster.pid`` says about a server."""

    pid: int
    port: int
    socket_dir: Path | None
    host: str
    status: str


def parse_postmaster_pid(text: str) -> Postmaster | None:
    """Read ``postmaster.pid``: pid, data dir, start time, port, socket dir, host, shm, status.

    Returns None while the file is incomplete (the server writes it in steps).
    """
    lines = text.split("\n")
    if len(lines) < 8 or not lines[0].strip().isdigit() or not lines[3].strip().isdigit():
        return None
    socket_dir = lines[4].strip()
    return Postmaster(
        pid=int(lines[0]),
        port=int(lines[3]),
        socket_dir=Path(socket_dir) if socket_dir else None,
        host=lines[5].strip(),
        status=lines[7].strip(),
    )


def read_postmaster(layout: PostgresLayout) -> Postmaster | None:
    """The running server of ``layout`` per its ``postmaster.pid``, if it is alive."""
    try:
        found = parse_postmaster_pid((layout.pgdata / "postmaster.pid").read_text())
    except OSError:
        return None
    # The postmaster's command line names its cluster (-D), which tells it from a recycled pid.
    if found is None or not process_runs(found.pid, str(layout.pgdata)):
        return None
    return found


def postgres_dsn(postmaster: Postmaster, database: str) -> str:
    """An asyncpg/libpq DSN for ``database`` on the server ``postmaster`` describes."""
    name = quote(database, safe="")
    if postmaster.socket_dir is not None:
        host = quote(str(postmaster.socket_dir), safe="/")
        return f"postgresql://{SUPERUSER}@/{name}?host={host}&port={postmaster.port}"
    return f"postgresql://{SUPERUSER}@{postmaster.host or '127.0.0.1'}:{postmaster.port}/{name}"


def create_database(postmaster: Postmaster, database: str, timeout: float = 30.0) -> None:
    """Create ``database`` on the server unless it exists (psql's ``\\gexec``)."""
    create = _literal(f"CREATE DATABASE {_identifier(database)}")
    exists = f"SELECT FROM pg_database WHERE datname = {_literal(database)}"
    sql = f"SELECT {create} WHERE NOT EXISTS ({exists})\\gexec\n"
    psql = [str(postgres_bin() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    run([*psql, "-d", postgres_dsn(postmaster, "postgres")], None, timeout, stdin=sql)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_postgres(
    data_dir: Path, *, database: str = DATABASE, timeout: float = STARTUP_TIMEOUT
) -> str:
    """A DSN for ``database`` (created if missing) on the PostgreSQL server of ``data_dir``.

    Reuses a server started earlier under ``data_dir`` by any process,
    otherwise initialises the cluster if needed and starts one with
    ``pg_ctl``, which detaches it so it outlives the caller. An exclusive
    lock makes concurrent callers get one server. Raises
    ``ConfigurationError`` when the server cannot be set up or started.
    """
    layout = PostgresLayout(data_dir.absolute() / "postgres")
    with exclusive_lock(layout.lock):
        postmaster = _running(layout, timeout) or _start_detached(layout, timeout)
        create_database(postmaster, database, timeout)
        return postgres_dsn(postmaster, database)


def _running(layout: PostgresLayout, timeout: float) -> Postmaster | None:
    if read_postmaster(layout) is None:
        return None
    return wait_ready(layout, timeout)


def wait_ready(
    layout: PostgresLayout,
    timeout: float,
    *,
    pid: int | None = None,
    alive: Callable[[], bool] = lambda: True,
) -> Postmaster:
    """Wait until ``postmaster.pid`` reports a live server (``pid``, if given) that is ``ready``.

    Fails at once when ``alive`` says the starting process exited.
    """
    found: Postmaster | None = None
    exited = False

    def ready() -> bool:
        nonlocal found, exited
        found, exited = read_postmaster(layout), not alive()
        if found is None or pid not in (None, found.pid):
            return exited
        return exited or found.status == "ready"

    if wait_until(ready, timeout) and not exited and found is not None:
        return found
    reason = "exited during start-up" if exited else f"is not ready after {timeout:g} s"
    raise ConfigurationError(
        f"PostgreSQL under {layout.root} {reason}; see {layout.log}, or set DATABASE_URL "
        f"to use another server. Last log lines:\n{log_tail(layout.log)}"
    )


def _start_detached(layout: PostgresLayout, timeout: float) -> Postmaster:
    user = service_user()
    prepare(layout, user, timeout)
    write_settings(layout)
    clear_stale_locks(layout)
    pg_ctl = [str(postgres_bin() / "pg_ctl"), "-D", str(layout.pgdata), "-l", str(layout.log)]
    try:
        run([*pg_ctl, "-w", "-t", str(int(timeout)), "start"], user, timeout + 5)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"{exc}\nLast lines of {layout.log}:\n{log_tail(layout.log)}"
        ) from exc
    return wait_ready(layout, timeout)


def stop_postgres(data_dir: Path, *, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the PostgreSQL server of ``data_dir``; True if one was running.

    SIGINT is PostgreSQL's fast shutdown: open sessions are rolled back and
    the server exits cleanly; one still alive after ``timeout`` is killed.
    """
    layout = PostgresLayout(data_dir.absolute() / "postgres")
    with exclusive_lock(layout.lock):
        postmaster = read_postmaster(layout)
        if postmaster is None:
            return False
        terminate(postmaster.pid, signal.SIGINT, timeout)
        return True
