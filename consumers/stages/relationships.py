"""The relationships stage: resolved mentions and chunks -> the document's edges; done.

The last stage: it stores the edges ``build_edges`` finds and marks the
document ``done``; the engine then counts the document finished in its batch.
"""

from __future__ import annotations

import asyncio

from consumers.dependencies import POSTGRES
from consumers.graph.edges import build_edges
from consumers.stages.common import DocumentRef, recording_failures, resources_of
from consumers.storage.content import load_chunks
from consumers.storage.mentions import load_resolved
from consumers.storage.relationships import save_relationships
from streamproc.stage import Context, Stage

NAME = "relationships"


async def handle(msg: DocumentRef, ctx: Context) -> None:
    """Build and store the document's relationship graph."""
    res = resources_of(ctx)
    mentions = await load_resolved(res.pool, msg.document_id)
    chunks = await load_chunks(res.pool, msg.document_id)
    edges = await asyncio.to_thread(build_edges, msg.document_id, mentions, chunks)
    await save_relationships(res.pool, msg.document_id, edges, stage=NAME, holds=ctx.holds)


STAGE = Stage(NAME, DocumentRef, recording_failures(NAME, handle), needs=(POSTGRES,))
