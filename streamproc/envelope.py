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
``g``  present on entries a stage re-queued itself (retries, deferrals,
       redrives): the one consumer group they are for. Every group reads
       the whole stream, so the others acknowledge such entries unread.
=====  =========================================================
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

from streamproc.errors import InvalidMessage

Fields = dict[bytes, bytes]


class Envelope(NamedTuple):
    """One decoded stream entry (a NamedTuple: built once per message, so cheap to build)."""

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


def decode(entry_id: str, fields: Fields | None) -> Envelope:
    """Decode one stream entry; raises :class:`InvalidMessage` naming what is wrong."""
    if not fields:
        raise InvalidMessage(f"stream entry {entry_id} has no fields")
    try:
        doc = fields[b"d"].decode()
        return Envelope(
            entry_id,
            doc,
            fields.get(b"b", b"").decode(),
            int(fields.get(b"a", 0)),
            fields.get(b"t", b"").decode() or entry_id,
            int(fields.get(b"e", 0)),
            fields[b"p"],
            fields.get(b"r") == b"1",
        )
    except KeyError as exc:
        raise InvalidMessage(f"stream entry {entry_id} lacks field {exc.args[0]!r}") from None
    except UnicodeDecodeError:
        raise InvalidMessage(f"stream entry {entry_id} has a field that is not UTF-8") from None
    except ValueError:
        raise InvalidMessage(
            f"stream entry {entry_id}: attempt or time is not an integer"
        ) from None


def encode(
    env: Envelope,
    *,
    payload: bytes | None = None,
    attempt: int | None = None,
    group: str | None = None,
) -> list[str | bytes]:
    """Field/value list for XADD of ``env``, optionally with a new payload or attempt, and
    addressed to one consumer ``group`` of the stream it goes back to."""
    fields: list[str | bytes] = [
        "d",
        env.doc,
        "b",
        env.batch,
        "a",
        str(env.attempt if attempt is None else attempt),
        "t",
        env.trace,
        "e",
        str(env.enqueued_ms),
        "p",
        env.payload if payload is None else payload,
    ]
    if env.replay:
        fields += ["r", "1"]
    if group is not None:
        fields += ["g", group]
    return fields


def fresh(doc: str, batch: str, payload: bytes, *, replay: bool = False) -> Envelope:
    """An envelope for a document entering the pipeline now."""
    return Envelope(
        id="",
        doc=doc,
        batch=batch,
        attempt=0,
        trace=new_trace_id(),
        enqueued_ms=now_ms(),
        payload=payload,
        replay=replay,
    )
