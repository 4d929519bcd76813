"""taskiq with taskiq-redis's ``RedisStreamBroker``: no-op async tasks s1 → s2 → s3.

Settings, and why they are the recommended ones for short I/O-light tasks:

- ``RedisStreamBroker``, the taskiq-redis broker that acknowledges messages
  (a consumer group on one stream; the list and pub/sub brokers lose a task
  whose worker dies), with its defaults: XREADGROUP of up to 100 entries,
  XACK per task, XAUTOCLAIM of entries idle for 10 minutes.
- ``taskiq worker --workers 1``: one worker process (the benchmark's rule);
  taskiq's defaults inside it: up to 100 tasks at a time on its event loop
  (``--max-async-tasks``), acknowledgement once the result is handled
  (``--ack-type when_saved``), and no result backend (nothing is stored).
- ``--log-level WARNING`` like every peer here.

taskiq's chaining lives in a separate package (taskiq-pipelines); with the
core library a task kicks the next one (``await s2.kiq(doc)``) through the
worker's broker. The client has no bulk kick: the N kicks run with bounded
concurrency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial

from taskiq_redis import RedisStreamBroker

from bench.peers.marks import AsyncMarks
from bench.peers.run import PAYLOAD_TEXT, RunSpec, peer_main, script, send_all

spec = RunSpec.from_env()
marks = AsyncMarks(spec)
broker = RedisStreamBroker(url=spec.url)


async def _stage(position: int, doc: str) -> None:
    if position == 1:
        await marks.start()
    if position < spec.stages:
        await STAGES[position].kiq(doc)
    else:
        await marks.finish()


@broker.task(task_name="s1")
async def s1(doc: str) -> None:
    """First stage."""
    await _stage(1, doc)


@broker.task(task_name="s2")
async def s2(doc: str) -> None:
    """Second stage."""
    await _stage(2, doc)


@broker.task(task_name="s3")
async def s3(doc: str) -> None:
    """Third stage."""
    await _stage(3, doc)


STAGES = (s1, s2, s3)


async def _enqueue(spec: RunSpec) -> None:
    await broker.startup()  # creates the stream's consumer group before the first message
    try:
        await send_all(spec.n, partial(s1.kiq, PAYLOAD_TEXT))
    finally:
        await broker.shutdown()


def enqueue(spec: RunSpec) -> None:
    """Kick N ``s1`` tasks."""
    asyncio.run(_enqueue(spec))


def worker(spec: RunSpec) -> Sequence[str]:
    """One taskiq worker process."""
    return [
        script("taskiq"),
        "worker",
        "bench.peers.taskiq_peer:broker",
        "--workers=1",
        "--log-level=WARNING",
    ]


if __name__ == "__main__":
    peer_main(enqueue, worker)
