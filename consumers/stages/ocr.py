"""The ocr stage: a document's original bytes -> its pages of text, stored in PostgreSQL.

Text extraction (PDF text layers, tesseract for scans, DOCX, HTML, XML,
plain text, images) runs in a worker thread; PDFium calls are serialised by
``consumers.text`` and tesseract runs as a child process, so several
documents still overlap. A document that cannot be read is dead-lettered
with the reason; so is one intake already refused (``rejected``).
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from consumers.chunking import join_pages
from consumers.model import Page
from consumers.stages.common import DOCUMENT_ID, DocumentRef, recording_failures, resources_of
from consumers.storage.content import save_pages
from consumers.storage.documents import get_document
from consumers.storage.records import storable
from consumers.text import read_document
from streamproc.errors import PermanentError
from streamproc.stage import Context, Stage

NAME = "ocr"
#: Documents read at once per worker: OCR is CPU-bound and memory-hungry.
CONCURRENCY = 4
#: Seconds one document may take: OCR runs at about 2 s a page, and the limits cap
#: OCR at ``max_ocr_pages`` (500 by default): far more than the engine's default limit.
TIMEOUT = 1800.0


class OcrInput(BaseModel):
    """The first message of a document: its id, its sniffed kind, and intake's refusal if any."""

    document_id: str = Field(pattern=DOCUMENT_ID)
    kind: str | None = None
    rejected: str | None = None


async def handle(msg: OcrInput, ctx: Context) -> DocumentRef:
    """Read the document's pages and store them."""
    res = resources_of(ctx)
    if msg.rejected is not None:
        raise PermanentError(msg.rejected)
    doc = await get_document(res.pool, msg.document_id)
    if doc is None or doc.object_key is None:
        raise PermanentError(
            f"document {msg.document_id} has no stored original: submit its file again"
        )
    data = await res.store.get(doc.object_key)
    try:
        kind, pages = await asyncio.to_thread(
            read_document, data, doc.source, limits=res.settings.limits()
        )
    except PermanentError as exc:
        raise PermanentError(f"{doc.source}: {exc}") from exc
    pages = [Page(p.number, storable(p.text), p.ocr) for p in pages]
    _, spans = join_pages(pages)
    await save_pages(res.pool, doc.id, kind.value, pages, spans)
    return DocumentRef(document_id=doc.id)


STAGE = Stage(
    NAME,
    OcrInput,
    recording_failures(NAME, handle),
    next="chunk",
    concurrency=CONCURRENCY,
    timeout=TIMEOUT,
)
