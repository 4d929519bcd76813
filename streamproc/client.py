"""Submitting work and reading batch progress: what producers and the CLI use."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel
from redis.asyncio import Redis

from streamproc import envelope
from streamproc.batches import check_batch_id
from streamproc.config import DEFAULT_BATCH_RETENTION
from streamproc.keys import Keys
from streamproc.scripts import Scripts

SUBMIT_CHUNK = 500


def new_batch_id() -> str:
    """A sortable, unique batch id: UTC time and random suffix."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()


@dataclass(frozen=True, slots=True)
class Submission:
    """The result of one submit: the batch and how many documents were newly queued."""

    batch: str
    queued: int
    total: int
    new: tuple[bool, ...] = ()
    """Per document submitted, in order: whether this submit queued it (False: the batch
    already held it)."""


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """A batch's counters and its documents counted by state."""

    batch: str
    total: int | None
    done: int
    failed: int
    completed: bool
    counters: dict[str, int]
    states: dict[str, int]


class Client:
    """Submits documents to a pipeline's first stage and reads batch progress.

    A client remembers the documents it submitted to each batch until it seals
    the batch (:meth:`seal`), so two clients submitting into one batch at once
    each seal their own: the batch's total is fixed, and it can complete, only
    once both have sealed.
    """

    def __init__(
        self, redis: Redis, keys: Keys, *, batch_retention: timedelta = DEFAULT_BATCH_RETENTION
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.scripts = Scripts(redis, keys)
        self.retention_ms = int(batch_retention.total_seconds() * 1000)
        self._unsealed: dict[str, dict[str, None]] = {}

    async def submit(
        self,
        stage: str,
        docs: Iterable[tuple[str, BaseModel | bytes]],
        *,
        batch: str | None = None,
        seal: bool = True,
    ) -> Submission:
        """Queue ``docs`` (document id, payload) on ``stage`` as one batch, then seal it
        (``seal=False``: the caller seals later, after submitting more)."""
        batch = check_batch_id(batch) if batch is not None else new_batch_id()
        new: list[bool] = []
        chunk: list[tuple[str, Sequence[str | bytes]]] = []
        for doc, payload in docs:
            body = payload if isinstance(payload, bytes) else payload.model_dump_json().encode()
            chunk.append((doc, envelope.encode(envelope.fresh(doc, batch, body))))
            if len(chunk) >= SUBMIT_CHUNK:
                new += await self.enqueue(stage, batch, chunk)
                chunk = []
        if chunk:
            new += await self.enqueue(stage, batch, chunk)
        queued = sum(new)
        total = await self.seal(batch) if seal else queued
        return Submission(batch, queued, total, tuple(new))

    async def enqueue(
        self, stage: str, batch: str, docs: Sequence[tuple[str, Sequence[str | bytes]]]
    ) -> list[bool]:
        """Queue encoded messages of ``batch`` on ``stage`` without sealing; per document,
        whether this call queued it (False: the batch already had it). Every document
        sent is sealed by this client's next :meth:`seal` of the batch."""
        call = self.scripts.enqueue(
            stage=stage,
            batch=batch,
            docs=docs,
            now=envelope.now_ms(),
            retention_ms=self.retention_ms,
        )
        mine = self._unsealed.setdefault(batch, {})
        mine.update(dict.fromkeys(doc for doc, _ in docs))
        return [bool(flag) for flag in await self.scripts.call(call)]

    async def seal(self, batch: str) -> int:
        """Seal what this client submitted to ``batch``; returns the documents the batch
        holds so far (its total, unless another submitter is still adding documents)."""
        docs = list(self._unsealed.get(batch, ()))
        submitted = 0
        for at in range(0, max(len(docs), 1), SUBMIT_CHUNK):
            call = self.scripts.seal(
                batch=batch,
                docs=docs[at : at + SUBMIT_CHUNK],
                now=envelope.now_ms(),
                retention_ms=self.retention_ms,
            )
            submitted, _, _ = await self.scripts.call(call)
        self._unsealed.pop(batch, None)
        return int(submitted)

    async def status(self, batch: str, *, with_states: bool = True) -> BatchStatus | None:
        """The batch's progress, or None when no such batch exists.

        ``with_states=False`` leaves out the per-document states (``states`` is
        then empty): they cost one read of every document of the batch.
        Raises :class:`~streamproc.errors.InvalidBatchId` for an id no batch can have.
        """
        check_batch_id(batch)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.batch(batch))
        if with_states:
            pipe.hvals(self.keys.batch_documents(batch))
        raw, *rest = await pipe.execute()
        states = rest[0] if rest else []
        if not raw:
            return None
        counters = {
            k.decode(): int(v)
            for k, v in raw.items()
            if v.isdigit() and k not in _NOT_COUNTERS and not k.endswith(b"_at")
        }
        total = counters.pop("total", None)
        return BatchStatus(
            batch=batch,
            total=total,
            done=counters.get("done", 0),
            failed=counters.get("failed", 0),
            completed=b"completed_at" in raw,
            counters=counters,
            states=dict(Counter(s.decode() for s in states)),
        )


_NOT_COUNTERS = {b"retention_ms"}
