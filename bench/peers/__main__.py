"""The peer frameworks beside streamproc and a raw redis-py loop, on one private Redis.

    python -m bench.peers [--reps 3] [--json bench/results/peers.json]
                          [--only celery,arq,...] [--n-scale 1.0]

Workloads are the engine benchmark's: A, 20,000 messages of ~200-byte JSON
through one no-op stage; B, 5,000 through three chained no-op stages
(completions of the last stage per second). The raw loop and streamproc
run in-process as ``bench.engine`` runs them; each peer runs as a real
worker process of its framework (see ``bench.peers.driver``). Medians over
``--reps`` runs; ratios are to the raw loop's median.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import uvloop

from bench.engine import alternating, engine_drain, raw_drain
from bench.peers.measure import PEERS, WORKLOADS, measure_peers, scaled
from bench.peers.report import RAW, combine, print_table
from streamproc import logs
from streamproc.connections import connect_redis
from streamproc.embedded import find_redis_server, start_private_redis


async def measure_baseline(
    url: str, reps: int, n_scale: float
) -> dict[str, dict[str, list[float]]]:
    """Rates of the raw loop and of streamproc on every workload, ``reps`` runs each."""
    redis = connect_redis(url)
    results: dict[str, dict[str, list[float]]] = {}
    try:
        for name, messages, stages in WORKLOADS:
            n = scaled(messages, n_scale)
            raw, engine = await alternating(
                partial(raw_drain, redis, n, stages),
                partial(engine_drain, redis, url, n, stages),
                reps,
            )
            results[name] = {RAW: [n / t for t in raw], "streamproc": [n / t for t in engine]}
    finally:
        await redis.aclose()
    return results


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--json", type=Path, default=Path("bench/results/peers.json"))
    parser.add_argument(
        "--only",
        type=lambda s: [p for p in s.split(",") if p],
        default=None,
        help=f"comma-separated peers (default: all of {','.join(p.name for p in PEERS)})",
    )
    parser.add_argument(
        "--n-scale", "-n-scale", type=float, default=1.0, help="scale the message counts"
    )
    parser.add_argument("--redis", choices=("system", "bundled"), default="system")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    logs.configure("warning")  # the workers' start/stop lines would bury the table
    with tempfile.TemporaryDirectory() as tmp:
        server = start_private_redis(Path(tmp), binary=find_redis_server(prefer=args.redis))
        try:
            peers = measure_peers(server.url, args.reps, args.only, n_scale=args.n_scale)
            baseline = uvloop.run(measure_baseline(server.url, args.reps, args.n_scale))
        finally:
            server.stop()
    workloads = combine(baseline, peers)
    print_table(workloads, server.version)
    record: dict[str, Any] = {
        "redis": server.version,
        "python": platform.python_version(),
        "versions": {"streamproc": version("streamproc"), "redis-py": version("redis")}
        | peers["versions"],
        "reps": args.reps,
        "n_scale": args.n_scale,
        "workloads": workloads,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2))
    failed = [s for w in workloads.values() for s, r in w["systems"].items() if r["median"] is None]
    if failed:
        sys.exit(f"failed runs: {', '.join(sorted(set(failed)))} (errors above and in {args.json})")


if __name__ == "__main__":
    main()
