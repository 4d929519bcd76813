"""Reading results out: one document's summary, and every document of a batch as JSON-ready dicts.

``export_documents`` yields one dict per document, in document-id order::

    {"document_id", "source", "sha256", "kind", "status", "error", "pages",
     "entities": [{"type", "text", "canonical", "entity_id", "page", "start", "end",
                   "role" (when one applies)}],
     "relationships": [{"type", "source", "target", "attrs"}]}

It reads documents a window at a time (keyset pagination on the id), with one
query per table per window, so memory stays flat over any number of documents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from typing import Any

from consumers.storage.db import Connection, Pool, transaction

EXPORT_WINDOW = 200

_DOCUMENTS = """
SELECT d.id, COALESCE(bd.source, d.source) AS source, d.sha256, d.kind, d.status, d.error,
       d.page_count
FROM documents d
LEFT JOIN batch_documents bd ON bd.document_id = d.id AND bd.batch_id = $1
WHERE d.id > $2 AND ($1::text IS NULL OR bd.batch_id IS NOT NULL)
ORDER BY d.id LIMIT $3
"""
_MENTIONS = """
SELECT m.document_id, m.type, m.text, e.name AS canonical, m.entity_id, m.page,
       m.start_offset, m.end_offset, m.role, m.attrs
FROM mentions m LEFT JOIN entities e ON e.id = m.entity_id
WHERE m.document_id = ANY($1::text[])
ORDER BY m.document_id, m.start_offset, m.end_offset, m.type
"""
_RELATIONSHIPS = """
SELECT document_id, type, source, target, attrs FROM relationships
WHERE document_id = ANY($1::text[]) ORDER BY document_id, type, source, target, id
"""
_SUMMARY = """
SELECT d.id, d.source, d.sha256, d.kind, d.size, d.status, d.stage, d.error, d.page_count,
       d.text_length, d.created_at, d.updated_at,
       (SELECT count(*) FROM chunks WHERE document_id = d.id) AS chunks,
       (SELECT count(*) FROM mentions WHERE document_id = d.id) AS mentions,
       (SELECT count(DISTINCT entity_id) FROM mentions WHERE document_id = d.id) AS entities,
       (SELECT count(*) FROM relationships WHERE document_id = d.id) AS relationships,
       ARRAY(SELECT batch_id FROM batch_documents WHERE document_id = d.id
             ORDER BY added_at) AS batches
FROM documents d WHERE d.id = $1
"""


async def document_summary(pool: Pool, document: str) -> dict[str, Any] | None:
    """A document's row with counts of its chunks, mentions, entities and edges; None if unknown."""
    async with transaction(pool) as conn:
        row = await conn.fetchrow(_SUMMARY, document)
    return None if row is None else dict(row)


async def export_documents(pool: Pool, batch: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Every document (of ``batch``, when given) with its entities and relationships."""
    after = ""
    while True:
        async with transaction(pool) as conn:
            window = await _window(conn, batch, after)
        if not window:
            return
        for document in window:
            yield document
        after = window[-1]["document_id"]


async def _window(conn: Connection, batch: str | None, after: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(_DOCUMENTS, batch, after, EXPORT_WINDOW)
    ids = [row["id"] for row in rows]
    entities: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in await conn.fetch(_MENTIONS, ids):
        entities[row["document_id"]].append(_entity(row))
    edges: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in await conn.fetch(_RELATIONSHIPS, ids):
        edges[row["document_id"]].append(
            {
                "type": row["type"],
                "source": row["source"],
                "target": row["target"],
                "attrs": row["attrs"],
            }
        )
    return [_document(row, entities[row["id"]], edges[row["id"]]) for row in rows]


def _document(
    row: Mapping[str, Any], entities: list[dict[str, Any]], edges: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "document_id": row["id"],
        "source": row["source"],
        "sha256": row["sha256"],
        "kind": row["kind"],
        "status": row["status"],
        "error": row["error"],
        "pages": row["page_count"],
        "entities": entities,
        "relationships": edges,
    }


def _entity(row: Mapping[str, Any]) -> dict[str, Any]:
    entity = {
        "type": row["type"],
        "text": row["text"],
        "canonical": row["canonical"],
        "entity_id": row["entity_id"],
        "page": row["page"],
        "start": row["start_offset"],
        "end": row["end_offset"],
    }
    if row["attrs"]:
        entity["attrs"] = row["attrs"]
    if row["role"] is not None:
        entity["role"] = row["role"]
    return entity


async def export_document(pool: Pool, document: str) -> dict[str, Any] | None:
    """One document in the export shape, or None if unknown."""
    async with transaction(pool) as conn:
        window = await _window(conn, None, _before(document))
    return window[0] if window and window[0]["document_id"] == document else None


def _before(document: str) -> str:
    # The largest id ordered before ``document``: keyset pagination starts after it.
    return document[:-1] + chr(ord(document[-1]) - 1) + "\U0010ffff" if document else ""
