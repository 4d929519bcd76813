"""The stream entry format: a flat map of short fields around a JSON payload.

=====  =========================================================
field  meaning
=====  =========================================================
``d``  document id
``b``  batch id ('' when the message belongs to no batch)
``a``  attempt number, 0 for the first try
``t``  trace id, kept across stages and retries
``e``  epoch milliseconds when the document entered the pipeline
``p``  JSON payload, validated by the stage's input model
``r``  present and '1' on replayed or redriven messages
=====  =========================================================
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from streamproc.errors import InvalidMessage

Fields = dict[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Envelope:
    """One decoded stream entry."""

    id: str
    doc: str
    batch: str
    attempt: int
    trace: str
    enqueued_ms: int
    payload: bytes
    replay: bool = False


def new_trace_id() -> str:
    """A random 16-hex-digit trace id."""
    return os.urandom(8).hex()


def now_ms() -> int:
    """The wall clock in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def decode(entry_id: bytes | str, fields: Fields | None) -> Envelope:
    """Decode one stream entry; raises :class:`InvalidMessage` naming what is wrong."""
    eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    if not fields:
        raise InvalidMessage(f"stream entry {eid} has no fields")
    try:
        doc = fields[b"d"].decode()
        payload = fields[b"p"]
    except KeyError as exc:
        raise InvalidMessage(f"stream entry {eid} lacks field {exc.args[0]!r}") from None
    except UnicodeDecodeError:
        raise InvalidMessage(f"stream entry {eid} has a document id that is not UTF-8") from None
    return Envelope(
        id=eid,
        doc=doc,
        batch=_text(fields, b"b", eid),
        attempt=_int(fields, b"a", eid),
        trace=_text(fields, b"t", eid) or eid,
        enqueued_ms=_int(fields, b"e", eid),
        payload=payload,
        replay=fields.get(b"r") == b"1",
    )


def _text(fields: Fields, name: bytes, eid: str) -> str:
    try:
        return fields.get(name, b"").decode()
    except UnicodeDecodeError:
        raise InvalidMessage(f"stream entry {eid}: field {name!r} is not UTF-8") from None


def _int(fields: Fields, name: bytes, eid: str) -> int:
    raw = fields.get(name, b"0")
    try:
        return int(raw)
    except ValueError:
        raise InvalidMessage(f"stream entry {eid}: field {name!r} is not an integer") from None


def encode(
    env: Envelope, *, payload: bytes | None = None, attempt: int | None = None
) -> list[str | bytes]:
    """Field/value list for XADD of ``env``, optionally with a new payload or attempt."""
    fields: list[str | bytes] = [
        "d", env.doc, "b", env.batch,
        "a", str(env.attempt if attempt is None else attempt),
        "t", env.trace, "e", str(env.enqueued_ms),
        "p", env.payload if payload is None else payload,
    ]  # fmt: skip
    if env.replay:
        fields += ["r", "1"]
    return fields


def fresh(doc: str, batch: str, payload: bytes, *, replay: bool = False) -> Envelope:
    """An envelope for a document entering the pipeline now."""
    return Envelope(
        id="", doc=doc, batch=batch, attempt=0, trace=new_trace_id(),
        enqueued_ms=now_ms(), payload=payload, replay=replay,
    )  # fmt: skip
