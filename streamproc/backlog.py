"""What is waiting where: per-stage backlog figures read from Redis itself.

Used by ``streamproc streams`` and by the backlog metrics. Group lag comes
from XINFO GROUPS on Redis 7; on 6.2, which does not report it, it is
counted with XRANGE from the group's last-delivered id (up to a cap).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from streamproc import ids
from streamproc.connections import text
from streamproc.keys import Keys

LAG_COUNT_CAP = 100_000


@dataclass(frozen=True, slots=True)
class StageBacklog:
    """Backlog figures of one stage's stream and consumer group."""

    stage: str
    length: int
    lag: int | None
    pending: int
    oldest_pending_seconds: float | None
    consumers: int
    dead_letters: int
    delayed: int
    #: State of each dependency the stage needs, as its breaker last recorded it.
    breakers: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return asdict(self)


async def stage_backlog(
    redis: Redis, keys: Keys, stage: str, group: str | None = None, needs: Sequence[str] = ()
) -> StageBacklog:
    """Read the backlog of ``stage`` (its default group unless ``group`` is named) and the
    breakers of the dependencies it ``needs``."""
    group = group or stage
    stream = keys.stream(stage)
    pipe = redis.pipeline(transaction=False)
    pipe.exists(stream)
    pipe.xlen(stream)
    pipe.xlen(keys.dead_letters(stage))
    pipe.zcard(keys.delayed(stage))
    for name in needs:
        pipe.hget(keys.breaker(name), "state")
    exists, length, dead, delayed, *states = await pipe.execute()
    breakers = {n: text(s) if s else "closed" for n, s in zip(needs, states, strict=True)}
    if not exists:
        return StageBacklog(stage, 0, 0, 0, None, 0, dead, delayed, breakers)
    info = _group_info(await redis.xinfo_groups(stream), group)
    if info is None:
        return StageBacklog(stage, length, None, 0, None, 0, dead, delayed, breakers)
    pending = await redis.xpending(stream, group)
    oldest = _age(pending.get("min")) if pending["pending"] else None
    lag = await _lag(redis, stream, info)
    count = pending["pending"]
    return StageBacklog(
        stage, length, lag, count, oldest, info["consumers"], dead, delayed, breakers
    )


def _group_info(groups: list[dict[str, Any]], group: str) -> dict[str, Any] | None:
    for g in groups:
        if text(g["name"]) == group:
            return g
    return None


async def _lag(redis: Redis, stream: str, info: dict[str, Any]) -> int | None:
    lag = info.get("lag")
    if lag is not None or "entries-read" in info:
        return int(lag) if lag is not None else None
    start = "(" + text(info["last-delivered-id"])
    entries = await redis.xrange(stream, min=start, max="+", count=LAG_COUNT_CAP)
    return len(entries or [])


def _age(entry_id: bytes | str | None) -> float | None:
    if entry_id is None:
        return None
    ms, _ = ids.parse(text(entry_id))
    return max(0.0, time.time() - ms / 1000)
