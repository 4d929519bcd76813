"""The pure core of the relationships stage: graph value types and edge building.

Nodes are canonical entity ids (``consumers.resolve.canonical_id``) and
the document itself, ``doc:<document_id>``, which stands for the case.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from consumers.model import Mention

_NAMESPACE = uuid.UUID("0d9b8f52-8a63-5c1e-b7a4-52e4f1c9d3a7")
IDENTITY_ATTRS = ("role",)
"""Attributes that are part of an edge's identity: one party may be plaintiff and
counter-defendant in one case.  Other attributes (counts) are values."""


class EdgeType(StrEnum):
    """The kinds of relationship, each read as "source <type> target"."""

    PARTY_IN_CASE = "party_in_case"
    JUDGE_OF_CASE = "judge_of_case"
    COURT_OF_CASE = "court_of_case"
    ATTORNEY_FOR_PARTY = "attorney_for_party"
    ATTORNEY_AT_FIRM = "attorney_at_firm"
    CITES = "cites"
    CO_OCCURS = "co_occurs"


@dataclass(frozen=True, slots=True)
class ResolvedMention:
    """A mention and the canonical id of the entity it was resolved to."""

    mention: Mention
    entity_id: str


@dataclass(frozen=True, slots=True)
class Edge:
    """A relationship between two nodes; ``attrs`` are sorted ``(name, value)`` pairs."""

    type: EdgeType
    source: str
    target: str
    attrs: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        """A UUID (version 5) of type, source, target and identity attributes: upserts
        of the same edge from a replayed document meet on one row."""
        identity = [f"{name}={value}" for name, value in self.attrs if name in IDENTITY_ATTRS]
        parts = [self.type.value, self.source, self.target, *identity]
        return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def document_node(document_id: str) -> str:
    """The node id of a document, which stands for its case."""
    return f"doc:{document_id}"


__all__ = ["IDENTITY_ATTRS", "Edge", "EdgeType", "ResolvedMention", "document_node"]
