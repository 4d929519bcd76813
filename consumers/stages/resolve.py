"""The resolve stage: a document's mentions -> canonical entities, with no lost updates.

Mentions are grouped by block (type and blocking key). For a window of
blocks at a time, one transaction takes the blocks' advisory locks (in
ascending order), reads their known entities, plans matches (pure,
``consumers.stages.resolution``) and inserts the new entities with ``ON
CONFLICT DO NOTHING``; a worker resolving a similar name in the same block
waits for the lock and then sees the entity. A last transaction links the
document's mentions to their entities.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from consumers.dependencies import POSTGRES
from consumers.stages.common import DocumentRef, recording_failures, resources_of
from consumers.stages.resolution import Keyed, keyed_mentions, plan
from consumers.storage.db import Pool, transaction
from consumers.storage.documents import Holds
from consumers.storage.entities import Block, candidates, insert_entities, lock_blocks
from consumers.storage.mentions import assign_entities, load_mentions
from streamproc.stage import Context, Stage

NAME = "resolve"
#: Blocks locked in one transaction: few enough to stay far below PostgreSQL's lock table.
BLOCKS_PER_TRANSACTION = 32


async def resolve_document(pool: Pool, document: str, holds: Holds | None = None) -> dict[str, str]:
    """Resolve the document's mentions; returns mention id -> entity id."""
    rows = await load_mentions(pool, document)
    by_block: dict[Block, list[Keyed]] = defaultdict(list)
    for keyed in keyed_mentions((mention_id, m) for mention_id, m, _ in rows):
        by_block[keyed.block].append(keyed)
    assigned: dict[str, str] = {}
    blocks = sorted(by_block)
    for at in range(0, len(blocks), BLOCKS_PER_TRANSACTION):
        window = blocks[at : at + BLOCKS_PER_TRANSACTION]
        members = [k for block in window for k in by_block[block]]
        assigned.update(await _resolve_blocks(pool, window, members))
    await assign_entities(pool, document, assigned, holds)
    return assigned


async def _resolve_blocks(
    pool: Pool, blocks: Sequence[Block], keyed: Sequence[Keyed]
) -> dict[str, str]:
    async with transaction(pool) as conn:
        await lock_blocks(conn, blocks)
        known = await candidates(conn, blocks)
        assigned, created = plan(keyed, known)
        await insert_entities(conn, created)
    return assigned


async def handle(msg: DocumentRef, ctx: Context) -> DocumentRef:
    """Link the document's mentions to canonical entities."""
    await resolve_document(resources_of(ctx).pool, msg.document_id, ctx.holds)
    return msg


STAGE = Stage(
    NAME, DocumentRef, recording_failures(NAME, handle), next="relationships", needs=(POSTGRES,)
)
