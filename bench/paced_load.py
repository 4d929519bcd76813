"""The load generator of the paced benchmark: sends at a fixed rate, times each arrival.

    python -m bench.paced_load URL MODE FIRST LAST RATE N [PREFIX]

Runs in a process of its own, so that sending and timing do not take CPU from
the worker being measured (as a producer and a consumer of results would not
in use). Sends N messages one at a time at RATE a second into the stream
FIRST -- with a raw ``XADD`` (MODE ``raw``) or ``Client.submit`` into one open
batch (MODE ``engine``, PREFIX naming the keys) -- while reading the stream
LAST with ``XREAD BLOCK``; a message's latency is the time from just before it
was sent until it was read from LAST, both taken in this process. Prints the
p50/p99 in ms as JSON, the first ``WARMUP`` of the run left out.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable

import uvloop
from redis.asyncio import Redis

from streamproc.client import Client
from streamproc.connections import connect_redis
from streamproc.keys import Keys

WARMUP = 0.1
PAD = "x" * 150


async def sink(redis: Redis, stream: str, sent: dict[str, int], n: int) -> list[float]:
    """Latencies in ms of the first ``n`` entries to reach ``stream``."""
    got: list[float] = []
    last = "0-0"
    while len(got) < n:
        resp = await redis.xread({stream: last}, count=1000, block=5000)
        if not resp:
            raise RuntimeError(f"paced run stalled: {len(got)} of {n} reached {stream}")
        now = time.perf_counter_ns()
        for eid, fields in resp[0][1]:
            got.append((now - sent[fields[b"d"].decode()]) / 1e6)
            last = eid
    return got


async def paced_send(
    send: Callable[[str], Awaitable[object]], rate: float, n: int, sent: dict[str, int]
) -> None:
    """Call ``send`` for doc0..doc{n-1} at ``rate`` a second, noting when each went."""
    started = time.perf_counter()
    for i in range(n):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        doc = f"doc{i}"
        sent[doc] = time.perf_counter_ns()
        await send(doc)


def percentiles(latencies: list[float]) -> dict[str, float]:
    """p50 and p99 of ``latencies`` after the warm-up."""
    kept = sorted(latencies[int(len(latencies) * WARMUP) :])
    return {
        "p50_ms": kept[len(kept) // 2],
        "p99_ms": kept[min(len(kept) - 1, int(len(kept) * 0.99))],
        "samples": len(kept),
    }


async def generate(  # noqa: PLR0917 - the command line's arguments, in order
    url: str, mode: str, first: str, last: str, rate: float, n: int, prefix: str
) -> dict[str, float]:
    """Send and time ``n`` messages (see the module's docstring)."""
    redis, reader = connect_redis(url), connect_redis(url)
    client = Client(redis, Keys(prefix))
    payload = json.dumps({"seq": 0, "pad": PAD}).encode()

    async def raw(doc: str) -> None:
        await redis.xadd(first, {"d": doc, "b": "", "a": "0", "t": "t", "e": "0", "p": payload})

    async def engine(doc: str) -> None:
        await client.submit(first, [(doc, payload)], batch="paced", seal=False)

    sent: dict[str, int] = {}
    try:
        async with asyncio.TaskGroup() as tg:
            arrived = tg.create_task(sink(reader, last, sent, n))
            await paced_send(raw if mode == "raw" else engine, rate, n, sent)
        return percentiles(arrived.result())
    finally:
        await redis.aclose()
        await reader.aclose()


def main() -> None:
    url, mode, first, last, rate, n, *rest = sys.argv[1:]
    result = uvloop.run(generate(url, mode, first, last, float(rate), int(n), *(rest or [""])))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
