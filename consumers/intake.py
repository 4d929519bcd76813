"""Submitting documents: files, directories and ``s3://`` URIs -> document rows, one batch.

For each file: read its bytes, hash them (the document id comes from the
sha256, so the same bytes submitted twice are one document), sniff the kind
from the bytes, store the original under ``originals/<sha256>``, upsert the
document row (leaving its status alone), queue it on the first stage, and
only then link it to the batch in PostgreSQL and mark it ``queued``: a
submit that fails because Redis is unreachable changes nothing a user sees,
and running it again queues what was not queued. Redis decides what is new:
a file whose document the batch already holds is reported as a
``duplicate``.

A file over the size limit is not read whole, let alone stored: it is hashed
in pieces, recorded as ``failed`` with the reason, and still queued, with
the reason in its message, so that the ocr stage dead-letters it. That way
the batch's total counts it and the batch completes with it as failed,
exactly like a file the ocr stage cannot read.

Files are read a few at a time (``intake_concurrency``) and queued a window
at a time, so the first documents are being processed while later ones are
still being read, and memory holds only one window's bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from consumers.resources import Resources
from consumers.sources import Source, expand, is_s3
from consumers.stages.ocr import NAME as FIRST_STAGE
from consumers.stages.ocr import OcrInput
from consumers.storage.db import transaction
from consumers.storage.documents import (
    Submitted,
    record_submitted,
    register_document,
    store_document,
)
from consumers.storage.records import NewDocument, document_id, original_key
from consumers.storage.s3 import s3_client
from consumers.text import sniff
from streamproc.batches import check_batch_id
from streamproc.client import Client, new_batch_id
from streamproc.errors import PermanentError

WINDOW = 64
"""Files read, stored and registered before they are queued together."""


@dataclass(frozen=True, slots=True)
class SubmittedFile:
    """What became of one submitted file."""

    source: str
    document_id: str
    sha256: str
    kind: str
    size: int
    outcome: Literal["queued", "duplicate"]
    rejected: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """A submit: the batch, each file's fate, and the batch's total once sealed."""

    batch: str
    files: list[SubmittedFile]
    total: int

    @property
    def queued(self) -> int:
        """Files queued by this submit (rejected ones included: they fail in the ocr stage)."""
        return sum(f.outcome == "queued" for f in self.files)

    @property
    def duplicates(self) -> int:
        """Files that were already in the batch."""
        return sum(f.outcome == "duplicate" for f in self.files)


async def submit_paths(
    paths: Sequence[str | Path], *, resources: Resources, client: Client, batch: str | None = None
) -> SubmitResult:
    """Submit every file ``paths`` name as one batch, then seal the batch.

    Raises ``PermanentError`` before queuing anything when a path or URI names
    nothing; ``RetryableError`` when the database, store or S3 is unreachable,
    and Redis's ``ConnectionError`` when Redis is (submitting again is safe:
    nothing is stored or queued twice, and what was not queued is queued then).
    """
    batch = check_batch_id(batch) if batch is not None else new_batch_id()
    files: list[SubmittedFile] = []
    async with _s3_for(paths, resources) as s3:
        sources = await expand(paths, s3)
        for at in range(0, len(sources), WINDOW):
            stored = await _store_all(sources[at : at + WINDOW], resources, s3)
            files.extend(await _queue(stored, batch, resources, client))
    total = await client.seal(batch)
    return SubmitResult(batch, files, total)


async def _queue(
    stored: list[tuple[NewDocument, str | None, datetime]],
    batch: str,
    resources: Resources,
    client: Client,
) -> list[SubmittedFile]:
    """Queue a window in Redis, then record in PostgreSQL what Redis now holds: nothing
    says queued before Redis has the message."""
    messages = [_message(doc, rejected) for doc, rejected, _ in stored]
    sent = await client.submit(FIRST_STAGE, messages, batch=batch, seal=False)
    submitted = [
        Submitted(doc, rejected, version, new)
        for (doc, rejected, version), new in zip(stored, sent.new, strict=True)
    ]
    await record_submitted(resources.pool, batch, submitted)
    return [_file(s) for s in submitted]


def _file(s: Submitted) -> SubmittedFile:
    doc = s.doc
    outcome: Literal["queued", "duplicate"] = "queued" if s.queued else "duplicate"
    return SubmittedFile(doc.source, doc.id, doc.sha256, doc.kind, doc.size, outcome, s.rejected)


@asynccontextmanager
async def _s3_for(paths: Sequence[str | Path], resources: Resources) -> AsyncIterator[Any]:
    if not any(is_s3(p) for p in paths):
        yield None
        return
    settings = resources.settings
    async with s3_client(settings.s3_endpoint_url, settings.s3_region) as client:
        yield client


def _message(doc: NewDocument, rejected: str | None) -> tuple[str, OcrInput]:
    return doc.id, OcrInput(document_id=doc.id, kind=doc.kind, rejected=rejected)


async def _store_all(
    sources: Sequence[Source], resources: Resources, s3: Any
) -> list[tuple[NewDocument, str | None, datetime]]:
    """Store each file's original and row (status untouched); with each row's version."""
    gate = asyncio.Semaphore(resources.settings.intake_concurrency)

    async def one(source: Source) -> tuple[NewDocument, str | None]:
        async with gate:
            return await prepare(source, resources, s3)

    prepared = await asyncio.gather(*(one(source) for source in sources))
    versions: dict[str, datetime] = {}
    async with transaction(resources.pool) as conn:
        for doc, _ in prepared:  # in submit order: the first of two identical files is queued
            versions[doc.id] = await store_document(conn, doc)
    return [(doc, rejected, versions[doc.id]) for doc, rejected in prepared]


async def ingest(source: Source, batch: str, resources: Resources, s3: Any) -> SubmittedFile:
    """Store one file's original and register it in ``batch`` (it is not queued here)."""
    doc, rejected = await prepare(source, resources, s3)
    return await register(doc, rejected, batch, resources)


async def prepare(source: Source, resources: Resources, s3: Any) -> tuple[NewDocument, str | None]:
    """Hash, sniff and store one file; returns its document and intake's refusal, if any."""
    rejected = _size_refusal(source, resources)
    if rejected is not None:
        sha256, head = await source.sha256(s3), await source.head(s3)
        return NewDocument(
            document_id(sha256), sha256, source.name, sniff(head).value, source.size, None
        ), rejected
    data = await source.read(s3)
    sha256, kind = await asyncio.to_thread(_fingerprint, data)
    key = original_key(sha256)
    if not await resources.store.exists(key):
        await resources.store.put(key, data)
    return NewDocument(document_id(sha256), sha256, source.name, kind, len(data), key), None


async def register(
    doc: NewDocument, rejected: str | None, batch: str, resources: Resources
) -> SubmittedFile:
    """Upsert the document and link it to ``batch``: ``queued`` if new there, else ``duplicate``."""
    new = await register_document(resources.pool, batch, doc, rejected=rejected)
    outcome: Literal["queued", "duplicate"] = "queued" if new else "duplicate"
    return SubmittedFile(doc.source, doc.id, doc.sha256, doc.kind, doc.size, outcome, rejected)


def _fingerprint(data: bytes) -> tuple[str, str]:
    """The sha256 and sniffed kind of ``data`` (CPU work: run it in a thread)."""
    return hashlib.sha256(data).hexdigest(), sniff(data).value


def _size_refusal(source: Source, resources: Resources) -> str | None:
    try:
        resources.settings.limits().check_size(source.size, source.name)
    except PermanentError as exc:
        return str(exc)
    return None
