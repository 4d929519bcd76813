"""Prometheus metrics of the engine, per stage and low in cardinality.

In a supervised run ``PROMETHEUS_MULTIPROC_DIR`` is set before worker
processes start, and the supervisor serves one aggregated ``/metrics``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)

MESSAGES = Counter(
    "streamproc_messages_total",
    "Messages finished by a stage, by outcome.",
    ["stage", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "streamproc_handler_seconds",
    "Time spent in a stage's handler.",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
)
END_TO_END_SECONDS = Histogram(
    "streamproc_end_to_end_seconds",
    "Time from a document entering the pipeline to leaving its last stage.",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "streamproc_in_flight_messages",
    "Messages being handled now.",
    ["stage"],
    multiprocess_mode="livesum",
)
RECLAIMED = Counter(
    "streamproc_reclaimed_total", "Messages taken over from idle consumers.", ["stage"]
)
LEASES_LOST = Counter(
    "streamproc_leases_lost_total",
    "In-flight messages another consumer claimed before this one finished.",
    ["stage"],
)
ABANDONED = Counter(
    "streamproc_handlers_abandoned_total",
    "Handlers that ignored their cancellation after the time limit and were left running.",
    ["stage"],
)
BREAKER_STATE = Gauge(
    "streamproc_breaker_state",
    "Circuit breaker of an external dependency: 0 closed, 1 half-open, 2 open.",
    ["dependency"],
    multiprocess_mode="livemax",
)
BREAKER_TRANSITIONS = Counter(
    "streamproc_breaker_transitions_total",
    "Circuit breaker transitions made by this process, by the state entered.",
    ["dependency", "to"],
)

# "skipped": an entry addressed to another consumer group of the stream (that group's
# retry or redrive), acknowledged unread.
OUTCOMES = ("done", "retried", "deferred", "dead_lettered", "duplicate", "skipped")


@dataclass(frozen=True)
class StageMetrics:
    """The metric children of one stage, bound once so the hot path does no lookups."""

    outcomes: dict[str, Counter]
    handler: Histogram
    end_to_end: Histogram
    in_flight: Gauge
    reclaimed: Counter
    leases_lost: Counter
    abandoned: Counter

    @classmethod
    def bind(cls, stage: str) -> StageMetrics:
        """Children labelled for ``stage``."""
        return cls(
            outcomes={o: MESSAGES.labels(stage, o) for o in OUTCOMES},
            handler=HANDLER_SECONDS.labels(stage),
            end_to_end=END_TO_END_SECONDS.labels(stage),
            in_flight=IN_FLIGHT.labels(stage),
            reclaimed=RECLAIMED.labels(stage),
            leases_lost=LEASES_LOST.labels(stage),
            abandoned=ABANDONED.labels(stage),
        )


class HistogramBatch:
    """Collects observations locally and adds them to a histogram child in one go.

    Observing one value writes the bucket and the sum (two shared-memory writes
    in multiprocess mode); a flush adds whole counts per bucket instead. Falls
    back to plain ``observe`` if the client's internals ever change.
    """

    def __init__(self, child: Histogram) -> None:
        self.child = child
        self._bounds: list[float] = list(getattr(child, "_upper_bounds", []))
        self._direct = not (self._bounds and hasattr(child, "_buckets") and hasattr(child, "_sum"))
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0
        self._values: list[float] = []

    def add(self, value: float) -> None:
        """Record one observation (not visible until :meth:`flush`)."""
        if self._direct:
            self._values.append(value)
            return
        self._counts[bisect.bisect_left(self._bounds, value)] += 1
        self._sum += value

    def flush(self) -> None:
        """Publish what was recorded since the last flush."""
        if self._direct:
            for v in self._values:
                self.child.observe(v)
            self._values.clear()
            return
        buckets: Any = self.child._buckets
        for i, n in enumerate(self._counts):
            if n:
                buckets[i].inc(n)
                self._counts[i] = 0
        if self._sum:
            self.child._sum.inc(self._sum)
            self._sum = 0.0
