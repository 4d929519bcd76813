"""What a batch produced, read from PostgreSQL for the demo's summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from consumers.commands.progress import BatchProgress
from consumers.storage.db import Pool

_COUNTS = """
SELECT count(*) AS documents,
       coalesce(sum(d.page_count), 0) AS pages,
       (SELECT count(*) FROM pages p JOIN batch_documents b USING (document_id)
         WHERE b.batch_id = $1 AND p.ocr) AS ocr_pages,
       (SELECT count(*) FROM chunks c JOIN batch_documents b USING (document_id)
         WHERE b.batch_id = $1) AS chunks,
       (SELECT count(*) FROM relationships r JOIN batch_documents b USING (document_id)
         WHERE b.batch_id = $1) AS relationships
FROM documents d JOIN batch_documents bd ON bd.document_id = d.id WHERE bd.batch_id = $1
"""
_ENTITIES = """
SELECT m.type, count(*) AS mentions, count(DISTINCT m.entity_id) AS canonical
FROM mentions m JOIN batch_documents b USING (document_id)
WHERE b.batch_id = $1 GROUP BY m.type ORDER BY m.type
"""
_SOURCES = "SELECT document_id, source FROM batch_documents WHERE batch_id = $1"


@dataclass(frozen=True)
class BatchSummary:
    """Counts of what one batch produced."""

    batch: str
    completed: bool
    documents: int
    done: int
    failed: int
    pages: int
    ocr_pages: int
    chunks: int
    mentions: int
    canonical: int
    relationships: int
    entities_by_type: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


async def batch_summary(pool: Pool, batch: str, progress: BatchProgress) -> BatchSummary:
    """Counts for ``batch``; failures named by their source file and reason."""
    async with pool.acquire() as conn:
        counts = await conn.fetchrow(_COUNTS, batch)
        entity_rows = await conn.fetch(_ENTITIES, batch)
        sources = {r["document_id"]: r["source"] for r in await conn.fetch(_SOURCES, batch)}
    failures = [f"{sources.get(f.doc, f.doc)} ({f.stage}): {f.error}" for f in progress.failures]
    return BatchSummary(
        batch=batch,
        completed=progress.completed,
        documents=counts["documents"],
        done=progress.done,
        failed=progress.failed,
        pages=counts["pages"],
        ocr_pages=counts["ocr_pages"],
        chunks=counts["chunks"],
        mentions=sum(r["mentions"] for r in entity_rows),
        canonical=sum(r["canonical"] for r in entity_rows),
        relationships=counts["relationships"],
        entities_by_type={r["type"]: r["mentions"] for r in entity_rows},
        failures=failures,
    )
