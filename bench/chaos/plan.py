"""What a chaos run does and when: its settings, its seeded timeline, its workers' settings.

The timeline is a sorted list of events in seconds from the start: batch
submissions spread over the window, so that work keeps arriving, and the
disruptions (worker kills, one or more SIGSTOPs, Redis and PostgreSQL
restarts) at random moments of it. The same seed gives the same timeline.
Pure: nothing here starts or touches a process.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Action = Literal["submit", "kill", "stop", "redis", "postgres"]

PREFIX = "chaos"
PIPELINES = {"pipeline": "consumers.pipeline:PIPELINE", "noop": "streamproc.testing:three"}
STAGES = {
    "pipeline": ["ocr", "chunk", "entities", "resolve", "relationships"],
    "noop": ["s1", "s2", "s3"],
}

#: Disruptions start once the first batch is flowing, and submissions end before
#: the window does, so every disruption meets work in flight.
WARM_UP = 0.1
SUBMIT_SPAN = 0.9


@dataclass(frozen=True, slots=True)
class ChaosConfig:
    """One chaos run: the workload, the fleet, the disruptions and the engine's timings."""

    documents: int = 40
    workers: int = 3
    duration: float = 20.0
    seed: int = 1
    batches: int = 3
    noop: bool = False
    kills: int = 2
    stops: int = 1
    redis_restarts: int = 1
    postgres_restarts: int = 1
    bad: int = 2
    scanned: int = 0
    visibility_timeout: float = 2.0
    stop_seconds: float = 5.0
    timeout: float = 300.0

    def __post_init__(self) -> None:
        if self.stop_seconds <= self.visibility_timeout:
            raise ValueError("a stopped worker must stay stopped past the visibility timeout")
        if self.workers < 2 and self.stops:
            raise ValueError("a stopped worker's entries need a second worker to take them over")
        if self.bad + self.scanned > self.documents:
            raise ValueError("bad and scanned documents are part of --documents")
        if self.batches < 1 or self.documents < self.batches:
            raise ValueError("every batch needs at least one document")

    @property
    def mode(self) -> str:
        """``pipeline`` (the legal-document stages) or ``noop`` (probe stages)."""
        return "noop" if self.noop else "pipeline"

    @property
    def postgres(self) -> bool:
        """Whether this run uses PostgreSQL (the document pipeline does; --noop does not)."""
        return not self.noop


@dataclass(frozen=True, slots=True, order=True)
class Event:
    """One thing the harness does at ``at`` seconds: ``arg`` is the batch of a submit,
    and for a server restart 1 for a crash (SIGKILL) and 0 for a clean stop."""

    at: float
    action: Action
    arg: int = 0


def timeline(config: ChaosConfig) -> list[Event]:
    """The run's events in time order, drawn from ``config.seed``."""
    rng = random.Random(config.seed)
    window = config.duration
    events = [
        Event(round(window * SUBMIT_SPAN * b / config.batches, 2), "submit", b)
        for b in range(config.batches)
    ]
    events += _scattered(rng, window, "kill", config.kills)
    # A stop ends before the window does, so the run also sees the worker come back.
    stop_window = max(window - config.stop_seconds, window * WARM_UP * 2)
    events += _scattered(rng, stop_window, "stop", config.stops)
    events += _restarts(rng, window, "redis", config.redis_restarts)
    if config.postgres:
        events += _restarts(rng, window, "postgres", config.postgres_restarts)
    return sorted(events)


def _scattered(rng: random.Random, window: float, action: Action, n: int) -> list[Event]:
    return [Event(round(rng.uniform(window * WARM_UP, window), 2), action) for _ in range(n)]


def _restarts(rng: random.Random, window: float, action: Action, n: int) -> list[Event]:
    """Restarts alternate between a crash and a clean stop, starting with a crash."""
    moments = sorted(e.at for e in _scattered(rng, window, action, n))
    return [Event(at, action, 1 - i % 2) for i, at in enumerate(moments)]


def worker_env(
    config: ChaosConfig, redis_url: str, database_url: str | None, data_dir: Path
) -> dict[str, str]:
    """The workers' environment: the run's servers and short, chaos-sized timings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROC_")}
    env.pop("DATABASE_URL", None)
    env.update(
        REDIS_URL=redis_url,
        STREAMPROC_PIPELINE=PIPELINES[config.mode],
        STREAMPROC_PREFIX=PREFIX,
        STREAMPROC_DATA_DIR=str(data_dir),
        STREAMPROC_LOG_FORMAT="json",
        STREAMPROC_VISIBILITY_TIMEOUT=str(config.visibility_timeout),
        STREAMPROC_BLOCK_MS="200",
        STREAMPROC_PROMOTE_INTERVAL="0.1",
        STREAMPROC_HEARTBEAT_INTERVAL="0.5",
        STREAMPROC_GRACE_PERIOD="3",
        # Retries must outlast a server restart (tens of seconds of backoff in all), and
        # kills aimed at busy workers may catch one message in flight several times.
        STREAMPROC_BACKOFF_BASE="0.2",
        STREAMPROC_BACKOFF_MAX="2",
        STREAMPROC_MAX_ATTEMPTS="30",
        STREAMPROC_MAX_DELIVERIES="10",
    )
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env
