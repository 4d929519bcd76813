"""Building mentions from text offsets, and choosing between overlapping ones."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from consumers.model import EntityType, Mention

_EDGE_JUNK = " \t\r\n\f,;:\u00a0"
_TRAILING_JUNK = _EDGE_JUNK + "-–—"

# Higher wins when two mentions overlap: the narrower, more specific rule
# families (citations, numbers) beat the broad name families.
PRIORITY: dict[EntityType, int] = {
    EntityType.CASE_CITATION: 12,
    EntityType.STATUTE: 11,
    EntityType.DOCKET_NUMBER: 10,
    EntityType.MONEY: 9,
    EntityType.DATE: 8,
    EntityType.JUDGE: 7,
    EntityType.ATTORNEY: 6,
    EntityType.PARTY: 5,
    EntityType.LAW_FIRM: 4,
    EntityType.COURT: 3,
    EntityType.ORGANIZATION: 2,
    EntityType.PERSON: 1,
}


def line_start_before(text: str, index: int, reach: int) -> int:
    """Start of the line holding ``index``, looking back at most ``reach`` characters."""
    floor = max(0, index - reach)
    newline = text.rfind("\n", floor, index)
    return newline + 1 if newline != -1 else floor


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` past surrounding blanks and list punctuation."""
    while start < end and text[start] in _EDGE_JUNK:
        start += 1
    while end > start and text[end - 1] in _TRAILING_JUNK:
        end -= 1
    return start, end


def make(
    text: str,
    kind: EntityType,
    start: int,
    end: int,
    *,
    role: str | None = None,
    attrs: tuple[tuple[str, str], ...] = (),
) -> Mention | None:
    """A mention of ``text[start:end]`` after trimming, or None when nothing is left."""
    start, end = trimmed(text, start, end)
    if end <= start:
        return None
    return Mention(kind, text[start:end], start, end, role, attrs)


def resolve_overlaps(mentions: Iterable[Mention]) -> list[Mention]:
    """Keep, among overlapping mentions, the higher-priority then the longer one.

    Identical spans of the same type are merged, keeping the one that carries
    a role or attributes.  The result is sorted by position.
    """
    ranked = sorted(
        mentions,
        key=lambda m: (
            -PRIORITY[m.type],
            -(m.end - m.start),
            m.role is None,
            -len(m.attrs),
            m.start,
        ),
    )
    starts: list[int] = []  # the kept spans never overlap, so starts and
    ends: list[int] = []  # ends are sorted alike and bisect finds neighbours
    kept: list[Mention] = []
    for mention in ranked:
        index = bisect.bisect_left(starts, mention.start)
        if index > 0 and ends[index - 1] > mention.start:
            continue
        if index < len(starts) and starts[index] < mention.end:
            continue
        starts.insert(index, mention.start)
        ends.insert(index, mention.end)
        kept.append(mention)
    kept.sort(key=lambda m: (m.start, m.end))
    return kept
