"""What the stages share in one worker process: settings, database pool, object store, extractor.

``lifespan(settings)`` is the pipeline's lifespan: the engine enters it once
per worker process and hands what it yields, a :class:`Resources`, to every
handler as ``Context.resources``. It parses the pipeline settings, starts
the embedded PostgreSQL when ``DATABASE_URL`` is unset, applies migrations,
opens the object store and builds the extractor; on exit it closes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from consumers.entities import Extractor
from consumers.settings import PipelineSettings, load_pipeline_settings
from consumers.stages.extractors import make_extractor
from consumers.storage.db import Pool, connect, migrate
from consumers.storage.objects import ObjectStore
from consumers.storage.store import open_store
from streamproc.config import Settings
from streamproc.connections import database_url


@dataclass(frozen=True)
class Resources:
    """Everything a handler of the legal-document pipeline uses besides its message."""

    settings: PipelineSettings
    engine: Settings
    pool: Pool
    store: ObjectStore
    extractor: Extractor


@asynccontextmanager
async def lifespan(engine: Settings) -> AsyncIterator[Resources]:
    """The pipeline's resources, configured from the environment."""
    async with open_resources(engine, load_pipeline_settings()) as resources:
        yield resources


@asynccontextmanager
async def open_resources(engine: Settings, settings: PipelineSettings) -> AsyncIterator[Resources]:
    """The pipeline's resources for explicit settings (what tests and tools call)."""
    async with AsyncExitStack() as stack:
        # Starting the embedded server is synchronous and may take seconds.
        url = await asyncio.to_thread(database_url, engine)
        pool = await connect(
            url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            timeout=settings.db_timeout,
        )
        stack.push_async_callback(pool.close)
        await migrate(pool)
        store = await stack.enter_async_context(
            open_store(
                settings.store_location(engine.data_dir),
                endpoint_url=settings.s3_endpoint_url,
                region=settings.s3_region,
            )
        )
        extractor = await stack.enter_async_context(make_extractor(settings, engine))
        yield Resources(settings, engine, pool, store, extractor)
