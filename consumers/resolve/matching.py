"""Match a normalised name against known canonical entities; deterministic ids.

The resolve stage normalises a mention (``normalize_name``), fetches the
canonical entities of the same type sharing its ``blocking_key`` from
PostgreSQL, asks ``best_match`` for one of them, and otherwise creates the
entity under ``canonical_id`` -- the same id in every worker, so concurrent
upserts of one name meet on one row.

How a key matches, by type:

- docket numbers, citations, statutes, dates, money: exactly, or not at all
  (their keys are already canonical; "347 us 483" is not near "347 us 488").
- people (person, judge, attorney): the surnames agree (names longer than
  five letters may differ by an OCR-sized slip: ratio >= 85), any
  generation ("jr") agrees, and the given names are compatible
  -- equal, near-equal, or one an initial of the other ("j" ~ "john"),
  middle names optional.  A match that rests on an initial, a missing
  middle name or a missing generation counts only when it is the sole
  candidate that fits; a judge
  named by surname alone ("Judge Smith") may match a unique full name.
- organisations, parties, firms and courts: ``rapidfuzz`` ``token_sort_ratio``
  of at least 90 (courts 92).  It ignores word order ("smith john" ~ "john
  smith") but, unlike ``token_set_ratio``, ``partial_ratio`` or ``WRatio``,
  it does not score a name inside a longer one near 100 -- "acme" must not
  swallow "acme holdings international".  Fuzziness is allowed only within
  long words: short words and words with digits must agree exactly ("abc
  holdings" is not "abd holdings"), and courts must agree on every word
  that tells courts apart (direction, state, circuit).

Ties between different entities at the best score are ambiguous and give
``None``; the caller then creates a new entity rather than guess.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from rapidfuzz import fuzz

from consumers.model import EntityType
from consumers.resolve.courts import COURT_WORDS
from consumers.resolve.text import wordset

_NAMESPACE = uuid.UUID("6f1c7d0e-53a4-5d0b-9a57-3e0c5b8f2a10")
_EXACT_TYPES = frozenset(
    {
        EntityType.DOCKET_NUMBER,
        EntityType.CASE_CITATION,
        EntityType.STATUTE,
        EntityType.DATE,
        EntityType.MONEY,
    }
)
_PEOPLE = frozenset({EntityType.PERSON, EntityType.JUDGE, EntityType.ATTORNEY})
_THRESHOLDS = {EntityType.COURT: 92.0}
_DEFAULT_THRESHOLD = 90.0
_NEAR = 85.0
_SHORT = 4
_GENERATIONS = wordset("jr sr ii iii iv")
_BLOCK_STOPWORDS = wordset("and of the for in on at de la")

Candidate = tuple[str, str]
"""A known entity: its normalised key and its canonical id."""


def canonical_id(entity_type: EntityType, key: str) -> str:
    """The entity's id: a UUID (version 5) of its type and key, the same in every process."""
    return str(uuid.uuid5(_NAMESPACE, f"{entity_type.value}\x1f{key}"))


def blocking_key(entity_type: EntityType, key: str) -> str:
    """A short string that every likely match of ``key`` shares: fetch candidates by it.

    Exact types block on the whole key; people on the first three letters of
    the surname; other names on the first three letters of their
    alphabetically first significant word.
    """
    if entity_type in _EXACT_TYPES:
        return f"{entity_type.value}:{key}"
    words = key.split()
    if entity_type in _PEOPLE:
        names = [word for word in words if word not in _GENERATIONS] or words
        return f"{entity_type.value}:{names[-1][:3] if names else ''}"
    significant = sorted(word for word in words if word not in _BLOCK_STOPWORDS) or words
    return f"{entity_type.value}:{significant[0][:3] if significant else ''}"


def best_match(entity_type: EntityType, key: str, candidates: Iterable[Candidate]) -> str | None:
    """The canonical id of the candidate ``key`` names, or ``None`` if none or ambiguous."""
    pool = list(candidates)
    exact = sorted(entity_id for candidate_key, entity_id in pool if candidate_key == key)
    if exact or entity_type in _EXACT_TYPES:
        return exact[0] if exact else None
    if entity_type in _PEOPLE:
        return _best_person(key, pool, surname_alone=entity_type is EntityType.JUDGE)
    threshold = _THRESHOLDS.get(entity_type, _DEFAULT_THRESHOLD)
    court = entity_type is EntityType.COURT
    wanted = _exact_words(key, court=court)
    scored = [
        (fuzz.token_sort_ratio(key, candidate_key), entity_id)
        for candidate_key, entity_id in pool
        if _exact_words(candidate_key, court=court) == wanted
    ]
    return _unique_best([(score, i) for score, i in scored if score >= threshold])


def _exact_words(key: str, *, court: bool) -> list[str]:
    """The words that must not be fuzzy: short ones, ones with digits, court words."""
    return sorted(
        word
        for word in key.split()
        if len(word) <= _SHORT
        or any(ch.isdigit() for ch in word)
        or (court and word in COURT_WORDS)
    )


def _unique_best(scored: list[tuple[float, str]]) -> str | None:
    """The id with the highest score, or ``None`` if none or if different ids tie."""
    if not scored:
        return None
    top = max(score for score, _ in scored)
    winners = {entity_id for score, entity_id in scored if score == top}
    return winners.pop() if len(winners) == 1 else None


def _best_person(key: str, pool: list[Candidate], *, surname_alone: bool) -> str | None:
    words = key.split()
    strong: list[tuple[float, str]] = []
    weak: set[str] = set()
    for candidate_key, entity_id in pool:
        other = candidate_key.split()
        fit = _person_fit(words, other, surname_alone) or _person_fit(
            words[1:] + words[:1], other, surname_alone
        )
        if fit == "strong":
            strong.append((fuzz.ratio(key, candidate_key), entity_id))
        elif fit == "weak":
            weak.add(entity_id)
    if strong:
        return _unique_best(strong)
    return weak.pop() if len(weak) == 1 else None


def _person_fit(first: list[str], second: list[str], surname_alone: bool) -> str | None:
    """ "strong" if two people's names fit word for word, "weak" if only loosely, else None."""
    (given_a, surname_a, generation_a) = _person_parts(first)
    (given_b, surname_b, generation_b) = _person_parts(second)
    if not surname_a or not surname_b or not _near(surname_a, surname_b):
        return None
    if generation_a and generation_b and generation_a != generation_b:
        return None
    if not given_a or not given_b:
        return "weak" if surname_alone and (given_a or given_b) else None
    fits = [_given_fit(a, b) for a, b in zip(given_a, given_b, strict=False)]
    if None in fits:
        return None
    strong = (
        len(given_a) == len(given_b)
        and generation_a == generation_b
        and all(fit == "strong" for fit in fits)
    )
    return "strong" if strong else "weak"


def _person_parts(words: list[str]) -> tuple[list[str], str, str]:
    """Split "john r smith jr" into (["john", "r"], "smith", "jr")."""
    generation = words[-1] if len(words) > 1 and words[-1] in _GENERATIONS else ""
    names = words[:-1] if generation else words
    return names[:-1], names[-1] if names else "", generation


def _near(first: str, second: str) -> bool:
    """Equal, or long enough for an OCR slip to leave them merely similar."""
    return first == second or (
        min(len(first), len(second)) > 5 and fuzz.ratio(first, second) >= _NEAR
    )


def _given_fit(first: str, second: str) -> str | None:
    if _near(first, second):
        return "strong"
    if (len(first) == 1 or len(second) == 1) and first[0] == second[0]:
        return "weak"
    return None
