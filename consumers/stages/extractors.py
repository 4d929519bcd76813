"""Which entity extractor the entities stage uses: ``STREAMPROC_EXTRACTOR``.

``offline`` (the default) is the rule-based ``consumers.entities``
extractor: no network, nothing to open or close. ``openai`` is
``consumers.entities.openai``, which rate-limits and caches through Redis;
it is imported only when chosen (the client library is slow to import), and
its HTTP and Redis connections are closed when the worker stops.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from consumers.entities import Extractor, OfflineExtractor
from consumers.settings import PipelineSettings
from streamproc.config import Settings
from streamproc.connections import RedisTimeouts, connect_redis, redis_url

OPENAI_MODULE = "consumers.entities.openai"


@asynccontextmanager
async def make_extractor(settings: PipelineSettings, engine: Settings) -> AsyncIterator[Extractor]:
    """The extractor ``settings.extractor`` names, open until the context exits.

    Raises ``ConfigurationError`` when the chosen extractor is not configured
    (for ``openai``: no ``OPENAI_API_KEY``).
    """
    if settings.extractor == "offline":
        yield OfflineExtractor()
        return
    module: Any = importlib.import_module(OPENAI_MODULE)
    url = await asyncio.to_thread(redis_url, engine)
    redis = connect_redis(url, RedisTimeouts.from_settings(engine))
    try:
        extractor = module.make_openai_extractor(engine, redis)
        try:
            yield extractor
        finally:
            await extractor.aclose()
    finally:
        await redis.aclose()
