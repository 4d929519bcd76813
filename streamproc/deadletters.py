"""Reading, redriving and purging the dead-letter streams of a pipeline's stages.

A dead-letter entry holds the error and the original message (see
:func:`streamproc.outcome.dead_letter_entry`). Redriving one re-injects the
original message into the stage's stream with attempt 0 and ``r=1``; the
``redrive`` script deletes the dead-letter entry in the same atomic call, so
the deletion itself is the record that makes a second redrive a no-op (the
error is still in the worker's logs, and the redriven message in the stream's
history). Reads page through the stream with XRANGE: cost O(dead letters).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis

from streamproc import envelope, history
from streamproc.keys import Keys
from streamproc.pacing import Pacer
from streamproc.scripts import ScriptCall, Scripts
from streamproc.timespec import entry_ms, iso

SEND_CHUNK = 100
_SKIPPED_FIELDS = {"a", "b", "r", "g"}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One entry of a stage's dead-letter stream."""

    stage: str
    id: str
    fields: dict[str, str]

    @property
    def doc(self) -> str:
        """The document the failed message carried."""
        return self.fields.get("doc", "")

    @property
    def batch(self) -> str:
        """The batch of the failed message ('' for none)."""
        return self.fields.get("batch", "")

    @property
    def group(self) -> str:
        """The consumer group that gave the message up (the stage's own unless a side group)."""
        return self.fields.get("group") or self.stage

    @property
    def error_class(self) -> str:
        """The class name of the error that dead-lettered the message."""
        return self.fields.get("error_class", "")

    def message(self) -> dict[str, str]:
        """The original stream entry's fields (empty when unreadable)."""
        try:
            value = orjson.loads(self.fields.get("message", "{}"))
        except orjson.JSONDecodeError:
            return {}
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {"stage": self.stage, "id": self.id, "at": iso(entry_ms(self.id)), **self.fields}


@dataclass(frozen=True, slots=True)
class Filter:
    """Which dead letters a command applies to; None matches anything."""

    error_class: str | None = None
    since: str | None = None
    batch: str | None = None
    doc: str | None = None
    group: str | None = None

    def matches(self, dl: DeadLetter) -> bool:
        """Whether ``dl`` passes every given condition (``since`` is applied by the read)."""
        return (
            (self.error_class is None or dl.error_class == self.error_class)
            and (self.batch is None or dl.batch == self.batch)
            and (self.doc is None or dl.doc == self.doc)
            and (self.group is None or dl.group == self.group)
        )


@dataclass(slots=True)
class ErrorStats:
    """Dead letters of one stage and error class: how many, first and last time."""

    stage: str
    error_class: str
    count: int = 0
    first_ms: int = 0
    last_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "stage": self.stage,
            "error_class": self.error_class,
            "count": self.count,
            "first": iso(self.first_ms),
            "last": iso(self.last_ms),
        }


@dataclass(slots=True)
class RedriveReport:
    """What a redrive did: matched entries, those sent back, those outside a batch."""

    matched: int = 0
    redriven: int = 0
    outside_batch: int = 0
    docs: list[str] = field(default_factory=list)


async def read(
    redis: Redis, keys: Keys, stage: str, flt: Filter | None = None, *, upto: str = "+"
) -> AsyncIterator[DeadLetter]:
    """Every dead letter of ``stage`` matching ``flt`` up to id ``upto``, oldest first, in pages."""
    flt = flt or Filter()
    async for entry_id, raw in history.scan(
        redis, keys.dead_letters(stage), flt.since or "-", upto
    ):
        dl = _decode(stage, entry_id, raw)
        if flt.matches(dl):
            yield dl


async def find(redis: Redis, keys: Keys, stages: Sequence[str], ref: str) -> DeadLetter | None:
    """The dead letter named ``ref``: ``STAGE:ID`` or an id looked up in every stage."""
    stage, sep, entry_id = ref.rpartition(":")
    for name in [stage] if sep else stages:
        found = await history.entries(redis, keys.dead_letters(name), entry_id, entry_id)
        if found:
            return _decode(name, *found[0])
    return None


async def stats(redis: Redis, keys: Keys, stages: Sequence[str]) -> list[ErrorStats]:
    """Per stage and error class: how many dead letters, and the first and last time."""
    rows: list[ErrorStats] = []
    for stage in stages:
        groups: dict[str, ErrorStats] = {}
        async for dl in read(redis, keys, stage):
            ms = entry_ms(dl.id)
            row = groups.setdefault(dl.error_class, ErrorStats(stage, dl.error_class, 0, ms))
            row.count += 1
            row.last_ms = ms
        rows += sorted(groups.values(), key=lambda r: -r.count)
    return rows


def redrive_fields(dl: DeadLetter) -> list[str]:
    """The original message's fields for re-injection: attempt 0, marked replayed, no batch,
    for the consumer group that dead-lettered it (the stage's own group in entries that
    predate the ``group`` field).

    The batch field is added by the script, which alone knows whether the
    batch still counts the document as failed here.
    """
    message = dl.message()
    fields = ["d", message.get("d", dl.doc), "a", "0", "r", "1", "g", dl.group]
    for name, value in message.items():
        if name not in _SKIPPED_FIELDS and name != "d":
            fields += [name, value]
    return fields


async def redrive(
    redis: Redis,
    keys: Keys,
    stage: str,
    flt: Filter,
    *,
    dry_run: bool = False,
    rate: float | None = None,
) -> RedriveReport:
    """Send matching dead letters of ``stage`` back into its stream, at most ``rate`` a second."""
    scripts, pacer, report = Scripts(redis, keys), Pacer(rate), RedriveReport()
    chunk: list[DeadLetter] = []
    # Stop at today's last entry: a redriven message failing again meanwhile is a new case.
    async for dl in read(
        redis, keys, stage, flt, upto=await history.last_id(redis, keys.dead_letters(stage))
    ):
        report.matched += 1
        report.docs.append(dl.doc)
        if not dry_run:
            chunk.append(dl)
        if len(chunk) >= pacer.chunk(SEND_CHUNK):
            await _send(scripts, pacer, chunk, report)
            chunk = []
    if chunk:
        await _send(scripts, pacer, chunk, report)
    return report


async def _send(
    scripts: Scripts, pacer: Pacer, chunk: list[DeadLetter], report: RedriveReport
) -> None:
    await pacer.wait(len(chunk))
    results = await scripts.run([_redrive_call(scripts, dl) for dl in chunk])
    report.redriven += sum(1 for r in results if r)
    report.outside_batch += sum(1 for r in results if r == 2)


def _redrive_call(scripts: Scripts, dl: DeadLetter) -> ScriptCall:
    return scripts.redrive(
        stage=dl.stage,
        entry_id=dl.id,
        doc=dl.doc,
        batch=dl.batch,
        fields=redrive_fields(dl),
        now=envelope.now_ms(),
    )


async def purge(
    redis: Redis, keys: Keys, stage: str, flt: Filter, *, upto: str | None = None
) -> int:
    """XDEL every matching dead letter of ``stage`` up to id ``upto`` (default: the newest
    now); returns how many were deleted."""
    deleted = 0
    upto = upto or await history.last_id(redis, keys.dead_letters(stage))
    ids = [dl.id async for dl in read(redis, keys, stage, flt, upto=upto)]
    for i in range(0, len(ids), history.PAGE):
        deleted += await redis.xdel(keys.dead_letters(stage), *ids[i : i + history.PAGE])
    return deleted


def _decode(stage: str, entry_id: str, raw: dict[bytes, bytes]) -> DeadLetter:
    fields = {k.decode(): v.decode("utf-8", "replace") for k, v in raw.items()}
    return DeadLetter(stage, entry_id, fields)
