"""After the run: the rows in PostgreSQL, checked for duplicates and against the batches.

No two rows of a table may share a natural key (what a row means, not its
id); every finished document's row must say ``done`` after the last stage,
and every copy of one digital sample must have as many pages, chunks,
mentions, linked mentions and edges as every other copy: a row lost or
doubled by a redelivery shows up as a copy that differs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import asyncpg

from bench.chaos.verify import Audit, Expected

#: Templates whose copies are read differently by design: each scan has its own speckle.
UNEVEN = frozenset({"scan"})
#: Table -> the columns that identify one of its rows by what it means, not by its id.
NATURAL_KEYS = {
    "documents": "sha256",
    "batch_documents": "batch_id, document_id",
    "pages": "document_id, number",
    "chunks": "document_id, start_offset, end_offset",
    "mentions": "document_id, type, start_offset, end_offset",
    "entities": "type, key",
    "relationships": "document_id, type, source, target, attrs->>'role'",
}
_PER_DOCUMENT = """
SELECT d.id, d.status, d.stage,
  (SELECT count(*) FROM pages p WHERE p.document_id = d.id) AS pages,
  (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS chunks,
  (SELECT count(*) FROM mentions m WHERE m.document_id = d.id) AS mentions,
  (SELECT count(*) FROM mentions m WHERE m.document_id = d.id
     AND m.entity_id IS NOT NULL) AS linked,
  (SELECT count(*) FROM relationships r WHERE r.document_id = d.id) AS edges
FROM documents d
"""


async def audit_postgres(dsn: str, expected: Expected, states: Audit) -> None:
    """Duplicate rows by natural key, and document rows that disagree with their batch."""
    conn = await asyncpg.connect(dsn)
    try:
        for table, key in NATURAL_KEYS.items():
            extra = await conn.fetchval(
                f"SELECT coalesce(sum(n - 1), 0) FROM "
                f"(SELECT count(*) AS n FROM {table} GROUP BY {key}) g WHERE n > 1"
            )
            if extra:
                states.duplicate_rows += int(extra)
                states.problem(f"{table}: {extra} rows repeat a natural key ({key})")
        rows = {r["id"]: dict(r) for r in await conn.fetch(_PER_DOCUMENT)}
    finally:
        await conn.close()
    _check_documents(rows, expected, states)


def _check_documents(rows: dict[str, dict[str, Any]], expected: Expected, audit: Audit) -> None:
    last = expected.stages[-1]
    shapes: dict[str, Counter[tuple[int, ...]]] = defaultdict(Counter)
    for doc, template in expected.documents().items():
        row = rows.get(doc)
        if row is None:
            audit.problem(f"{doc} has no row in documents")
            continue
        if template == "bad":
            if row["status"] != "failed":
                audit.problem(f"{doc} was made unreadable but its row says {row['status']}")
            continue
        if (row["status"], row["stage"]) != ("done", last):
            audit.problem(f"{doc}'s row says {row['status']} after {row['stage']}, not done")
        if template in UNEVEN:
            continue
        shape = (row["pages"], row["chunks"], row["mentions"], row["linked"], row["edges"])
        shapes[template][shape] += 1
    for template, seen in sorted(shapes.items()):
        if len(seen) > 1:
            described = ", ".join(f"{n} x {s}" for s, n in seen.most_common())
            audit.problem(
                f"copies of {template} differ in (pages, chunks, mentions, linked, edges): "
                f"{described}"
            )
