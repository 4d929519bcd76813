"""Parties in caption blocks laid out over several lines.

Two anchors, both structural:

- a line that only states a role ("Plaintiff, Appellant,", "Defendants—
  Appellees.", "Debtor"): the party is the block of name lines just above
  it (captions, appellate dockets) or, when nothing name-like is above, the
  next line.  District and bankruptcy docket reports put every role first
  (role, party, its address, "represented by"); a document laid out so is
  read role-first throughout;
- a line that only holds the "v." between the sides: the name lines above
  and below it, for captions that state no roles (not in role-first docket
  reports, where the "V." between sections follows an attorney).

The block above a line stops at headings ("DIVISION THREE", court names,
"No. ..."), labels, contact lines, blank lines and sentence ends, so a
court heading never becomes a party.
"""

from __future__ import annotations

import re

from consumers.entities.lines import (
    Line,
    content,
    is_attorney_note,
    is_blank,
    is_contact,
    is_heading_or_label,
    is_represented_by,
    is_role_line,
    is_separator,
)
from consumers.entities.names import normalize_role
from consumers.entities.parties import Side, split_side
from consumers.entities.spans import make
from consumers.model import EntityType, Mention

_MAX_BLOCK = 4
_MAX_GAP = 8  # HTML tables leave runs of empty lines between cells
_PARTY_ROWS = 12  # a party's name, aliases and address, up to its "represented by"
_SENTENCE_END_RE = re.compile(r"[a-z]{3,}[.!?]$")
_CONTINUED_RE = re.compile(r"(?:[,;&]|\b(?:and|of|the|for|AND|OF|THE))$")


def find_caption_parties(text: str, lines: list[Line]) -> list[Mention]:
    """Parties named in multi-line captions and docket party blocks."""
    found: list[Mention] = []
    role_first = _role_first_layout(text, lines)
    for index, line in enumerate(lines):
        value = content(text, line)
        if is_role_line(value):
            found.extend(_role_line_parties(text, lines, index, role_first))
        elif is_separator(value) and not role_first:
            # In a docket report the "V." between sections follows an attorney, not a party.
            found.extend(_separator_parties(text, lines, index))
    return found


def _role_first_layout(text: str, lines: list[Line]) -> bool:
    """Whether roles stand above their parties, as in district and bankruptcy docket reports.

    There a role line is followed by the party's name (and, in bankruptcy, its
    address), then the "represented by" column of its attorneys; parties
    without counsel stack as role, name, role, name under a label line.
    """
    return any(
        is_role_line(content(text, line))
        and (_represented_below(text, lines, index) or _stacked_below(text, lines, index))
        for index, line in enumerate(lines)
    )


def _stacked_below(text: str, lines: list[Line], index: int) -> bool:
    """Role, name, role under a line that is no name: a roster without counsel."""
    above = _nearest(text, lines, index, -1)
    over = content(text, lines[above]) if above is not None else ""
    if _namelike(over) and not is_heading_or_label(over):
        return False  # a name above the role: a caption, read upwards
    name = _nearest(text, lines, index, 1)
    if name is None or not _namelike(content(text, lines[name])):
        return False
    after = _nearest(text, lines, name, 1)
    return after is not None and is_role_line(content(text, lines[after]))


def _represented_below(text: str, lines: list[Line], index: int) -> bool:
    for cursor in range(index + 1, min(len(lines), index + _PARTY_ROWS)):
        value = content(text, lines[cursor])
        if is_represented_by(value):
            return cursor > index + 1  # the party's name lies between
        if is_role_line(value) or is_separator(value):
            return False
    return False


def party_mentions(text: str, side: Side, role: str | None = None) -> list[Mention]:
    """PARTY mentions for every name of ``side``, with ``role`` or the side's own."""
    found = []
    for start, end in side.names:
        mention = make(text, EntityType.PARTY, start, end, role=role or side.role)
        if mention is not None:
            found.append(mention)
    return found


def _role_line_parties(text: str, lines: list[Line], index: int, role_first: bool) -> list[Mention]:
    role = normalize_role(content(text, lines[index])) or None
    if role_first:
        block = _block_below(text, lines, index)
    else:
        block = _block_above(text, lines, index) or _block_below(text, lines, index)
    if not block:
        return []
    side = split_side(
        text, lines[block[0]].start, lines[block[-1]].end, trailing_role=not role_first
    )
    return party_mentions(text, side, role)


def _separator_parties(text: str, lines: list[Line], index: int) -> list[Mention]:
    found: list[Mention] = []
    above = _nearest(text, lines, index, -1)
    if above is not None and not is_role_line(content(text, lines[above])):
        block = _block_above(text, lines, index)
        if block and not _ends_attorney_block(text, lines, block[0]):
            found += party_mentions(
                text, split_side(text, lines[block[0]].start, lines[block[-1]].end)
            )
    if not _role_follows(text, lines, index):
        block = _block_below(text, lines, index)
        if block:
            found += party_mentions(
                text, split_side(text, lines[block[0]].start, lines[block[-1]].end)
            )
    return found


def _ends_attorney_block(text: str, lines: list[Line], first: int) -> bool:
    """Whether the lines from ``first`` close an attorney's block (a firm under a note)."""
    above = _nearest(text, lines, first, -1)
    if above is None:
        return False
    return is_attorney_note(content(text, lines[above]))


def _nearest(text: str, lines: list[Line], index: int, step: int) -> int | None:
    """Index of the nearest non-blank line in direction ``step``, within a small gap."""
    cursor = index + step
    for _ in range(_MAX_GAP + 1):
        if not 0 <= cursor < len(lines):
            return None
        if not is_blank(content(text, lines[cursor])):
            return cursor
        cursor += step
    return None


def _namelike(value: str) -> bool:
    return not (
        is_blank(value)
        or is_separator(value)
        or is_role_line(value)
        or is_attorney_note(value)
        or is_contact(value)
        or is_represented_by(value)
    )


def _block_above(text: str, lines: list[Line], index: int) -> list[int]:
    """Name lines ending just above ``index``: wrapped lines join, headings stop."""
    cursor = _nearest(text, lines, index, -1)
    block: list[int] = []
    while cursor is not None and cursor >= 0 and len(block) < _MAX_BLOCK:
        value = content(text, lines[cursor])
        if not _namelike(value) or (is_heading_or_label(value) and not _labelled_name(value)):
            break
        if block and _SENTENCE_END_RE.search(value):
            break
        block.insert(0, cursor)
        above = cursor - 1
        if above < 0 or not _joins_below(content(text, lines[above]), value):
            break
        cursor = above
    return block


def _joins_below(value: str, below: str) -> bool:
    """Whether a line above continues onto the next one (it is part of the same name)."""
    stripped = value.strip()
    if not any(ch.isalpha() for ch in stripped) or is_heading_or_label(stripped):
        return False  # a rule line ("______") or a heading ends the block
    if _SENTENCE_END_RE.search(stripped):
        return False
    if stripped.isupper() != below.strip().isupper():
        return False  # "AT NASHVILLE" over "Leonardo Calderon-Fuentes" is a heading
    return _CONTINUED_RE.search(stripped) is not None or stripped[-1] not in ".:;)"


def _labelled_name(value: str) -> bool:
    """ "Title: A, et al., Applicants" is a caption side despite its label."""
    return re.match(r"(?:Title|Style|Party name)\s*:\s*\S", value) is not None


def _block_below(text: str, lines: list[Line], index: int) -> list[int]:
    cursor = _nearest(text, lines, index, 1)
    block: list[int] = []
    while cursor is not None and cursor < len(lines) and len(block) < _MAX_BLOCK:
        value = content(text, lines[cursor])
        if not _namelike(value) or is_heading_or_label(value):
            break
        block.append(cursor)
        if not _CONTINUED_RE.search(value.strip()):
            break
        cursor += 1
    return block


def _role_follows(text: str, lines: list[Line], index: int) -> bool:
    """Whether a role line closes the side below the separator (then it is parsed there)."""
    cursor = index
    for _ in range(_MAX_BLOCK + 1):
        nearest = _nearest(text, lines, cursor, 1)
        if nearest is None:
            return False
        value = content(text, lines[nearest])
        if is_role_line(value):
            return True
        if not _namelike(value):
            return False
        cursor = nearest
    return False
