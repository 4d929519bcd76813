"""FastStream's Redis broker with ``StreamSub`` consumer groups: no-op handlers s1 → s2 → s3.

Settings, and why they are the recommended ones for short I/O-light tasks:

- ``StreamSub(stream, group=..., consumer=...)``: a consumer group, so that
  messages are acknowledged (XACK after the handler, FastStream's default
  ack policy) and a dead consumer's entries stay pending; without a group a
  stream subscriber reads with XREAD and acknowledges nothing.
- ``max_records=100``: XREADGROUP COUNT; FastStream's default reads without
  COUNT, every entry of the stream in one reply.
- ``max_workers=10``: a subscriber handles one message at a time unless told
  otherwise, waiting on its XACK and on the next stage's XADD in turn; ten
  at a time ("number of workers to process messages concurrently") overlap
  those round trips, like arq's ten jobs and dramatiq's eight threads.
- FastStream's default ``polling_interval`` (XREADGROUP BLOCK 100 ms) and
  serialization; no result is stored anywhere.
- ``faststream run --workers 1``: one process. The broker logs each message
  at DEBUG (``log_level``), which is not written: at its default INFO it
  writes two lines per message.

B chains three subscribers with ``@broker.publisher`` on the first two,
FastStream's idiom: the handler's return value is published to the next
stream. The client creates the consumer groups before it publishes (a
deployment starts its workers first; FastStream would create them at "$",
after the messages), then publishes through a Redis pipeline, FastStream's
batching for publishers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from faststream import FastStream
from faststream.redis import RedisBroker, StreamSub

from bench.peers.marks import AsyncMarks
from bench.peers.run import PAYLOAD_TEXT, RunSpec, peer_main, script

GROUP = "peerbench"
READ_COUNT = 100
CONCURRENCY = 10
PUBLISH_BATCH = 1000

spec = RunSpec.from_env()
marks = AsyncMarks(spec)
broker = RedisBroker(spec.url, log_level=logging.DEBUG)  # per-message lines at DEBUG: not written
app = FastStream(broker)


async def _stage(position: int, doc: str) -> str | None:
    if position == 1:
        await marks.start()
    if position < spec.stages:
        return doc
    await marks.finish()
    return None


async def s1(doc: str) -> str | None:
    """First stage."""
    return await _stage(1, doc)


async def s2(doc: str) -> str | None:
    """Second stage."""
    return await _stage(2, doc)


async def s3(doc: str) -> str | None:
    """Third stage."""
    return await _stage(3, doc)


def _register(position: int, handler: Callable[[str], Awaitable[str | None]]) -> None:
    if position < spec.stages:
        handler = broker.publisher(stream=f"s{position + 1}")(handler)
    subscription = StreamSub(f"s{position}", group=GROUP, consumer="c1", max_records=READ_COUNT)
    broker.subscriber(stream=subscription, max_workers=CONCURRENCY)(handler)


for _position, _handler in enumerate((s1, s2, s3)[: spec.stages], start=1):
    _register(_position, _handler)


async def _enqueue(spec: RunSpec) -> None:
    redis = await broker.connect()
    try:
        for position in range(1, spec.stages + 1):
            await redis.xgroup_create(f"s{position}", GROUP, id="0", mkstream=True)
        for start in range(0, spec.n, PUBLISH_BATCH):
            async with redis.pipeline(transaction=False) as pipe:
                for _ in range(start, min(spec.n, start + PUBLISH_BATCH)):
                    await broker.publish(PAYLOAD_TEXT, stream="s1", pipeline=pipe)
                await pipe.execute()
    finally:
        await broker.stop()


def enqueue(spec: RunSpec) -> None:
    """Publish N messages to ``s1``."""
    asyncio.run(_enqueue(spec))


def worker(spec: RunSpec) -> Sequence[str]:
    """One FastStream application process."""
    return [
        script("faststream"),
        "run",
        "bench.peers.faststream_peer:app",
        "--workers=1",
    ]


if __name__ == "__main__":
    peer_main(enqueue, worker)
