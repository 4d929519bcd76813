"""Submitting documents: files, directories and ``s3://`` URIs -> document rows, one batch.

For each file: read its bytes, hash them (the document id comes from the
sha256, so the same bytes submitted twice are one document), sniff the kind
from the bytes, store the original under ``originals/<sha256>``, upsert the
document row, link it to the batch, and queue it on the first stage. A file
already in the batch is reported as a ``duplicate`` (the engine's enqueue
would not queue it twice anyway).

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
from pathlib import Path
from typing import Any, Literal

from consumers.resources import Resources
from consumers.sources import Source, expand, is_s3
from consumers.stages.ocr import NAME as FIRST_STAGE
from consumers.stages.ocr import OcrInput
from consumers.storage.documents import register_document
from consumers.storage.records import NewDocument, document_id, original_key
from consumers.storage.s3 import s3_client
from consumers.text import sniff
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
    nothing; ``RetryableError`` when the database, store or S3 is unreachable
    (submitting again is safe: nothing is stored or queued twice).
    """
    batch = batch or new_batch_id()
    files: list[SubmittedFile] = []
    async with _s3_for(paths, resources) as s3:
        sources = await expand(paths, s3)
        for at in range(0, len(sources), WINDOW):
            window = await _ingest_all(sources[at : at + WINDOW], batch, resources, s3)
            await client.submit(FIRST_STAGE, [_message(f) for f in window], batch=batch, seal=False)
            files.extend(window)
    total = await client.seal(batch)
    return SubmitResult(batch, files, total)


@asynccontextmanager
async def _s3_for(paths: Sequence[str | Path], resources: Resources) -> AsyncIterator[Any]:
    if not any(is_s3(p) for p in paths):
        yield None
        return
    settings = resources.settings
    async with s3_client(settings.s3_endpoint_url, settings.s3_region) as client:
        yield client


def _message(submitted: SubmittedFile) -> tuple[str, OcrInput]:
    payload = OcrInput(
        document_id=submitted.document_id, kind=submitted.kind, rejected=submitted.rejected
    )
    return submitted.document_id, payload


async def _ingest_all(
    sources: Sequence[Source], batch: str, resources: Resources, s3: Any
) -> list[SubmittedFile]:
    gate = asyncio.Semaphore(resources.settings.intake_concurrency)

    async def one(source: Source) -> tuple[NewDocument, str | None]:
        async with gate:
            return await prepare(source, resources, s3)

    prepared = await asyncio.gather(*(one(source) for source in sources))
    # Registered in submit order, so the first of two identical files is the one queued.
    return [await register(doc, rejected, batch, resources) for doc, rejected in prepared]


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
