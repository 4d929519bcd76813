"""Batches and documents: registration at intake, status as the stages progress.

A document's ``status`` is ``stored`` when its row is first written (its
original is stored, nothing is queued yet), ``queued`` once a submit queued
it, ``processing`` once a stage has finished with it, ``done`` after the last
stage and ``failed`` when a stage gave up (``error`` says why); ``stage``
names the last stage that finished. The engine's batch counters in Redis
remain the authority on batch progress; these columns let a person look one
document up.

Intake writes in the order that keeps a failed submit from changing anything
a user sees: :func:`store_document` (the row, whose status it leaves alone),
then the engine queues the messages in Redis, then :func:`record_submitted`
(the batch, the links, and ``queued`` for what Redis queued).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from consumers.storage.db import Connection, Pool, transaction
from consumers.storage.records import DocumentRecord, NewDocument
from streamproc.errors import LeaseLost, PermanentError

Holds = Callable[[], Awaitable[bool]]
"""Whether the writer still holds its message (``Context.holds``): checked under the lock."""

_UPSERT_DOCUMENT = """
INSERT INTO documents (id, sha256, source, kind, size, object_key, status)
VALUES ($1, $2, $3, $4, $5, $6, 'stored')
ON CONFLICT (id) DO UPDATE SET
    object_key = COALESCE(EXCLUDED.object_key, documents.object_key),
    kind = EXCLUDED.kind, size = EXCLUDED.size, updated_at = now()
RETURNING updated_at
"""
_INSERT_BATCH = "INSERT INTO batches (id) VALUES ($1) ON CONFLICT (id) DO NOTHING"
_LINK = """
INSERT INTO batch_documents (batch_id, document_id, source) VALUES ($1, $2, $3)
ON CONFLICT (batch_id, document_id) DO NOTHING RETURNING document_id
"""
_REQUEUE = """
UPDATE documents SET status = $2, error = $3, stage = NULL, updated_at = now() WHERE id = $1
"""
_REQUEUE_UNLESS_WRITTEN = _REQUEUE.strip() + " AND updated_at = $4"
_COLUMNS = "id, sha256, source, kind, size, object_key, status, stage, error"


@dataclass(frozen=True, slots=True)
class Submitted:
    """A stored document a submit sent to Redis, and what Redis said."""

    doc: NewDocument
    rejected: str | None
    version: datetime
    """The row's ``updated_at`` when intake stored it: a stage wrote it since if it moved."""
    queued: bool
    """True if Redis queued it now; False if the batch already held it."""


async def store_document(conn: Connection, doc: NewDocument) -> datetime:
    """Upsert ``doc``'s row, leaving its status alone (a new row is ``stored``); returns its
    ``updated_at``, which :func:`record_submitted` compares against."""
    version: datetime = await conn.fetchval(
        _UPSERT_DOCUMENT, doc.id, doc.sha256, doc.source, doc.kind, doc.size, doc.object_key
    )
    return version


async def record_submitted(pool: Pool, batch: str, submitted: Sequence[Submitted]) -> None:
    """Record what Redis now holds: the batch, each document's link to it, and ``queued``
    (``failed`` with the reason, when intake rejected it) for those Redis queued now.

    A row a stage wrote since it was stored keeps that stage's newer status.
    """
    async with transaction(pool) as conn:
        await conn.execute(_INSERT_BATCH, batch)
        for s in submitted:
            await conn.execute(_LINK, batch, s.doc.id, s.doc.source)
            if s.queued:
                status = "queued" if s.rejected is None else "failed"
                await conn.execute(_REQUEUE_UNLESS_WRITTEN, s.doc.id, status, s.rejected, s.version)


async def register_document(
    pool: Pool, batch: str, doc: NewDocument, *, rejected: str | None = None
) -> bool:
    """Upsert ``doc`` and link it to ``batch`` without queuing it anywhere; True when it is
    new in the batch (for tools and tests: intake uses :func:`store_document` and
    :func:`record_submitted` around the queuing).

    A document new in the batch starts over: ``queued`` (or ``failed`` with
    the reason, when intake ``rejected`` it).
    """
    async with transaction(pool) as conn:
        await conn.execute(_INSERT_BATCH, batch)
        await store_document(conn, doc)
        linked = await conn.fetchval(_LINK, batch, doc.id, doc.source)
        if linked is not None:
            status = "queued" if rejected is None else "failed"
            await conn.execute(_REQUEUE, doc.id, status, rejected)
    return linked is not None


async def get_document(pool: Pool, document: str) -> DocumentRecord | None:
    """The document's row, or None when there is no such document."""
    async with transaction(pool) as conn:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM documents WHERE id = $1", document)
    return None if row is None else DocumentRecord(**dict(row))


async def lock_document(conn: Connection, document: str, holds: Holds | None = None) -> None:
    """Lock the document's row for this transaction, so stage writes for it run one at a time.

    Raises ``PermanentError`` when the document is unknown, and ``LeaseLost`` when
    ``holds()`` says another worker took the message over: that one's write, and
    what later stages built on it, must stand. (Asked under the lock, the answer
    holds until commit: the other worker's write for this stage waits for the lock.)
    """
    found = await conn.fetchval("SELECT 1 FROM documents WHERE id = $1 FOR UPDATE", document)
    if found is None:
        raise PermanentError(f"document {document} is not in the database: submit its file again")
    if holds is not None and not await holds():
        raise LeaseLost(f"another worker took over the message of document {document}")


async def finish_stage(conn: Connection, document: str, stage: str, *, done: bool = False) -> None:
    """Record that ``stage`` finished with the document (the last stage makes it ``done``)."""
    await conn.execute(
        "UPDATE documents SET status = $3, stage = $2, error = NULL, updated_at = now()"
        " WHERE id = $1",
        document,
        stage,
        "done" if done else "processing",
    )


async def mark_failed(pool: Pool, document: str, stage: str, error: str) -> None:
    """Record that ``stage`` gave up on the document, and why."""
    async with transaction(pool) as conn:
        await conn.execute(
            "UPDATE documents SET status = 'failed', error = $2, updated_at = now() WHERE id = $1",
            document,
            f"{stage}: {error}",
        )


async def batch_document_ids(pool: Pool, batch: str) -> list[str]:
    """The ids of the documents submitted in ``batch``, in id order."""
    async with transaction(pool) as conn:
        rows = await conn.fetch(
            "SELECT document_id FROM batch_documents WHERE batch_id = $1 ORDER BY document_id",
            batch,
        )
    return [row["document_id"] for row in rows]
