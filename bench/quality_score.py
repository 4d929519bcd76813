"""Scoring extracted mentions against the entities a ground-truth file states.

Matching rule (the same for every document):

1. Both sides are normalized per type.  Dates become ISO dates, sums of money
   their numeric value, case citations their letters and digits
   ("612 P.2d 1106" -> "612p2d1106").  Other texts are NFKC-folded,
   casefolded, "&" read as "and", punctuation dropped, whitespace collapsed,
   hyphens joined ("Chan-cey", "Quinn-Judge"), and a leading "the",
   honorifics ("Mr.", "Hon.", "Judge") and a trailing "et al" removed; "USA",
   "United States of America" and "United States" are one name.
2. Dates, money and citations match only when equal.  Other texts match when
   they are equal; or hold the same words in another order ("Albert, Nathan
   D." / "Nathan D. Albert"); or are near-identical (rapidfuzz ``ratio`` >=
   90, for OCR and typing slips); or one is a run of whole words inside the
   other and that run has two words or more ("Jack Blumenfeld" does not
   match "Jack B. Blumenfeld" this way, but see 3); or one is a single word
   of 4+ letters that is the other's first or last word and not a generic
   word (a surname "Easterbrook" against "Frank H. Easterbrook").
3. For people (judges, attorneys, persons) the first and last words equal and
   every word of the shorter name found in the longer also match (a middle
   initial left out).

Recall counts the expected entities matched by at least one prediction.
Precision counts the distinct predicted texts that match an expected
entity, and is computed only for the types whose list the ground truth
states completely for a document (a docket's parties, a CAP record's cited
cases); where the ground truth states only some entities of a type (the
filing date among all dates of a docket), predictions of that type are not
held against the extractor.  Short, "supra" and "Id." citations are not
scored: ground truth lists full citations only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rapidfuzz import fuzz

from bench.quality_truth import Expected, ExpectedEntity, expected_entities, iso_dates
from consumers.entities.names import words
from consumers.model import EntityType, Mention

__all__ = ["Counts", "Expected", "expected_entities", "matches", "normalize", "score_document"]

_EXACT_TYPES = frozenset({EntityType.DATE, EntityType.MONEY, EntityType.CASE_CITATION})
_PEOPLE = frozenset({EntityType.JUDGE, EntityType.ATTORNEY, EntityType.PERSON})
_GENERIC = words(
    """
    state states united people company corporation inc llc court county city district
    department office america government commonwealth bank trust group holdings
    """
)
_HONORIFIC_RE = re.compile(
    r"^(?:(?:mr|mrs|ms|dr|hon|honorable|judge|justice|chief|magistrate|the)\.?\s+)+"
)
_ET_AL_RE = re.compile(r"\s+et\s+al\.?$")
_LABEL_RE = re.compile(r"^(?:case|docket|civil action|no|nos|number|#)\.?\s*(?:no\.?\s*)?[:#]?\s*")
_FUZZY = 90
# The federal government appears under several names in captions and dockets.
_UNITED_STATES = dict.fromkeys(
    ["united states of america", "usa", "us", "u s", "u s a"], "united states"
)


@dataclass(frozen=True)
class Counts:
    """Match counts for one entity type (summed over documents)."""

    expected: int = 0
    matched_expected: int = 0
    predicted: int = 0
    matched_predicted: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.expected + other.expected,
            self.matched_expected + other.matched_expected,
            self.predicted + other.predicted,
            self.matched_predicted + other.matched_predicted,
        )

    @property
    def precision(self) -> float:
        """Matched predictions over predictions (1.0 when nothing was predicted)."""
        return self.matched_predicted / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        """Matched expected entities over expected entities (1.0 when none expected)."""
        return self.matched_expected / self.expected if self.expected else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def normalize(kind: EntityType, text: str) -> str:
    """The comparable form of ``text`` for entities of ``kind``."""
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    if kind is EntityType.DATE:
        dates = iso_dates(text)
        return dates[0] if dates else folded
    if kind is EntityType.MONEY:
        return _amount(folded)
    if kind is EntityType.CASE_CITATION:
        return re.sub(r"[^0-9a-z]", "", folded)
    if kind is EntityType.DOCKET_NUMBER:
        folded = _LABEL_RE.sub("", folded)
        return " ".join(re.sub(r"[^0-9a-z]+", " ", folded).split())
    folded = folded.replace("&", " and ").replace("’", "'")
    folded = re.sub(r"(?<=\w)-\s*(?=\w)", "", folded.replace("'", ""))
    folded = " ".join(re.sub(r"[^\w\s]", " ", folded).split())
    folded = _ET_AL_RE.sub("", _HONORIFIC_RE.sub("", folded))
    return _UNITED_STATES.get(folded, folded)


def _amount(folded: str) -> str:
    scale = {"thousand": 3, "million": 6, "billion": 9}
    digits = re.search(r"\d[\d,]*(?:\.\d+)?", folded)
    if digits is None:
        return folded
    try:
        value = Decimal(digits.group(0).replace(",", ""))
    except InvalidOperation:
        return folded
    for word, power in scale.items():
        if word in folded:
            value = value.scaleb(power)
    return format(value.normalize(), "f")


def matches(kind: EntityType, predicted: str, expected: str) -> bool:
    """Whether two normalized texts name the same entity (see the module doc)."""
    if not predicted or not expected:
        return False
    if predicted == expected:
        return True
    if kind in _EXACT_TYPES:
        return False
    short, long = sorted((predicted.split(), expected.split()), key=len)
    if sorted(short) == sorted(long) or fuzz.ratio(predicted, expected) >= _FUZZY:
        return True
    return _word_match(kind, short, long)


def _word_match(kind: EntityType, short: list[str], long: list[str]) -> bool:
    """Rules 2 (a run of words, a surname) and 3 (a name without its middle initial)."""
    if len(short) == 1:
        word = short[0]
        return len(word) >= 4 and word not in _GENERIC and word in (long[0], long[-1])
    if _contiguous(short, long):
        return True
    return (
        kind in _PEOPLE
        and short[0] == long[0]
        and short[-1] == long[-1]
        and set(short) <= set(long)
    )


def _contiguous(short: list[str], long: list[str]) -> bool:
    width = len(short)
    return any(long[i : i + width] == short for i in range(len(long) - width + 1))


def predicted_texts(mentions: Iterable[Mention]) -> dict[EntityType, set[str]]:
    """Distinct normalized texts per type, leaving out non-full citations."""
    texts: dict[EntityType, set[str]] = {}
    for mention in mentions:
        if mention.type is EntityType.CASE_CITATION and ("form", "full") not in mention.attrs:
            continue
        texts.setdefault(mention.type, set()).add(normalize(mention.type, mention.text))
    return texts


def score_document(mentions: Iterable[Mention], expected: Expected) -> dict[str, Counts]:
    """Counts per entity type stated by ``expected``."""
    predicted = predicted_texts(mentions)
    counts: dict[str, Counts] = {}
    for kind in expected.types:
        wanted = [e for e in expected.entities if e.kind is kind]
        found = predicted.get(kind, set())
        counts[kind.value] = _count(kind, found, wanted, kind in expected.exhaustive)
    return counts


def _count(
    kind: EntityType, found: set[str], wanted: list[ExpectedEntity], exhaustive: bool
) -> Counts:
    forms = [[normalize(kind, alias) for alias in entity.aliases] for entity in wanted]
    required = [f for f, entity in zip(forms, wanted, strict=True) if entity.required]
    hit = sum(any(matches(kind, p, f) for p in found for f in aliases) for aliases in required)
    if not exhaustive:
        return Counts(expected=len(required), matched_expected=hit)
    good = sum(any(matches(kind, p, f) for aliases in forms for f in aliases) for p in found)
    return Counts(len(required), hit, len(found), good)


def summarize(counts: Mapping[str, Counts]) -> dict[str, dict[str, float]]:
    """Plain numbers per type (and "ALL") for JSON output."""
    total = sum(counts.values(), Counts())
    return {
        kind: {
            "expected": c.expected,
            "matched_expected": c.matched_expected,
            "predicted": c.predicted,
            "matched_predicted": c.matched_predicted,
            "precision": round(c.precision, 4),
            "recall": round(c.recall, 4),
            "f1": round(c.f1, 4),
        }
        for kind, c in [*sorted(counts.items()), ("ALL", total)]
    }
