"""Taking over the entries of consumers that died, and containing poison.

The reclaimer owns two guarantees. Crashed consumers lose nothing: entries idle
past the visibility timeout are claimed (``claim.lua``: no delivery counted
yet) and run here, counting a delivery only when a handler really gets them.
Poison is contained: an entry whose consumers died ``max_deliveries`` times is
dead-lettered, and one whose consumers died twice (a suspect) runs alone, with
nothing else in flight here, so a message that kills its process stops taking
innocent messages with it.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import TYPE_CHECKING, cast

from redis.exceptions import RedisError

from streamproc import envelope
from streamproc.connections import text
from streamproc.envelope import Envelope, Fields
from streamproc.errors import PoisonMessage
from streamproc.outcome import Kind, Outcome
from streamproc.runtime import Backoff

if TYPE_CHECKING:
    from streamproc.runner import StageRunner

# An entry reclaimed after this many deliveries is a suspect: its consumers
# died twice while it was in flight.
SUSPECT_AFTER = 2


class Reclaimer:
    """Claims one stage's entries from dead consumers and runs suspects alone."""

    def __init__(self, runner: StageRunner) -> None:
        self.runner, self.rt = runner, runner.rt
        self.suspects: collections.deque[tuple[str, int]] = collections.deque()
        self._suspect_waiting = asyncio.Event()
        self.backoff = Backoff(runner.log, "reclaim_failed")

    async def loop(self) -> None:
        """Claim idle entries every quarter of the visibility timeout until the worker stops."""
        s = self.rt.settings
        interval = min(max(s.visibility_timeout / 4, 0.05), 15.0)
        cursor = "0-0"
        while not await self.rt.sleep(interval):
            free = self.runner.limit - len(self.runner.inflight)
            if free > 0 and not self.suspects:
                cursor = await self.once(cursor, min(free, 100))

    async def once(self, cursor: str, count: int) -> str:
        """One claim step from ``cursor``: take over idle entries; returns the next cursor."""
        runner = self.runner
        call = self.rt.scripts.claim(
            stage=runner.stage.name,
            group=runner.group,
            consumer=self.rt.consumer,
            min_idle_ms=int(self.rt.settings.visibility_timeout * 1000),
            cursor=cursor,
            count=count,
            now=envelope.now_ms(),
        )
        try:
            nxt, claimed, deleted = await self.rt.scripts.call(call)
        except RedisError as exc:
            if await runner.keeper.recover(exc):
                return "0-0"
            await self.backoff.failed(exc)
            return cursor
        self.backoff.succeeded()
        if deleted:
            runner.count("dead_lettered", len(deleted))
            runner.log.warning(
                "deleted_entries_dead_lettered", message_ids=[text(d) for d in deleted[:20]]
            )
        await self.take_over([(text(mid), int(n)) for mid, n in claimed])
        return text(nxt)

    async def take_over(self, claimed: list[tuple[str, int]]) -> None:
        """Run, quarantine or dead-letter entries this consumer now owns."""
        runner = self.runner
        claimed = [(mid, n) for mid, n in claimed if mid not in runner.inflight]
        if not claimed:
            return
        runner.metrics.reclaimed.inc(len(claimed))
        limit = self.rt.settings.max_deliveries
        run_now: dict[str, int] = {}
        for mid, n in claimed:
            runner.inflight[mid] = time.monotonic()  # owned now: its lease is kept from here
            if n >= limit:
                await self._poison(mid, n, limit)
            elif n >= SUSPECT_AFTER:
                self.suspects.append((mid, n))
                self._suspect_waiting.set()
            else:
                run_now[mid] = n
        for mid, fields in await self._deliver(list(run_now)):
            del runner.inflight[mid]
            runner.start(mid, fields, deliveries=run_now[mid] + 1)

    async def _deliver(self, ids: list[str]) -> list[tuple[str, Fields | None]]:
        """Fetch owned entries and count a delivery for each (XCLAIM without JUSTID)."""
        if not ids:
            return []
        runner, me = self.runner, self.rt.consumer
        try:
            got = await self.rt.redis.xclaim(runner.stream, runner.group, me, 0, list(ids))
        except RedisError as exc:
            self._release(ids, exc)
            return []
        found: dict[str, Fields | None] = {
            eid.decode(): fields
            for eid, fields in cast(list[tuple[bytes | None, Fields]], got)
            if eid is not None
        }
        for mid in ids:
            if mid not in found:  # deleted from the stream meanwhile: the next claim reports it
                runner.inflight.pop(mid, None)
        return list(found.items())

    async def quarantine_loop(self) -> None:
        """Run suspect entries one at a time, with nothing else in flight here."""
        reader = self.runner.reader
        while not self.rt.halted.is_set():
            await self._suspect_waiting.wait()
            self._suspect_waiting.clear()
            reader.open.clear()
            try:
                while self.suspects:
                    await self._run_alone(*self.suspects.popleft())
            finally:
                reader.open.set()

    async def _run_alone(self, mid: str, deliveries: int) -> None:
        runner = self.runner
        await runner.until_idle()
        runner.log.warning("suspect_running_alone", message_id=mid, deliveries=deliveries)
        for eid, fields in await self._deliver([mid]):
            del runner.inflight[eid]
            runner.start(eid, fields, deliveries + 1)
        await runner.until_idle()

    def _release(self, ids: list[str], exc: Exception) -> None:
        """Let claimed entries go unstarted (Redis went away): they idle, to be claimed again."""
        for mid in ids:
            self.runner.inflight.pop(mid, None)
        self.runner.log.warning("redis_unavailable", error=str(exc), released=len(ids))

    async def _poison(self, mid: str, deliveries: int, limit: int) -> None:
        runner = self.runner
        try:
            got = cast(
                list[tuple[bytes, Fields]],
                await self.rt.redis.xrange(runner.stream, min=mid, max=mid),
            )
        except RedisError as exc:
            self._release([mid], exc)
            return
        fields = got[0][1] if got else None
        try:
            env: Envelope | None = runner.own(envelope.decode(mid, fields))
        except Exception:
            env = None
        err = PoisonMessage(
            f"delivered {deliveries} times, the limit (max_deliveries={limit}): "
            "each consumer handling it stopped before finishing"
        )
        runner.outbox.add(
            Outcome(
                mid,
                Kind.DEAD,
                env,
                error=err,
                reason="delivery limit exceeded",
                raw=runner.own_fields(fields),
                deliveries=deliveries,
            )
        )

    def wake(self) -> None:
        """Unblock the quarantine loop (the worker is halting)."""
        self._suspect_waiting.set()
