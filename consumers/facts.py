"""What PostgreSQL knows of a document, for ``streamproc trace`` (the pipeline's ``facts``)."""

from __future__ import annotations

import asyncio
from typing import Any

from consumers.storage.db import connect, migrate
from consumers.storage.export import document_summary
from streamproc.config import Settings
from streamproc.connections import database_url


async def document_facts(engine: Settings, doc: str) -> dict[str, Any]:
    """The document's row (status, stage reached, error, pages, times) with counts of its
    chunks, mentions, entities and relationships and its batches; ``None`` when unknown."""
    url = await asyncio.to_thread(database_url, engine)
    pool = await connect(url, min_size=1, max_size=1)
    try:
        await migrate(pool)
        summary = await document_summary(pool, doc)
    finally:
        await pool.close()
    return {"database": summary}
