"""Canonical entities: candidates by blocking key, serialised match-or-create, inserts.

Two workers meeting the same new name compute the same ``canonical_id`` and
their ``ON CONFLICT (id) DO NOTHING`` inserts meet on one row. Two different
spellings that should match ("Acme Holdings Corp" and "Acme Holding Corp")
share a blocking key but not an id; without care both workers would see no
candidate and each create its own entity. So match-or-create runs under a
transaction-level advisory lock per ``(type, blocking key)``: the second
worker waits, then sees the first one's entity among its candidates.
Locks are taken in ascending key order, so two transactions cannot deadlock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from consumers.storage.db import Connection
from consumers.storage.records import NewEntity

Block = tuple[str, str]
"""An entity type and a blocking key."""

_CANDIDATES = """
SELECT e.type, e.blocking_key, e.key, e.id FROM entities e
JOIN unnest($1::text[], $2::text[]) AS b(type, blocking_key)
  ON e.type = b.type AND e.blocking_key = b.blocking_key
ORDER BY e.id
"""
_INSERT = """
INSERT INTO entities (id, type, key, name, blocking_key)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
ON CONFLICT (id) DO NOTHING
"""


def block_lock(block: Block) -> int:
    """The advisory lock number of a block: 64 bits of a hash, the same in every process."""
    digest = hashlib.sha256(f"entity\x1f{block[0]}\x1f{block[1]}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def lock_blocks(conn: Connection, blocks: Iterable[Block]) -> None:
    """Take the blocks' advisory locks for this transaction, in ascending order."""
    numbers = sorted({block_lock(block) for block in blocks})
    # One statement per lock, in order: a single SELECT over an array does not fix the order.
    await conn.executemany("SELECT pg_advisory_xact_lock($1)", [(n,) for n in numbers])


async def candidates(
    conn: Connection, blocks: Sequence[Block]
) -> dict[Block, list[tuple[str, str]]]:
    """Known entities of each block as ``(key, id)`` pairs, in id order."""
    found: dict[Block, list[tuple[str, str]]] = {block: [] for block in blocks}
    rows = await conn.fetch(_CANDIDATES, [b[0] for b in blocks], [b[1] for b in blocks])
    for row in rows:
        found[(row["type"], row["blocking_key"])].append((row["key"], row["id"]))
    return found


async def insert_entities(conn: Connection, entities: Sequence[NewEntity]) -> None:
    """Create the entities that do not exist yet; an existing id is left as it is."""
    await conn.execute(
        _INSERT,
        [e.id for e in entities],
        [e.type for e in entities],
        [e.key for e in entities],
        [e.name for e in entities],
        [e.blocking_key for e in entities],
    )
