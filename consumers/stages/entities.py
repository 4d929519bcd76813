"""The entities stage: a document's chunks -> entity mentions in document offsets.

An extractor that reads whole documents (the offline rules, the default)
gets the document text at once, so captions and counsel blocks are never cut
at a chunk boundary. One bound to chunk-sized inputs (a language model) gets
each chunk, a few at a time, and its mentions are merged across overlapping
chunks (``merge_mentions``). Mentions get their page and a deterministic id
and are stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from consumers.chunking import PageSpan, join_pages
from consumers.dependencies import OPENAI, POSTGRES
from consumers.entities import Extractor
from consumers.model import Chunk, Mention
from consumers.stages.common import DocumentRef, recording_failures, resources_of
from consumers.stages.extractors import make_extractor
from consumers.stages.merge import merge_mentions, page_of
from consumers.storage.content import load_chunks, load_page_spans, load_pages
from consumers.storage.mentions import save_mentions
from consumers.storage.records import StoredMention, mention_id
from streamproc.stage import Context, Stage

if TYPE_CHECKING:
    from consumers.resources import Resources

NAME = "entities"
#: Documents in flight per worker: enough to overlap a remote extractor's requests
#: (each document sends ``extract_concurrency`` chunks at once), few enough that one
#: process does not take every message while other processes idle.
CONCURRENCY = 8

__all__ = ["NAME", "STAGE", "extract_chunks", "handle", "make_extractor", "stored_mentions"]


async def extract_chunks(
    extractor: Extractor, chunks: Sequence[Chunk], concurrency: int
) -> list[list[Mention]]:
    """The extractor's mentions of each chunk, at most ``concurrency`` chunks at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(chunk: Chunk) -> list[Mention]:
        async with gate:
            return await extractor.extract(chunk.text)

    return list(await asyncio.gather(*(one(chunk) for chunk in chunks)))


def stored_mentions(
    document: str, mentions: Sequence[Mention], spans: Sequence[PageSpan], extractor: str
) -> list[StoredMention]:
    """Document mentions with their ids and pages, ready to store."""
    return [
        StoredMention(
            mention_id(document, m.type.value, m.start, m.end),
            m,
            page_of(spans, m.start),
            extractor,
        )
        for m in mentions
    ]


async def document_mentions(res: Resources, document: str) -> list[Mention]:
    """Mentions in document offsets: from the whole text, or chunk by chunk and merged."""
    if getattr(res.extractor, "whole_document", False):
        text, _ = join_pages(await load_pages(res.pool, document))
        return await res.extractor.extract(text)
    chunks = await load_chunks(res.pool, document)
    found = await extract_chunks(res.extractor, chunks, res.settings.extract_concurrency)
    return merge_mentions(chunks, found)


async def handle(msg: DocumentRef, ctx: Context) -> DocumentRef:
    """Extract and store the document's mentions."""
    res = resources_of(ctx)
    spans = await load_page_spans(res.pool, msg.document_id)
    merged = await document_mentions(res, msg.document_id)
    stored = stored_mentions(msg.document_id, merged, spans, res.extractor.version)
    await save_mentions(res.pool, msg.document_id, stored, ctx.holds)
    return msg


STAGE = Stage(
    NAME,
    DocumentRef,
    recording_failures(NAME, handle),
    next="resolve",
    concurrency=CONCURRENCY,
    needs=(POSTGRES, OPENAI),
)
