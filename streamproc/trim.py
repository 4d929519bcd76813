"""Retention: streams trimmed by age, never past what a consumer group still needs.

Every stage stream, dead-letter stream and the events stream keeps its
history for ``STREAMPROC_RETENTION`` (replay reads it) and is then trimmed
with ``XTRIM MINID`` -- by age, never by count. The trim point of a stream is
the smallest of:

- the age cutoff, ``now - retention`` as an entry id;
- for every group, the id just after its last-delivered id (entries the
  group has not been handed yet stay, however old: a lagging group loses
  nothing);
- for every group, its oldest pending id (delivered but not acknowledged).

A stage stream is not trimmed at all until the stage's own consumer group
(named after the stage, created by its first worker at the start of the
stream) exists: until then nobody has read it, and an entry older than the
retention is still work to do. ``now`` is Redis' clock (``TIME``), the clock
that made the entry ids, so a skewed local clock cannot move the cutoff.

``XTRIM MINID p`` removes exactly the entries whose id is below ``p``. Large
removals go in steps (whole stream nodes, ``LIMIT``-bounded) so that no single
call blocks Redis for long; a last exact call removes the remainder. A group
created while a trim runs is not seen by it; such a group only ever asks for
history that is older than the retention or newer than the trim point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from streamproc import ids
from streamproc.connections import text
from streamproc.keys import Keys
from streamproc.logs import get_logger

COUNT_PAGE = 10_000
TRIM_STEP = 10_000


@dataclass(frozen=True, slots=True)
class GroupMark:
    """How far one consumer group has got in a stream."""

    name: str
    last_delivered: str
    oldest_pending: str | None


@dataclass(frozen=True, slots=True)
class TrimPlan:
    """Where one stream is (or would be) trimmed, and how many entries go."""

    stream: str
    trim_point: str
    cutoff: str
    held_by: str | None
    removed: int
    untouched: str | None = None
    """Why the stream was left whole (no consumer group has read it yet), if it was."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return asdict(self)


def successor(entry_id: str) -> str:
    """The smallest id greater than ``entry_id``."""
    ms, seq = ids.parse(entry_id)
    return f"{ms + 1}-0" if seq >= ids.MAX_SEQ else f"{ms}-{seq + 1}"


def age_cutoff(now: int, retention: timedelta) -> str:
    """The id of the oldest entry ``retention`` keeps, for a clock reading ``now`` (ms)."""
    return f"{max(0, now - int(retention.total_seconds() * 1000))}-0"


def trim_point(cutoff: str, groups: Sequence[GroupMark]) -> tuple[str, str | None]:
    """The MINID to trim at, and the group holding it below ``cutoff`` (None if none does)."""
    point, holder = cutoff, None
    for g in groups:
        for mark in (successor(g.last_delivered), g.oldest_pending):
            if mark is not None and ids.parse(mark) < ids.parse(point):
                point, holder = mark, g.name
    return point, holder


def retained_streams(keys: Keys, stages: Sequence[str]) -> list[tuple[str, str | None]]:
    """Every stream retention applies to (stage streams, dead letters, events), each with
    the consumer group that must exist before it is trimmed (None: no group ever reads it)."""
    streams: list[tuple[str, str | None]] = [(keys.stream(s), s) for s in stages]
    streams += [(keys.dead_letters(s), None) for s in stages]
    return [*streams, (keys.events, None)]


async def redis_now_ms(redis: Redis) -> int:
    """Redis' clock (``TIME``) in epoch milliseconds: the clock stream ids come from."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def group_marks(redis: Redis, stream: str) -> list[GroupMark]:
    """Last-delivered and oldest pending id of every group of ``stream``."""
    marks = []
    for info in await redis.xinfo_groups(stream):
        name = text(info["name"])
        oldest = None
        if int(info["pending"]):
            summary = await redis.xpending(stream, name)
            oldest = text(summary["min"]) if summary["min"] is not None else None
        marks.append(GroupMark(name, text(info["last-delivered-id"]), oldest))
    return marks


async def count_before(redis: Redis, stream: str, point: str) -> int:
    """How many entries of ``stream`` have an id below ``point``."""
    total, start = 0, "-"
    while True:
        page = await redis.xrange(stream, min=start, max="(" + point, count=COUNT_PAGE) or []
        total += len(page)
        if len(page) < COUNT_PAGE:
            return total
        start = "(" + text(cast(bytes, page[-1][0]))


async def remove_before(redis: Redis, stream: str, point: str) -> int:
    """Remove the entries of ``stream`` below ``point``, at most TRIM_STEP-ish per call."""
    removed = 0
    while step := int(await redis.xtrim(stream, minid=point, approximate=True, limit=TRIM_STEP)):
        removed += step
    return removed + int(await redis.xtrim(stream, minid=point, approximate=False))


async def trim_stream(
    redis: Redis, stream: str, cutoff: str, *, dry_run: bool = False, needs: str | None = None
) -> TrimPlan | None:
    """Trim ``stream`` at its safe trim point (or only count, with ``dry_run``); a stream
    whose group ``needs`` does not exist yet is left whole."""
    if not await redis.exists(stream):
        return None
    marks = await group_marks(redis, stream)
    if needs is not None and all(m.name != needs for m in marks):
        return TrimPlan(stream, "0-0", cutoff, None, 0, untouched=f"no consumer group {needs} yet")
    point, holder = trim_point(cutoff, marks)
    if dry_run:
        removed = await count_before(redis, stream, point)
    else:
        removed = await remove_before(redis, stream, point)
    return TrimPlan(stream, point, cutoff, holder, removed)


async def trim(
    redis: Redis,
    keys: Keys,
    stages: Sequence[str],
    retention: timedelta,
    *,
    dry_run: bool = False,
    now: int | None = None,
) -> list[TrimPlan]:
    """Apply retention to every stream of ``stages``; returns one plan per existing stream."""
    cutoff = age_cutoff(await redis_now_ms(redis) if now is None else now, retention)
    plans = []
    for stream, needs in retained_streams(keys, stages):
        plan = await trim_stream(redis, stream, cutoff, dry_run=dry_run, needs=needs)
        if plan is not None:
            plans.append(plan)
    return plans


async def trim_forever(
    redis: Redis, keys: Keys, stages: Sequence[str], retention: timedelta, interval: float
) -> None:
    """Trim every ``interval`` seconds until cancelled; Redis trouble is logged and retried."""
    log = get_logger(component="trimmer")
    while True:
        try:
            plans = await trim(redis, keys, stages, retention)
        except RedisError as exc:
            log.warning("trim_failed", error=str(exc))
        else:
            removed = {p.stream: p.removed for p in plans if p.removed}
            if removed:
                log.info("streams_trimmed", removed=removed)
        await asyncio.sleep(interval)
