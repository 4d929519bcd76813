"""Starting streamproc processes from tests, and talking to them over loopback."""

from __future__ import annotations

import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

Procs = list[subprocess.Popen[bytes]]


def spawn(procs: Procs, python: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """Start ``streamproc ARGS…``; its stderr goes to a log beside the test's probe log."""
    log = Path(env["STREAMPROC_PROBE_LOG"]).with_name(f"process-{len(procs)}.log")
    with open(log, "wb") as err:
        proc = subprocess.Popen([python, "-m", "streamproc", *args], env=env, stderr=err)
    procs.append(proc)
    return proc


def stop_all(procs: Procs, *, grace: float = 15.0) -> None:
    """SIGTERM every process still running, then SIGKILL those that outlive ``grace``."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str) -> str:
    """The body of a GET to a loopback URL."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.read().decode())
