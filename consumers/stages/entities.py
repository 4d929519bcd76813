"""The entities stage: a document's chunks -> entity mentions in document offsets.

Each chunk goes to the configured extractor (``make_extractor``; the offline
rules by default), a few chunks at a time; the mentions are merged across
overlapping chunks (``merge_mentions``), given their page and a
deterministic id, and stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from consumers.chunking import PageSpan
from consumers.entities import Extractor
from consumers.model import Chunk, Mention
from consumers.stages.common import DocumentRef, recording_failures, resources_of
from consumers.stages.extractors import make_extractor
from consumers.stages.merge import merge_mentions, page_of
from consumers.storage.content import load_chunks, load_page_spans
from consumers.storage.mentions import save_mentions
from consumers.storage.records import StoredMention, mention_id
from streamproc.stage import Context, Stage

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


async def handle(msg: DocumentRef, ctx: Context) -> DocumentRef:
    """Extract, merge and store the document's mentions."""
    res = resources_of(ctx)
    chunks = await load_chunks(res.pool, msg.document_id)
    spans = await load_page_spans(res.pool, msg.document_id)
    found = await extract_chunks(res.extractor, chunks, res.settings.extract_concurrency)
    merged = merge_mentions(chunks, found)
    stored = stored_mentions(msg.document_id, merged, spans, res.extractor.version)
    await save_mentions(res.pool, msg.document_id, stored)
    return msg


STAGE = Stage(
    NAME, DocumentRef, recording_failures(NAME, handle), next="resolve", concurrency=CONCURRENCY
)
