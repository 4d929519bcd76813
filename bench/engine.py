"""Engine throughput and latency beside a raw redis-py loop on the same Redis.

    python -m bench.engine [--reps 3] [--json bench/results/engine.json]

Workload A: one no-op stage, 20,000 messages of ~200-byte JSON, drained by
one worker. Workload B: three no-op stages, 5,000 messages; completions per
second. B paced at 100 and 1,000 messages/s: p50/p99 end-to-end latency.
Each is measured beside a raw asyncio XREADGROUP/XACK loop (COUNT 100, one
XACK per read; for B the forwards and the ack in one MULTI) run in the same
invocation against the same private Redis, and reported as a ratio to it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import uvloop
from redis.asyncio import Redis

from streamproc.client import Client
from streamproc.config import load_settings
from streamproc.connections import connect_redis
from streamproc.embedded import find_redis_server, start_private_redis
from streamproc.keys import Keys
from streamproc.testing import Probe, noop_chain
from streamproc.worker import Worker

PAYLOAD = Probe(seq=0, pad="x" * 150).model_dump_json().encode()  # ~200 bytes of JSON
READ_COUNT = 100


async def raw_drain(redis: Redis, n: int, stages: int) -> float:
    """Seconds for a raw loop to move ``n`` messages through ``stages`` streams."""
    tag = uuid.uuid4().hex[:8]
    streams = [f"{{raw{tag}}}:s{i}" for i in range(stages + 1)]
    for s in streams[:stages]:
        await redis.xgroup_create(s, "g", id="0", mkstream=True)
    await _fill(redis, streams[0], n)
    started = time.perf_counter()
    for i in range(stages):
        await _raw_stage(redis, streams[i], streams[i + 1] if i + 1 < stages else None)
    return time.perf_counter() - started


async def _raw_stage(redis: Redis, stream: str, nxt: str | None) -> None:
    while True:
        resp = await redis.xreadgroup("g", "c", {stream: ">"}, count=READ_COUNT, block=10)
        if not resp:
            return
        ids = [eid for eid, _ in resp[0][1]]
        if nxt is None:
            await redis.xack(stream, "g", *ids)
            continue
        pipe = redis.pipeline(transaction=True)
        for _, fields in resp[0][1]:
            pipe.xadd(nxt, fields)
        pipe.xack(stream, "g", *ids)
        await pipe.execute()


async def _fill(redis: Redis, stream: str, n: int) -> None:
    for start in range(0, n, 1000):
        pipe = redis.pipeline(transaction=False)
        for i in range(start, min(n, start + 1000)):
            pipe.xadd(stream, {"d": f"doc{i}", "b": "", "a": "0", "t": "t", "e": "0", "p": PAYLOAD})
        await pipe.execute()


async def engine_drain(redis: Redis, url: str, n: int, stages: int) -> float:
    """Seconds for one streamproc worker to drain ``n`` messages through ``stages`` stages."""
    settings = load_settings(
        redis_url=url, prefix="b" + uuid.uuid4().hex[:8], concurrency=1000, read_count=200
    )
    pipeline = noop_chain(stages)
    client = Client(redis, Keys(settings.prefix))
    await client.submit("s1", ((f"doc{i}", PAYLOAD) for i in range(n)), batch="bench")
    worker = Worker(pipeline, pipeline.stages, settings, redis)
    started = time.perf_counter()
    report = await worker.run(drain=True)
    elapsed = time.perf_counter() - started
    assert report.counts[f"s{stages}"].get("done") == n, report.counts
    return elapsed


async def measure(url: str, reps: int) -> dict[str, Any]:
    """Run every workload ``reps`` times; medians of rates and their ratios."""
    redis = connect_redis(url)
    results: dict[str, Any] = {}
    try:
        for name, n, stages in (("A", 20_000, 1), ("B", 5_000, 3)):
            raw = [n / await raw_drain(redis, n, stages) for _ in range(reps)]
            eng = [n / await engine_drain(redis, url, n, stages) for _ in range(reps)]
            results[name] = {
                "messages": n,
                "stages": stages,
                "raw_per_s": statistics.median(raw),
                "engine_per_s": statistics.median(eng),
                "ratio": statistics.median(eng) / statistics.median(raw),
                "raw_runs": raw,
                "engine_runs": eng,
            }
    finally:
        await redis.aclose()
    return results


def print_table(results: dict[str, Any], redis_version: str) -> None:
    """Print the results as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"engine vs raw redis-py loop (Redis {redis_version}, medians)")
    for col in ("workload", "messages", "raw msgs/s", "streamproc msgs/s", "ratio"):
        table.add_column(col, justify="right")
    for name, r in results.items():
        table.add_row(
            f"{name} ({r['stages']} stage{'s' if r['stages'] > 1 else ''})",
            str(r["messages"]),
            f"{r['raw_per_s']:,.0f}",
            f"{r['engine_per_s']:,.0f}",
            f"{r['ratio']:.2f}x",
        )
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions per measurement (median)")
    parser.add_argument("--json", type=Path, default=Path("bench/results/engine.json"))
    parser.add_argument("--redis", choices=("system", "bundled"), default="system")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_private_redis(Path(tmp), binary=find_redis_server(prefer=args.redis))
        try:
            results = uvloop.run(measure(server.url, args.reps))
        finally:
            server.stop()
    print_table(results, server.version)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"redis": server.version, "workloads": results}, indent=2))


if __name__ == "__main__":
    main()
