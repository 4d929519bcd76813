"""Forgetting dead consumers, only once nothing of theirs is pending.

A consumer that stopped heartbeating and has been idle for
``dead_consumer_after`` seconds is removed from its group with XGROUP
DELCONSUMER -- but only when it owns no pending entries: those are first
taken over by a reclaimer (their idle time passes the visibility timeout
long before), because DELCONSUMER would silently drop them. The last check and
the deletion happen in one script call (``reap.lua``), so an entry read in
between is never dropped.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from streamproc.connections import text
from streamproc.envelope import now_ms
from streamproc.keys import Keys
from streamproc.scripts import Scripts


async def live_consumers(redis: Redis, keys: Keys, dead_after: float) -> set[str]:
    """Names of consumers whose heartbeat is recent; stale heartbeats are removed."""
    now = now_ms()
    live: set[str] = set()
    stale: list[bytes] = []
    records = cast(dict[bytes, bytes], await redis.hgetall(keys.consumers))
    for name, record in records.items():
        try:
            at = int(orjson.loads(record)["at"])
        except (ValueError, KeyError, TypeError):
            at = 0
        (live.add(name.decode()) if now - at < dead_after * 1000 else stale.append(name))
    if stale:
        await redis.hdel(keys.consumers, *stale)
    return live


async def reap(
    scripts: Scripts, keys: Keys, stages: list[str], me: str, dead_after: float
) -> list[str]:
    """Delete dead, empty consumers from every group reading the streams of ``stages`` (side
    groups too); returns 'stage/name' (or 'stage:group/name' in a side group) of each."""
    redis = scripts.redis
    idle_ms = int(dead_after * 1000)
    live = await live_consumers(redis, keys, dead_after) | {me}
    removed: list[str] = []
    for stage in stages:
        stream = keys.stream(stage)
        for g in await _groups(redis, stream):
            group = text(g["name"])
            where = stage if group == stage else f"{stage}:{group}"
            for c in await redis.xinfo_consumers(stream, group):
                name = text(c["name"])
                if name in live or int(c["pending"]) or int(c["idle"]) < idle_ms:
                    continue
                call = scripts.reap(stream=stream, group=group, consumer=name, min_idle_ms=idle_ms)
                if await scripts.call(call):  # checked again where nothing can come between
                    removed.append(f"{where}/{name}")
    return removed


async def _groups(redis: Redis, stream: str) -> list[dict[str, Any]]:
    try:
        return await redis.xinfo_groups(stream)
    except ResponseError:
        return []  # the stream does not exist yet
