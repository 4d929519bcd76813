"""Mentions: stored by the entities stage, linked to canonical entities by resolve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from consumers.graph import ResolvedMention
from consumers.model import EntityType, Mention
from consumers.storage.db import Pool, transaction
from consumers.storage.documents import Holds, finish_stage, lock_document
from consumers.storage.records import StoredMention

_INSERT = """
INSERT INTO mentions (id, document_id, type, text, start_offset, end_offset, page, role,
                      attrs, extractor)
SELECT m.id, $1, m.type, m.text, m.start_offset, m.end_offset, m.page, m.role, m.attrs::jsonb,
       m.extractor
FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $8::text[],
            $9::text[], $10::text[])
     AS m(id, type, text, start_offset, end_offset, page, role, attrs, extractor)
ON CONFLICT (id) DO UPDATE SET text = EXCLUDED.text, page = EXCLUDED.page,
    role = EXCLUDED.role, attrs = EXCLUDED.attrs, extractor = EXCLUDED.extractor,
    entity_id = NULL
"""
_ASSIGN = """
UPDATE mentions SET entity_id = a.entity_id
FROM unnest($2::text[], $3::text[]) AS a(id, entity_id)
WHERE mentions.id = a.id AND mentions.document_id = $1
"""
_SELECT = """
SELECT id, type, text, start_offset, end_offset, role, attrs, entity_id FROM mentions
WHERE document_id = $1 ORDER BY start_offset, end_offset, type
"""


async def save_mentions(
    pool: Pool, document: str, mentions: Sequence[StoredMention], holds: Holds | None = None
) -> None:
    """Replace the document's mentions (unresolved until the resolve stage runs)."""
    rows = [_row(m) for m in mentions]
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * 9
    async with transaction(pool) as conn:
        await lock_document(conn, document, holds)
        await conn.execute("DELETE FROM mentions WHERE document_id = $1", document)
        await conn.execute(_INSERT, document, *columns)
        await finish_stage(conn, document, "entities")


def _row(stored: StoredMention) -> tuple[Any, ...]:
    m = stored.mention
    # JSON text: asyncpg would read a list of pairs as a two-dimensional array.
    attrs = orjson.dumps([list(pair) for pair in m.attrs]).decode()
    return (
        stored.id,
        m.type.value,
        m.text,
        m.start,
        m.end,
        stored.page,
        m.role,
        attrs,
        stored.extractor,
    )


async def load_mentions(pool: Pool, document: str) -> list[tuple[str, Mention, str | None]]:
    """The document's mentions in order: ``(mention id, mention, entity id or None)``."""
    async with transaction(pool) as conn:
        rows = await conn.fetch(_SELECT, document)
    return [(row["id"], _mention(row), row["entity_id"]) for row in rows]


async def load_resolved(pool: Pool, document: str) -> list[ResolvedMention]:
    """The document's mentions that resolve linked to a canonical entity."""
    return [
        ResolvedMention(mention, entity)
        for _, mention, entity in await load_mentions(pool, document)
        if entity is not None
    ]


async def assign_entities(
    pool: Pool, document: str, assigned: Mapping[str, str], holds: Holds | None = None
) -> None:
    """Link the document's mentions to entities (mention id -> entity id); others to none."""
    async with transaction(pool) as conn:
        await lock_document(conn, document, holds)
        await conn.execute("UPDATE mentions SET entity_id = NULL WHERE document_id = $1", document)
        await conn.execute(_ASSIGN, document, list(assigned), list(assigned.values()))
        await finish_stage(conn, document, "resolve")


def _mention(row: Mapping[str, Any]) -> Mention:
    return Mention(
        type=EntityType(row["type"]),
        text=row["text"],
        start=row["start_offset"],
        end=row["end_offset"],
        role=row["role"],
        attrs=tuple((name, value) for name, value in row["attrs"]),
    )
