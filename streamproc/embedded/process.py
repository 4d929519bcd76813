"""Process plumbing shared by the embedded Redis and PostgreSQL servers.

Liveness checks that see through zombies and recycled pids, bounded waits,
graceful-then-forceful termination, the tail of a log file for error
messages, and the Linux parent-death signal that ties a private server to
the process that started it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

# sun_path holds 108 bytes on Linux, one of them the terminating NUL.
MAX_UNIX_SOCKET_PATH = 107
_PR_SET_PDEATHSIG = 1
_PROC = Path("/proc")


def pid_alive(pid: int) -> bool:
    """True if ``pid`` names a running process (a zombie counts as gone)."""
    stat = _PROC / str(pid) / "stat"
    if _PROC.joinpath("self").exists():
        try:
            text = stat.read_text()
        except OSError:
            return False
        # The command name may contain spaces and parentheses; the state follows the last ')'.
        return text.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_runs(pid: int, program: str) -> bool:
    """True if ``pid`` is alive and its command line mentions ``program``.

    Guards against a stale pid file whose pid the kernel has given to an
    unrelated process; without /proc the name cannot be checked and only
    liveness counts.
    """
    if not pid_alive(pid):
        return False
    try:
        cmdline = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return not _PROC.joinpath("self").exists()
    return program.encode() in cmdline


def read_pid(path: Path) -> int | None:
    """The pid written in the first line of ``path``, or None if there is none."""
    try:
        first = path.read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() else None


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def terminate(pid: int, sig: signal.Signals, timeout: float) -> None:
    """Send ``sig`` to ``pid`` and wait for it to exit; SIGKILL it after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    if wait_until(lambda: not pid_alive(pid), timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), 5.0)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file (reads only its end), or a note that it is missing."""
    try:
        with path.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 16_384))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def unix_socket_fits(path: Path) -> bool:
    """True if ``path`` is short enough to bind a Unix domain socket to."""
    return len(os.fsencode(path)) <= MAX_UNIX_SOCKET_PATH


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:``port`` now (a server can bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers do: connections of a server just killed linger in TIME_WAIT.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when its parent dies.

    Linux only (prctl PR_SET_PDEATHSIG); elsewhere None, and a crashed parent
    leaves the child running. The signal fires when the *thread* that started
    the child exits, so start private servers from a long-lived thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    # Resolve libc before the fork: the child should do as little as possible.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig))
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return arm
