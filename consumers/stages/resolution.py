"""Pure core of the resolve stage: mentions -> keys and blocks -> matched or new entities.

The I/O shell (``consumers.stages.resolve``) fetches each block's known
entities under the block's advisory lock and hands them here; ``plan``
decides, mention by mention in document order, which entity each one names,
creating an entity (under its ``canonical_id``) when no candidate matches.
An entity created for one mention is a candidate for the next, so "John Q.
Smith" and "J. Smith" in one document meet on one entity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from consumers.model import EntityType, Mention
from consumers.resolve import best_match, blocking_key, canonical_id, normalize_name
from consumers.storage.entities import Block
from consumers.storage.records import NewEntity

Candidate = tuple[str, str]
"""A known entity: its key and its id."""


@dataclass(frozen=True, slots=True)
class Keyed:
    """A mention with its normalised key and its block."""

    mention_id: str
    type: EntityType
    text: str
    key: str

    @property
    def block(self) -> Block:
        """The ``(type, blocking key)`` its candidates share."""
        return (self.type.value, blocking_key(self.type, self.key))


def keyed_mentions(mentions: Iterable[tuple[str, Mention]]) -> list[Keyed]:
    """``(mention id, mention)`` pairs with their keys; a mention without a key is left out."""
    keyed = []
    for mention_id, m in mentions:
        key = normalize_name(m.type, m.text)
        if key:
            keyed.append(Keyed(mention_id, m.type, m.text, key))
    return keyed


def plan(
    keyed: Sequence[Keyed], known: Mapping[Block, Sequence[Candidate]]
) -> tuple[dict[str, str], list[NewEntity]]:
    """Each mention's entity id (mention id -> entity id) and the entities to create."""
    pools = {block: list(candidates) for block, candidates in known.items()}
    ids = {entity for candidates in known.values() for _, entity in candidates}
    decided: dict[tuple[EntityType, str], str] = {}
    assigned: dict[str, str] = {}
    created: list[NewEntity] = []
    for k in keyed:
        entity = decided.get((k.type, k.key))
        if entity is None:
            block = k.block
            pool = pools.setdefault(block, [])
            entity = best_match(k.type, k.key, pool) or canonical_id(k.type, k.key)
            if entity not in ids:
                ids.add(entity)
                pool.append((k.key, entity))
                created.append(NewEntity(entity, k.type.value, k.key, k.text, block[1]))
            decided[(k.type, k.key)] = entity
        assigned[k.mention_id] = entity
    return assigned, created
