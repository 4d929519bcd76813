"""Every peer on workloads A and B, several times each: runs, medians and versions."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.peers.driver import Peer, PeerRunError, peers_python, run_once

# Each peer gets a database of its own; database 0 is left to the raw loop and streamproc.
PEERS = (
    Peer("celery", "bench.peers.celery_peer", ("celery", "kombu"), db=1),
    Peer("arq", "bench.peers.arq_peer", ("arq",), db=2),
    Peer("dramatiq", "bench.peers.dramatiq_peer", ("dramatiq",), db=3),
    Peer("taskiq", "bench.peers.taskiq_peer", ("taskiq", "taskiq-redis"), db=4),
    Peer("faststream", "bench.peers.faststream_peer", ("faststream",), db=5),
)
# The engine benchmark's workloads: name, messages, stages.
WORKLOADS = (("A", 20_000, 1), ("B", 5_000, 3))


def scaled(messages: int, n_scale: float) -> int:
    """A workload's message count times ``n_scale``, at least one."""
    return max(1, round(messages * n_scale))


def select(only: Iterable[str] | None) -> tuple[Peer, ...]:
    """The peers named in ``only`` (all when None), in table order; unknown names are refused."""
    if only is None:
        return PEERS
    wanted = set(only)
    unknown = wanted - {p.name for p in PEERS}
    if unknown:
        raise ValueError(f"unknown peers {sorted(unknown)}; known: {[p.name for p in PEERS]}")
    return tuple(p for p in PEERS if p.name in wanted)


def versions(peers: Iterable[Peer]) -> dict[str, str]:
    """The version of every distribution the peers run on, as their interpreter has them."""
    wanted = [d for p in peers for d in (*p.distributions, "redis")]
    ask = "import json, sys; from importlib.metadata import version as v; "
    ask += "print(json.dumps({d: v(d) for d in sys.argv[1:]}))"
    found = subprocess.run(
        [peers_python(), "-c", ask, *wanted], capture_output=True, text=True, check=False
    )
    if found.returncode:
        raise PeerRunError(
            f"the peers are not installed for {peers_python()}: run `make bench`, which "
            f"installs bench/peers/uv.lock into .venv-peers\n{found.stderr[-1000:]}"
        )
    reported: dict[str, str] = json.loads(found.stdout)
    reported["redis-py (peers)"] = reported.pop("redis")
    return reported


def measure_peers(
    url: str, reps: int, only: Iterable[str] | None = None, *, n_scale: float = 1.0
) -> dict[str, Any]:
    """Run each chosen peer ``reps`` times on A and B against the Redis at ``url``.

    A peer whose run fails is reported with its error (and no median) instead
    of stopping the others.
    """
    peers = select(only)
    installed = versions(peers)  # fails at once where the peers are not installed
    workloads: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="peerbench-") as logs:
        for name, messages, stages in WORKLOADS:
            n = scaled(messages, n_scale)
            results = {
                p.name: _repeat(p, url, n, stages, reps=reps, logs=Path(logs)) for p in peers
            }
            workloads[name] = {"messages": n, "stages": stages, "peers": results}
    return {"versions": installed, "workloads": workloads}


def _repeat(peer: Peer, url: str, n: int, stages: int, *, reps: int, logs: Path) -> dict[str, Any]:
    runs: list[float] = []
    try:
        for _ in range(reps):
            runs.append(run_once(peer, url, n, stages, logs))
    except PeerRunError as failure:
        print(f"{failure}\n", file=sys.stderr)
        return {"runs": runs, "median": None, "error": str(failure).splitlines()[0]}
    return {"runs": runs, "median": statistics.median(runs)}
