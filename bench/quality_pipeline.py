"""Run documents through the real pipeline and return the mentions it stored.

Private Redis and PostgreSQL servers are started in a temporary directory,
the documents are submitted as one batch, one worker drains every stage in
this process, and the export is read back: the same path a user's documents
take, OCR of scanned pages included.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from consumers.intake import submit_paths
from consumers.model import EntityType, Mention
from consumers.pipeline import PIPELINE
from consumers.resources import lifespan
from consumers.storage.export import export_documents
from streamproc.client import Client
from streamproc.config import load_settings
from streamproc.connections import connect_redis
from streamproc.embedded import start_private_postgres, start_private_redis
from streamproc.keys import Keys
from streamproc.worker import Worker


def pipeline_mentions(paths: Sequence[Path]) -> tuple[dict[str, list[Mention]], float]:
    """Mentions per submitted file name, and the seconds the pipeline took."""
    with tempfile.TemporaryDirectory(prefix="streamproc-quality-") as tmp:
        root = Path(tmp)
        redis = start_private_redis(root / "redis")
        postgres = start_private_postgres(root / "postgres")
        try:
            settings = load_settings(
                redis_url=redis.url,
                database_url=postgres.dsn,
                data_dir=root / "data",
                prefix="quality",
            )
            return asyncio.run(_run(settings, paths))
        finally:
            redis.stop()
            postgres.stop()


async def _run(settings: object, paths: Sequence[Path]) -> tuple[dict[str, list[Mention]], float]:
    from streamproc.config import Settings

    assert isinstance(settings, Settings)
    redis = connect_redis(settings.redis_url.get_secret_value())  # type: ignore[union-attr]
    try:
        async with lifespan(settings) as resources:
            client = Client(redis, Keys(settings.prefix))
            started = time.perf_counter()
            result = await submit_paths(
                list(paths), resources=resources, client=client, batch="quality"
            )
            await Worker(PIPELINE, PIPELINE.stages, settings, redis).run(drain=True)
            seconds = time.perf_counter() - started
            found: dict[str, list[Mention]] = {}
            async for doc in export_documents(resources.pool, result.batch):
                found[Path(doc["source"]).name] = [_mention(e) for e in doc["entities"]]
            return found, seconds
    finally:
        await redis.aclose()


def _mention(entity: dict[str, Any]) -> Mention:
    attrs = tuple((str(k), str(v)) for k, v in entity.get("attrs") or ())
    return Mention(
        EntityType(entity["type"]),
        entity["text"],
        int(entity["start"]),
        int(entity["end"]),
        entity.get("role"),
        attrs,
    )
