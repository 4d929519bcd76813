"""Contract parties from the preamble: "between X, a Delaware corporation
("Licensor"), and Y ("Licensee")".

The preamble is the text after the first "between", "among" or "the
undersigned" near the start of the document, up to the recitals.  Each
party is closed by its definition -- a parenthesis with a quoted term, a
"referred to as "lessor"" clause, or ", as Depositor" -- and named by the
text before it: the name at the start of the chunk ("Gregory P. Spivy, in
his individual capacity ...") or, failing that, the name just before the
definition ("... has agreed that Integrity Funds Distributor, LLC, (...)").
The defined term becomes the role when it is a contract role ("Licensor"),
and is kept as ``("defined_as", term)`` in any case.
"""

from __future__ import annotations

import re

from consumers.entities.names import is_person_name, words
from consumers.entities.parties import split_side
from consumers.entities.spans import make
from consumers.model import EntityType, Mention

_SEARCH_LIMIT = 8000
_PREAMBLE_LIMIT = 2500
_TRIGGER_RE = re.compile(
    r"\b(?:by\s+and\s+(?:between|among)|between|among|BETWEEN|AMONG|the\s+undersigned)\b"
)
_END_RE = re.compile(
    r"\b(?:WHEREAS|W\s?I\s?T\s?N\s?E\s?S\s?S\s?E\s?T\s?H|RECITALS|Recitals|NOW,\s+THEREFORE"
    r"|TABLE OF CONTENTS|Table of Contents|BACKGROUND|PRELIMINARY STATEMENT|Dated as of"
    r"|ARTICLE\s+I\b)"
    r"|(?:\)|[a-z]{3,}|[”\"])\.(?=\s+[A-Z0-9])"  # the end of the preamble's sentence
)
_NOT_PARTY_TERMS = frozenset(
    {
        "agreement",
        "this agreement",
        "effective date",
        "execution date",
        "closing date",
        "commencement date",
        "term",
        "amendment",
        "plan",
        "contract",
    }
)
_QUOTE = "\"“”'‘’"
_DEFINITION_RE = re.compile(
    rf"\((?:[^()]{{0,80}}?)[{_QUOTE}](?P<term>[^{_QUOTE}()]{{1,40}})[{_QUOTE}](?:[^()]{{0,120}})\)"
    rf"|,?\s*referred\s+to\s+(?:herein\s+)?as\s+[{_QUOTE}](?P<ref>[^{_QUOTE}]{{1,40}})[{_QUOTE}]"
    rf"|,\s*\n?\s*as\s+(?P<as>[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)\b"
)
_CHUNK_LEAD_RE = re.compile(r"[\s,;:)]*(?:(?:and|AND)\s*:?\s+)?(?:the\s+)?")
_CORPORATE_END_RE = re.compile(
    r"(?:Inc|LLC|L\.L\.C|Corp|Corporation|Company|Co|Ltd|Limited|L\.P|LP|LLP|N\.A|PLC|AG|S\.A"
    r"|GmbH|Fund|Trust)\.?,?\s*$",
    re.IGNORECASE,
)
_LISTED_RE = re.compile(
    r"(?:listed|set\s+forth|named|identified)\s+(?:on|in)\s+(?P<kind>Schedule|Exhibit|Annex|Appendix)"
    r"\s+(?P<id>[A-Z0-9]{1,3})\b"
)
_SCHEDULE_REACH = 3000
_NAME_RUN_RE = re.compile(
    r"(?:[A-Z][\w.&'’-]*,?(?:\s+(?:of|and|the|&|de|d/b/a)\s+|\s+))*[A-Z][\w.&'’-]*[.,]?\s*$"
)
_CONTRACT_ROLES = words(
    """
    licensor licensee lessor lessee landlord tenant buyer seller purchaser vendor
    supplier customer client contractor subcontractor consultant distributor
    manufacturer company employer employee executive borrower lender guarantor issuer
    depositor servicer custodian trustee agent sponsor provider recipient investor
    shareholder member partner franchisor franchisee owner developer publisher author
    assignor assignee grantor grantee pledgor pledgee mortgagor mortgagee university
    institution fund adviser advisor underwriter reseller marketer operator
    """
)


def find_contract_parties(text: str) -> list[Mention]:
    """Parties defined in a contract's preamble, with their defined role."""
    for trigger in _TRIGGER_RE.finditer(text, 0, min(len(text), _SEARCH_LIMIT)):
        found = _preamble_parties(text, trigger.end())
        if found:
            return found
    return []


def _preamble_parties(text: str, start: int) -> list[Mention]:
    limit = min(len(text), start + _PREAMBLE_LIMIT)
    stop = _END_RE.search(text, start, limit)
    end = stop.start() + (1 if stop and stop.group(0).endswith(".") else 0) if stop else limit
    found: list[Mention] = []
    chunk_start = start
    for definition in _DEFINITION_RE.finditer(text, start, end):
        term = definition.group("term") or definition.group("ref") or definition.group("as")
        term = term.strip(" ,.;")
        if term.casefold() not in _NOT_PARTY_TERMS:
            mention = _party(text, chunk_start, definition.start(), term)
            if mention is not None:
                found.append(mention)
            found += _scheduled(text, chunk_start, definition.start(), term)
        chunk_start = definition.end()
    return found


def _scheduled(text: str, start: int, end: int, term: str) -> list[Mention]:
    """Parties "listed on Schedule A": the names under that schedule's heading."""
    reference = _LISTED_RE.search(text, start, end)
    if reference is None:
        return []
    heading = re.compile(
        rf"^[^\S\n]*{reference.group('kind')}[^\S\n]+{reference.group('id')}[^\S\n]*$",
        re.IGNORECASE | re.MULTILINE,
    )
    found: list[Mention] = []
    for place in heading.finditer(text, reference.end()):
        found = _listed_names(text, place.end(), term)
        if found:
            break
    return found


def _listed_names(text: str, start: int, term: str) -> list[Mention]:
    found: list[Mention] = []
    for line in re.finditer(r"[^\n]+", text[start : start + _SCHEDULE_REACH]):
        value = line.group(0).strip()
        if not value:
            continue
        side = split_side(value, 0, len(value))
        if not (_CORPORATE_END_RE.search(value) or is_person_name(value)) or not side.names:
            if found:
                break
            continue  # the schedule's own title lines
        offset = start + line.start() + line.group(0).index(value)
        attrs = (("defined_as", term),)
        mention = make(
            text, EntityType.PARTY, offset, offset + len(value), role="party", attrs=attrs
        )
        found.extend([mention] if mention is not None else [])
    return found


def _party(text: str, start: int, end: int, term: str) -> Mention | None:
    for trigger in _TRIGGER_RE.finditer(text, start, end):
        start = trigger.end()  # "..., is BETWEEN: Paratek Pharmaceuticals, Inc., ..."
    lead = _CHUNK_LEAD_RE.match(text, start, end)
    if lead is not None:
        start = lead.end()
    side = split_side(text, start, end)
    if side.names and side.names[0][0] == start:
        name_start, name_end = side.names[0]
    else:
        run = _NAME_RUN_RE.search(text, start, end)
        if run is None or not _CORPORATE_END_RE.search(run.group(0)):
            return None
        name_start, name_end = run.start(), end
    role = term.casefold() if term.casefold() in _CONTRACT_ROLES else "party"
    return make(
        text, EntityType.PARTY, name_start, name_end, role=role, attrs=(("defined_as", term),)
    )
