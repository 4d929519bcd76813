"""What PostgreSQL knows of documents and batches, for ``streamproc trace`` and
``streamproc batches`` (the pipeline's ``facts`` and ``batch_facts``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from consumers.storage.db import Pool, connect, migrate
from consumers.storage.export import document_summary
from streamproc.config import Settings
from streamproc.connections import database_url

_BATCHES = """
SELECT b.id, b.created_at, count(bd.document_id) AS documents,
       count(*) FILTER (WHERE d.status = 'done') AS done,
       count(*) FILTER (WHERE d.status = 'failed') AS failed
FROM batches b
LEFT JOIN batch_documents bd ON bd.batch_id = b.id
LEFT JOIN documents d ON d.id = bd.document_id
WHERE b.id = ANY($1::text[])
GROUP BY b.id
"""


@asynccontextmanager
async def _pool(engine: Settings) -> AsyncIterator[Pool]:
    url = await asyncio.to_thread(database_url, engine)
    pool = await connect(url, min_size=1, max_size=1)
    try:
        await migrate(pool)
        yield pool
    finally:
        await pool.close()


async def document_facts(engine: Settings, doc: str) -> dict[str, Any]:
    """The document's row (status, stage reached, error, pages, times) with counts of its
    chunks, mentions, entities and relationships and its batches; ``None`` when unknown."""
    async with _pool(engine) as pool:
        return {"database": await document_summary(pool, doc)}


async def batch_facts(engine: Settings, batches: list[str]) -> dict[str, Any]:
    """Per batch id: when PostgreSQL recorded it, its documents there, and how many of
    those are done or failed now (a document's latest status, whichever batch set it);
    ``None`` for a batch PostgreSQL does not know."""
    async with _pool(engine) as pool, pool.acquire() as conn:
        rows = await conn.fetch(_BATCHES, batches)
    found = {
        r["id"]: {
            "created_at": r["created_at"].isoformat(),
            "documents": r["documents"],
            "done": r["done"],
            "failed": r["failed"],
        }
        for r in rows
    }
    return {batch: found.get(batch) for batch in batches}
