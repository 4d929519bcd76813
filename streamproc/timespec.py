"""Points in a stream's history as people type them: ISO times, ``2h`` ago, or entry ids.

Pure: every form becomes a stream entry id (``<ms>-<seq>``) usable as an
XRANGE bound, given the current time in epoch milliseconds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from streamproc.connections import text as reply_text
from streamproc.errors import ConfigurationError

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_ENTRY_ID = re.compile(r"^\d+(?:-\d+)?$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


class BadTime(ConfigurationError):
    """A time given on the command line is in none of the accepted forms."""


def to_entry_id(text: str, now_ms: int) -> str:
    """The stream id at ``text``: an entry id, a relative age (``90s``, ``2h``, ``7d``) or ISO time.

    Relative ages count back from ``now_ms``; ISO times without a zone are UTC.
    Raises :class:`BadTime` naming the accepted forms.
    """
    spec = text.strip()
    if _ENTRY_ID.match(spec):
        return spec if "-" in spec else f"{spec}-0"
    rel = _RELATIVE.match(spec.lower())
    if rel:
        ago = int(float(rel.group(1)) * _UNIT_MS[rel.group(2)])
        return f"{max(0, now_ms - ago)}-0"
    return f"{_iso_ms(spec)}-0"


def _iso_ms(spec: str) -> int:
    try:
        moment = datetime.fromisoformat(spec.replace("Z", "+00:00"))
    except ValueError:
        raise BadTime(
            f"cannot read time {spec!r}: give an ISO time (2026-05-01T12:00), "
            "an age (30m, 2h, 7d) or a stream id (1714560000000-0)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def entry_ms(entry_id: str | bytes) -> int:
    """The epoch milliseconds part of a stream entry id."""
    text = reply_text(entry_id)
    return int(text.partition("-")[0])


def iso(ms: int) -> str:
    """Epoch milliseconds as an ISO UTC time with milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
