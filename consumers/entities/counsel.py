"""Attorneys and law firms outside docket rosters.

- counsel paragraphs of opinions: "Roger K. Gannam, with whom Mathew D.
  Staver ... and Liberty Counsel were on brief, for appellant." -- names
  before a closing "for <party>" become attorneys representing that party,
  and comma lists ending "& Name" become firms ("Arrington, Rubin, Winter,
  Kirscher & Goger");
- "Counsel for Plaintiff Colin Thomas" / "Attorneys for Defendant" lines:
  the name lines of the block above are attorneys, its firm lines firms;
- "attorneys, A and B of Firm LLP", "/s/ Name" signatures, "Name, Esq.";
- firms anywhere by their form: a firm suffix (LLP, P.C., PLLC), "Law Firm",
  "& Associates", "Law Offices of Name".
"""

from __future__ import annotations

import re

from consumers.entities.lines import Line, content, is_blank, is_firm_like
from consumers.entities.names import (
    FIRM_SUFFIX,
    PERSON_TIGHT,
    WORD,
    is_function_word,
    is_person_name,
    normalize_role,
)
from consumers.entities.spans import line_start_before, make
from consumers.model import EntityType, Mention

_ROLES = (
    r"(?:plaintiffs?|defendants?|appellants?|appellees?|petitioners?|respondents?|intervenors?"
    r"|trustee|debtors?|movants?|claimants?|employee|employer|relators?|applicants?"
    r"|cross-appellants?|cross-appellees?)"
)
_FOR_RE = re.compile(
    rf"\bfor\s+(?P<who>(?:the\s+)?(?i:{_ROLES}(?:[-/\s]+(?:and\s+)?{_ROLES})*)"
    rf"(?:\s+{WORD}(?:\s+{WORD}){{0,3}})?|[A-Z][^.;]{{0,600}}?,\s+amic(?:us|i)\s+curiae"
    rf"|{PERSON_TIGHT})\s*\.",
)
_LIST_BREAK_RE = re.compile(r"(?:[a-z]{3,}|\))\.\s+|\n\s*\n|:\s")
_ITEM_SPLIT_RE = re.compile(
    r",|;|\bwith whom\b|\bwere on (?:the )?briefs?\b|\bon (?:the )?briefs?\b"
    r"|\bargued(?: the cause)?\b|\bfiled the briefs?\b|\band\b|\bfor\b|\bby\b"
)
_PAGE_MARK_RE = re.compile(r"\*\d+\s*|(?:AUSA|SAUSA|AFPD|FPD|CJA|AAG|ADA|DAG)\s+")
_COUNSEL_LINE_RE = re.compile(
    r"(?:Attorneys?|Counsel|ATTORNEYS?|COUNSEL)\s+(?:of\s+Record\s+)?(?:for|FOR)\s+(?P<who>.+)$"
)
_THROUGH_RE = re.compile(
    rf"\b(?:attorneys?|counsel)[,:]?\s+(?P<list>{PERSON_TIGHT}(?:(?:,\s*|\s+and\s+){PERSON_TIGHT}){{0,4}})"
    rf"\s+of\s+(?P<firm>(?:{WORD}[,&]?\s+(?:&\s+)?){{0,5}}{WORD},?\s+{FIRM_SUFFIX})"
)
_SIGNATURE_RE = re.compile(rf"(?<![\w/])/?s/[ \t]*(?P<name>{PERSON_TIGHT})")
_ESQ_RE = re.compile(rf"(?P<name>{PERSON_TIGHT}),?[ ]+Esq\.?")
_ATTORNEY_CUE_RE = re.compile(
    r"Attorney|Counsel|Esq|Bar No|SBN|LLP|P\.C\.|Law\b|for (?:Plaintiff|Defendant)"
)
# Tried only where a run of blanks begins, so a long run is not rescanned from each blank.
_FIRM_SUFFIX_RE = re.compile(
    r"(?<![ \t])"
    r"(?:,?[ \t]+(?:LLP|L\.L\.P\.|PLLC|P\.L\.L\.C\.|P\.C\.|P\.A\.|P\.L\.C\.|Chartered|LPA|APC)"
    r"|[ \t]+(?:Law[ \t]+(?:Firm|Group|Offices?)|Legal[ \t]+Group|(?:&|and)[ \t]+Associates))"
    r"(?![\w])"
)
_LAW_OFFICE_RE = re.compile(rf"(?:The\s+)?Law\s+Offices?\s+of\s+{PERSON_TIGHT}")
_TOKEN_RE = re.compile(r"\S+")
_FIRM_REACH = 200
_NAME_WORD_RE = re.compile(rf"{WORD},?|&")


def find_counsel(text: str, lines: list[Line], parties: list[Mention]) -> list[Mention]:
    """Attorneys and firms named in counsel paragraphs, signature blocks and prose."""
    found: list[Mention] = []
    for match in _FOR_RE.finditer(text):
        found += _counsel_paragraph(text, match, parties)
    found += _counsel_blocks(text, lines, parties)
    for match in _THROUGH_RE.finditer(text):
        found += _through(text, match)
    found += _signatures(text)
    found += find_law_firms(text)
    return found


def find_law_firms(text: str) -> list[Mention]:
    """Law firms recognisable by their form alone."""
    found: list[Mention] = []
    for match in _FIRM_SUFFIX_RE.finditer(text):
        start = _firm_start(text, match.start())
        if start is not None:
            found += _mention(text, EntityType.LAW_FIRM, start, match.end())
    for match in _LAW_OFFICE_RE.finditer(text):
        found += _mention(text, EntityType.LAW_FIRM, match.start(), match.end())
    return found


def _firm_start(text: str, end: int) -> int | None:
    line_start = line_start_before(text, end, _FIRM_REACH)
    line_start = max(line_start, text.rfind("\t", line_start, end) + 1)
    start = None
    for token in reversed(list(_TOKEN_RE.finditer(text, line_start, end))):
        word = token.group(0)
        if word in {"and", "AND"} and start is not None:
            continue
        if not _NAME_WORD_RE.fullmatch(word) or is_function_word(word.rstrip(",")):
            break
        start = token.start()
    if start is not None and text[start] == "&":
        return None
    return start


def _counsel_paragraph(text: str, match: re.Match[str], parties: list[Mention]) -> list[Mention]:
    start = _list_start(text, match.start())
    items = _merge_firms(text, _items(text, start, match.start()))
    people = [_clean(text, *item) for item in items if is_person_name(_clean(text, *item))]
    if not people or len(people) < len(items) // 3:
        return []
    role_named = normalize_role(match.group("who")) != ""
    if len(people) == 1 and not role_named and not re.search(r"\b[A-Z]\.", people[0]):
        return []  # "..., for Reynolds Services Inc." alone is too weak a cue
    represents = _represented(match.group("who"), parties)
    # A name in capitals inside a mixed-case list is a running head, not counsel.
    shouting = text[start : match.start()].isupper()
    found: list[Mention] = []
    for item_start, item_end in items:
        value = _clean(text, item_start, item_end)
        mark = _PAGE_MARK_RE.match(text, item_start, item_end)
        # "*929W.D. Masterson": a reporter's page mark is not part of the name.
        name_start = mark.end() if mark is not None else item_start
        if is_person_name(value) and (not value.isupper() or shouting):
            found += _mention(text, EntityType.ATTORNEY, name_start, item_end, represents)
        elif is_firm_like(value) and ("&" in value or re.search(FIRM_SUFFIX, value)):
            found += _mention(text, EntityType.LAW_FIRM, name_start, item_end)
    return found


def _list_start(text: str, end: int) -> int:
    lo = max(0, end - 1200)
    start = text.rfind("\n", lo, end) + 1 if "\n" in text[lo:end] else lo
    for brk in _LIST_BREAK_RE.finditer(text, lo, end):
        start = brk.end()
    # Lists begin at a line start: go back to it if the break was mid-line.
    return start


def _items(text: str, start: int, end: int) -> list[tuple[int, int]]:
    items = []
    last = start
    for sep in _ITEM_SPLIT_RE.finditer(text, start, end):
        items.append((last, sep.start()))
        last = sep.end()
    items.append((last, end))
    trimmed = []
    for first, last_end in items:
        lo, hi = first, last_end
        while lo < hi and text[lo] in " \t\n\r.":
            lo += 1
        while hi > lo and text[hi - 1] in " \t\n\r":
            hi -= 1
        if hi > lo:
            trimmed.append((lo, hi))
    return trimmed


def _merge_firms(text: str, items: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join "Arrington", "Rubin", "Kirscher & Goger" into one firm item."""
    merged: list[tuple[int, int]] = []
    for start, end in items:
        value = _clean(text, start, end)
        begin = start
        if "&" in value or re.fullmatch(FIRM_SUFFIX, value):
            while merged and _single_word(_clean(text, *merged[-1])):
                begin = merged.pop()[0]
            suffix_only = begin == start and re.fullmatch(FIRM_SUFFIX, value)
            if suffix_only and merged and "&" in _clean(text, *merged[-1]):
                begin = merged.pop()[0]  # "Locke, Liddell & Sapp", "L.L.P."
        merged.append((begin, end))
    return merged


def _single_word(value: str) -> bool:
    return re.fullmatch(WORD, value) is not None and not is_function_word(value)


def _clean(text: str, start: int, end: int) -> str:
    return " ".join(_PAGE_MARK_RE.sub("", text[start:end]).split())


def _represented(who: str, parties: list[Mention]) -> tuple[tuple[str, str], ...]:
    """The parties a "for ..." clause names: by role, by name, or as written."""
    who = " ".join(re.sub(r",?\s+amic(?:us|i)\s+curiae$", "", who.strip()).split())
    role = normalize_role(who)
    names = re.sub(rf"^(?:the\s+)?(?i:{_ROLES}(?:[-/\s]+(?:and\s+)?{_ROLES})*)\s*", "", who)
    if names:
        named = [p.text for p in parties if names.casefold() in p.text.casefold()]
    elif role:
        named = [p.text for p in parties if p.role and _role_matches(role, p.role)]
    else:
        named = []
    if named:
        return tuple(("represents", " ".join(name.split())) for name in dict.fromkeys(named))
    return (("represents", names or role or who),)


def _role_matches(wanted: str, held: str) -> bool:
    return wanted == held or ("-" not in wanted and wanted in held.split("-"))


def _counsel_blocks(text: str, lines: list[Line], parties: list[Mention]) -> list[Mention]:
    found: list[Mention] = []
    for index, line in enumerate(lines):
        match = _COUNSEL_LINE_RE.match(content(text, line))
        if match is None:
            continue
        represents = _represented(match.group("who"), parties)
        cursor = index - 1
        while cursor >= 0 and index - cursor <= 10:
            value = content(text, lines[cursor])
            if is_blank(value) or value.startswith("Party name"):
                break
            name = re.sub(r"\s*\((?:SBN|Bar|State Bar)[^)]*\)|,?\s+Esq\.?$", "", value)
            if is_person_name(name):
                found += _mention(
                    text,
                    EntityType.ATTORNEY,
                    lines[cursor].start,
                    lines[cursor].start + len(name),
                    represents,
                )
            cursor -= 1
    return found


def _through(text: str, match: re.Match[str]) -> list[Mention]:
    firm = match.group("firm")
    found = _mention(text, EntityType.LAW_FIRM, match.start("firm"), match.end("firm"))
    for person in re.finditer(PERSON_TIGHT, match.group("list")):
        if is_person_name(person.group(0)):
            start = match.start("list") + person.start()
            found += _mention(
                text, EntityType.ATTORNEY, start, start + len(person.group(0)), (("firm", firm),)
            )
    return found


def _signatures(text: str) -> list[Mention]:
    found: list[Mention] = []
    for match in _SIGNATURE_RE.finditer(text):
        if not is_person_name(match.group("name")):
            continue
        after = text[match.end() : match.end() + 300]
        kind = EntityType.ATTORNEY if _ATTORNEY_CUE_RE.search(after) else EntityType.PERSON
        found += _mention(text, kind, match.start("name"), match.end("name"))
    for match in _ESQ_RE.finditer(text):
        if is_person_name(match.group("name")):
            found += _mention(text, EntityType.ATTORNEY, match.start("name"), match.end("name"))
    return found


def _mention(
    text: str,
    kind: EntityType,
    start: int,
    end: int,
    attrs: tuple[tuple[str, str], ...] = (),
) -> list[Mention]:
    mention = make(text, kind, start, end, attrs=attrs)
    return [mention] if mention is not None else []
