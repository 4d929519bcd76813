"""Backlog metrics read from Redis itself, at scrape time.

Workers count what they did; what is *waiting* (stream length, lag, pending
entries and their age, dead letters, delayed retries, open batches) lives in
Redis and is read there when Prometheus scrapes, so the figures are right
even when no worker runs. Reads are cached for a moment so that several
scrapers do not multiply the load, and every read is bounded: delivery
counts look at the oldest ``MAX_PENDING_SCAN`` pending entries of a stage,
document states at the oldest ``MAX_OPEN_BATCHES`` open batches. On Redis
6.2 group lag is counted with XRANGE (see :mod:`streamproc.backlog`), which
costs about 0.3 s per stage lagging by 100,000 entries; Redis 7 reports it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import cast

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from streamproc.backlog import StageBacklog, stage_backlog
from streamproc.keys import Keys
from streamproc.logs import get_logger

DELIVERY_BUCKETS = (1, 2, 3, 5, 10)
MAX_PENDING_SCAN = 1000
MAX_OPEN_BATCHES = 100
CACHE_SECONDS = 2.0
READ_TIMEOUT = 8.0  # inside Prometheus' default 10 s scrape timeout


@dataclass(frozen=True, slots=True)
class StageSnapshot:
    """One stage's backlog plus what the metrics add to it."""

    backlog: StageBacklog
    deliveries: tuple[int, ...] = ()
    max_idle_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the backlog metrics report, read at one moment."""

    stages: tuple[StageSnapshot, ...]
    open_batches: int = 0
    documents: dict[str, int] = field(default_factory=dict)


def delivery_buckets(counts: Sequence[int]) -> tuple[int, ...]:
    """Cumulative counts of entries delivered at most 1, 2, 3, 5, 10 times, then all."""
    return (*(sum(1 for c in counts if c <= le) for le in DELIVERY_BUCKETS), len(counts))


async def read_stage(redis: Redis, keys: Keys, stage: str) -> StageSnapshot:
    """The backlog of ``stage``, its pending delivery counts and its consumers' idle time."""
    backlog = await stage_backlog(redis, keys, stage)
    if not backlog.consumers:
        return StageSnapshot(backlog, delivery_buckets([]))
    stream = keys.stream(stage)
    pending = await redis.xpending_range(stream, stage, "-", "+", MAX_PENDING_SCAN)
    consumers = await redis.xinfo_consumers(stream, stage)
    idle = max(int(c["idle"]) for c in consumers) / 1000
    counts = [int(p["times_delivered"]) for p in pending]
    return StageSnapshot(backlog, delivery_buckets(counts), idle)


async def read_documents(redis: Redis, keys: Keys) -> tuple[int, dict[str, int]]:
    """Open batches, and their documents by state (the oldest MAX_OPEN_BATCHES batches)."""
    total = int(await redis.zcard(keys.open_batches))
    batches = cast(list[bytes], await redis.zrange(keys.open_batches, 0, MAX_OPEN_BATCHES - 1))
    pipe = redis.pipeline(transaction=False)
    for batch in batches:
        pipe.hvals(keys.batch_documents(batch.decode()))
    states: Counter[str] = Counter()
    for values in await pipe.execute():
        states.update(v.decode() for v in values)
    return total, dict(states)


async def read_snapshot(redis: Redis, keys: Keys, stages: Sequence[str]) -> Snapshot:
    """Read every figure the backlog metrics report."""
    per_stage = tuple([await read_stage(redis, keys, s) for s in stages])
    total, documents = await read_documents(redis, keys)
    return Snapshot(per_stage, total, documents)


def _gauge(name: str, doc: str, label: str = "stage") -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=[label])


def stage_families(snapshot: Snapshot) -> list[Metric]:
    """The per-stage metric families of ``snapshot``."""
    length = _gauge("streamproc_stream_length", "Entries in a stage's input stream.")
    lag = _gauge("streamproc_group_lag", "Entries not yet delivered to a stage's group.")
    pending = _gauge("streamproc_pending_messages", "Entries delivered but not acknowledged.")
    age = _gauge("streamproc_oldest_pending_age_seconds", "Age of the oldest pending entry.")
    dead = _gauge("streamproc_dead_letter_messages", "Entries in a stage's dead-letter stream.")
    delayed = _gauge("streamproc_delayed_messages", "Messages waiting to retry a stage.")
    consumers = _gauge("streamproc_consumers", "Consumers in a stage's group.")
    idle = _gauge("streamproc_consumer_max_idle_seconds", "Longest idle time of a consumer.")
    deliveries = GaugeHistogramMetricFamily(
        "streamproc_pending_deliveries",
        f"Delivery counts of pending entries (the oldest {MAX_PENDING_SCAN} per stage).",
        labels=["stage"],
    )
    for s in snapshot.stages:
        b, label = s.backlog, [s.backlog.stage]
        length.add_metric(label, b.length)
        if b.lag is not None:
            lag.add_metric(label, b.lag)
        pending.add_metric(label, b.pending)
        age.add_metric(label, b.oldest_pending_seconds or 0.0)
        dead.add_metric(label, b.dead_letters)
        delayed.add_metric(label, b.delayed)
        consumers.add_metric(label, b.consumers)
        if s.max_idle_seconds is not None:
            idle.add_metric(label, s.max_idle_seconds)
        les = [*(str(le) for le in DELIVERY_BUCKETS), "+Inf"]
        deliveries.add_metric(label, list(zip(les, map(float, s.deliveries), strict=True)), 0.0)
    return [length, lag, pending, age, dead, delayed, consumers, idle, deliveries]


def batch_families(snapshot: Snapshot) -> list[Metric]:
    """Open batches and their documents by state."""
    batches = GaugeMetricFamily("streamproc_open_batches", "Batches not yet completed.")
    batches.add_metric([], snapshot.open_batches)
    docs = _gauge(
        "streamproc_open_batch_documents",
        f"Documents of open batches by state (the oldest {MAX_OPEN_BATCHES} batches).",
        label="state",
    )
    for state, n in sorted(snapshot.documents.items()):
        docs.add_metric([state], n)
    return [batches, docs]


class BacklogCollector(Collector):
    """A Prometheus collector that reads the backlog from Redis when scraped.

    ``collect`` runs in a scrape thread; the read itself runs on ``loop``
    (where the async Redis client lives) and its result is kept for
    ``cache_seconds``. If Redis cannot be read, ``streamproc_backlog_up`` is 0.
    """

    def __init__(
        self,
        read: Callable[[], Awaitable[Snapshot]],
        loop: asyncio.AbstractEventLoop,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.read = read
        self.loop = loop
        self.cache_seconds = cache_seconds
        self._cached: tuple[float, Snapshot] | None = None
        self.log = get_logger(component="backlog_metrics")

    def describe(self) -> list[Metric]:
        """Nothing up front: the families are known only once Redis is read."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The backlog metric families, plus whether Redis could be read."""
        snapshot = self._snapshot()
        up = GaugeMetricFamily("streamproc_backlog_up", "1 if the backlog was read from Redis.")
        up.add_metric([], 0 if snapshot is None else 1)
        yield up
        if snapshot is not None:
            yield from stage_families(snapshot)
            yield from batch_families(snapshot)

    def _snapshot(self) -> Snapshot | None:
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self.cache_seconds:
            return self._cached[1]
        if _running_loop() is self.loop:  # blocking here would wait on ourselves
            return self._cached[1] if self._cached else None
        try:
            future = asyncio.run_coroutine_threadsafe(self._read(), self.loop)
            snapshot = future.result(READ_TIMEOUT)
        except Exception as exc:  # a failed scrape must say so, not break /metrics
            self.log.warning("backlog_read_failed", error=repr(exc))
            return None
        self._cached = (now, snapshot)
        return snapshot

    async def _read(self) -> Snapshot:
        return await self.read()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
