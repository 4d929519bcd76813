"""One measured run of one peer framework, from an empty database to a stopped worker.

1. Claim the peer's database: it must be empty (the run refuses to touch data
   it did not write) and is flushed when the run ends, however it ends.
2. ``python -m <peer module> enqueue`` puts N messages in with the
   framework's own client, and exits.
3. ``python -m <peer module> worker`` becomes the framework's worker CLI, one
   worker process, in a session of its own.
4. Wait for the finish mark (see ``bench.peers.marks``); the rate is N over
   the time from the first task's start to the N-th last-stage completion.
5. SIGTERM the worker; SIGKILL what is left of its process group after a grace period.

A worker that exits early, or finishes slower than ``MIN_RATE`` messages a
second, fails the run with ``PeerRunError`` carrying its log's tail.

The peers' processes run on ``peers_python()``: ``STREAMPROC_PEERS_PYTHON``
when set (``make bench`` points it at a virtualenv holding the ``bench``
extra, whose pins hold redis-py at 5.x), else this interpreter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import redis

from bench.peers.marks import MarkKeys
from bench.peers.run import RunSpec, url_with_db
from streamproc.embedded.process import die_with_parent, log_tail

REPO = Path(__file__).resolve().parents[2]
MIN_RATE = 100.0  # messages/s; a run slower than this counts as stalled
STARTUP_ALLOWANCE = 30.0  # seconds for a worker to import and connect
STOP_GRACE = 15.0
POLL_INTERVAL = 0.02


class PeerRunError(RuntimeError):
    """A peer's run failed: its client or worker crashed, or it stalled."""


@dataclass(frozen=True)
class Peer:
    """A framework under test: its module under bench.peers and its own database."""

    name: str
    module: str
    distributions: tuple[str, ...]  # whose versions the results record
    db: int


def peers_python() -> str:
    """The interpreter the peers' clients and workers run on."""
    return os.environ.get("STREAMPROC_PEERS_PYTHON") or sys.executable


def run_once(peer: Peer, url: str, n: int, stages: int, logs: Path) -> float:
    """Messages (or last-stage completions) per second of one run of ``peer``."""
    spec = RunSpec(url_with_db(url, peer.db), n, stages, uuid.uuid4().hex[:12])
    client = redis.Redis.from_url(spec.url)
    try:
        if client.dbsize():
            raise PeerRunError(f"{peer.name}: database {peer.db} is not empty; refusing to use it")
        try:
            _enqueue(peer, spec, logs / f"{peer.name}-{spec.tag}-enqueue.log")
            return _drain(peer, spec, client, logs / f"{peer.name}-{spec.tag}-worker.log")
        finally:
            client.flushdb()
    finally:
        client.close()


def _environment(spec: RunSpec) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return os.environ | spec.to_env() | {"PYTHONPATH": path}


def _enqueue(peer: Peer, spec: RunSpec, log: Path) -> None:
    with log.open("wb") as output:
        try:
            done = subprocess.run(
                [peers_python(), "-m", peer.module, "enqueue"],
                env=_environment(spec),
                cwd=REPO,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=STARTUP_ALLOWANCE + spec.n / MIN_RATE,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise PeerRunError(f"{peer.name}: enqueueing timed out\n{log_tail(log)}") from None
    if done.returncode:
        raise PeerRunError(f"{peer.name}: enqueueing failed ({done.returncode})\n{log_tail(log)}")


def _drain(peer: Peer, spec: RunSpec, client: redis.Redis, log: Path) -> float:
    keys = MarkKeys.of(spec.tag)
    with log.open("wb") as output:
        # The preexec hook only calls prctl and getppid, both safe between fork and exec.
        worker = subprocess.Popen(
            [peers_python(), "-m", peer.module, "worker"],
            env=_environment(spec),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),  # noqa: PLW1509
        )
    try:
        finished = _wait_finished(peer.name, spec, client, worker, log)
    finally:
        _stop(worker)
    started = [float(t) for t in cast(list[bytes], client.hvals(keys.started))]
    return spec.n / (finished - min(started))


def _wait_finished(
    name: str, spec: RunSpec, client: redis.Redis, worker: subprocess.Popen[bytes], log: Path
) -> float:
    keys = MarkKeys.of(spec.tag)
    limit = STARTUP_ALLOWANCE + spec.n / MIN_RATE
    deadline = time.monotonic() + limit
    while (finished := cast(bytes | None, client.get(keys.finished))) is None:
        if worker.poll() is not None:
            raise PeerRunError(
                f"{name}: worker exited ({worker.returncode}) before finishing\n{log_tail(log)}"
            )
        if time.monotonic() > deadline:
            progress = cast(dict[bytes, bytes], client.hgetall(keys.progress))
            counts = {pid.decode(): int(c) for pid, c in progress.items()}
            raise PeerRunError(
                f"{name}: stalled, {spec.n} messages through {spec.stages} stage(s) not done in"
                f" {limit:.0f} s (last-stage completions by pid, as of the last thousand:"
                f" {counts})\n{log_tail(log)}"
            )
        time.sleep(POLL_INTERVAL)
    return float(finished)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker (it stops its own pool), then SIGKILL whatever is left of its group."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(worker.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        worker.wait(STOP_GRACE)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
