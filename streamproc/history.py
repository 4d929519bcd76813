"""Reading a stream's history in pages: typed XRANGE and XREVRANGE.

Streams keep their history (trimmed by age), so operators scan them to
replay, trace and inspect; every scan here pages with COUNT so a long stream
never arrives in one reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from redis.asyncio import Redis

Entry = tuple[str, dict[bytes, bytes]]
PAGE = 500


async def entries(
    redis: Redis, key: str, start: str = "-", end: str = "+", count: int = PAGE
) -> list[Entry]:
    """One page of entries of ``key`` from ``start`` to ``end``, oldest first."""
    page = await redis.xrange(key, min=start, max=end, count=count)
    return _typed(page)


async def newest(redis: Redis, key: str, end: str = "+", count: int = 1) -> list[Entry]:
    """One page of entries of ``key`` at or before ``end``, newest first."""
    page = await redis.xrevrange(key, max=end, min="-", count=count)
    return _typed(page)


async def scan(redis: Redis, key: str, start: str = "-", end: str = "+") -> AsyncIterator[Entry]:
    """Every entry of ``key`` from ``start`` to ``end``, oldest first, read in pages."""
    while True:
        page = await entries(redis, key, start, end)
        for entry in page:
            yield entry
        if len(page) < PAGE:
            return
        start = "(" + page[-1][0]


async def last_id(redis: Redis, key: str) -> str:
    """The id of the newest entry of ``key``, or '0-0' for an empty stream."""
    last = await newest(redis, key)
    return last[0][0] if last else "0-0"


def _typed(page: Any) -> list[Entry]:
    rows = cast(list[tuple[bytes, dict[bytes, bytes] | None]], page or [])
    return [(raw_id.decode(), fields or {}) for raw_id, fields in rows]
