"""Finished messages on their way to Redis, in as few script calls as possible.

The outbox owns one guarantee: every outcome a handler produced reaches Redis
exactly once through its script (handoff, retry, deferral or dead letter), each
of which acknowledges the entry in the same call. Calls that failed are sent
again, and only those: an unreachable Redis or an error reply (OOM, READONLY,
a group that vanished, ...) pauses the flush with a backoff; it never drops an
outcome and never ends the worker. What a stopping worker cannot send stays
pending in Redis and is reclaimed elsewhere.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from streamproc import envelope
from streamproc.lane import Lane
from streamproc.outcome import Kind, Outcome, plan_flush
from streamproc.runtime import Backoff

if TYPE_CHECKING:
    from streamproc.runner import StageRunner

_DONE = Kind.DONE


class Outbox:
    """Collects one stage's outcomes and sends them whenever there are some."""

    def __init__(self, runner: StageRunner) -> None:
        self.runner, self.rt = runner, runner.rt
        self.outcomes: list[Outcome] = []
        self.others: list[str] = []  # entries re-queued for another group: acknowledged unread
        self.lane = Lane(runner.rt.redis)  # the flush's script calls
        self.wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self.backoff = Backoff(runner.log, "flush_waiting_for_redis")

    @property
    def pending(self) -> bool:
        """Whether anything waits to be sent."""
        return bool(self.outcomes or self.others)

    def add(self, outcome: Outcome) -> None:
        """Queue one outcome for the next flush."""
        self.outcomes.append(outcome)
        self.wake.set()

    def skip(self, mid: str) -> None:
        """Queue an entry addressed to another group, to be acknowledged unread."""
        self.others.append(mid)
        self.wake.set()

    async def loop(self) -> None:
        """Flush whenever something was queued, until the worker has halted."""
        while not self.rt.halted.is_set():
            await self.wake.wait()
            self.wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Send everything queued now, after any flush already under way: the final
        flush of a stopping worker must not return while the flush loop still waits for a
        reply, or what that reply confirms would go uncounted when the loop is cancelled."""
        async with self._flushing:
            while self.outcomes:
                batch, self.outcomes = self.outcomes, []
                await self._send(batch)
            if self.others:
                ids, self.others = self.others, []
                await self._acknowledge(ids)

    async def _send(self, batch: list[Outcome]) -> None:
        runner = self.runner
        now = envelope.now_ms()
        plan = plan_flush(
            batch,
            self.rt.scripts,
            stage=runner.stage.name,
            next_stage=runner.stage.next,
            group=runner.group,
            consumer=self.rt.consumer,
            now=now,
        )
        calls, covers = plan.calls, plan.covers
        while calls:
            results = await self._run(calls)
            failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
            for cover, result in zip(covers, results, strict=True):
                if not isinstance(result, BaseException):
                    self._account(cover, result, now)
            if not failed:
                self.backoff.succeeded()
                break
            await self._ride_out(results[failed[0]], len(failed))
            calls, covers = [calls[i] for i in failed], [covers[i] for i in failed]
        runner.metrics.in_flight.set(len(runner.inflight))
        runner.reader.space.set()

    async def _run(self, calls: list[Any]) -> list[Any]:
        try:
            return await self.rt.scripts.run_each(calls, lane=self.lane)
        except RedisError as exc:  # nothing came back: every call is tried again
            return [exc] * len(calls)

    async def _ride_out(self, exc: BaseException, failed: int) -> None:
        """Wait before sending ``failed`` calls again; a vanished group is recreated first
        (its entries are delivered again, so their outcomes count as duplicates)."""
        if await self.runner.keeper.recover(exc):
            return
        self.runner.log.debug("flush_retrying", calls=failed)
        await self.backoff.failed(exc)

    async def _acknowledge(self, ids: list[str]) -> None:
        try:
            await self.rt.redis.xack(self.runner.stream, self.runner.group, *ids)
        except RedisError:  # they stay pending here; whoever reclaims them acks them
            return
        self.runner.count("skipped", len(ids))

    def _account(self, outcomes: list[Outcome], result: Any, now: int) -> None:
        runner = self.runner
        flags = result if isinstance(result, list) else [result]
        inflight = runner.inflight
        e2e = runner.end_to_end_seconds.add if runner.stage.next is None else None
        done = 0
        for o, flag in zip(outcomes, flags, strict=True):
            inflight.pop(o.id, None)
            if flag != 1:
                runner.count("duplicate")
            elif o.kind is _DONE:
                done += 1
                if e2e is not None and o.env is not None:
                    e2e(max(0, now - o.env.enqueued_ms) / 1000)
            else:
                runner.count(o.kind.value)
                runner.log_failure(o)
                if o.kind is not Kind.DEAD:
                    self.rt.retry_scheduled.set()
        if done:
            runner.count("done", done)
            if runner.downstream is not None:
                runner.downstream.reader.poked.set()
        runner.handler_seconds.flush()
        runner.end_to_end_seconds.flush()

    async def close(self) -> None:
        """Close the flush's own connection."""
        await self.lane.close()
