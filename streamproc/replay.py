"""Replaying a stage's history: re-inject past entries, or start a group back in time.

Re-injected entries are new messages marked ``r=1`` in a fresh replay batch
(``replay-<time>-<rand>``), queued with the ``enqueue`` script, so a document
enters the batch once however many of its entries match, and
``streamproc status`` follows the batch like any other. The scan pages
through the stage's stream with XRANGE and stops at the entry that was last
when it began, so the entries it adds are never replayed again.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from streamproc import envelope, history
from streamproc import ids as stream_ids
from streamproc.client import Client
from streamproc.config import DEFAULT_BATCH_RETENTION
from streamproc.envelope import Envelope
from streamproc.errors import InvalidMessage, StreamprocError
from streamproc.keys import Keys
from streamproc.pacing import Pacer

ENQUEUE_CHUNK = 500


class NothingToReplay(StreamprocError):
    """The stream holds no entry the replay asked for."""


class GroupExists(StreamprocError):
    """A consumer group of the requested name already exists on the stage."""


@dataclass(frozen=True, slots=True)
class Selection:
    """Which history entries to replay: an id range, optionally one document or batch."""

    start: str
    end: str = "+"
    doc: str | None = None
    batch: str | None = None

    def matches(self, env: Envelope) -> bool:
        """Whether ``env`` belongs to the selected document and batch."""
        return (self.doc is None or env.doc == self.doc) and (
            self.batch is None or env.batch == self.batch
        )


@dataclass(slots=True)
class ReplayReport:
    """What a replay did: entries matched, documents queued, and the batch they went to."""

    stage: str
    batch: str
    matched: int = 0
    queued: int = 0
    docs: set[str] = field(default_factory=set)


def new_replay_batch() -> str:
    """A fresh replay batch id: ``replay-<UTC time>-<random>``."""
    return "replay-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()


def replay_fields(env: Envelope, batch: str, now: int) -> list[str | bytes]:
    """The fields of the re-injected copy of ``env``: new batch, attempt 0, ``r=1``."""
    copy = env._replace(batch=batch, attempt=0, enqueued_ms=now, replay=True)
    return envelope.encode(copy)


async def matching(
    redis: Redis, keys: Keys, stage: str, selection: Selection
) -> AsyncIterator[Envelope]:
    """The decodable entries of ``stage``'s stream the selection names, oldest first."""
    stream = keys.stream(stage)
    end = selection.end
    if end == "+":
        end = await history.last_id(redis, stream)
    async for entry_id, fields in history.scan(redis, stream, selection.start, end):
        try:
            env = envelope.decode(entry_id, fields)
        except InvalidMessage:
            continue  # a malformed entry was dead-lettered when it was read; nothing to replay
        if selection.matches(env):
            yield env


async def replay(
    redis: Redis,
    keys: Keys,
    stage: str,
    selection: Selection,
    *,
    dry_run: bool = False,
    rate: float | None = None,
    batch: str | None = None,
    batch_retention: timedelta = DEFAULT_BATCH_RETENTION,
) -> ReplayReport:
    """Re-inject the selected entries into ``stage`` as one sealed replay batch."""
    report = ReplayReport(stage, batch or new_replay_batch())
    client, pacer = Client(redis, keys, batch_retention=batch_retention), Pacer(rate)
    chunk: list[tuple[str, Sequence[str | bytes]]] = []
    async for env in matching(redis, keys, stage, selection):
        report.matched += 1
        report.docs.add(env.doc)
        if not dry_run:
            chunk.append((env.doc, replay_fields(env, report.batch, envelope.now_ms())))
        if len(chunk) >= pacer.chunk(ENQUEUE_CHUNK):
            report.queued += await _enqueue(client, pacer, stage, report.batch, chunk)
            chunk = []
    if chunk:
        report.queued += await _enqueue(client, pacer, stage, report.batch, chunk)
    if not dry_run and report.queued:
        await client.seal(report.batch)
    return report


async def _enqueue(
    client: Client,
    pacer: Pacer,
    stage: str,
    batch: str,
    docs: list[tuple[str, Sequence[str | bytes]]],
) -> int:
    await pacer.wait(len(docs))
    return sum(await client.enqueue(stage, batch, docs))


async def reprocess(
    redis: Redis,
    keys: Keys,
    doc: str,
    stage: str,
    *,
    batch_retention: timedelta = DEFAULT_BATCH_RETENTION,
) -> ReplayReport:
    """Re-inject the most recent entry of ``doc`` in ``stage``'s stream, in a new replay batch.

    Scans the stream newest first (cost: the entries after the document's
    last one). Raises :class:`NothingToReplay` when the stream has none.
    """
    latest = await _latest_entry(redis, keys.stream(stage), doc)
    if latest is None:
        raise NothingToReplay(
            f"document {doc!r} has no entry in the {stage} stream "
            "(never reached that stage, or trimmed): submit it again or pick another stage"
        )
    selection = Selection(start=latest, end=latest, doc=doc)
    return await replay(redis, keys, stage, selection, batch_retention=batch_retention)


async def _latest_entry(redis: Redis, stream: str, doc: str) -> str | None:
    end = "+"
    while True:
        page = await history.newest(redis, stream, end, count=history.PAGE)
        for entry_id, fields in page:
            if fields.get(b"d", b"").decode("utf-8", "replace") == doc:
                return entry_id
        if len(page) < history.PAGE:
            return None
        end = "(" + page[-1][0]


async def create_group(redis: Redis, keys: Keys, stage: str, group: str, start: str) -> int | None:
    """Create consumer ``group`` on ``stage`` that will read every entry from ``start`` on.

    On Redis 7 the group's ENTRIESREAD is set so its lag counts exactly the
    entries from ``start`` on (counted with XRANGE: cost O(those entries));
    Redis 6.2 keeps no such counter. Returns that lag (None on 6.2). Raises
    :class:`GroupExists` when the name is taken.
    """
    stream = keys.stream(stage)
    try:
        info = await redis.xinfo_stream(stream)
    except ResponseError as exc:
        raise NothingToReplay(f"stage {stage} has no stream yet: nothing to read") from exc
    added, lag, entries_read = info.get("entries-added"), None, None
    if added is not None:
        lag = sum([1 async for _ in history.scan(redis, stream, start)])
        entries_read = int(added) - lag
    try:
        await redis.xgroup_create(
            stream, group, id=stream_ids.before(start), entries_read=entries_read
        )
    except ResponseError as exc:
        if "BUSYGROUP" in str(exc):
            raise GroupExists(f"stage {stage} already has a group named {group!r}") from exc
        raise
    return lag
