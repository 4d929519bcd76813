"""Attorneys listed under the parties they represent, as dockets lay them out.

A docket report lists each party, then its attorneys: a name line followed
by contact lines (firm, address, phone, e-mail) and notes ("LEAD ATTORNEY",
"[COR NTC Retained]"), blocks that a blank line or the previous block's
contact lines open.  The line after "represented by" (see ``lines``, which
cuts a party row into cells) names an attorney whatever its shape, an office
acting as counsel included.  Supreme Court docket pages list the attorneys under
an "Attorneys for Petitioners" heading, before the "Party name:" they
represent; case-information pages put "party <tab> role <tab> attorney" in
table rows.  Each attorney gets ``("represents", party)`` and, when a firm
line follows the name, ``("firm", firm)`` plus a LAW_FIRM mention.

A name line followed by an address but in no party's section is a person
(a letter's addressee), unless a firm line or an attorney note follows it.
"""

from __future__ import annotations

import bisect
import dataclasses
import re

from consumers.entities.lines import (
    Line,
    content,
    is_attorney_note,
    is_blank,
    is_contact,
    is_firm_like,
    is_represented_by,
    is_role_line,
    is_separator,
)
from consumers.entities.names import is_person_name, normalize_role
from consumers.entities.spans import make
from consumers.model import EntityType, Mention

_NAME_CUT_RE = re.compile(
    r"\s*,\s*(?:Esq\.?|Assistant|Deputy|Special|Senior|Chief|Attorney|Counsel)\b.*$"
)
_SECTION_HEAD_RE = re.compile(r"(?:Attorneys?|Counsel)\s+for\s+(?P<role>.+?)\s*$|Other\s*$")
_TABLE_END_RE = re.compile(r"(?:Date Filed|Docket Text|Proceedings and Orders)\b")
_OFFICE_RE = re.compile(
    r"\b(?:Office|Department|Defender|Government|Division|Agency|Bureau|Commission|General"
    r"|Judge|Clinic|Center|PACER)\b"
)
_SQUEEZE_RE = re.compile(r"\s+")
_TITLE_REST_RE = re.compile(r"(?:Esq|Assistant|Deputy|Special|Senior|Chief|Attorney|Counsel)\b")
_STREET_RE = re.compile(r"\s*(?:\d+[A-Za-z]?\s+[A-Z]|P\.?\s?O\.?\s+Box)")
_NICKNAME_RE = re.compile(r" \([^()]{1,24}\)(?= )")
_MAX_CELL_WORDS = 8
_LOOKAHEAD = 3
_FIRM_REACH = 2000  # the firm line sits a few lines under the name
_EXPIRY = 40  # a party's attorney list does not run on for pages


class _State:
    """Where the scan is: the party whose attorneys follow, or attorneys awaiting one."""

    def __init__(self) -> None:
        self.party: Mention | None = None
        self.role: str | None = None
        self.pending: list[tuple[int, int, str | None]] = []
        self.before_party = False
        self.since = 0  # lines since the party or the last attorney


def find_roster_counsel(text: str, lines: list[Line], parties: list[Mention]) -> list[Mention]:
    """Attorneys (and their firms) listed with the parties they represent."""
    party_at = _parties_by_line(lines, parties)
    state = _State()
    found: list[Mention] = []
    previous: str | None = None  # the nearest non-blank line above
    for index, line in enumerate(lines):
        value = content(text, line)
        if is_blank(value):
            continue
        state.since += 1
        if state.since > _EXPIRY:
            state.party = None
        if index in party_at:
            _enter_party(text, state, party_at[index], found)
        elif _TABLE_END_RE.match(value) or is_separator(value):
            state.party, state.before_party = None, False
        elif (head := _SECTION_HEAD_RE.match(value)) is not None:
            state.party, state.before_party = None, True
            state.role = normalize_role(head.group("role") or "") or None
        elif (
            not is_role_line(value)
            and _opens_block(previous)
            and _maybe_attorney(text, lines, index, state, found, cell=_is_cell(previous))
        ):
            state.since = 0
        previous = value
    found += _table_rows(text, lines)
    return found


def _opens_block(previous: str | None) -> bool:
    """An attorney's name opens a block: what precedes it closes the previous one."""
    return (
        previous is None
        or is_contact(previous)
        or is_attorney_note(previous)
        or is_role_line(previous)
        or is_represented_by(previous)
        or _SECTION_HEAD_RE.match(previous) is not None
        or previous.startswith("Party name")
    )


def _is_cell(previous: str | None) -> bool:
    """Whether the line is the cell under "represented by": an attorney, whatever its name."""
    return previous is not None and is_represented_by(previous)


def _parties_by_line(lines: list[Line], parties: list[Mention]) -> dict[int, Mention]:
    starts = [line.start for line in lines]
    by_line: dict[int, Mention] = {}
    for party in parties:
        index = _line_index(starts, party.start)
        by_line.setdefault(index, party)
    return by_line


def _line_index(starts: list[int], offset: int) -> int:
    return max(0, bisect.bisect_right(starts, offset) - 1)


def _enter_party(text: str, state: _State, party: Mention, found: list[Mention]) -> None:
    if state.before_party:
        # Docket pages that list attorneys first, then the party they act for.
        found.append(party if party.role else dataclasses.replace(party, role=state.role))
        for start, end, firm in state.pending:
            found += _attorney(text, (start, end), party.text, firm)
        state.pending = []
        return
    state.party, state.before_party, state.since = party, False, 0


def _maybe_attorney(
    text: str, lines: list[Line], index: int, state: _State, found: list[Mention], *, cell: bool
) -> bool:
    line = lines[index]
    # An office as counsel ("U.S. Trustee's Office") only in a party's own attorney cell.
    office = cell and state.party is not None
    name_end = _name_end(text, line.start, line.end) or (_cell_end(text, line) if office else None)
    if name_end is None:
        return False
    following = _following(text, lines, index, name_end)
    firm = _firm_line(following)
    if cell and not state.before_party:
        party = state.party.text if state.party is not None else None
        found += _attorney(text, (line.start, name_end), party, firm)
        return True
    if not following:
        return False
    if state.party is not None or state.before_party:
        if not (firm or any(is_contact(v) or is_attorney_note(v) for v in following[:3])):
            return False
        if state.party is not None:
            found += _attorney(text, (line.start, name_end), state.party.text, firm)
        else:
            state.pending.append((line.start, name_end, firm))
        return True
    unattached = _unattached(text, (line.start, name_end), firm, following)
    found += unattached
    return bool(unattached)


def _unattached(
    text: str, span: tuple[int, int], firm: str | None, following: list[str]
) -> list[Mention]:
    """Outside a docket's party sections: an address block (name, firm, street)."""
    if firm is not None and len(following) > 1 and is_contact(following[1]):
        return _attorney(text, span, None, firm)
    if _STREET_RE.match(following[0]):
        mention = make(text, EntityType.PERSON, *span)
        return [mention] if mention is not None else []
    return []


def _name_end(text: str, start: int, end: int) -> int | None:
    """End of the person's name on a line that holds only a name (and a title)."""
    value = text[start:end]
    cut = _NAME_CUT_RE.search(value)
    name_end = start + (cut.start() if cut else len(value))
    name = text[start:name_end].split("\t", maxsplit=1)[0]
    name_end = start + len(name.rstrip())
    # "Kay (UST) Hill": a nickname or office tag inside a name is no part of its shape.
    squeezed = _SQUEEZE_RE.sub(" ", _NICKNAME_RE.sub("", name)).replace(" ,", ",")
    return name_end if is_person_name(squeezed) else None


def _cell_end(text: str, line: Line) -> int | None:
    """End of the name in an attorney cell that names an office ("U.S. Trustee's Office")."""
    value = content(text, line).split("\t", maxsplit=1)[0].rstrip(" ,;")
    if not value[:1].isupper() or len(value.split()) > _MAX_CELL_WORDS or value.endswith(":"):
        return None
    if is_contact(value) or is_attorney_note(value):
        return None
    return line.start + len(value)


def _following(text: str, lines: list[Line], index: int, name_end: int) -> list[str]:
    """The rest of the name's line (a firm after a tab), then the next lines."""
    values: list[str] = []
    cursor = index + 1
    while cursor < len(lines) and len(values) < _LOOKAHEAD:
        value = content(text, lines[cursor])
        if value.count("\t") >= 2:
            break  # a table row starts: it is not this attorney's contact line
        if not is_blank(value):
            values.append(value)
        cursor += 1
    rest = text[name_end : lines[index].end].strip(" \t,")
    if _TITLE_REST_RE.match(rest):
        rest = ""  # "Camille Ann Domingue, Assistant U.S. Attorney": a title, not a firm
    return ([rest] if rest else []) + values


def _firm_line(following: list[str]) -> str | None:
    """The first line under an attorney's name that names a firm, if any."""
    for line in following:
        value = line.strip()
        if is_attorney_note(value) and "\t" in value:
            value = value.split("\t")[-1].strip()  # "Counsel of Record<tab>Firm LLP"
        elif is_attorney_note(value) or is_contact(value) or not value:
            continue
        if is_firm_like(value) and not _OFFICE_RE.search(value):
            return value
        return None
    return None


def _attorney(
    text: str, span: tuple[int, int], party: str | None, firm: str | None
) -> list[Mention]:
    """The ATTORNEY mention, with whom they represent and their firm (also a LAW_FIRM)."""
    start, end = span
    found: list[Mention] = []
    attrs: list[tuple[str, str]] = []
    if party:
        attrs.append(("represents", _SQUEEZE_RE.sub(" ", party)))
    if firm:
        attrs.append(("firm", firm))
        firm_start = text.find(firm, end, end + _FIRM_REACH)
        if firm_start != -1:
            firm_mention = make(text, EntityType.LAW_FIRM, firm_start, firm_start + len(firm))
            found.extend([firm_mention] if firm_mention is not None else [])
    mention = make(text, EntityType.ATTORNEY, start, end, attrs=tuple(attrs))
    found.extend([mention] if mention is not None else [])
    return found


def _table_rows(text: str, lines: list[Line]) -> list[Mention]:
    """ "Party <tab> Role <tab> Attorney" rows, attorneys continuing on following lines."""
    found: list[Mention] = []
    party: Mention | None = None
    for line in lines:
        cells = [
            c for c in re.finditer(r"[^\t]+", text[line.start : line.end]) if c.group(0).strip()
        ]
        roles = [i for i, c in enumerate(cells) if is_role_line(c.group(0))]
        if roles and 0 < roles[0] < len(cells) - 1:
            party = _row_party(text, line.start, cells, roles[0])
            found.extend([party] if party is not None else [])
            rest = cells[roles[0] + 1 :]
        elif party is not None and len(cells) == 1:
            rest = cells
        else:
            party = None
            continue
        for cell in rest:
            span = (line.start + cell.start(), line.start + cell.end())
            if party is not None and is_person_name(text[span[0] : span[1]].strip()):
                found += _attorney(text, span, party.text, None)
    return found


def _row_party(text: str, offset: int, cells: list[re.Match[str]], role_at: int) -> Mention | None:
    name = cells[role_at - 1]
    role = normalize_role(cells[role_at].group(0)) or None
    return make(text, EntityType.PARTY, offset + name.start(), offset + name.end(), role=role)
