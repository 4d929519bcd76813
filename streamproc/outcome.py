"""What became of one message, and how that turns into script calls.

Pure: builds the handoff, retry and dead-letter calls for a flush of many
outcomes, so the runner sends them all in one round trip.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from streamproc import envelope
from streamproc.envelope import Envelope, Fields
from streamproc.failures import error_fields
from streamproc.scripts import Finished, ScriptCall, Scripts

HANDOFF_CHUNK = 500


class Kind(enum.Enum):
    """The four ways a message leaves a stage."""

    DONE = "done"
    RETRY = "retried"
    DEFER = "deferred"
    DEAD = "dead_lettered"


@dataclass(slots=True)
class Outcome:
    """One finished message waiting to be flushed."""

    id: str
    kind: Kind
    env: Envelope | None
    payload: bytes | None = None
    delay_ms: int = 0  # a retry's or deferral's wait, from the moment Redis schedules it
    error: BaseException | None = None
    reason: str = ""
    raw: Fields | None = field(default=None, repr=False)
    deliveries: int | None = None


@dataclass(frozen=True, slots=True)
class FlushPlan:
    """The calls of one flush and, per call, the outcomes it covers."""

    calls: list[ScriptCall]
    covers: list[list[Outcome]]


def plan_flush(
    outcomes: Sequence[Outcome],
    scripts: Scripts,
    *,
    stage: str,
    next_stage: str | None,
    group: str,
    consumer: str,
    now: int,
) -> FlushPlan:
    """Group ``outcomes`` into as few script calls as possible."""
    done = [o for o in outcomes if o.kind is Kind.DONE]
    calls: list[ScriptCall] = []
    covers: list[list[Outcome]] = []
    for i in range(0, len(done), HANDOFF_CHUNK):
        part = done[i : i + HANDOFF_CHUNK]
        items = [_finished(o, next_stage) for o in part]
        calls.append(
            scripts.handoff(stage=stage, next_stage=next_stage, group=group, items=items, now=now)
        )
        covers.append(part)
    for o in outcomes:
        if o.kind is Kind.DEAD:
            call = _dead_letter_call(
                o, scripts, stage=stage, group=group, consumer=consumer, now=now
            )
            calls.append(call)
        elif o.kind is not Kind.DONE:
            calls.append(_delay_call(o, scripts, stage, group))
        else:
            continue
        covers.append([o])
    return FlushPlan(calls, covers)


def _finished(o: Outcome, next_stage: str | None) -> Finished:
    env = o.env
    assert env is not None
    fields = envelope.encode(env, payload=o.payload, attempt=0) if next_stage else ()
    return Finished(o.id, env.doc, env.batch, fields)


def _delay_call(o: Outcome, scripts: Scripts, stage: str, group: str) -> ScriptCall:
    env = o.env
    assert env is not None
    retry = o.kind is Kind.RETRY
    fields = envelope.encode(
        env, payload=o.payload, attempt=env.attempt + 1 if retry else None, group=group
    )
    what = "retried" if retry else "deferred"
    state = "retrying" if retry else "waiting"
    return scripts.retry(
        stage=stage,
        group=group,
        id=o.id,
        doc=env.doc,
        batch=env.batch,
        fields=fields,
        delay_ms=o.delay_ms,
        counter=f"{what}:{stage}",
        state=f"{state}:{stage}",
    )


def _dead_letter_call(
    o: Outcome, scripts: Scripts, *, stage: str, group: str, consumer: str, now: int
) -> ScriptCall:
    doc, batch = _identity(o)
    entry = dead_letter_entry(o, stage=stage, group=group, consumer=consumer, now=now)
    return scripts.dead_letter(
        stage=stage, group=group, id=o.id, doc=doc, batch=batch, entry=entry, now=now
    )


def dead_letter_entry(o: Outcome, *, stage: str, group: str, consumer: str, now: int) -> list[str]:
    """The fields of the dead-letter entry for ``o``: the error and the original message."""
    doc, batch = _identity(o)
    err = error_fields(o.error) if o.error else ["error_class", "", "error", "", "traceback", ""]
    attempt = str(o.env.attempt) if o.env else ""
    return [
        "stage",
        stage,
        "message_id",
        o.id,
        "doc",
        doc,
        "batch",
        batch,
        *err,
        "reason",
        o.reason,
        "attempt",
        attempt,
        "deliveries",
        "" if o.deliveries is None else str(o.deliveries),
        "group",
        group,
        "consumer",
        consumer,
        "failed_at",
        str(now),
        "message",
        _original(o),
    ]


def _identity(o: Outcome) -> tuple[str, str]:
    if o.env is not None:
        return o.env.doc, o.env.batch
    raw = o.raw or {}
    return _text(raw.get(b"d", b"")), _text(raw.get(b"b", b""))


def _original(o: Outcome) -> str:
    raw = o.raw or {}
    return orjson.dumps({_text(k): _text(v) for k, v in raw.items()}).decode()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
