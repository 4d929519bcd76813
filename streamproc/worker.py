"""A worker process: one or more stage runners, their helpers, and a clean stop.

On stop (SIGTERM, SIGINT, or drain mode finding nothing left) the worker
stops reading, lets in-flight messages finish within the grace period while
their leases are kept, then cancels what is left: those entries stay pending
and are reclaimed by another consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, AuthorizationError, RedisError

from streamproc import envelope, janitor
from streamproc.breaker import Breakers
from streamproc.config import Settings
from streamproc.connections import refused_credentials, text
from streamproc.deadlines import abandon_after
from streamproc.group import GroupKeeper
from streamproc.keys import Keys
from streamproc.logs import get_logger
from streamproc.runner import StageRunner
from streamproc.runtime import REDIS_DOWN, Backoff, Runtime, consumer_name, sleep_unless
from streamproc.scripts import Scripts
from streamproc.stage import Pipeline, Stage

# The longest the promoter sleeps with nothing of its own due: how late it may notice a
# retry another worker scheduled (and then died before promoting).
PROMOTE_IDLE = 1.0
DRAIN_POLL = 0.01
STOP_POLL = 0.02  # how often a stopping worker looks again at readers still reading


@dataclass
class Report:
    """What a worker did: outcome counts per stage, and how many handlers it left running
    because they ignored cancellation (its process must then end: see the CLI)."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    orphans: int = 0

    def total(self, outcome: str = "done") -> int:
        """How many messages ended with ``outcome`` across all stages."""
        return sum(c.get(outcome, 0) for c in self.counts.values())


class Worker:
    """Serves ``stages`` of ``pipeline`` in this process."""

    def __init__(
        self,
        pipeline: Pipeline,
        stages: Sequence[Stage[Any]],
        settings: Settings,
        redis: Redis,
        *,
        consumer: str | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.stages = list(stages)
        self.settings = settings
        self.redis = redis
        self.keys = Keys(settings.prefix)
        self.consumer = consumer or consumer_name()
        self.stopping = asyncio.Event()
        self.halted = asyncio.Event()
        self.runners: list[StageRunner] = []
        self.log = get_logger(consumer=self.consumer)
        self._grace = settings.grace_period
        self._limits: tuple[int | None, float | None] = (None, None)

    def stop(self, *, grace: float | None = None) -> None:
        """Begin a graceful stop; a second call with ``grace=0`` cancels at once."""
        if grace is not None:
            self._grace = grace
        self.stopping.set()
        for r in self.runners:
            r.wake_all()

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop gracefully; a second one stops without waiting."""
        loop = asyncio.get_running_loop()

        def handle() -> None:
            self.stop(grace=0 if self.stopping.is_set() else None)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, handle)

    async def run(
        self,
        *,
        drain: bool = False,
        max_messages: int | None = None,
        max_rss_mb: float | None = None,
    ) -> Report:
        """Run until stopped (or, with ``drain``, until there is nothing left to do).

        With ``max_messages`` or ``max_rss_mb`` the worker stops gracefully once
        it has handled that many messages or grown that large, so that its
        supervisor starts a fresh process (recycling).
        """
        self._limits = (max_messages, max_rss_mb)
        if not await self._wait_for_redis():
            return Report({s.name: {} for s in self.stages})
        async with self.pipeline.lifespan(self.settings) as resources:
            scripts = Scripts(self.redis, self.keys)
            needs = {n: None for s in self.stages for n in s.needs}  # in order, once each
            rt = Runtime(
                self.redis,
                scripts,
                self.keys,
                self.settings,
                self.consumer,
                self.stopping,
                self.halted,
                resources,
                Breakers(scripts, self.settings, needs),
            )
            await rt.scripts.load()
            for s in self.stages:  # before any task starts: a refusal is one clear error
                await GroupKeeper(self.redis, self.keys, s.name, s.group or s.name).ensure()
            try:
                async with asyncio.TaskGroup() as tg:
                    self.runners = [StageRunner(s, rt, tg) for s in self.stages]
                    await self._serve(tg, rt, drain)
            finally:  # the runners' own connections, however the worker ended
                for r in self.runners:
                    await r.close()
        orphans = sum(len(r.tasks) + r.deadlines.orphans for r in self.runners)
        return Report({r.stage.name: dict(r.counts) for r in self.runners}, orphans)

    async def _wait_for_redis(self) -> bool:
        """Wait until Redis answers (a worker may start before it); False if stopped first.
        Refused credentials are a configuration error, not something to wait out."""
        delay, waited = 0.1, False
        while not self.stopping.is_set():
            try:
                await self.redis.ping()
            except (AuthenticationError, AuthorizationError) as exc:
                raise refused_credentials(exc) from None
            except REDIS_DOWN as exc:
                if not waited:
                    self.log.warning("waiting_for_redis", error=str(exc))
                waited = True
                await sleep_unless(self.stopping, delay)
                delay = min(delay * 2, 2.0)
                continue
            if waited:
                self.log.info("redis_reachable")
            return True
        return False

    async def _serve(self, tg: asyncio.TaskGroup, rt: Runtime, drain: bool) -> None:
        by_stage = {r.stage.name: r for r in self.runners}
        for r in self.runners:
            r.downstream = by_stage.get(r.stage.next) if r.stage.next else None
        block = None if drain else self.settings.block_ms
        readers = [tg.create_task(r.reader.loop(block)) for r in self.runners]
        helpers = [tg.create_task(r.outbox.loop()) for r in self.runners]
        helpers += [tg.create_task(r.leases.loop()) for r in self.runners]
        reclaimers = [tg.create_task(r.reclaimer.loop()) for r in self.runners]
        reclaimers += [tg.create_task(r.reclaimer.quarantine_loop()) for r in self.runners]
        reclaimers += [tg.create_task(r.deadlines.loop()) for r in self.runners]
        reclaimers += [tg.create_task(r.checkpoint_loop()) for r in self.runners]
        helpers += [tg.create_task(self._promote_loop(rt)), tg.create_task(self._heartbeat_loop())]
        helpers.append(tg.create_task(self._janitor_loop(rt)))
        if rt.breakers is not None:
            helpers.append(tg.create_task(rt.breakers.loop(self.halted)))
        if drain:
            helpers.append(tg.create_task(self._drain_monitor()))
        if any(limit is not None for limit in self._limits):
            helpers.append(tg.create_task(self._recycle_monitor(*self._limits)))
        self.log.info("worker_started", stages=[s.name for s in self.stages], pid=os.getpid())
        await self.stopping.wait()
        await self._shutdown(readers, reclaimers, helpers)

    async def _shutdown(
        self,
        readers: list[asyncio.Task[None]],
        reclaimers: list[asyncio.Task[None]],
        helpers: list[asyncio.Task[None]],
    ) -> None:
        await self._stop_readers(readers)
        for t in reclaimers:
            t.cancel()
        deadline = time.monotonic() + self._grace
        while any(r.tasks for r in self.runners) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        cancelled = sum(len(r.tasks) for r in self.runners)
        for r in self.runners:
            for t in list(r.tasks.values()):
                t.cancel()
        await self._let_cancelled_end()
        for r in self.runners:
            await self._final_flush(r, deadline)
        self.halted.set()
        for r in self.runners:
            r.wake_all()
        for t in helpers:
            t.cancel()
        await self._forget_heartbeat()
        self.log.info("worker_stopped", left_pending=cancelled)

    async def _let_cancelled_end(self) -> None:
        """Give cancelled handlers a moment to end; one that ignores its cancellation is
        left running (counted in the report's ``orphans``): its entry stays pending."""
        running = [t for r in self.runners for t in r.tasks.values()]
        if not running:
            await asyncio.sleep(0)
            return
        wait = min(abandon_after(r.timeout) for r in self.runners)
        _, stuck = await asyncio.wait(running, timeout=wait)
        if stuck:
            self.log.error(
                "handlers_ignored_cancellation",
                count=len(stuck),
                error="handlers ignored their cancellation; their entries stay pending and are "
                "reclaimed elsewhere (a handler must let CancelledError propagate)",
            )

    async def _stop_readers(self, readers: list[asyncio.Task[None]]) -> None:
        """Stop reading: a reader waiting for room or for its next read is cancelled at once;
        one inside XREADGROUP is left to finish it (at most its BLOCK, never while draining),
        so an entry Redis delivered in the meantime is still handled. Not CLIENT UNBLOCK:
        on a server paused by CLIENT PAUSE (a failover) it crashes some Redis versions."""
        deadline = time.monotonic() + self.settings.block_ms / 1000 + 1
        while True:
            for r, t in zip(self.runners, readers, strict=True):
                if not r.reader.in_read:
                    t.cancel()
            _, waiting = await asyncio.wait(readers, timeout=STOP_POLL)
            if not waiting:
                return
            if time.monotonic() > deadline:
                for t in waiting:
                    t.cancel()
                return

    async def _final_flush(self, runner: StageRunner, deadline: float) -> None:
        """Send what finished, waiting for an unreachable Redis only until the grace period
        ends (at least a second): whatever is not sent stays pending and is reclaimed."""
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 1.0)):
                await runner.flush()
        except TimeoutError:
            self.log.warning("final_flush_abandoned", stage=runner.stage.name)

    async def _promote_loop(self, rt: Runtime) -> None:
        """Move due retries back into their streams, sleeping until the next one is due (at
        most ``PROMOTE_IDLE`` s, to notice other workers' retries; at least the promote
        interval) or until this process schedules one. While Redis is unreachable it says
        so once and backs off."""
        interval = self.settings.promote_interval
        idle = max(PROMOTE_IDLE, interval)
        backoff = Backoff(self.log, "promote_failed", first=idle, most=idle)
        while not self.halted.is_set():
            calls = [rt.scripts.promote(stage=s.name) for s in self.stages]  # Redis' clock
            rt.retry_scheduled.clear()
            try:
                results = await rt.scripts.run(calls)
            except RedisError as exc:
                await backoff.failed(exc)
                continue
            backoff.succeeded()
            waits = [int(r[1]) for r in results if int(r[1]) >= 0]
            delay = min(idle, min(waits) / 1000) if waits else idle
            await sleep_unless(rt.retry_scheduled, max(delay, interval))

    async def _heartbeat_loop(self) -> None:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "stages": [s.name for s in self.stages],
        }
        while not self.halted.is_set():
            record["at"] = envelope.now_ms()
            with contextlib.suppress(RedisError):
                await self.redis.hset(self.keys.consumers, self.consumer, orjson.dumps(record))
            await asyncio.sleep(self.settings.heartbeat_interval)

    async def _janitor_loop(self, rt: Runtime) -> None:
        interval = max(self.settings.dead_consumer_after / 4, self.settings.heartbeat_interval)
        stages = [s.name for s in self.stages]
        while not await sleep_unless(self.stopping, interval):
            try:
                removed = await janitor.reap(
                    rt.scripts, self.keys, stages, self.consumer, self.settings.dead_consumer_after
                )
            except RedisError:
                continue
            if removed:
                self.log.info("dead_consumers_removed", consumers=removed)

    async def _forget_heartbeat(self) -> None:
        with contextlib.suppress(RedisError):
            await self.redis.hdel(self.keys.consumers, self.consumer)

    async def _recycle_monitor(self, max_messages: int | None, max_rss_mb: float | None) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(0.1)
            handled = sum(sum(r.counts.values()) for r in self.runners)
            rss = rss_mib()
            if (max_messages and handled >= max_messages) or (max_rss_mb and rss >= max_rss_mb):
                self.log.info("worker_recycling", handled=handled, rss_mib=round(rss, 1))
                self.stop()
                return

    async def _drain_monitor(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(DRAIN_POLL)
            if all(r.settled for r in self.runners) and await self._redis_drained():
                self.stop()
                return

    async def _redis_drained(self) -> bool:
        pipe = self.redis.pipeline(transaction=False)
        for r in self.runners:
            pipe.xpending(r.stream, r.group)
            pipe.xinfo_groups(r.stream)
            pipe.xinfo_stream(r.stream)
            pipe.zcard(self.keys.delayed(r.stage.name))
        try:
            results = await pipe.execute()
        except RedisError:  # unreachable, or a group or stream missing just now
            return False
        for i, r in enumerate(self.runners):
            pending, groups, info, delayed = results[4 * i : 4 * i + 4]
            if pending["pending"] or delayed or _undelivered(r.group, groups, info):
                return False
        return not any(r.inflight or r.outbox.pending for r in self.runners)


def rss_mib() -> float:
    """This process's resident set size in MiB (Linux; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _undelivered(group: str, groups: list[dict[str, Any]], info: dict[str, Any]) -> bool:
    mine = next((g for g in groups if text(g["name"]) == group), None)
    if mine is None:
        return True
    return text(mine["last-delivered-id"]) != text(info["last-generated-id"])
