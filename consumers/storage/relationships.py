"""Relationships: a document's edges, replaced as a whole by the last stage."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from consumers.graph import Edge
from consumers.storage.db import Pool, transaction
from consumers.storage.documents import Holds, finish_stage, lock_document

_INSERT = """
INSERT INTO relationships (document_id, id, type, source, target, attrs)
SELECT $1, e.id, e.type, e.source, e.target, e.attrs::jsonb
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
     AS e(id, type, source, target, attrs)
ON CONFLICT (document_id, id) DO UPDATE SET type = EXCLUDED.type, source = EXCLUDED.source,
    target = EXCLUDED.target, attrs = EXCLUDED.attrs
"""


async def save_relationships(
    pool: Pool,
    document: str,
    edges: Sequence[Edge],
    *,
    stage: str = "relationships",
    holds: Holds | None = None,
) -> None:
    """Replace the document's edges and mark the document done."""
    async with transaction(pool) as conn:
        await lock_document(conn, document, holds)
        await conn.execute("DELETE FROM relationships WHERE document_id = $1", document)
        await conn.execute(
            _INSERT,
            document,
            [e.id for e in edges],
            [e.type.value for e in edges],
            [e.source for e in edges],
            [e.target for e in edges],
            [orjson.dumps(dict(e.attrs)).decode() for e in edges],
        )
        await finish_stage(conn, document, stage, done=True)
