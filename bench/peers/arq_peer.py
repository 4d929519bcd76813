"""arq: no-op coroutine jobs s1 → s2 → s3 on one asyncio worker.

Settings, and why they are the recommended ones for short I/O-light jobs:

- ``keep_result=0``: "if 0 the result is not kept" (``arq.worker.func``);
  nothing reads results, and storing one is a SET per job.
- ``poll_delay=0.01`` s: arq does not block on Redis, it polls the queue's
  sorted set and sleeps ``poll_delay`` (0.5 s by default) after each batch it
  reads; with jobs of a few hundred microseconds a 0.5 s nap per batch of
  ``queue_read_limit`` jobs would be most of the run, so short jobs want a
  short delay (the price is one ZRANGEBYSCORE per idle worker every 10 ms).
- ``max_jobs=10`` (arq's default) jobs at a time on the worker's event loop:
  a no-op job holds its slot for microseconds, so more slots add nothing.
- arq's default job serializer (pickle) and retry settings.
- arq's logging at WARNING: at INFO it logs two lines per job.

arq has no chaining primitive; each stage enqueues the next through the
ArqRedis pool arq puts in every job's context (``ctx["redis"]``). The
client has no bulk enqueue either: the N jobs are enqueued with bounded
concurrency over one pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import func

from bench.peers.marks import AsyncMarks
from bench.peers.run import PAYLOAD_TEXT, RunSpec, peer_main, script, send_all

spec = RunSpec.from_env()
marks = AsyncMarks(spec)

LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "level": "WARNING"}},
    "loggers": {"arq": {"handlers": ["stderr"], "level": "WARNING"}},
}


async def _stage(ctx: dict[str, Any], position: int, doc: str) -> None:
    if position == 1:
        await marks.start()
    if position < spec.stages:
        await ctx["redis"].enqueue_job(f"s{position + 1}", doc)
    else:
        await marks.finish()


async def s1(ctx: dict[str, Any], doc: str) -> None:
    """First stage."""
    await _stage(ctx, 1, doc)


async def s2(ctx: dict[str, Any], doc: str) -> None:
    """Second stage."""
    await _stage(ctx, 2, doc)


async def s3(ctx: dict[str, Any], doc: str) -> None:
    """Third stage."""
    await _stage(ctx, 3, doc)


class WorkerSettings:
    """What ``arq bench.peers.arq_peer.WorkerSettings`` runs."""

    functions = (func(s1, name="s1"), func(s2, name="s2"), func(s3, name="s3"))
    redis_settings = RedisSettings.from_dsn(spec.url)
    keep_result = 0
    poll_delay = 0.01
    max_jobs = 10


async def _enqueue(spec: RunSpec) -> None:
    pool = await create_pool(WorkerSettings.redis_settings)
    try:
        await send_all(spec.n, partial(pool.enqueue_job, "s1", PAYLOAD_TEXT))
    finally:
        await pool.aclose()


def enqueue(spec: RunSpec) -> None:
    """Enqueue N ``s1`` jobs."""
    asyncio.run(_enqueue(spec))


def worker(spec: RunSpec) -> Sequence[str]:
    """One arq worker (one process, one event loop)."""
    return [
        script("arq"),
        "bench.peers.arq_peer.WorkerSettings",
        "--custom-log-dict",
        "bench.peers.arq_peer.LOG_CONFIG",
    ]


if __name__ == "__main__":
    peer_main(enqueue, worker)
