"""Case citations found by eyecite: full, short, "supra" and "Id." forms.

The span of a mention is the citation itself as eyecite reports it ("79
S.W.3d 633", "179 F.3d at 205", "Id., at 315"); what eyecite learned about
it (reporter, volume, page, pin cite, year, court, party names) goes into
``attrs``.  Statutes eyecite recognises are returned as STATUTE mentions.

eyecite scans the whole text once per reporter abbreviation it spots, so a
long contract full of "Co." costs seconds; the text is therefore cut into
paragraph-aligned windows and only windows that can hold a citation are
handed to it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from eyecite import get_citations, helpers
from eyecite.models import (
    CitationBase,
    FullCaseCitation,
    FullLawCitation,
    IdCitation,
    ShortCaseCitation,
    SupraCitation,
)

from consumers.entities.spans import make
from consumers.model import EntityType, Mention

# eyecite maps a parenthetical's court ("Mo. App. E.D.") to a court id by
# re-normalizing every court of courts-db on each call, ~40 ms per citation;
# the mapping is a pure function of the string, so it is memoized once here.
if not hasattr(helpers.get_court_by_paren, "cache_info"):
    helpers.get_court_by_paren = functools.lru_cache(maxsize=4096)(helpers.get_court_by_paren)

_WINDOW = 3000
# Reporters are abbreviations with full stops ("S.W.3d", "U. S.", "Colo.")
# between a volume and a page; a window without one is not given to eyecite.
_CANDIDATE_RE = re.compile(
    r"\b\d{1,4}\s+(?:[A-Z][A-Za-z0-9]*\.\s?(?:\d[a-z]{1,2}\s?)?){1,5}\s*(?:,\s*at\s+)?\d"
    r"|\bWL\s\d|\b[Ii]d\.|\bIbid\b|\bsupra\b"
)
_PUBLIC_DOMAIN_RE = re.compile(
    r"(?<![\w-])(?:19|20)\d\d(?:[ ]|-)(?:[A-Z]{2,5})(?:[ -](?:[A-Z]{2,5}|App\.|Ct\.|Crim\.|Civ\.))*"
    r"(?:[ ]|-)\d{1,5}(?![\w-])"
    r"|\bT\.C\.\s(?:Memo\.|Summary\sOpinion)\s\d{4}-\d{1,4}\b"
)
_PIN_ONLY_RE = re.compile(r"\sat\s+\d+$")
_FORMS: dict[type[CitationBase], str] = {
    FullCaseCitation: "full",
    ShortCaseCitation: "short",
    SupraCitation: "supra",
    IdCitation: "id",
}
_GROUP_KEYS = ("volume", "reporter", "page")
_META_KEYS = ("pin_cite", "year", "court", "plaintiff", "defendant")


def find_citations(text: str) -> list[Mention]:
    """Every case citation (and statute eyecite recognises) in ``text``."""
    found: list[Mention] = [*_public_domain(text)]
    for lo, hi in _windows(text):
        window = text[lo:hi]
        if _CANDIDATE_RE.search(window) is None:
            continue
        for citation in get_citations(window):
            mention = _mention(text, lo, citation)
            if mention is not None:
                found.append(mention)
    return found


def _public_domain(text: str) -> list[Mention]:
    """Vendor-neutral citations: year, court code, number ("2019 TN WC App. 1", "2022-NCSC-1")."""
    found = []
    for match in _PUBLIC_DOMAIN_RE.finditer(text):
        attrs = (("form", "full"), ("kind", "public-domain"))
        mention = make(text, EntityType.CASE_CITATION, match.start(), match.end(), attrs=attrs)
        if mention is not None:
            found.append(mention)
    return found


def _mention(text: str, offset: int, citation: CitationBase) -> Mention | None:
    start, end = citation.span()  # type: ignore[no-untyped-call]  # eyecite leaves it untyped
    if isinstance(citation, FullLawCitation):
        return make(text, EntityType.STATUTE, offset + start, offset + end)
    form = _FORMS.get(type(citation))
    cited = text[offset + start : offset + end]
    if form is None or (form == "full" and "," in cited):
        return None  # a full citation never holds a comma: "Thompson, 18" is misread
    attrs = _attrs(citation, form)
    if form == "full" and _PIN_ONLY_RE.search(cited):
        attrs = _pin_only(attrs)
    return make(text, EntityType.CASE_CITATION, offset + start, offset + end, attrs=attrs)


def _pin_only(attrs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """ "81 T.C. at 828" read as a full citation (eyecite does so in some runs, not others):
    the short form it is, with the reporter and pin cite a short-form reading gives."""
    values = dict(attrs)
    values.update(form="short", pin_cite=values.get("page", ""))
    values["reporter"] = values.get("reporter", "").removesuffix(" at")
    kept = ("form", *_GROUP_KEYS, "pin_cite", "plaintiff")
    return tuple((key, values[key]) for key in kept if values.get(key))


def _attrs(citation: CitationBase, form: str) -> tuple[tuple[str, str], ...]:
    pairs = [("form", form)]
    groups = citation.groups or {}
    pairs += [(key, str(groups[key])) for key in _GROUP_KEYS if groups.get(key)]
    metadata = citation.metadata
    for key in _META_KEYS:
        value = getattr(metadata, key, None)
        if value:
            pairs.append((key, str(value)))
    return tuple(pairs)


def _windows(text: str) -> Iterator[tuple[int, int]]:
    """Consecutive slices of about ``_WINDOW`` characters ending at a paragraph or line."""
    lo = 0
    while lo < len(text):
        hi = min(len(text), lo + _WINDOW)
        if hi < len(text):
            hi = _break_before(text, lo + _WINDOW // 2, hi)
        yield lo, hi
        lo = hi


def _break_before(text: str, floor: int, hi: int) -> int:
    for mark in ("\n\n", ".\n", "\n"):
        index = text.rfind(mark, floor, hi)
        if index != -1:
            return index + len(mark)
    index = text.rfind(" ", floor, hi)
    return index + 1 if index != -1 else hi
