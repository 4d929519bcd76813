"""When a run's batches do not complete: where their documents are, and who holds what."""

from __future__ import annotations

from collections import Counter

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from bench.chaos.fleet import consumer_pid
from streamproc.client import Client
from streamproc.connections import text
from streamproc.keys import Keys


async def describe_stuck(
    redis: Redis, keys: Keys, stages: list[str], batches: list[str], alive: set[int]
) -> str:
    """One paragraph: unfinished batches by document state, then each stage's backlog."""
    try:
        parts = [await _batch(Client(redis, keys), b) for b in batches]
        parts += [await _stage(redis, keys, s, alive) for s in stages]
    except RedisConnectionError as exc:
        return f"Redis is unreachable ({exc})"
    return "; ".join(p for p in parts if p)


async def _batch(client: Client, batch: str) -> str:
    status = await client.status(batch)
    if status is None:
        return f"batch {batch} does not exist"
    if status.completed:
        return ""
    waiting = Counter({s: n for s, n in status.states.items() if s != "done"})
    states = ", ".join(f"{n} {s}" for s, n in waiting.most_common())
    return f"batch {batch}: {status.done} done, {status.failed} failed of {status.total} ({states})"


async def _stage(redis: Redis, keys: Keys, stage: str, alive: set[int]) -> str:
    stream = keys.stream(stage)
    try:
        summary = await redis.xpending(stream, stage)
    except ResponseError:
        return f"{stage}: no consumer group"
    owners = []
    for c in summary.get("consumers") or []:
        pid = consumer_pid(c["name"])
        state = "alive" if pid in alive else "gone"
        owners.append(f"{c['pending']} by {text(c['name'])} ({state})")
    pipe = redis.pipeline(transaction=False)
    pipe.xlen(stream)
    pipe.zcard(keys.delayed(stage))
    length, delayed = await pipe.execute()
    held = ", ".join(owners) or "none"
    return f"{stage}: {length} entries, pending {held}, {delayed} delayed"
