"""Reading the corpus ground truth into expected entities.

Each ``*.expected.json`` (format in the corpus's SOURCES.md) becomes an
``Expected``: the entities the file states, with the alternative spellings
it gives for one entity as aliases, and the set of types it lists
completely (for which precision can be scored).  Only what a file states
is used; nothing is inferred from the document itself.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from consumers.model import EntityType as T

Record = Mapping[str, Any]


@dataclass(frozen=True)
class ExpectedEntity:
    """One entity the ground truth states; any alias may be matched."""

    kind: T
    aliases: tuple[str, ...]
    role: str | None = None
    required: bool = True  # False: a correct prediction, but not counted against recall


@dataclass(frozen=True)
class Expected:
    """The entities of one document and the types listed completely."""

    entities: tuple[ExpectedEntity, ...]
    exhaustive: frozenset[T]

    @property
    def types(self) -> list[T]:
        """Types stated for this document, in a stable order."""
        return sorted({e.kind for e in self.entities}, key=lambda kind: kind.value)


_MONTHS = {m.casefold(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS |= {m.casefold(): i for i, m in enumerate(calendar.month_abbr) if m}
_MONTHS["sept"] = 9
_DATE_RE = re.compile(
    r"(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})"
    r"|(?P<m2>\d{1,2})/(?P<d2>\d{1,2})/(?P<y2>\d{4}|\d\d)\b"
    r"|(?P<m3>[A-Za-z]{3,9})\.?\s+(?P<d3>\d{1,2})(?:st|nd|rd|th)?,?\s*(?P<y3>\d{4})"
    r"|(?P<d4>\d{1,2})(?:st|nd|rd|th)?\s+(?:day\s+of\s+)?(?P<m4>[A-Za-z]{3,9}),?\s+(?P<y4>\d{4})"
)
_FIRM_RE = re.compile(
    r"\b(?:LLP|L\.L\.P\.|P\.C\.|PC|P\.A\.|PLLC|P\.L\.L\.C\.|P\.L\.C\.|PLC|Chartered)\b|&|\bLaw\b|\bLAW\b"
)
# "Brian Broussard, also known as Lil Brian" names one party under two names.
_AKA_RE = re.compile(r",?\s+(?:also known as|a/k/a|aka)\s+", re.IGNORECASE)
_CORPORATE_RE = re.compile(r"\b(?:Inc|LLC|L\.L\.C|Corp|Co|Ltd|L\.P|LP|N\.A|PLC|AG)\b\.?")
# List headings inside a span ("Schedule A", "Members of ValueAct Group").
_HEADING_RE = re.compile(
    r"(?:Schedule|Exhibit|Annex|Appendix)\s+\w+$|(?:Members|List|Parties)\s+of\b"
)
_OFFICE_RE = re.compile(r"Office|Department|Defender|General|Government|Clinic|Center|Court")
_CONTACT_RE = re.compile(
    r"@|\d{3}\)?[-. ]\d{3}|^\d|P\.?O\.? Box|Suite|Fax|Direct|Email|UNDELIVERABLE"
)
_ROLE_WORDS = (
    r"(?:Plaintiffs?|Defendants?|Appellants?|Appellees?|Petitioners?|Respondents?|Debtors?"
    r"|Trustees?|Intervenors?|Creditors?|Applicants?)"
)
_ROLE_TAIL_RE = re.compile(
    rf",\s*(?:{_ROLE_WORDS}(?:\s*(?:and|/|-|,)\s*{_ROLE_WORDS})*)\.?\s*$", re.IGNORECASE
)
_TITLE_WORDS = re.compile(
    r"\b(?:Before|Chief|Justice|Justices|Judge|Judges|Circuit|District|Senior|Associate|J\.|JJ\."
    r"|P\.\s?J\.|C\.\s?J\.|concur|concurs|Bankruptcy|Honorable|Hon\.)",
    re.IGNORECASE,
)
_TITLE_SEGMENT = re.compile(
    r"Attorney|General|Deputy|Solicitor|Defender|Section|Assistant|Litem|Public|Counsel|Office",
    re.IGNORECASE,
)
_PERSON_RE = re.compile(r"(?:[A-Z][\w'’.-]*\s+){1,4}[A-Z][\w'’-]+(?:,?\s+(?:Jr|Sr|III|II|IV)\.?)?")


def iso_dates(text: str) -> list[str]:
    """ISO forms of the calendar dates written in ``text``."""
    found = []
    for match in _DATE_RE.finditer(text):
        for n in "1234":
            if match.group(f"y{n}"):
                iso = _iso(match.group(f"y{n}"), match.group(f"m{n}"), match.group(f"d{n}"))
                if iso:
                    found.append(iso)
                break
    return found


def _iso(year: str, month: str, day: str) -> str | None:
    number = int(month) if month.isdigit() else _MONTHS.get(month.casefold().rstrip("."), 0)
    full = int(year) + (2000 if len(year) == 2 and int(year) < 50 else 0)
    full += 1900 if len(year) == 2 and int(year) >= 50 else 0
    if not 1 <= number <= 12 or not 1 <= int(day) <= 31:
        return None
    return f"{full:04d}-{number:02d}-{int(day):02d}"


def expected_entities(record: Record) -> Expected:
    """Expected entities of one ground-truth file (its parsed JSON)."""
    reader = _READERS.get(str(record["kind"]))
    if reader is None:
        return Expected((), frozenset())
    return reader(record["ground_truth"])


def _entity(
    kind: T, *aliases: str, role: str | None = None, required: bool = True
) -> list[ExpectedEntity]:
    expanded = [part for alias in aliases for part in _AKA_RE.split(alias or "")]
    kept = tuple(a.strip(" ,") for a in expanded if a and a.strip(" ,"))
    return [ExpectedEntity(kind, kept, role, required)] if kept else []


def _dates(*values: object) -> list[ExpectedEntity]:
    entities: list[ExpectedEntity] = []
    for value in values:
        for iso in iso_dates(str(value or "")):
            entities += _entity(T.DATE, iso)
    return entities


def _firm(contact: str) -> str | None:
    """A docket contact block's firm line, when it names a law firm."""
    for raw in contact.splitlines():
        line = raw.strip()
        if not line or _CONTACT_RE.search(line):
            continue
        return line if _FIRM_RE.search(line) and not _OFFICE_RE.search(line) else None
    return None


def _pacer_docket(gt: Record) -> Expected:
    items: list[ExpectedEntity] = []
    for party in gt.get("parties", []):
        role = re.sub(r"\s+", " ", str(party.get("type", ""))).strip().casefold() or None
        items += _entity(T.PARTY, party["name"], role=role)
        for attorney in party.get("attorneys", []):
            items += _entity(T.ATTORNEY, attorney["name"])
            firm = _firm(str(attorney.get("contact", "")))
            items += _entity(T.LAW_FIRM, firm) if firm else []
    origin = gt.get("originating_court_information") or {}
    for judge in (
        gt.get("assigned_to_str"),
        gt.get("referred_to_str"),
        origin.get("ordering_judge"),
    ):
        items += _entity(T.JUDGE, str(judge or ""))
    items += _entity(T.DOCKET_NUMBER, str(gt.get("docket_number") or ""))
    items += _entity(T.DOCKET_NUMBER, str(origin.get("docket_number") or ""))
    entries = gt.get("docket_entries", [])
    items += _dates(gt.get("date_filed"), gt.get("date_terminated"))
    items += _dates(
        *[e.get("date_filed") for e in entries], *[e.get("date_entered") for e in entries]
    )
    return Expected(_unique(items), frozenset({T.PARTY, T.ATTORNEY, T.LAW_FIRM}))


def _scotus_docket(gt: Record) -> Expected:
    items: list[ExpectedEntity] = []
    for party in gt.get("parties", []):
        items += _entity(T.PARTY, party["name"], role=str(party.get("type", "")).casefold() or None)
        for attorney in party.get("attorneys", []):
            items += _entity(T.ATTORNEY, attorney["name"])
            title = str(attorney.get("title") or "")
            items += (
                _entity(T.LAW_FIRM, title)
                if _FIRM_RE.search(title) and not _OFFICE_RE.search(title)
                else []
            )
    items += _entity(T.DOCKET_NUMBER, str(gt.get("docket_number") or ""))
    for number in gt.get("lower_court_case_numbers") or []:
        items += _entity(T.DOCKET_NUMBER, str(number))
    items += _entity(T.COURT, str(gt.get("lower_court") or ""))
    items += _dates(
        gt.get("date_filed"), *[e.get("date_filed") for e in gt.get("docket_entries", [])]
    )
    return Expected(_unique(items), frozenset({T.PARTY, T.ATTORNEY, T.LAW_FIRM}))


def _opinion_metadata(gt: Record) -> Expected:
    items: list[ExpectedEntity] = []
    name = str(gt.get("case_names") or "")
    if re.search(r"[A-Za-z]", name) and name != gt.get("docket_numbers"):
        for side in re.split(r"\s+v\.?\s+", name):
            items += _entity(T.PARTY, side)
    for key in ("docket_numbers", "lower_court_numbers"):
        items += _entity(T.DOCKET_NUMBER, str(gt.get(key) or ""))
    items += _dates(gt.get("case_dates"))
    for key in ("judges", "lower_court_judges"):
        for judge in re.split(r";|,\s+|\s+and\s+", str(gt.get(key) or "")):
            items += _entity(T.JUDGE, re.sub(r"^(?:Honorable|Hon\.)\s+", "", judge.strip()))
    items += _entity(T.COURT, str(gt.get("lower_courts") or ""))
    citation = str(gt.get("citations") or "")
    items += _entity(T.CASE_CITATION, citation) if re.fullmatch(r"\d+ .+ \d+", citation) else []
    return Expected(_unique(items), frozenset())


def _opinion_listing(gt: Iterable[Record]) -> Expected:
    merged = [_opinion_metadata(record) for record in gt]
    return Expected(_unique([e for m in merged for e in m.entities]), frozenset())


def _cuad_parties(fields: Record) -> list[ExpectedEntity]:
    parties = fields.get("Parties", {})
    answer = str(parties.get("answer", ""))
    defined = set(re.findall(r"[\"“']([^\"”']+)[\"”']", answer))
    items: list[ExpectedEntity] = []
    for span in parties.get("spans", []):
        for raw in re.split(r"\n\s*\n", str(span)):
            piece = raw.strip()
            if piece in defined and not _CORPORATE_RE.search(piece):
                continue  # a defined term ("Licensor"), not a name
            if re.search(r"[\"“”]", piece) or piece.endswith(":") or _HEADING_RE.match(piece):
                continue
            if len(piece.split()) <= 10 and piece[:1].isupper():
                items += _entity(T.PARTY, piece)
    return items


def _cuad(gt: Record) -> Expected:
    fields = gt.get("fields", {})
    items = _cuad_parties(fields)
    for key in ("Agreement Date", "Effective Date", "Expiration Date"):
        items += _dates(*fields.get(key, {}).get("spans", []))
    return Expected(_unique(items), frozenset({T.PARTY}))


def _cap_parties(name: str) -> list[ExpectedEntity]:
    name = re.sub(r"^(?:In re|In the matter of)\s+", "", name, flags=re.IGNORECASE)
    items: list[ExpectedEntity] = []
    for side in re.split(r"\s+v\.\s+|;\s*|(?<=[a-z]{3})\.\s+(?=[A-Z])", name):
        bare = _ROLE_TAIL_RE.sub("", side.strip(" .,;")).strip(" .,")
        items += _entity(T.PARTY, re.split(r",\s+(?:a|an|as)\s", bare)[0])
    return items


def _names(texts: Iterable[str], kind: T, min_words: int) -> list[ExpectedEntity]:
    """Person names in CAP's attorney and judge paragraphs: titles and places dropped."""
    items: list[ExpectedEntity] = []
    for text in texts:
        bare = re.sub(r",?\s+for\s+[^,]+\.?$", "", re.sub(r"\*\d+", "", text))
        for raw in re.split(r",|;|\s+and\s+", _TITLE_WORDS.sub(" ", bare)):
            segment = " ".join(raw.split()).strip(" .")
            if _TITLE_SEGMENT.search(segment) or "&" in segment:
                continue
            suffix = re.fullmatch(r"(?i:jr|sr|ii|iii|iv)", segment)
            single = min_words == 1 and not suffix and re.fullmatch(r"[A-Z][\w'’-]+", segment)
            if len(segment.split()) >= min_words and (_PERSON_RE.fullmatch(segment) or single):
                items += _entity(kind, segment)
    return items


def _cap(gt: Record) -> Expected:
    meta = gt.get("cap_metadata", {})
    tags = gt.get("casebody_tagged_elements", {})
    court = meta.get("court", {})
    court_tags = [c for c in tags.get("court", []) if "banc" not in c.casefold()]
    items = _cap_parties(str(meta.get("name", "")))
    items += _names(tags.get("attorneys", []), T.ATTORNEY, 2)
    items += _names([*tags.get("judges", []), *tags.get("author", [])], T.JUDGE, 1)
    court_names = [court.get("name", ""), court.get("name_abbreviation", "")]
    items += _entity(T.COURT, *court_names, *[re.sub(r",[^,]*\.$", "", c) for c in court_tags])
    for number in str(meta.get("docket_number", "")).split(";"):
        items += _entity(T.DOCKET_NUMBER, number)
    items += _dates(
        meta.get("decision_date"), *tags.get("decisiondate", []), *tags.get("otherdate", [])
    )
    # cites_to lists the citations in the opinion; the record's own citations
    # are metadata, usually absent from the opinion text: accepted, not required.
    for cite in [c.get("cite", "") for c in meta.get("cites_to", [])]:
        items += _entity(T.CASE_CITATION, cite)
    for cite in [c.get("cite", "") for c in meta.get("citations", [])]:
        items += _entity(T.CASE_CITATION, cite, required=False)
    exhaustive = {T.PARTY, T.ATTORNEY, T.JUDGE, T.CASE_CITATION}
    return Expected(_unique(items), frozenset(exhaustive))


def _tennessee(gt: Record) -> Expected:
    items: list[ExpectedEntity] = []
    for side in re.split(r"\s+v\.\s+", str(gt.get("title", ""))):
        swapped = re.fullmatch(r"([^,]+),\s*([^,]+)", side)
        alias = f"{swapped.group(2)} {swapped.group(1)}" if swapped else side
        items += _entity(T.PARTY, side, alias)
    items += _entity(T.JUDGE, str(gt.get("judge") or ""))
    items += _entity(T.DOCKET_NUMBER, str(gt.get("docket") or ""))
    items += _dates(str(gt.get("pub_date") or "")[:10])
    # The decision's own citation is metadata; the document rarely prints it.
    items += _entity(T.CASE_CITATION, str(gt.get("citation") or ""), required=False)
    return Expected(_unique(items), frozenset({T.PARTY}))


def _disclosure(gt: Record) -> Expected:
    items: list[ExpectedEntity] = []
    for section in gt.get("sections", {}).values():
        for row in section.get("rows", []):
            for column, cell in row.items():
                value = str(cell.get("text", "")) if isinstance(cell, Mapping) else ""
                items += _disclosure_cell(column, value)
    return Expected(_unique(items), frozenset())


def _disclosure_cell(column: str, value: str) -> list[ExpectedEntity]:
    if column in {"Source and Type", "Source"}:
        return _entity(T.ORGANIZATION, value.split(" - ", maxsplit=1)[0])
    if re.fullmatch(r"\$[\d,]+(?:\.\d\d)?", value.strip()):
        return _entity(T.MONEY, value)
    if column in {"Date", "Dates"}:
        return _dates(value)
    return []


def _unique(items: list[ExpectedEntity]) -> tuple[ExpectedEntity, ...]:
    return tuple(dict.fromkeys(items))


_READERS: dict[str, Callable[[Any], Expected]] = {
    "juriscraper_pacer_docket": _pacer_docket,
    "juriscraper_scotus_docket": _scotus_docket,
    "juriscraper_opinion_metadata": _opinion_metadata,
    "juriscraper_opinion_listing": _opinion_listing,
    "cuad_master_clauses_row": _cuad,
    "harvard_cap_case_record": _cap,
    "courtlistener_tennessee_workers_comp_metadata": _tennessee,
    "disclosure_extractor_output": _disclosure,
}
