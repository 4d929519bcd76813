"""Judges: titled names, names with a judicial title after them, and panels.

Forms found:

- a title before the name: "Judge Gregory M. Sleet", "Chief Justice GRAY",
  "JUSTICE KAGAN delivered ...", "the Honorable Robert M. Dow, Jr.";
- a title after the name: "SELYA, Circuit Judge.", "Kurt S. Odenwald, J.",
  "ROBERTS, C. J.", "Kenneth M. Switzer, Chief Judge";
- lists closed by a plural title: "Before Barksdale, Stewart, and Dennis,
  Circuit Judges." or "in which SCALIA, THOMAS, and ALITO, JJ., joined";
- labelled fields of dockets: "Assigned to: Herbert A. Ross".

The mention's span is the name alone, without the title.
"""

from __future__ import annotations

import re

from consumers.entities.names import PERSON, SUFFIX, WORD, is_person_name, is_surname
from consumers.entities.spans import make
from consumers.model import EntityType, Mention

_RANK = (
    r"(?:(?:Chief|CHIEF|Senior|SENIOR|Presiding|PRESIDING|Associate|ASSOCIATE|Acting|Deputy"
    r"|Administrative(?: Law)?|ADMINISTRATIVE(?: LAW)?|Bankruptcy|BANKRUPTCY|Magistrate"
    r"|MAGISTRATE|District|DISTRICT|Circuit|CIRCUIT|Appellate|Trial|Special|Supervising"
    r"|U\.\s?S\.(?:\s+(?:District|Magistrate|Bankruptcy|Circuit))?|United States"
    r"(?:\s+(?:District|Magistrate|Bankruptcy|Circuit))?)[ \t]+)"
)
_NAME = rf"(?P<name>{PERSON}|{WORD}(?:,?[ \t]+{SUFFIX}(?![a-z]))?)"
_TITLE_BEFORE = re.compile(
    rf"(?<![\w])(?:{_RANK}*(?:Judge|JUDGE|Justice|JUSTICE)|Hon\.|HON\.|Honorable|HONORABLE)"
    rf"(?:[ \t]+(?:Judge|Justice))?[ \t]+{_NAME}"
)
_TITLE_AFTER = re.compile(
    rf"(?<![\w.])(?P<name>{PERSON}|{WORD}),[ \t]+(?:{SUFFIX},[ \t]+)?"
    rf"(?:{_RANK}*(?:Judge|Justice|JUDGE|JUSTICE)|C\.[ ]?J\.|P\.[ ]?J\.|J\.)"
    rf"(?=[ \t]*(?:[.,;:)\]\n]|$|delivered|concurring|dissenting|joined|with whom))"
)
_PLURAL_TITLE = re.compile(
    r",\s+(?:(?:Chief|Senior|Circuit|District|Appellate|Bankruptcy|Associate)\s+)*"
    r"(?:Judges|Justices|JUDGES|JUSTICES|JJ\.)(?=[\s.,;:]|$)"
)
_LABELLED = re.compile(
    rf"(?:Assigned to|Referred to|Presiding Judge|Trial Judge|Ordering Judge|Originating Judge"
    rf"|Trial Court Judge|Lower Court Judge|Judge\(s\)|Judges?|Authoring Judge)[ \t]*:[ \t]*"
    rf"(?:(?:Magistrate|District|Chief|Senior|Bankruptcy)[ \t]+)*(?:Judge[ \t]+)?"
    rf"(?P<name>{PERSON})"
)
_ITEM = re.compile(r"[^,;&\n]+")
_AND = re.compile(r"\s+and\s+|\s+AND\s+")
_TITLE_WORDS = re.compile(
    r"^(?:(?:Before|BEFORE|Present|PRESENT|Panel|in which|In which|and|Chief|CHIEF|Justice"
    r"|JUSTICE|Judge|JUDGE|Circuit|District|Senior|Associate|Appellate)\b:?\s*)+"
    r"|(?:\s+(?:Chief|Senior|Circuit|District)?\s*(?:Judges?|Justices?|JJ\.|J\.|C\.\s?J\.))+$"
)
_SENTENCE_END = re.compile(r"(?:[A-Za-z]{3,}|JJ)\.\s|:\s*$|\n\s*\n")
_LIST_REACH = 400


def find_judges(text: str) -> list[Mention]:
    """Every judge named in ``text``."""
    found: list[Mention] = []
    for pattern in (_TITLE_BEFORE, _TITLE_AFTER, _LABELLED):
        for match in pattern.finditer(text):
            _add_name(text, match.start("name"), match.end("name"), found)
    for match in _PLURAL_TITLE.finditer(text):
        _panel(text, match.start(), found)
    return list({(m.start, m.end): m for m in found}.values())


def _add_name(text: str, start: int, end: int, found: list[Mention]) -> None:
    name = text[start:end]
    if is_person_name(name) or is_surname(name.split(",")[0]):
        mention = make(text, EntityType.JUDGE, start, end)
        if mention is not None:
            found.append(mention)


def _panel(text: str, end: int, found: list[Mention]) -> None:
    """Names listed before a plural title, walking back until a non-name."""
    start = _list_start(text, end)
    items = []
    for piece in _ITEM.finditer(text, start, end):
        offset = piece.start()
        for part in _AND.split(piece.group(0)):
            index = text.index(part, offset) if part else offset
            items.append((index, index + len(part)))
            offset = index + len(part)
    for item_start, item_end in reversed(items):
        name_start, name_end = _strip_titles(text, item_start, item_end)
        if name_end <= name_start:
            continue
        name = text[name_start:name_end]
        tail = _capitalized_tail(name)
        if tail is None:
            break
        _add_name(text, name_end - len(tail), name_end, found)
        if tail != name:
            break


def _list_start(text: str, end: int) -> int:
    lo = max(0, end - _LIST_REACH)
    start = lo
    for match in _SENTENCE_END.finditer(text, lo, end):
        start = match.end()
    return start


def _strip_titles(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    segment = text[start:end]
    stripped = _TITLE_WORDS.sub(lambda m: " " * len(m.group(0)), segment)
    left = len(stripped) - len(stripped.lstrip())
    right = len(stripped.rstrip())
    return start + left, start + right


def _capitalized_tail(name: str) -> str | None:
    """The name itself, or its trailing capitalized words ("in which SCALIA")."""
    if is_person_name(name) or is_surname(name):
        return name
    words = name.split()
    tail: list[str] = []
    for word in reversed(words):
        if not (word[0].isupper() and (is_surname(word) or re.fullmatch(r"[A-Z]\.", word))):
            break
        tail.insert(0, word)
    if not tail:
        return None
    candidate = name[name.rindex(tail[0]) :] if len(tail) == 1 else " ".join(tail)
    if candidate in name and (is_person_name(candidate) or is_surname(candidate)):
        return candidate
    return None
