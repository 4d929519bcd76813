"""Engine throughput and latency beside a raw redis-py loop on the same Redis.

    python -m bench.engine [--reps 5] [--json bench/results/engine.json]

Workload A: one no-op stage, 20,000 messages of ~200-byte JSON, drained by
one worker. Workload B: three no-op stages, 5,000 messages; completions per
second. B paced at 100 and 1,000 messages/s: p50/p99 end-to-end latency.
Each is measured beside a raw asyncio XREADGROUP/XACK loop (COUNT 100, one
XACK per read; for B the forwards and the ack in one MULTI) run in the same
invocation against the same private Redis, and reported as a ratio to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import uvloop
from redis.asyncio import Redis

from bench.payload import PAYLOAD
from streamproc import logs
from streamproc.client import Client
from streamproc.config import load_settings
from streamproc.connections import connect_redis
from streamproc.embedded import find_redis_server, start_private_redis
from streamproc.keys import Keys
from streamproc.testing import noop_chain
from streamproc.worker import Worker

T = TypeVar("T")
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


# -- B paced: end-to-end latency -------------------------------------------------
#
# Messages are sent one at a time at a fixed rate into three stages that forward
# into a fourth stream. A load generator in a process of its own (bench.paced_load)
# sends them and reads the fourth stream, so it takes no CPU from the stages being
# measured; latency is from just before a message is sent until it is read from
# the fourth stream, measured the same way for the raw loop and the engine.

PACED_SECONDS = 4.0


async def _generate(
    url: str, mode: str, streams: tuple[str, str], rate: float, prefix: str = ""
) -> dict[str, float]:
    n = int(rate * PACED_SECONDS)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.paced_load",
        url,
        mode,
        *streams,
        str(rate),
        str(n),
        prefix,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"the load generator failed:\n{err.decode()[-2000:]}")
    result: dict[str, float] = json.loads(out)
    return result


async def raw_paced(redis: Redis, url: str, rate: float) -> dict[str, float]:
    """p50/p99 latency of the raw loop through three stages at ``rate`` messages/s."""
    tag = uuid.uuid4().hex[:8]
    streams = [f"{{rawp{tag}}}:s{i}" for i in range(4)]
    for s in streams[:3]:
        await redis.xgroup_create(s, "g", id="$", mkstream=True)
    stop = asyncio.Event()

    async def stage(i: int) -> None:
        conn = redis.client()  # a connection of its own: XREADGROUP BLOCK holds it
        try:
            while not stop.is_set():
                resp = await conn.xreadgroup(
                    "g", "c", {streams[i]: ">"}, count=READ_COUNT, block=100
                )
                if not resp:
                    continue
                pipe = conn.pipeline(transaction=True)
                for _, fields in resp[0][1]:
                    pipe.xadd(streams[i + 1], fields)
                pipe.xack(streams[i], "g", *[eid for eid, _ in resp[0][1]])
                await pipe.execute()
        finally:
            await conn.aclose()

    async with asyncio.TaskGroup() as tg:
        stages = [tg.create_task(stage(i)) for i in range(3)]
        try:
            return await _generate(url, "raw", (streams[0], streams[3]), rate)
        finally:
            stop.set()
            await asyncio.gather(*stages)


async def engine_paced(redis: Redis, url: str, rate: float) -> dict[str, float]:
    """p50/p99 latency of one streamproc worker through three stages at ``rate`` messages/s."""
    settings = load_settings(redis_url=url, prefix="p" + uuid.uuid4().hex[:8])
    pipeline = noop_chain(4)  # s4 is read by the load generator, not by the worker
    keys = Keys(settings.prefix)
    worker = Worker(pipeline, pipeline.stages[:3], settings, redis)
    async with asyncio.TaskGroup() as tg:
        running = tg.create_task(worker.run())
        await asyncio.sleep(0.5)  # groups created, readers blocking
        try:
            return await _generate(url, "engine", ("s1", keys.stream("s4")), rate, settings.prefix)
        finally:
            worker.stop()
            await running


async def measure_paced(url: str, reps: int, rates: tuple[float, ...]) -> dict[str, Any]:
    """Medians over ``reps`` of p50/p99 latency at each rate, raw loop beside the engine."""
    redis = connect_redis(url)
    results: dict[str, Any] = {}
    try:
        for rate in rates:
            raw, eng = await alternating(
                partial(raw_paced, redis, url, rate), partial(engine_paced, redis, url, rate), reps
            )
            row: dict[str, Any] = {"rate": rate, "raw_runs": raw, "engine_runs": eng}
            for q in ("p50_ms", "p99_ms"):
                row[f"raw_{q}"] = statistics.median(r[q] for r in raw)
                row[f"engine_{q}"] = statistics.median(r[q] for r in eng)
                row[f"extra_{q}"] = row[f"engine_{q}"] - row[f"raw_{q}"]
            results[f"B paced {rate:g}/s"] = row
    finally:
        await redis.aclose()
    return results


async def alternating(
    raw: Callable[[], Awaitable[T]], engine: Callable[[], Awaitable[T]], reps: int
) -> tuple[list[T], list[T]]:
    """``reps`` runs of each, taken in turns (a busy spell of the host then slows both
    alike), after one uncounted warm-up run of each (first connections, first calls)."""
    await raw()
    await engine()
    raws: list[T] = []
    engines: list[T] = []
    for _ in range(reps):
        raws.append(await raw())
        engines.append(await engine())
    return raws, engines


async def measure(url: str, reps: int) -> dict[str, Any]:
    """Run every workload ``reps`` times; medians of rates and their ratios."""
    redis = connect_redis(url)
    results: dict[str, Any] = {}
    try:
        for name, n, stages in (("A", 20_000, 1), ("B", 5_000, 3)):
            raw_s, eng_s = await alternating(
                partial(raw_drain, redis, n, stages),
                partial(engine_drain, redis, url, n, stages),
                reps,
            )
            raw, eng = [n / t for t in raw_s], [n / t for t in eng_s]
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


def print_table(results: dict[str, Any], paced: dict[str, Any], redis_version: str) -> None:
    """Print the results as tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 100))
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
    console.print(table)
    if not paced:
        return
    latency = Table(title="end-to-end latency through 3 stages, ms (medians of runs)")
    for col in ("workload", "raw p50", "streamproc p50", "raw p99", "streamproc p99", "p99 extra"):
        latency.add_column(col, justify="right")
    for name, r in paced.items():
        latency.add_row(
            name,
            f"{r['raw_p50_ms']:.2f}",
            f"{r['engine_p50_ms']:.2f}",
            f"{r['raw_p99_ms']:.2f}",
            f"{r['engine_p99_ms']:.2f}",
            f"{r['extra_p99_ms']:+.2f}",
        )
    console.print(latency)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=5, help="repetitions per measurement (median)")
    parser.add_argument("--json", type=Path, default=Path("bench/results/engine.json"))
    parser.add_argument("--redis", choices=("system", "bundled"), default="system")
    parser.add_argument(
        "--rates",
        default="100,1000",
        help="paced rates for B's latency, messages/s, comma-separated ('' to skip)",
    )
    args = parser.parse_args()
    logs.configure("warning")  # the workers' start/stop lines would bury the tables
    rates = tuple(float(r) for r in args.rates.split(",") if r.strip())
    with tempfile.TemporaryDirectory() as tmp:
        server = start_private_redis(Path(tmp), binary=find_redis_server(prefer=args.redis))
        try:
            results = uvloop.run(measure(server.url, args.reps))
            paced = uvloop.run(measure_paced(server.url, args.reps, rates)) if rates else {}
        finally:
            server.stop()
    print_table(results, paced, server.version)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"redis": server.version, "workloads": results, "paced": paced}, indent=2)
    )


if __name__ == "__main__":
    main()
