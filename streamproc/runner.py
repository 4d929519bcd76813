"""One stage inside a worker process: read, handle, hand off.

A reader keeps at most ``concurrency`` messages in flight; each message runs
its handler in its own task under the stage's time limit; finished messages
collect in an outbox that one flusher sends to Redis in as few script calls
as possible (one handoff call for all messages done since the last flush).
Leases of in-flight messages are renewed while they run, and entries idle
past the visibility timeout are reclaimed from dead consumers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import Any, cast

from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamproc import eager, envelope
from streamproc import ids as stream_ids
from streamproc.connections import text
from streamproc.envelope import Envelope, Fields
from streamproc.errors import HandlerTimeout, LeaseLost, PoisonMessage
from streamproc.failures import Verdict, backoff_seconds, decide
from streamproc.lane import Lane, stream_entries
from streamproc.logs import get_logger
from streamproc.metrics import HistogramBatch, StageMetrics
from streamproc.outcome import Kind, Outcome, plan_flush
from streamproc.runtime import Runtime, sleep_unless
from streamproc.stage import Context, Defer, Stage

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
_DONE = Kind.DONE
LEASE_CHUNK = 1000
# An entry reclaimed after this many deliveries is a suspect: its consumers
# died twice while it was in flight. It then runs alone (quarantine), so a
# message that kills its process stops taking innocent messages with it.
SUSPECT_AFTER = 2
# How long a draining reader that found nothing waits before reading again, unless the
# previous stage in this process forwards something first.
DRAIN_IDLE = 0.01


class StageRunner:
    """Runs one stage's consumer in this process."""

    def __init__(self, stage: Stage[Any], rt: Runtime, tg: asyncio.TaskGroup) -> None:
        s = rt.settings
        self.stage, self.rt, self.tg = stage, rt, tg
        self.stream = rt.keys.stream(stage.name)
        self.group = stage.group or stage.name
        self.side = self.group != stage.name
        self._group_b = self.group.encode()
        self._lease = self.holds  # bound once: handed to every message's Context
        self.limit = stage.concurrency or s.concurrency
        self.timeout = stage.timeout or s.handler_timeout
        self.max_attempts = stage.max_attempts or s.max_attempts
        self.inflight: dict[str, float] = {}
        self.outbox: list[Outcome] = []
        self.others: list[str] = []  # entries re-queued for another group: acknowledged unread
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.expired: set[str] = set()
        self.counts: collections.Counter[str] = collections.Counter()
        self.reader = Lane(rt.redis, patience=s.block_ms / 1000)  # a reply may wait out BLOCK
        self.sender = Lane(rt.redis)  # the flush's script calls
        self.in_read = False
        self.poked = asyncio.Event()  # this process just forwarded into this stage's stream
        self.downstream: StageRunner | None = None  # the next stage's runner, if here
        self.last_read = "0-0"
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._space = asyncio.Event()
        self.suspects: collections.deque[tuple[str, int]] = collections.deque()
        self._suspect_waiting = asyncio.Event()
        self._reading = asyncio.Event()
        self._reading.set()
        self.metrics = StageMetrics.bind(stage.name)
        self.handler_seconds = HistogramBatch(self.metrics.handler)
        self._validate = stage.input.__pydantic_validator__.validate_json
        self.end_to_end_seconds = HistogramBatch(self.metrics.end_to_end)
        self.log = get_logger(stage=stage.name, consumer=rt.consumer)

    @property
    def settled(self) -> bool:
        """Nothing in flight, waiting to be flushed or waiting to run alone here."""
        return not (self.inflight or self.outbox or self.others or self.suspects)

    async def ensure_group(self, start: str = "0") -> None:
        """Create the consumer group (and stream) if missing; new groups read the backlog."""
        try:
            await self.rt.redis.xgroup_create(self.stream, self.group, id=start, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _recreate_group(self) -> None:
        """The group was deleted under us: recreate it where this worker stood.

        Starting just before the oldest entry still in flight here (or after the
        last one read) re-delivers what this worker had not finished, without
        replaying the stream's whole history into the next stage.
        """
        start = (
            stream_ids.before(stream_ids.oldest(list(self.inflight)))
            if self.inflight
            else self.last_read
        )
        self.log.warning("group_missing_recreated", group=self.group, start=start)
        await self.ensure_group(start)

    # -- reading -----------------------------------------------------------

    async def read_loop(self, block_ms: int | None) -> None:
        """Read new entries until the worker stops, keeping in-flight work bounded.

        With ``block_ms`` None (draining) a read never blocks in Redis: an empty one waits
        here for the previous stage in this process to forward something (or a moment), so
        a stop never waits for a blocked read to time out.
        """
        while not self.rt.stopping.is_set():
            await self._reading.wait()
            free = self.limit - len(self.inflight)
            if free <= 0:
                self._space.clear()
                await self._space.wait()
                continue
            self.poked.clear()
            want = min(free, self.rt.settings.read_count)
            entries = await self._read(want, block_ms)
            for eid, fields in entries:
                self.start(eid.decode(), fields)
            if entries:
                self.last_read = entries[-1][0].decode()
                # Caught up with the stream: let the flush send what finished before the
                # next read (latency). With a backlog, read on while Redis runs the handoff.
                if self.outbox and len(entries) < want:
                    await asyncio.sleep(0)
            elif block_ms is None:
                await sleep_unless(self.poked, DRAIN_IDLE)

    async def _read(self, count: int, block_ms: int | None) -> list[tuple[bytes, Fields]]:
        block = () if block_ms is None else ("BLOCK", block_ms)
        self.in_read = True
        try:
            reply = await self.reader.call(
                *("XREADGROUP", "GROUP", self.group, self.rt.consumer, "COUNT", count),
                *block,
                *("STREAMS", self.stream, ">"),
            )
        except ResponseError as exc:
            if not str(exc).startswith("NOGROUP"):
                raise
            await self._recreate_group()
            return []
        except REDIS_DOWN as exc:
            if not self.rt.stopping.is_set():
                self.log.warning("redis_unavailable", error=str(exc))
                await self.rt.sleep(0.5)
            return []
        finally:
            self.in_read = False
        return stream_entries(reply)

    async def close(self) -> None:
        """Close this runner's own connections."""
        for lane in (self.reader, self.sender):
            with contextlib.suppress(*REDIS_DOWN, OSError):
                await lane.close()

    def start(self, mid: str, fields: Fields | None, deliveries: int | None = None) -> None:
        """Start handling one entry, unless this process already is."""
        if mid in self.inflight:
            return
        if fields and fields.get(b"g", self._group_b) != self._group_b:
            self.others.append(mid)  # a retry or redrive of another group of this stream
            self._wake.set()
            return
        self.inflight[mid] = time.monotonic()
        task = eager.start(self._run(mid, fields, deliveries), self.tg.create_task)
        if task is not None:
            self.tasks[mid] = task
            task.add_done_callback(lambda _t: self.tasks.pop(mid, None))

    # -- handling ----------------------------------------------------------

    async def _run(self, mid: str, fields: Fields | None, deliveries: int | None) -> None:
        started = time.perf_counter()
        env: Envelope | None = None
        try:
            env = envelope.decode(mid, fields)
            if self.side:  # a side group re-reads history: its outcomes count in no batch
                env = env._replace(batch="")
            msg = self._validate(env.payload)
            ctx = Context(
                self.stage.name,
                mid,
                env.doc,
                env.batch,
                env.attempt,
                env.trace,
                env.replay,
                self.rt.resources,
                self._lease,
            )
            outcome = self._succeeded(mid, env, await self.stage.handle(msg, ctx))
        except LeaseLost as exc:
            self._let_go(mid, exc)
            return
        except asyncio.CancelledError:
            if mid not in self.expired:
                raise
            self.expired.discard(mid)
            late = HandlerTimeout(f"handler ran past its {self.timeout:g} s limit")
            outcome = self._failed(mid, env, fields, late, deliveries)
        except Exception as exc:
            outcome = self._failed(mid, env, fields, exc, deliveries)
        self.handler_seconds.add(time.perf_counter() - started)
        self.outbox.append(outcome)
        self._wake.set()

    async def holds(self, mid: str) -> bool:
        """Whether this consumer still holds ``mid``: no other one took it over meanwhile."""
        rows = await self.rt.redis.xpending_range(self.stream, self.group, mid, mid, 1)
        return bool(rows) and text(cast(bytes, rows[0]["consumer"])) == self.rt.consumer

    def _let_go(self, mid: str, exc: LeaseLost) -> None:
        """Forget a message another consumer took over: its outcome is that consumer's."""
        self.inflight.pop(mid, None)
        self._count("duplicate")
        self.log.warning("message_taken_over", message_id=mid, error=str(exc))
        self._space.set()

    async def deadline_loop(self) -> None:
        """Cancel handlers running past the stage's time limit (one timer for all)."""
        interval = min(max(self.timeout / 10, 0.01), 1.0)
        while not await self.rt.sleep(interval):
            cutoff = time.monotonic() - self.timeout
            for mid, since in list(self.inflight.items()):
                task = self.tasks.get(mid)
                if since < cutoff and task is not None and mid not in self.expired:
                    self.expired.add(mid)
                    task.cancel()

    def _succeeded(self, mid: str, env: Envelope, result: object) -> Outcome:
        if isinstance(result, Defer):
            payload = _dump(result.payload) if result.payload is not None else None
            due = envelope.now_ms() + int(result.seconds * 1000)
            return Outcome(mid, Kind.DEFER, env, payload=payload, due_ms=due)
        payload = _dump(result) if isinstance(result, BaseModel) else None
        return Outcome(mid, Kind.DONE, env, payload=payload)

    def _failed(
        self,
        mid: str,
        env: Envelope | None,
        fields: Fields | None,
        exc: BaseException,
        deliveries: int | None,
    ) -> Outcome:
        attempt = env.attempt if env is not None else 0
        decision = decide(exc, attempt, self.max_attempts)
        if decision.verdict is Verdict.RETRY and env is not None:
            s = self.rt.settings
            delay = backoff_seconds(attempt, s.backoff_base, s.backoff_max)
            due = envelope.now_ms() + int(delay * 1000)
            return Outcome(mid, Kind.RETRY, env, due_ms=due, error=exc, reason=decision.reason)
        return Outcome(
            mid,
            Kind.DEAD,
            env,
            error=exc,
            reason=decision.reason,
            raw=fields,
            deliveries=deliveries,
        )

    # -- flushing ----------------------------------------------------------

    async def flush_loop(self) -> None:
        """Send finished messages to Redis whenever there are some."""
        while not self.rt.halted.is_set():
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Send everything in the outbox now, after any flush already under way: the final
        flush of a stopping worker must not return while the flush loop still waits for a
        reply, or what that reply confirms would go uncounted when the loop is cancelled."""
        async with self._flushing:
            while self.outbox:
                batch, self.outbox = self.outbox, []
                await self._send(batch)
            if self.others:
                ids, self.others = self.others, []
                try:
                    await self.rt.redis.xack(self.stream, self.group, *ids)
                except REDIS_DOWN:  # they stay pending here; whoever reclaims them acks them
                    return
                self._count("skipped", len(ids))

    async def _send(self, batch: list[Outcome]) -> None:
        now = envelope.now_ms()
        plan = plan_flush(
            batch,
            self.rt.scripts,
            stage=self.stage.name,
            next_stage=self.stage.next,
            group=self.group,
            consumer=self.rt.consumer,
            now=now,
        )
        delay = 0.05
        while True:
            try:
                results = await self.rt.scripts.run(plan.calls, lane=self.sender)
                break
            except REDIS_DOWN as exc:
                self.log.warning("flush_waiting_for_redis", error=str(exc), pending=len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        for outcomes, result in zip(plan.covers, results, strict=True):
            self._account(outcomes, result, now)
        self.metrics.in_flight.set(len(self.inflight))
        self._space.set()

    def _account(self, outcomes: list[Outcome], result: Any, now: int) -> None:
        flags = result if isinstance(result, list) else [result]
        inflight = self.inflight
        e2e = self.end_to_end_seconds.add if self.stage.next is None else None
        done = 0
        for o, flag in zip(outcomes, flags, strict=True):
            inflight.pop(o.id, None)
            if flag != 1:
                self._count("duplicate")
            elif o.kind is _DONE:
                done += 1
                if e2e is not None and o.env is not None:
                    e2e(max(0, now - o.env.enqueued_ms) / 1000)
            else:
                self._count(o.kind.value)
                self._log_failure(o)
                if o.kind is not Kind.DEAD:
                    self.rt.retry_scheduled.set()
        if done:
            self._count("done", done)
            if self.downstream is not None:
                self.downstream.poked.set()
        self.handler_seconds.flush()
        self.end_to_end_seconds.flush()

    def _count(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] += n
        self.metrics.outcomes[outcome].inc(n)

    def _log_failure(self, o: Outcome) -> None:
        doc = o.env.doc if o.env else None
        batch = o.env.batch if o.env else None
        event = {Kind.RETRY: "message_retry_scheduled", Kind.DEAD: "message_dead_lettered"}
        name = event.get(o.kind, "message_deferred")
        level = self.log.info if o.kind is Kind.DEFER else self.log.warning
        level(
            name,
            message_id=o.id,
            doc=doc,
            batch=batch,
            reason=o.reason,
            error_class=type(o.error).__name__ if o.error else None,
            error=str(o.error) if o.error else None,
        )

    # -- leases and reclaiming ---------------------------------------------

    async def lease_loop(self) -> None:
        """Keep the entries this process is working on from being reclaimed."""
        s = self.rt.settings
        while not self.rt.halted.is_set():
            await asyncio.sleep(s.lease_interval)
            cutoff = time.monotonic() - s.max_lease
            ids = [mid for mid, since in self.inflight.items() if since > cutoff]
            for i in range(0, len(ids), LEASE_CHUNK):
                await self._renew(ids[i : i + LEASE_CHUNK])

    async def _renew(self, ids: list[str]) -> None:
        call = self.rt.scripts.renew(
            stage=self.stage.name, group=self.group, consumer=self.rt.consumer, ids=ids
        )
        try:
            _, taken = await self.rt.scripts.call(call)
        except REDIS_DOWN as exc:
            self.log.warning("lease_renewal_failed", error=str(exc))
            return
        lost = {t.decode() for t in taken}
        if lost:
            self.metrics.leases_lost.inc(len(lost))
            self.log.warning("leases_lost", message_ids=sorted(lost)[:20], count=len(lost))

    async def reclaim_loop(self) -> None:
        """Take over entries idle past the visibility timeout (their consumer died)."""
        s = self.rt.settings
        interval = min(max(s.visibility_timeout / 4, 0.05), 15.0)
        cursor = "0-0"
        while not await self.rt.sleep(interval):
            free = self.limit - len(self.inflight)
            if free > 0 and not self.suspects:
                cursor = await self.reclaim_once(cursor, min(free, 100))

    async def reclaim_once(self, cursor: str, count: int) -> str:
        """One claim step from ``cursor``: take over idle entries; returns the next cursor."""
        call = self.rt.scripts.claim(
            stage=self.stage.name,
            group=self.group,
            consumer=self.rt.consumer,
            min_idle_ms=int(self.rt.settings.visibility_timeout * 1000),
            cursor=cursor,
            count=count,
        )
        try:
            nxt, claimed, deleted = await self.rt.scripts.call(call)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self._recreate_group()
            return "0-0"
        except REDIS_DOWN:
            return cursor
        if deleted:
            self.log.warning(
                "reclaimed_entries_were_deleted", message_ids=[text(d) for d in deleted[:20]]
            )
        await self._take_over([(text(mid), int(n)) for mid, n in claimed])
        return text(nxt)

    async def _take_over(self, claimed: list[tuple[str, int]]) -> None:
        claimed = [(mid, n) for mid, n in claimed if mid not in self.inflight]
        if not claimed:
            return
        self.metrics.reclaimed.inc(len(claimed))
        limit = self.rt.settings.max_deliveries
        run_now: dict[str, int] = {}
        for mid, n in claimed:
            self.inflight[mid] = time.monotonic()  # owned now: its lease is kept from here
            if n >= limit:
                await self._poison(mid, n, limit)
            elif n >= SUSPECT_AFTER:
                self.suspects.append((mid, n))
                self._suspect_waiting.set()
            else:
                run_now[mid] = n
        for mid, fields in await self._deliver(list(run_now)):
            del self.inflight[mid]
            self.start(mid, fields, deliveries=run_now[mid] + 1)

    async def _deliver(self, ids: list[str]) -> list[tuple[str, Fields | None]]:
        """Fetch owned entries and count a delivery for each (XCLAIM without JUSTID)."""
        if not ids:
            return []
        redis, me = self.rt.redis, self.rt.consumer
        try:
            got = await redis.xclaim(self.stream, self.group, me, 0, list(ids))
        except REDIS_DOWN as exc:
            self._release(ids, exc)
            return []
        found: dict[str, Fields | None] = {
            eid.decode(): fields
            for eid, fields in cast(list[tuple[bytes | None, Fields]], got)
            if eid is not None
        }
        for mid in ids:
            if mid not in found:  # deleted from the stream meanwhile: nothing to run
                self.inflight.pop(mid, None)
        return list(found.items())

    async def quarantine_loop(self) -> None:
        """Run suspect entries one at a time, with nothing else in flight here."""
        while not self.rt.halted.is_set():
            await self._suspect_waiting.wait()
            self._suspect_waiting.clear()
            self._reading.clear()
            try:
                while self.suspects:
                    await self._run_alone(*self.suspects.popleft())
            finally:
                self._reading.set()

    async def _run_alone(self, mid: str, deliveries: int) -> None:
        while self.tasks or self.outbox:
            await asyncio.sleep(0.01)
        self.log.warning("suspect_running_alone", message_id=mid, deliveries=deliveries)
        for eid, fields in await self._deliver([mid]):
            del self.inflight[eid]
            self.start(eid, fields, deliveries + 1)
        while self.tasks or self.outbox:
            await asyncio.sleep(0.01)

    def _release(self, ids: list[str], exc: Exception) -> None:
        """Let claimed entries go unstarted (Redis went away): they idle, to be claimed again."""
        for mid in ids:
            self.inflight.pop(mid, None)
        self.log.warning("redis_unavailable", error=str(exc), released=len(ids))

    async def _poison(self, mid: str, deliveries: int, limit: int) -> None:
        try:
            got = cast(
                list[tuple[bytes, Fields]],
                await self.rt.redis.xrange(self.stream, min=mid, max=mid),
            )
        except REDIS_DOWN as exc:
            self._release([mid], exc)
            return
        fields = got[0][1] if got else None
        try:
            env: Envelope | None = envelope.decode(mid, fields)
        except Exception:
            env = None
        err = PoisonMessage(
            f"delivered {deliveries} times, the limit (max_deliveries={limit}): "
            "each consumer handling it stopped before finishing"
        )
        self.outbox.append(
            Outcome(
                mid,
                Kind.DEAD,
                env,
                error=err,
                reason="delivery limit exceeded",
                raw=fields,
                deliveries=deliveries,
            )
        )
        self._wake.set()

    def wake_all(self) -> None:
        """Unblock every loop waiting on an event (used when stopping and halting)."""
        self._space.set()
        self._reading.set()
        if self.rt.halted.is_set():
            self._wake.set()
            self._suspect_waiting.set()


def _dump(model: BaseModel) -> bytes:
    return model.__pydantic_serializer__.to_json(model)
