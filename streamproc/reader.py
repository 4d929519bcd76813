"""Reading a stage's new entries, with in-flight work bounded.

The reader owns one guarantee: it takes no more entries than the stage has room
for, and a read that fails takes nothing. A missing group is recreated where
it is safe (:mod:`streamproc.group`); any other error reply (OOM, READONLY,
NOPERM, ...) or an unreachable Redis pauses reading with a backoff, and the
worker carries on once Redis answers again. While a dependency the stage needs
has its breaker open, it reads nothing (one entry at a time while this process
probes a half-open one).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from streamproc.envelope import Fields
from streamproc.lane import Lane, stream_entries
from streamproc.runtime import Backoff, sleep_unless

if TYPE_CHECKING:
    from streamproc.runner import StageRunner

# How long a draining reader that found nothing waits before reading again, unless the
# previous stage in this process forwards something first.
DRAIN_IDLE = 0.01


class Reader:
    """Reads new entries of one stage's group and starts them on its runner."""

    def __init__(self, runner: StageRunner) -> None:
        rt = runner.rt
        self.runner, self.rt = runner, rt
        self.lane = Lane(rt.redis, patience=rt.settings.block_ms / 1000)  # may wait out BLOCK
        self.in_read = False
        self.poked = asyncio.Event()  # this process just forwarded into this stage's stream
        self.space = asyncio.Event()  # set whenever in-flight work ends
        self.open = asyncio.Event()  # cleared while a suspect entry runs alone here
        self.open.set()
        self.backoff = Backoff(runner.log, "reading_paused")

    async def loop(self, block_ms: int | None) -> None:
        """Read until the worker stops.

        With ``block_ms`` None (draining) a read never blocks in Redis: an empty one waits
        here for the previous stage in this process to forward something (or a moment), so
        a stop never waits for a blocked read to time out.
        """
        runner, rt = self.runner, self.rt
        inflight, limit, start = runner.inflight, runner.limit, runner.start
        read_count = rt.settings.read_count
        while not rt.stopping.is_set():
            await self.open.wait()
            free = limit - len(inflight)
            if free <= 0:
                self.space.clear()
                await self.space.wait()
                continue
            free = self._allowed(free)
            if free <= 0:
                await self._wait_for_breakers()
                continue
            self.poked.clear()
            want = min(free, read_count)
            entries = await self.read(want, block_ms)
            for eid, fields in entries:
                start(eid.decode(), fields)
            if entries:
                # Caught up with the stream: let the flush send what finished before the
                # next read (latency). With a backlog, read on while Redis runs the handoff.
                if runner.outbox.pending and len(entries) < want:
                    await asyncio.sleep(0)
            elif block_ms is None:
                await sleep_unless(self.poked, DRAIN_IDLE)

    def _allowed(self, free: int) -> int:
        """``free`` as the breakers of the dependencies the stage needs allow it."""
        breakers = self.runner.breakers
        if breakers is None:
            return free
        most = breakers.admits(self.runner.needs)
        return free if most is None else min(free, most - len(self.runner.inflight))

    async def _wait_for_breakers(self) -> None:
        breakers = self.runner.breakers
        assert breakers is not None
        await sleep_unless(breakers.changed, breakers.refresh)

    async def read(self, count: int, block_ms: int | None) -> list[tuple[bytes, Fields]]:
        """One XREADGROUP of up to ``count`` new entries; [] after a failure it rode out."""
        runner = self.runner
        block = () if block_ms is None else ("BLOCK", block_ms)
        self.in_read = True
        try:
            reply = await self.lane.call(
                *("XREADGROUP", "GROUP", runner.group, self.rt.consumer, "COUNT", count),
                *block,
                *("STREAMS", runner.stream, ">"),
            )
        except RedisError as exc:  # connection errors and error replies alike
            await self._failed(exc)
            return []
        finally:
            self.in_read = False
        self.backoff.succeeded()
        return stream_entries(reply)

    async def _failed(self, exc: BaseException) -> None:
        if self.rt.stopping.is_set():
            return
        if await self.runner.keeper.recover(exc):
            return
        await self.backoff.failed(exc, self.rt.stopping)

    async def close(self) -> None:
        """Close the reader's own connection."""
        await self.lane.close()
