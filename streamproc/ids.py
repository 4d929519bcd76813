"""Stream entry ids (``<ms>-<seq>``): ordering and arithmetic."""

from __future__ import annotations

MAX_SEQ = 2**64 - 1


def parse(entry_id: str) -> tuple[int, int]:
    """``'123-4'`` -> ``(123, 4)``; a bare ``'123'`` has sequence 0."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def before(entry_id: str) -> str:
    """The largest id smaller than ``entry_id`` (``'0-0'`` stays ``'0-0'``)."""
    ms, seq = parse(entry_id)
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{MAX_SEQ}" if ms > 0 else "0-0"


def oldest(entry_ids: list[str]) -> str:
    """The smallest of ``entry_ids`` (which must not be empty)."""
    return min(entry_ids, key=parse)
