"""A document's path through the pipeline, read from Redis alone.

For every stage: the stream entries carrying the document (with attempt,
batch and replay mark, and whether each is still pending: owner, idle time,
deliveries), its dead letters and its delayed retries, merged into one
timeline. Cost: one XRANGE scan of every stage's stream and dead-letter
stream and a ZSCAN of every delayed set, O(history kept); a per-document
index would make it cheap but would add a write to every handoff, and this
is an operator's tool, not a hot path. A pipeline can add its own facts
(database rows) to :attr:`Trace.extra`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from streamproc import deadletters, envelope, history
from streamproc.deadletters import Filter
from streamproc.errors import InvalidMessage
from streamproc.keys import Keys
from streamproc.timespec import entry_ms, iso

Kind = Literal["entry", "dead_letter", "delayed"]


@dataclass(frozen=True, slots=True)
class Pending:
    """An entry read by a consumer and not yet acknowledged."""

    consumer: str
    idle_ms: int
    deliveries: int


@dataclass(frozen=True, slots=True)
class Step:
    """One fact on the document's timeline."""

    kind: Kind
    stage: str
    id: str
    at_ms: int
    batch: str = ""
    attempt: int | None = None
    replay: bool = False
    pending: Pending | None = None
    detail: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output, with the time also in ISO form."""
        return {**asdict(self), "at": iso(self.at_ms)}


@dataclass(slots=True)
class Trace:
    """Every step of one document, oldest first."""

    doc: str
    steps: list[Step]
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {"doc": self.doc, "steps": [s.as_dict() for s in self.steps], **self.extra}


async def trace(
    redis: Redis,
    keys: Keys,
    stages: Sequence[str],
    doc: str,
    *,
    groups: dict[str, str] | None = None,
) -> Trace:
    """The timeline of ``doc`` across ``stages`` (consumer group per stage: its name unless
    ``groups`` says otherwise)."""
    steps: list[Step] = []
    for stage in stages:
        group = (groups or {}).get(stage, stage)
        steps += await _entries(redis, keys, stage, group, doc)
        steps += [
            _dead_step(dl) async for dl in deadletters.read(redis, keys, stage, Filter(doc=doc))
        ]
        steps += await _delayed(redis, keys, stage, doc)
    steps.sort(key=lambda s: (s.at_ms, s.id))
    return Trace(doc, steps)


async def _entries(redis: Redis, keys: Keys, stage: str, group: str, doc: str) -> list[Step]:
    stream = keys.stream(stage)
    wanted = doc.encode()
    steps = []
    async for entry_id, fields in history.scan(redis, stream):
        if fields.get(b"d") != wanted:
            continue
        try:
            env = envelope.decode(entry_id, fields)
        except InvalidMessage:
            steps.append(
                Step("entry", stage, entry_id, entry_ms(entry_id), detail={"invalid": "1"})
            )
            continue
        pending = await _pending(redis, stream, group, entry_id)
        steps.append(
            Step(
                "entry",
                stage,
                entry_id,
                entry_ms(entry_id),
                env.batch,
                env.attempt,
                env.replay,
                pending,
            )
        )
    return steps


async def _pending(redis: Redis, stream: str, group: str, entry_id: str) -> Pending | None:
    try:
        rows = await redis.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
    except ResponseError:
        return None  # no such group yet: nothing is pending
    if not rows:
        return None
    row = rows[0]
    consumer = row["consumer"]
    return Pending(
        consumer.decode() if isinstance(consumer, bytes) else str(consumer),
        int(row["time_since_delivered"]),
        int(row["times_delivered"]),
    )


def _dead_step(dl: deadletters.DeadLetter) -> Step:
    shown = ("error_class", "error", "reason", "deliveries", "consumer")
    attempt = dl.fields.get("attempt", "")
    return Step(
        "dead_letter",
        dl.stage,
        dl.id,
        entry_ms(dl.id),
        dl.batch,
        int(attempt) if attempt.isdigit() else None,
        detail={k: dl.fields.get(k, "") for k in shown},
    )


async def _delayed(redis: Redis, keys: Keys, stage: str, doc: str) -> list[Step]:
    steps = []
    async for member, score in redis.zscan_iter(keys.delayed(stage)):
        values = orjson.loads(member)
        fields = dict(zip(values[::2], values[1::2], strict=False))
        if fields.get("d") != doc:
            continue
        attempt = str(fields.get("a", ""))
        steps.append(
            Step(
                "delayed",
                stage,
                "",
                int(score),
                str(fields.get("b", "")),
                int(attempt) if attempt.isdigit() else None,
                fields.get("r") == "1",
                detail={"due": iso(int(score))},
            )
        )
    return steps
