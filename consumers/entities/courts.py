"""Court names: federal circuits and districts, state courts, named tribunals.

Patterns are generated from ``gazetteer`` and matched case-insensitively so
that headings in capitals are found; a match is then kept only if every
word other than a connector ("of", "for", "the") is capitalized, which is
what keeps "the district court of appeals" in running prose out.  "Court"
alone is never a court: every pattern needs a place, a number or a
tribunal's distinctive name.
"""

from __future__ import annotations

import re

from consumers.entities.gazetteer import (
    CIRCUIT_ABBREVIATIONS,
    COURT_KINDS,
    DIRECTIONS,
    NAMED_TRIBUNALS,
    ORDINAL_WORDS,
    STATES,
)
from consumers.entities.scan import scan
from consumers.entities.spans import make
from consumers.model import EntityType, Mention

_CONNECTORS = frozenset({"of", "for", "the", "and", "in", "on", "at", "de"})


def _alternation(words: list[str]) -> str:
    ordered = sorted(words, key=len, reverse=True)
    return "(?:" + "|".join(_flexible(word) for word in ordered) + ")"


def _flexible(phrase: str) -> str:
    """Escape ``phrase`` letting spaces match any whitespace and quotes vary."""
    escaped = re.escape(phrase).replace(r"\ ", r"\s+")
    escaped = escaped.replace("'", "['’]?").replace(r"\.", r"\.\s?")
    return escaped.replace(r"\s?\s+", r"\s+")


_STATE = _alternation([s.name for s in STATES])
_STATE_ABBR = _alternation([s.abbreviation for s in STATES])
_DIRECTION = _alternation(list(DIRECTIONS.values()))
_ORDINAL = rf"(?:{_alternation(list(ORDINAL_WORDS))}|\d{{1,3}}(?:st|nd|rd|th|d))"
_US = r"(?:United\s+States|U\.\s?S\.)"
_PLACE_NAME = r"(?:[A-Z][a-z]*\.?(?:\s+[A-Z][a-z]+){0,2})"
_COUNTY = rf"(?:{_PLACE_NAME}\s+(?:County|Parish)|County\s+of\s+{_PLACE_NAME})"
_SUBDIVISION = (
    rf",?\s+(?:{_DIRECTION}|{_ORDINAL})\s+(?:Appellate\s+)?(?:District|Division|Department)"
)

_PATTERNS: tuple[str, ...] = (
    # Federal courts of appeals, spelled out or abbreviated.
    rf"(?:{_US}\s+)?Court\s+of\s+Appeals,?\s+(?:for\s+)?(?:the\s+)?"
    rf"(?:{_ORDINAL}|District\s+of\s+Columbia|D\.\s?C\.|Federal)\s+Circuit",
    rf"(?:{_ORDINAL}|District\s+of\s+Columbia|D\.C\.|Federal)\s+Circuit"
    rf"(?:\s+Court\s+of\s+Appeals)?",
    rf"(?:{_alternation(list(CIRCUIT_ABBREVIATIONS))})\s?Cir\.",
    # Federal district and bankruptcy courts.
    rf"{_US}\s+(?:District|Bankruptcy)\s+Court(?:,?\s+(?:for\s+)?(?:the\s+)?"
    rf"(?:(?:{_DIRECTION}\s+)?District\s+of\s+{_STATE}"
    rf"|[NSEWCM]\.\s?D\.\s?(?:{_STATE}|{_STATE_ABBR})|{_STATE}))?",
    rf"(?:District|Bankruptcy)\s+Court,?\s+(?:for\s+)?(?:the\s+)?"
    rf"(?:{_DIRECTION}\s+)?District\s+of\s+{_STATE}",
    rf"{_DIRECTION}\s+District\s+of\s+{_STATE}",
    rf"(?:Bankr\.\s?)?(?:[NSEWCM]\.\s?)?D\.\s?{_STATE_ABBR}",
    # Supreme courts.
    rf"Supreme\s+Court\s+of\s+(?:the\s+)?(?:United\s+States|State\s+of\s+{_STATE}|{_STATE})",
    rf"(?:{_US}|{_STATE})\s+Supreme\s+Court",
    rf"Supreme\s+Judicial\s+Court(?:\s+of\s+{_STATE})?",
    # State appellate courts.
    rf"(?:(?:{_STATE}|{_ORDINAL})\s+)?Court\s+of\s+(?:Criminal\s+|Civil\s+|Special\s+)?"
    rf"Appeals?(?:\s+(?:of|for)\s+(?:the\s+)?(?:State\s+of\s+)?{_STATE})?(?:{_SUBDIVISION})?",
    # State trial courts.
    rf"(?:(?:{_STATE}|{_ORDINAL}(?:\s+Judicial)?|{_COUNTY})\s+)?"
    rf"{_alternation(list(COURT_KINDS))}\s+Court"
    rf"(?:\s+(?:of|for|in\s+and\s+for)\s+(?:the\s+)?(?:{_COUNTY}|State\s+of\s+{_STATE}"
    rf"|{_STATE}|City\s+of\s+{_PLACE_NAME}|{_ORDINAL}\s+(?:Judicial\s+)?(?:District|Circuit)))?"
    rf"(?:,\s+{_COUNTY})?",
    # Tribunals named without a place.
    rf"(?:{_STATE}\s+)?{_alternation(list(NAMED_TRIBUNALS))}",
)
_COURT_RE = re.compile(
    r"(?<![\w.])(?:" + "|".join(f"(?:{p})" for p in _PATTERNS) + ")", re.IGNORECASE
)
_TRIBUNAL_RE = re.compile(_alternation(list(NAMED_TRIBUNALS)), re.IGNORECASE)
_ANCHOR_RE = re.compile(
    rf"{_STATE}|{_STATE_ABBR}|{_ORDINAL}|\bUnited\b|U\.\s?S\.|\bCounty\b|\bParish\b"
    rf"|\bCity\b|\bFederal\b|\bColumbia\b|Cir\.|\bD\.",
    re.IGNORECASE,
)
_LEADING_LOWER_RE = re.compile(r"(?:(?:the|in|of|for|and|at|on|from|to)\s+)+")
# Every court name contains one of these words; scanning only near them
# keeps the big case-insensitive pattern off most of a long contract.
_HEAD_RE = re.compile(
    r"court|circuit|cir\.|board|panel|district|office|division|D\.\s?[A-Z]", re.IGNORECASE
)
_REACH_BACK = 140
_REACH_AHEAD = 160
_WORD_RE = re.compile(r"[^\s,]+")


def find_courts(text: str) -> list[Mention]:
    """Every court named in ``text``."""
    found = []
    for match in scan(_COURT_RE, text, _HEAD_RE, _REACH_BACK, _REACH_AHEAD):
        start = match.start()
        lead = _LEADING_LOWER_RE.match(text, start, match.end())
        if lead is not None:
            start = lead.end()  # "the Cook County Circuit Court" names "Cook County ..."
        value = text[start : match.end()]
        if value and _capitalized(value) and _anchored(value) and _not_initials(text, start):
            mention = make(text, EntityType.COURT, start, match.end())
            if mention is not None:
                found.append(mention)
    return found


def _capitalized(value: str) -> bool:
    words = _WORD_RE.findall(value)
    head_ok = words[0][0].isupper() or words[0][0].isdigit()
    return head_ok and all(
        word[0].isupper() or word[0].isdigit() or word.casefold() in _CONNECTORS for word in words
    )


def _anchored(value: str) -> bool:
    """A court name must carry a place, a number or a tribunal's own name."""
    return _TRIBUNAL_RE.search(value) is not None or _ANCHOR_RE.search(value) is not None


def _not_initials(text: str, start: int) -> bool:
    """Abbreviations like "D. Mass." must not be the tail of a person's initials."""
    if not text.startswith("D.", start):
        return True
    before = text[max(0, start - 3) : start]
    return re.search(r"[A-Z]\.\s?$|[A-Za-z]$", before) is None
