"""One stage inside a worker process: its handlers, and the parts that keep its promises.

The runner starts each message's handler (in a Task of its own, or inline until it
first suspends for stages that allow it: ``Stage.eager``) and turns what the handler did
into an outcome. Every guarantee around that is owned by one collaborator, each
testable alone:

- :class:`~streamproc.group.GroupKeeper` — the consumer group exists, and a
  group deleted under the workers is recreated where nothing is lost;
- :class:`~streamproc.reader.Reader` — new entries, no more than there is room for;
- :class:`~streamproc.outbox.Outbox` — every outcome reaches Redis once, in few calls;
- :class:`~streamproc.leases.LeaseKeeper` — work in progress is not taken over;
- :class:`~streamproc.reclaimer.Reclaimer` — dead consumers' entries are taken
  over; poison is quarantined and dead-lettered;
- :class:`~streamproc.deadlines.Deadlines` — the per-message time limit;
- :class:`~streamproc.breaker.Breakers` (shared by the process) — no new work while a
  dependency the stage needs is unreachable, and no attempt counted for failing on it.

A Redis error any of them cannot handle pauses that part with a backoff and is
tried again; it never ends the worker.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import Any, cast

from pydantic import BaseModel
from redis.exceptions import RedisError

from streamproc import eager, envelope
from streamproc.breaker import deferral
from streamproc.connections import text
from streamproc.deadlines import Deadlines
from streamproc.envelope import Envelope, Fields
from streamproc.errors import DependencyUnavailable, HandlerTimeout, LeaseLost, PermanentError
from streamproc.failures import Verdict, backoff_seconds, decide
from streamproc.group import GroupKeeper
from streamproc.leases import LeaseKeeper
from streamproc.logs import get_logger
from streamproc.metrics import HistogramBatch, StageMetrics
from streamproc.outbox import Outbox
from streamproc.outcome import Kind, Outcome
from streamproc.reader import Reader
from streamproc.reclaimer import Reclaimer
from streamproc.runtime import REDIS_DOWN, Backoff, Runtime
from streamproc.stage import Context, Defer, Stage

__all__ = ["MAX_PAYLOAD", "REDIS_DOWN", "StageRunner"]

# The largest payload a handler may hand to the next stage. Stream entries carry
# references; page text and chunks live in PostgreSQL or the object store.
MAX_PAYLOAD = 1 << 20
# How often each runner records where its group would be recreated: a group deleted under
# the workers re-delivers at most about this long of entries that had already finished.
CHECKPOINT_INTERVAL = 1.0


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
        self.needs = stage.needs
        self.breakers = rt.breakers if stage.needs else None  # None: nothing to tell them
        # A first step run inline is the reader's: an asyncio.timeout a client library enters
        # there (asyncpg's connect) would cancel the reader. Only stages that say their
        # handlers never do run them inline (see Stage.eager).
        self.eager = stage.eager and not stage.needs
        self.inflight: dict[str, float] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self.downstream: StageRunner | None = None  # the next stage's runner, if here
        self.metrics = StageMetrics.bind(stage.name)
        self.handler_seconds = HistogramBatch(self.metrics.handler)
        self.end_to_end_seconds = HistogramBatch(self.metrics.end_to_end)
        self._validate = stage.input.__pydantic_validator__.validate_json
        self.log = get_logger(stage=stage.name, consumer=rt.consumer)
        self.keeper = GroupKeeper(rt.redis, rt.keys, stage.name, self.group, log=self.log)
        self.reader = Reader(self)
        self.outbox = Outbox(self)
        self.leases = LeaseKeeper(self)
        self.reclaimer = Reclaimer(self)
        self.deadlines = Deadlines(self)

    @property
    def settled(self) -> bool:
        """Nothing in flight, waiting to be flushed or waiting to run alone here."""
        return not (self.inflight or self.outbox.pending or self.reclaimer.suspects)

    # -- handling ----------------------------------------------------------

    def start(self, mid: str, fields: Fields | None, deliveries: int | None = None) -> None:
        """Start handling one entry, unless this process already is."""
        if mid in self.inflight:
            return
        if fields and fields.get(b"g", self._group_b) != self._group_b:
            self.outbox.skip(mid)  # a retry or redrive of another group of this stream
            return
        self.inflight[mid] = time.monotonic()
        # Handler tasks are the runner's own, not the worker's task group: a handler that
        # ignores cancellation must not hold the worker's stop for ever.
        coro = self._run(mid, fields, deliveries)
        task = eager.start(coro, asyncio.create_task) if self.eager else asyncio.create_task(coro)
        if task is not None:
            self.tasks[mid] = task
            task.add_done_callback(lambda t: self._ended(mid, t))

    def _ended(self, mid: str, task: asyncio.Task[None]) -> None:
        if self.tasks.get(mid) is task:  # not an abandoned one whose message ran again here
            del self.tasks[mid]

    async def _run(self, mid: str, fields: Fields | None, deliveries: int | None) -> None:
        started = time.perf_counter()
        env: Envelope | None = None
        try:
            env = self.own(envelope.decode(mid, fields))
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
            if self.breakers is not None:
                self.breakers.succeeded(self.needs)
        except LeaseLost as exc:
            self._let_go(mid, exc)
            return
        except asyncio.CancelledError:
            if not self.deadlines.expired(mid):
                raise
            late = HandlerTimeout(f"handler ran past its {self.timeout:g} s limit")
            outcome = self._failed(mid, env, fields, late, deliveries)
        except Exception as exc:
            outcome = self._failed(mid, env, fields, exc, deliveries)
        if mid in self.deadlines.abandoned:  # it timed out without this handler meanwhile
            return
        self.handler_seconds.add(time.perf_counter() - started)
        self.outbox.add(outcome)

    def own(self, env: Envelope) -> Envelope:
        """``env`` as this group counts it: a side group re-reads history, and its outcomes
        count in no batch (the first run counted them)."""
        return env._replace(batch="") if self.side else env

    def own_fields(self, fields: Fields | None) -> Fields | None:
        """Raw entry fields as this group counts them (see :meth:`own`)."""
        if not self.side or not fields:
            return fields
        return {k: v for k, v in fields.items() if k != b"b"}

    async def holds(self, mid: str) -> bool:
        """Whether this consumer still holds ``mid``: no other one took it over meanwhile."""
        rows = await self.rt.redis.xpending_range(self.stream, self.group, mid, mid, 1)
        return bool(rows) and text(cast(bytes, rows[0]["consumer"])) == self.rt.consumer

    def _let_go(self, mid: str, exc: LeaseLost) -> None:
        """Forget a message another consumer took over: its outcome is that consumer's."""
        self.inflight.pop(mid, None)
        self.count("duplicate")
        self.log.warning("message_taken_over", message_id=mid, error=str(exc))
        self.reader.space.set()

    def _succeeded(self, mid: str, env: Envelope, result: object) -> Outcome:
        if isinstance(result, Defer):
            payload = _dump(result.payload) if result.payload is not None else None
            wait = int(result.seconds * 1000)
            return Outcome(mid, Kind.DEFER, env, payload=payload, delay_ms=wait)
        payload = _dump(result) if isinstance(result, BaseModel) else None
        if payload is not None and len(payload) > MAX_PAYLOAD:
            oversized = PermanentError(
                f"the handler's result is {len(payload):,} bytes, over the {MAX_PAYLOAD:,}-byte "
                "limit for a stream entry: keep large data in PostgreSQL or the object store "
                "and hand the next stage a reference"
            )
            return self._failed(mid, env, None, oversized, None)
        return Outcome(mid, Kind.DONE, env, payload=payload)

    def _failed(
        self,
        mid: str,
        env: Envelope | None,
        fields: Fields | None,
        exc: BaseException,
        deliveries: int | None,
    ) -> Outcome:
        if isinstance(exc, DependencyUnavailable) and env is not None:
            uncounted = self._unavailable(mid, env, exc)
            if uncounted is not None:
                return uncounted
        attempt = env.attempt if env is not None else 0
        decision = decide(exc, attempt, self.max_attempts)
        if decision.verdict is Verdict.RETRY and env is not None:
            s = self.rt.settings
            delay = backoff_seconds(attempt, s.backoff_base, s.backoff_max)
            wait = int(delay * 1000)
            return Outcome(mid, Kind.RETRY, env, delay_ms=wait, error=exc, reason=decision.reason)
        return Outcome(
            mid,
            Kind.DEAD,
            env,
            error=exc,
            reason=decision.reason,
            raw=self.own_fields(fields),
            deliveries=deliveries,
        )

    def _unavailable(self, mid: str, env: Envelope, exc: DependencyUnavailable) -> Outcome | None:
        """Record the failure on the dependency's breaker; while that breaker already knew
        of failures, defer the message without counting an attempt (None: count it). The
        first failure of a streak counts, so a message that alone keeps failing (a query
        that always times out) still ends in the dead-letter stream."""
        breakers = self.rt.breakers
        if breakers is None:
            return None
        view = breakers.view(exc.dependency)
        breakers.failed(exc.dependency, exc)
        if not view.suspect:
            return None
        s = self.rt.settings
        backoff = backoff_seconds(env.attempt, s.backoff_base, s.backoff_max)
        wait = deferral(view, time.monotonic(), s.breaker_open_seconds, backoff)
        reason = f"{exc.dependency} unavailable: attempt {env.attempt + 1} not counted"
        return Outcome(mid, Kind.DEFER, env, delay_ms=int(wait * 1000), error=exc, reason=reason)

    def fail_without_handler(self, mid: str, exc: BaseException) -> None:
        """Give ``mid`` the outcome of ``exc`` although its handler never returned: the
        entry is read again from Redis to build it."""
        self.tg.create_task(self._fail_from_stream(mid, exc))

    async def _fail_from_stream(self, mid: str, exc: BaseException) -> None:
        backoff = Backoff(self.log, "abandoned_message_lookup_failed")
        while not self.rt.halted.is_set():
            try:
                got = await self.rt.redis.xrange(self.stream, min=mid, max=mid)
                break
            except RedisError as error:
                await backoff.failed(error)
        else:
            return  # stopping: the entry stays pending and is reclaimed elsewhere
        entries = cast(list[tuple[bytes, Fields]], got)
        fields = entries[0][1] if entries else None
        try:
            env: Envelope | None = self.own(envelope.decode(mid, fields))
        except Exception:
            env = None
        self.outbox.add(self._failed(mid, env, fields, exc, None))

    # -- bookkeeping -------------------------------------------------------

    def count(self, outcome: str, n: int = 1) -> None:
        """Add ``n`` to this stage's count (and metric) of ``outcome``."""
        self.counts[outcome] += n
        self.metrics.outcomes[outcome].inc(n)

    def log_failure(self, o: Outcome) -> None:
        """Log a retry, deferral or dead letter once Redis recorded it."""
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

    async def until_idle(self) -> None:
        """Wait until no handler runs here and nothing waits to be flushed."""
        while self.tasks or self.outbox.pending:
            await asyncio.sleep(0.01)

    async def flush(self) -> None:
        """Send everything finished so far (see :meth:`Outbox.flush`)."""
        await self.outbox.flush()

    async def checkpoint_loop(self) -> None:
        """Record where the group would be recreated, every ``CHECKPOINT_INTERVAL``."""
        backoff = Backoff(self.log, "group_checkpoint_failed")
        while True:
            try:
                await self.keeper.checkpoint()
                backoff.succeeded()
            except RedisError as exc:
                await backoff.failed(exc)
            if await self.rt.sleep(CHECKPOINT_INTERVAL):
                return

    async def close(self) -> None:
        """Close this runner's own connections."""
        for part in (self.reader, self.outbox):
            with contextlib.suppress(RedisError, OSError):
                await part.close()

    def wake_all(self) -> None:
        """Unblock every loop waiting on an event (used when stopping and halting)."""
        self.reader.space.set()
        self.reader.open.set()
        if self.rt.halted.is_set():
            self.outbox.wake.set()
            self.reclaimer.wake()


def _dump(model: BaseModel) -> bytes:
    return model.__pydantic_serializer__.to_json(model)
