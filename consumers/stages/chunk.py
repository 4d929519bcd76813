"""The chunk stage: a document's pages -> overlapping, page-aware chunks in PostgreSQL."""

from __future__ import annotations

import asyncio

from consumers.chunking import chunk_text, join_pages
from consumers.dependencies import POSTGRES
from consumers.model import Chunk, Page
from consumers.stages.common import DocumentRef, recording_failures, resources_of
from consumers.storage.content import load_pages, save_chunks
from streamproc.errors import PermanentError
from streamproc.stage import Context, Stage

NAME = "chunk"


def chunk_pages(pages: list[Page], size: int, overlap: int) -> list[Chunk]:
    """The chunks of the text ``join_pages`` makes of ``pages``."""
    text, spans = join_pages(pages)
    return chunk_text(text, spans, size=size, overlap=overlap)


async def handle(msg: DocumentRef, ctx: Context) -> DocumentRef:
    """Cut the document's text into chunks and store them."""
    res = resources_of(ctx)
    pages = await load_pages(res.pool, msg.document_id)
    if not pages:
        raise PermanentError(
            f"document {msg.document_id} has no pages stored: replay it from the ocr stage"
        )
    size, overlap = res.settings.chunk_size, res.settings.chunk_overlap
    chunks = await asyncio.to_thread(chunk_pages, pages, size, overlap)
    await save_chunks(res.pool, msg.document_id, chunks, ctx.holds)
    return msg


STAGE = Stage(
    NAME, DocumentRef, recording_failures(NAME, handle), next="entities", needs=(POSTGRES,)
)
