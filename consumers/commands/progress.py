"""Batch progress as people and scripts read it: per-stage counts and the failures."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from redis.asyncio import Redis

from streamproc.client import BatchStatus
from streamproc.keys import Keys

FAILURE_SCAN = 2000


@dataclass(frozen=True)
class StageProgress:
    """How many of a batch's documents left a stage, and how many failed there."""

    stage: str
    passed: int
    failed: int
    retried: int


@dataclass(frozen=True)
class Failure:
    """One dead-lettered document of the batch."""

    stage: str
    doc: str
    error_class: str
    error: str


@dataclass(frozen=True)
class BatchProgress:
    """Everything ``status`` and ``watch`` show."""

    batch: str
    total: int | None
    done: int
    failed: int
    completed: bool
    states: dict[str, int]
    stages: list[StageProgress]
    failures: list[Failure] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return asdict(self)


def progress_of(status: BatchStatus, stages: tuple[str, ...]) -> BatchProgress:
    """Per-stage figures from a batch's counters."""
    c = status.counters
    per_stage = [
        StageProgress(s, c.get(f"passed:{s}", 0), c.get(f"failed:{s}", 0), c.get(f"retried:{s}", 0))
        for s in stages
    ]
    return BatchProgress(
        status.batch,
        status.total,
        status.done,
        status.failed,
        status.completed,
        status.states,
        per_stage,
    )


async def batch_failures(
    redis: Redis, keys: Keys, batch: str, stages: tuple[str, ...]
) -> list[Failure]:
    """Dead letters of ``batch`` among the latest entries of each stage's dead-letter stream."""
    found: list[Failure] = []
    for stage in stages:
        entries = await redis.xrevrange(keys.dead_letters(stage), count=FAILURE_SCAN)
        for _, raw in cast(list[tuple[bytes, dict[bytes, bytes]]], entries):
            f = {k.decode(): v.decode("utf-8", "replace") for k, v in raw.items()}
            if f.get("batch") == batch:
                found.append(
                    Failure(stage, f.get("doc", ""), f.get("error_class", ""), f.get("error", ""))
                )
    return found


class ProgressEvents:
    """Wakes a watcher when the scripts publish its batch's progress (or ``fallback`` s later)."""

    def __init__(self, redis: Redis, keys: Keys, batch: str, fallback: float = 2.0) -> None:
        self.pubsub = redis.pubsub()
        self.channel = keys.progress_channel
        self.prefix = batch.encode() + b"\t"
        self.fallback = fallback

    async def __aenter__(self) -> ProgressEvents:
        await self.pubsub.subscribe(self.channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pubsub.unsubscribe(self.channel)
        await self.pubsub.aclose()

    async def next(self) -> None:
        """Return at the next progress message of the batch, or after ``fallback`` seconds."""
        try:
            async with asyncio.timeout(self.fallback):
                while True:
                    message = await self.pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=None
                    )
                    if message is not None and bytes(message["data"]).startswith(self.prefix):
                        return
        except TimeoutError:
            return
