"""Running a costly pattern only near the words it cannot match without.

Big alternations (state names, court kinds, statute forms) cost a little at
every position of a text; a cheap "anchor" pattern finds the few places
where a match is possible, and the costly pattern runs on merged windows
around them.  Windows start and end at whitespace, so a match is never cut
inside a word.
"""

from __future__ import annotations

import re


def scan(
    pattern: re.Pattern[str], text: str, anchor: re.Pattern[str], back: int, ahead: int
) -> list[re.Match[str]]:
    """Non-overlapping matches of ``pattern`` in windows around ``anchor``'s hits."""
    matches: list[re.Match[str]] = []
    for lo, hi in windows(text, anchor, back, ahead):
        for match in pattern.finditer(text, lo, hi):
            if not matches or match.start() >= matches[-1].end():
                matches.append(match)
    return matches


def windows(text: str, anchor: re.Pattern[str], back: int, ahead: int) -> list[tuple[int, int]]:
    """Merged regions ``back`` characters before to ``ahead`` after each anchor hit."""
    merged: list[tuple[int, int]] = []
    for hit in anchor.finditer(text):
        lo = _whitespace_before(text, max(0, hit.start() - back))
        hi = min(len(text), hit.end() + ahead)
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return [(lo, _whitespace_after(text, hi)) for lo, hi in merged]


def _whitespace_before(text: str, index: int) -> int:
    floor = max(0, index - 40)  # a word longer than this is no name
    while index > floor and not text[index - 1].isspace():
        index -= 1
    return index


def _whitespace_after(text: str, index: int) -> int:
    ceiling = min(len(text), index + 40)
    while index < ceiling and not text[index].isspace():
        index += 1
    return index
