"""What a pipeline command needs: settings, Redis, the batch client and the pipeline resources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from consumers.resources import Resources, open_resources
from consumers.settings import load_pipeline_settings
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.connections import RedisTimeouts, connect_redis, redis_url
from streamproc.keys import Keys

STAGES = ("ocr", "chunk", "entities", "resolve", "relationships")


@dataclass(frozen=True)
class Session:
    """Connections of one command run."""

    engine: Settings
    redis: Redis
    client: Client
    resources: Resources


@asynccontextmanager
async def open_session(engine: Settings) -> AsyncIterator[Session]:
    """Connect to Redis and PostgreSQL (embedded ones are started when unset)."""
    url = await asyncio.to_thread(redis_url, engine)
    redis = connect_redis(url, RedisTimeouts.from_settings(engine))
    try:
        async with open_resources(engine, load_pipeline_settings()) as resources:
            yield Session(engine, redis, engine_client(engine, redis), resources)
    finally:
        await redis.aclose()


@asynccontextmanager
async def open_redis(engine: Settings) -> AsyncIterator[tuple[Redis, Client]]:
    """Only Redis, for commands that read batch progress."""
    url = await asyncio.to_thread(redis_url, engine)
    redis = connect_redis(url, RedisTimeouts.from_settings(engine))
    try:
        yield redis, engine_client(engine, redis)
    finally:
        await redis.aclose()


def engine_client(engine: Settings, redis: Redis) -> Client:
    """The batch client for ``engine``'s prefix and batch retention."""
    return Client(redis, Keys(engine.prefix), batch_retention=engine.batch_retention)
