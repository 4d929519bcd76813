"""Logical lines of a document and what each one looks like.

Captions, dockets and signature blocks are laid out in lines, so their rules
work on a list of ``Line`` values: the span of a physical line's content,
with the right-hand column of a caption table (after ``)`` or ``§``) cut
off.  A docket's party table row is cut into the lines a cell-per-line
rendering would give: "Party<TAB>represented by<TAB>Attorney" into the
party, "represented by" and the attorney; "Appellant<TAB>Attorney" into the
role and the attorney.  The ``is_*`` checks classify a line's text.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from consumers.entities.names import FIRM_SUFFIX, ROLE_PHRASE


class Line(NamedTuple):
    """Content of one physical line: ``text[start:end]``, blanks trimmed."""

    start: int
    end: int


_COLUMN_RE = re.compile(r"[ \t]\)(?:[ \t]|$)|[ \t]§[ \t]|^\)[ \t]*|[ \t]\|[ \t]", re.MULTILINE)

# A docket's "represented by" cell; where it may open a cell is checked in code.
_COLUMN_GAP = 3  # spaces that separate the columns of a docket printed as plain text
_REPRESENTED_RE = re.compile(r"represented[ \t]+by(?=[ \t]|$)", re.IGNORECASE | re.MULTILINE)
# "Vv." is how OCR often reads the "v." of a caption.
_SEPARATOR_RE = re.compile(
    r"(?:v|vs|V|VS|Vs|Vv)\.?:?|versus|VERSUS|Versus|-+\s*(?:v|vs|against|AGAINST)\.?\s*-+"
    r"|against|AGAINST|–\s*against\s*–"
)
_ROLE_LINE_RE = re.compile(
    rf"(?:{ROLE_PHRASE}|U\.S\. Trustee)[^\S\n]*(?:\(\d+\))?[^\S\n]*[.,;:]?", re.IGNORECASE
)
_ATTORNEY_NOTE_RE = re.compile(
    r"(?:LEAD ATTORNEY|ATTORNEY TO BE NOTICED|PRO HAC VICE|TERMINATED:.*|\(See above.*"
    r"|\[[A-Z ]*(?:COR|NTC|LD|Retained|Government|Pro Se|CJA|FPD)[^\]]*\]|Designation:.*"
    r"|Bar Status:.*|Counsel of Record)",
)
_CONTACT_RE = re.compile(
    r"@|\b(?:E-?mail|Fax|Direct|Phone|Tel|Telephone|Facsimile|Cell)\.?\s*:|\(\d{3}\)\s?\d{3}"
    r"|\b\d{3}[-.]\d{3}[-.]\d{4}\b|\b[A-Z]{2},?\s+\d{5}(?:-\d{4})?\b|P\.?\s?O\.?\s+Box"
    r"|\bSuite\b|\bSte\.|\bFloor\b|^\d+[A-Za-z]?\s+\S|www\.|https?:",
    re.IGNORECASE,
)
_STOP_RE = re.compile(
    r"(?<![\w])(?:COURT|Court|CIRCUIT|DIVISION|Division|BOARD|BUREAU|DOCKET|Docket|Case|CASE|No\.|NO\."
    r"|OPINION|ORDER|Filed|FILED|JUDGMENT|APPEAL|Appeal|COMPLAINT|MEMORANDUM|Before|BEFORE"
    r"|DISTRICT OF|DISTRICT COURT|Page|PAGE|CERTIORARI|SYLLABUS|Syllabus|WRIT)(?![\w])"
)
_LABEL_RE = re.compile(r"^[A-Za-z][\w .'’/()#-]{0,40}:(?:\s|$)")
_FIRM_RE = re.compile(
    rf"(?:\b{FIRM_SUFFIX}|&|\bLaw\b|\bLAW\b|\bAttorneys?\b|\bLegal\b|\bCounsel\b)", re.UNICODE
)


def logical_lines(text: str) -> list[Line]:
    """Every physical line's left-column content, blanks trimmed (may be empty).

    A docket's party row gives one line per cell (see the module doc).
    """
    lines: list[Line] = []
    start = 0
    for physical in text.split("\n"):
        end = start + len(physical)
        column = _COLUMN_RE.search(text, start, end)
        left = column.start() if column is not None else end
        lines.extend(_cells(text, _trim(text, start, left)))
        start = end + 1
    return lines


def _cells(text: str, line: Line) -> list[Line]:
    """The cells of a party row that a cell-per-line rendering puts on lines of their own."""
    start, end = line
    cells: list[Line] = []
    tab = text.find("\t", start, end)
    if tab != -1 and is_role_line(text[start:tab]):
        cells.append(_trim(text, start, tab))  # "Appellant<TAB>David G. Baker"
        start = tab + 1
    represented = _REPRESENTED_RE.search(text, start, end)
    if represented is not None and _opens_cell(text[start : represented.start()]):
        cells.append(_trim(text, start, represented.start()))
        cells.append(Line(represented.start(), represented.end()))
        start = represented.end()
    cells.append(_trim(text, start, end))
    kept = [cell for cell in cells if cell.end > cell.start]
    return kept or [line]


def _opens_cell(before: str) -> bool:
    """Whether text ending in ``before`` starts a new cell: a line start, a tab or wide space.

    Two spaces are not enough: docket text often puts two after a full stop.
    """
    spaces = len(before) - len(before.rstrip(" "))
    return not before.strip() or before.rstrip(" ").endswith("\t") or spaces >= _COLUMN_GAP


def _trim(text: str, start: int, end: int) -> Line:
    while start < end and text[start] in " \t\r\f\u00a0":
        start += 1
    while end > start and text[end - 1] in " \t\r\f\u00a0":
        end -= 1
    return Line(start, end)


def content(text: str, line: Line) -> str:
    """The text of ``line``."""
    return text[line.start : line.end]


def is_blank(value: str) -> bool:
    """No content, or only the ")" and "§" of a caption table."""
    return not value.strip(" \t)§|")


def is_separator(value: str) -> bool:
    """The "v." between the two sides of a caption, alone on its line."""
    return _SEPARATOR_RE.fullmatch(value.strip()) is not None


def is_role_line(value: str) -> bool:
    """A line that only states a party's role: "Plaintiff-Appellant,", "Debtor".

    Caption roles are capitalized; "appellant." on its own line ends a sentence.
    """
    stripped = value.strip()
    if not (stripped[:1].isupper() or stripped[:1].isdigit()):  # "3rd Party Plaintiff"
        return False
    return _ROLE_LINE_RE.fullmatch(stripped) is not None


def is_represented_by(value: str) -> bool:
    """The "represented by" that opens a docket's attorney column."""
    return _REPRESENTED_RE.fullmatch(value.strip()) is not None


def is_attorney_note(value: str) -> bool:
    """A docket's note under an attorney: "LEAD ATTORNEY", "[COR NTC Retained]"."""
    stripped = value.strip()
    return _ATTORNEY_NOTE_RE.fullmatch(stripped) is not None or stripped.startswith(
        "Counsel of Record"
    )


def is_contact(value: str) -> bool:
    """An address, phone, e-mail or similar contact line."""
    return _CONTACT_RE.search(value) is not None


def is_heading_or_label(value: str) -> bool:
    """Court headings, docket labels, "Label:" fields: lines that end a caption block."""
    stripped = value.strip()
    return (
        stripped.endswith(":")
        or _LABEL_RE.match(stripped) is not None
        or _STOP_RE.search(stripped) is not None
    )


def is_firm_like(value: str) -> bool:
    """A law firm's name: a firm suffix, an ampersand, or the words Law/Attorneys."""
    return _FIRM_RE.search(value) is not None
