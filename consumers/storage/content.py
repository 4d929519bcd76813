"""Pages and chunks: a document's text as the ocr and chunk stages store it.

Each save runs in one transaction that locks the document, deletes the rows
the stage wrote before and upserts the new ones in one statement
(``unnest`` over arrays), so a re-run with different output leaves no stale
row and two concurrent runs for one document cannot interleave.
"""

from __future__ import annotations

from collections.abc import Sequence

from consumers.chunking import PageSpan
from consumers.model import Chunk, Page
from consumers.storage.db import Pool, transaction
from consumers.storage.documents import Holds, finish_stage, lock_document
from consumers.storage.records import text_sha256

_INSERT_PAGES = """
INSERT INTO pages (document_id, number, text, ocr, start_offset, end_offset)
SELECT $1, * FROM unnest($2::int[], $3::text[], $4::bool[], $5::int[], $6::int[])
ON CONFLICT (document_id, number) DO UPDATE SET text = EXCLUDED.text, ocr = EXCLUDED.ocr,
    start_offset = EXCLUDED.start_offset, end_offset = EXCLUDED.end_offset
"""
_INSERT_CHUNKS = """
INSERT INTO chunks (document_id, index, start_offset, end_offset, pages, text, text_sha256)
SELECT $1, c.index, c.start_offset, c.end_offset, c.pages::int[], c.text, c.text_sha256
FROM unnest($2::int[], $3::int[], $4::int[], $5::text[], $6::text[], $7::text[])
     AS c(index, start_offset, end_offset, pages, text, text_sha256)
ON CONFLICT (document_id, index) DO UPDATE SET start_offset = EXCLUDED.start_offset,
    end_offset = EXCLUDED.end_offset, pages = EXCLUDED.pages, text = EXCLUDED.text,
    text_sha256 = EXCLUDED.text_sha256
"""


async def save_pages(
    pool: Pool,
    document: str,
    kind: str,
    pages: Sequence[Page],
    spans: Sequence[PageSpan],
    *,
    holds: Holds | None = None,
) -> None:
    """Replace the document's pages; ``spans`` locate them in the joined text."""
    async with transaction(pool) as conn:
        await lock_document(conn, document, holds)
        await conn.execute("DELETE FROM pages WHERE document_id = $1", document)
        await conn.execute(
            _INSERT_PAGES,
            document,
            [p.number for p in pages],
            [p.text for p in pages],
            [p.ocr for p in pages],
            [start for _, start, _ in spans],
            [end for _, _, end in spans],
        )
        await conn.execute(
            "UPDATE documents SET kind = $2, page_count = $3, text_length = $4 WHERE id = $1",
            document,
            kind,
            len(pages),
            spans[-1][2] if spans else 0,
        )
        await finish_stage(conn, document, "ocr")


async def load_pages(pool: Pool, document: str) -> list[Page]:
    """The document's pages in order."""
    async with transaction(pool) as conn:
        rows = await conn.fetch(
            "SELECT number, text, ocr FROM pages WHERE document_id = $1 ORDER BY number",
            document,
        )
    return [Page(row["number"], row["text"], row["ocr"]) for row in rows]


async def load_page_spans(pool: Pool, document: str) -> list[PageSpan]:
    """Each page's ``(number, start, end)`` in the joined document text, in order."""
    async with transaction(pool) as conn:
        rows = await conn.fetch(
            "SELECT number, start_offset, end_offset FROM pages WHERE document_id = $1"
            " ORDER BY number",
            document,
        )
    return [(row["number"], row["start_offset"], row["end_offset"]) for row in rows]


async def save_chunks(
    pool: Pool, document: str, chunks: Sequence[Chunk], holds: Holds | None = None
) -> None:
    """Replace the document's chunks."""
    async with transaction(pool) as conn:
        await lock_document(conn, document, holds)
        await conn.execute("DELETE FROM chunks WHERE document_id = $1", document)
        await conn.execute(
            _INSERT_CHUNKS,
            document,
            [c.index for c in chunks],
            [c.start for c in chunks],
            [c.end for c in chunks],
            ["{" + ",".join(map(str, c.pages)) + "}" for c in chunks],
            [c.text for c in chunks],
            [text_sha256(c.text) for c in chunks],
        )
        await finish_stage(conn, document, "chunk")


async def load_chunks(pool: Pool, document: str) -> list[Chunk]:
    """The document's chunks in order."""
    async with transaction(pool) as conn:
        rows = await conn.fetch(
            "SELECT index, text, start_offset, end_offset, pages FROM chunks"
            " WHERE document_id = $1 ORDER BY index",
            document,
        )
    return [
        Chunk(r["index"], r["text"], r["start_offset"], r["end_offset"], tuple(r["pages"]))
        for r in rows
    ]
