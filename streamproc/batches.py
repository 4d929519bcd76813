"""Batches as operators see them: ids checked, batches listed, a batch's keys deleted.

A batch id is chosen by a user (``submit --batch``) and ends the batch's keys,
so it is checked wherever one comes in: 1 to 128 letters, digits, ``.``,
``_`` or ``-``. Without ``:``, batch ``x:docs`` cannot be batch ``x``'s
document-state key. Ids inside stream entries are not checked: a worker
handles what is already queued, whatever it is called.

Open batches are listed from their sorted set, completed ones from theirs
until their keys expire (``STREAMPROC_BATCH_RETENTION``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass
from typing import Any

from redis.asyncio import Redis

from streamproc.errors import BatchBusy, InvalidBatchId, NoSuchBatch
from streamproc.keys import Keys
from streamproc.scripts import Scripts
from streamproc.timespec import iso

MAX_BATCH_ID = 128
_BATCH_ID = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_BATCH_ID}}}")
_FIELDS = ("created_at", "total", "submitted", "done", "failed", "completed_at")


def check_batch_id(batch: str) -> str:
    """``batch`` if it is a valid batch id; else :class:`InvalidBatchId` naming the rule."""
    if _BATCH_ID.fullmatch(batch) is None:
        shown = repr(batch) if len(batch) <= 40 else f"{batch[:40]!r}… ({len(batch)} characters)"
        raise InvalidBatchId(
            f"batch id {shown} is not valid: use 1 to {MAX_BATCH_ID} letters, digits, "
            "'.', '_' or '-'"
        )
    return batch


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """One batch as Redis knows it (times in epoch milliseconds)."""

    batch: str
    created_ms: int | None
    total: int | None
    submitted: int
    done: int
    failed: int
    completed_ms: int | None
    unsealed: int
    """Documents queued by a submit that has not sealed them yet (the total waits for it)."""

    @property
    def unfinished(self) -> int:
        """Documents neither done nor failed."""
        return max(0, self.submitted - self.done - self.failed)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output, with the times also in ISO form."""
        return {
            **asdict(self),
            "created": iso(self.created_ms) if self.created_ms else None,
            "completed": iso(self.completed_ms) if self.completed_ms else None,
        }


async def list_batches(redis: Redis, keys: Keys, *, now: int) -> list[BatchInfo]:
    """Open batches and completed ones whose keys have not expired, oldest first."""
    opened = await redis.zrange(keys.open_batches, 0, -1)
    completed = await redis.zrangebyscore(keys.completed_batches, f"({now}", "+inf")
    ids = list(dict.fromkeys(b.decode() for b in [*opened, *completed]))
    found = [info for info in await _read(redis, keys, ids) if info is not None]
    return sorted(found, key=lambda b: (b.created_ms or 0, b.batch))


async def batch_info(redis: Redis, keys: Keys, batch: str) -> BatchInfo | None:
    """What Redis holds of ``batch``, or None when it holds nothing."""
    [info] = await _read(redis, keys, [check_batch_id(batch)])
    return info


async def _read(redis: Redis, keys: Keys, ids: list[str]) -> list[BatchInfo | None]:
    pipe = redis.pipeline(transaction=False)
    for batch in ids:
        pipe.hmget(keys.batch(batch), _FIELDS)
        pipe.scard(keys.batch_unsealed(batch))
    replies = await pipe.execute()
    return [_info(b, replies[2 * i], replies[2 * i + 1]) for i, b in enumerate(ids)]


def _info(batch: str, values: list[bytes | None], unsealed: int) -> BatchInfo | None:
    if not any(values) and not unsealed:
        return None
    created, total, submitted, done, failed, completed = (
        int(v) if v is not None else None for v in values
    )
    return BatchInfo(
        batch, created, total, submitted or 0, done or 0, failed or 0, completed, unsealed
    )


class Dropped(enum.IntEnum):
    """What ``lua/drop_batch.lua`` answers."""

    MISSING = 0
    DELETED = 1
    BUSY = 2


async def delete_batch(redis: Redis, keys: Keys, batch: str, *, force: bool = False) -> None:
    """Remove ``batch``'s Redis keys in one atomic call.

    Raises :class:`NoSuchBatch` when Redis holds nothing of it, and
    :class:`BatchBusy` when it is open with documents still being processed
    (unless ``force``: they then run on, counted in no batch).
    """
    scripts = Scripts(redis, keys)
    code, unfinished = await scripts.call(
        scripts.drop_batch(batch=check_batch_id(batch), force=force)
    )
    if code == Dropped.MISSING:
        raise NoSuchBatch(no_such_batch(batch))
    if code == Dropped.BUSY:
        raise BatchBusy(busy(batch, unfinished))


def no_such_batch(batch: str) -> str:
    """The message of :class:`NoSuchBatch`."""
    return f"no batch {batch!r} in Redis (never submitted, deleted, or expired)"


def busy(batch: str, unfinished: int) -> str:
    """Why an open batch in progress is not deleted, and what to do instead."""
    return (
        f"batch {batch!r} is open and {unfinished} of its documents are still being "
        "processed; deleting it now would lose their progress, so wait for "
        f"`streamproc watch {batch}`, or pass --force (they still run, counted in no batch)"
    )
