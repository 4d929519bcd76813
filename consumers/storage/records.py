"""Rows of the pipeline's tables as values, and the deterministic ids that key them.

Pure: no I/O. Ids derive from content (a document from its bytes), offsets (a
mention from its document, type and span) or canonical names (an entity, see
``consumers.resolve.canonical_id``), so every process computes the same id
for the same thing and upserts meet on one row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from consumers.model import Mention

DOCUMENT_ID_HEX = 24


def document_id(sha256: str) -> str:
    """A document's id: ``d`` and the first 24 hex digits of the sha256 of its bytes."""
    return "d" + sha256[:DOCUMENT_ID_HEX]


def original_key(sha256: str) -> str:
    """Where a document's original bytes live in the object store."""
    return f"originals/{sha256}"


def mention_id(document: str, entity_type: str, start: int, end: int) -> str:
    """A mention's id: a hash of its document, type and document span."""
    digest = hashlib.sha256(f"{document}\x1f{entity_type}\x1f{start}\x1f{end}".encode())
    return "m" + digest.hexdigest()[:DOCUMENT_ID_HEX]


def text_sha256(text: str) -> str:
    """The hex sha256 of a text's UTF-8 bytes (keys cached extractions of a chunk)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def storable(text: str) -> str:
    """``text`` with what PostgreSQL's ``text`` cannot hold replaced, one character for one.

    NUL and lone surrogates are refused by PostgreSQL; replacing (not
    dropping) them keeps every offset into the text valid.
    """
    if "\x00" in text:
        text = text.replace("\x00", " ")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


@dataclass(frozen=True, slots=True)
class NewDocument:
    """What intake knows about a document before the pipeline reads it."""

    id: str
    sha256: str
    source: str
    kind: str
    size: int
    object_key: str | None


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """A row of ``documents``."""

    id: str
    sha256: str
    source: str
    kind: str
    size: int
    object_key: str | None
    status: str
    stage: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class StoredMention:
    """A mention in document offsets, ready to store."""

    id: str
    mention: Mention
    page: int | None
    extractor: str


@dataclass(frozen=True, slots=True)
class NewEntity:
    """A canonical entity the resolve stage creates."""

    id: str
    type: str
    key: str
    name: str
    blocking_key: str
