"""The ocr stage: a document's original bytes -> its pages of text, stored in PostgreSQL.

Text extraction (PDF text layers, tesseract for scans, DOCX, HTML, XML,
plain text, images) runs in a child process per document, under a memory
cap (``consumers.text.isolation``), so several documents overlap and none
can exhaust or crash the worker. A document that cannot be read is
dead-lettered with the reason; so is one intake already refused (``rejected``).

With ``STREAMPROC_OCR_PROVIDER=textract``, PDFs and TIFF, JPEG and PNG images
go to AWS Textract instead (``consumers.ocr``): the first call starts a job
and defers, each later call polls it once and defers again until its pages
are ready; the message carries the job (``textract``) between calls.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from consumers.chunking import join_pages
from consumers.dependencies import OBJECTS, POSTGRES, TEXTRACT
from consumers.model import Page
from consumers.ocr import TextractJob, poll_job, start_job
from consumers.resources import Resources
from consumers.stages.common import DOCUMENT_ID, DocumentRef, recording_failures, resources_of
from consumers.storage.content import save_pages
from consumers.storage.documents import get_document
from consumers.storage.records import DocumentRecord, storable
from consumers.text import read_isolated
from streamproc.errors import PermanentError
from streamproc.stage import Context, Defer, Stage

NAME = "ocr"
#: Documents read at once per worker: OCR is CPU-bound and memory-hungry.
CONCURRENCY = 4
#: Seconds one document may take: OCR runs at about 2 s a page, and the limits cap
#: OCR at ``max_ocr_pages`` (500 by default): far more than the engine's default limit.
TIMEOUT = 1800.0

T = TypeVar("T")


class OcrInput(BaseModel):
    """The first message of a document: its id, its sniffed kind, and intake's refusal if any."""

    document_id: str = Field(pattern=DOCUMENT_ID)
    kind: str | None = None
    rejected: str | None = None
    #: Set while a Textract job is being polled (``STREAMPROC_OCR_PROVIDER=textract``).
    textract: TextractJob | None = None

    @model_serializer(mode="wrap")
    def _without_absent_job(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Messages without a job read exactly as they did before Textract existed.
        data: dict[str, Any] = dump(self)
        if data.get("textract", False) is None:
            del data["textract"]
        return data


async def handle(msg: OcrInput, ctx: Context) -> DocumentRef | Defer:
    """Read the document's pages and store them (or start or poll its Textract job)."""
    res = resources_of(ctx)
    if msg.rejected is not None:
        raise PermanentError(msg.rejected)
    doc = await get_document(res.pool, msg.document_id)
    if doc is None or doc.object_key is None:
        raise PermanentError(
            f"document {msg.document_id} has no stored original: submit its file again"
        )
    if msg.textract is not None:
        return await _poll_textract(res, doc, msg, msg.textract, ctx)
    data = await res.store.get(doc.object_key)
    if res.settings.ocr_provider == "textract":
        job = await _named(
            doc.source, start_job(res, doc.id, doc.object_key, data, trace=ctx.trace)
        )
        if job is not None:
            return _poll_later(res, msg, job)
    kind, pages = await _named(
        doc.source, read_isolated(data, doc.source, limits=res.settings.limits())
    )
    return await _save(res, doc.id, kind.value, pages, ctx)


async def _poll_textract(
    res: Resources, doc: DocumentRecord, msg: OcrInput, job: TextractJob, ctx: Context
) -> DocumentRef | Defer:
    """Ask Textract about the document's job once: store its pages, or poll again later."""
    found = await _named(doc.source, poll_job(res, job))
    if isinstance(found, TextractJob):
        return _poll_later(res, msg, found)
    return await _save(res, doc.id, job.kind, found, ctx)


def _poll_later(res: Resources, msg: OcrInput, job: TextractJob) -> Defer:
    return Defer(res.settings.textract_poll_seconds, msg.model_copy(update={"textract": job}))


async def _named(source: str, work: Awaitable[T]) -> T:
    """``work``'s result; a permanent error it raises names the document's file."""
    try:
        return await work
    except PermanentError as exc:
        raise PermanentError(f"{source}: {exc}") from exc


async def _save(
    res: Resources, document: str, kind: str, pages: list[Page], ctx: Context
) -> DocumentRef:
    pages = [Page(p.number, storable(p.text), p.ocr) for p in pages]
    _, spans = join_pages(pages)
    await save_pages(res.pool, document, kind, pages, spans, holds=ctx.holds)
    return DocumentRef(document_id=document)


STAGE = Stage(
    NAME,
    OcrInput,
    recording_failures(NAME, handle),
    next="chunk",
    concurrency=CONCURRENCY,
    timeout=TIMEOUT,
    needs=(POSTGRES, OBJECTS, TEXTRACT),
)
