"""``normalize_name``: the canonical key of an entity's text, per entity type.

Two mentions that name the same thing should get the same key: "Acme
Corp." and "ACME Corporation" -> "acme"; "Hon. J. R. Smith" and "Smith,
J.R." -> "j r smith"; "N.D. Ill." and "Northern District of Illinois" ->
"northern district of illinois"; "347 U. S. 483" and "347 U.S. 483" ->
"347 us 483"; "Dec. 22, 2020" -> "2020-12-22"; "$1.5 million" -> "1500000".

Every key is a fixed point: ``normalize_name(t, normalize_name(t, x)) ==
normalize_name(t, x)``, so keys can be stored and normalised again safely.
Text a value parser does not recognise falls back to the generic fold:
NFKC, casefold, apostrophes dropped, ``&`` read as "and", other
punctuation and runs of whitespace collapsed to one space.
"""

from __future__ import annotations

from collections.abc import Callable

from consumers.model import EntityType
from consumers.resolve.courts import court_key
from consumers.resolve.names import organization_key, person_key
from consumers.resolve.text import fold
from consumers.resolve.values import (
    citation_key,
    date_key,
    money_key,
    split_docket_number,
    statute_key,
)

__all__ = ["normalize_name", "split_docket_number"]


def normalize_name(entity_type: EntityType, text: str) -> str:
    """The canonical key of ``text`` naming an entity of ``entity_type``."""
    return _KEYS[entity_type](text)


def _judge_key(text: str) -> str:
    return person_key(text, judge=True)


def _docket_key(text: str) -> str:
    return split_docket_number(text)[0]


def _parsed_or_folded(parse: Callable[[str], str | None]) -> Callable[[str], str]:
    """Parse the text, else its fold (a fold a later call would parse), else the fold."""

    def key(text: str) -> str:
        if (parsed := parse(text)) is not None:
            return parsed
        folded = fold(text)
        parsed = parse(folded)
        return folded if parsed is None else parsed

    return key


_KEYS: dict[EntityType, Callable[[str], str]] = {
    EntityType.COURT: court_key,
    EntityType.JUDGE: _judge_key,
    EntityType.ATTORNEY: person_key,
    EntityType.PERSON: person_key,
    EntityType.PARTY: organization_key,
    EntityType.LAW_FIRM: organization_key,
    EntityType.ORGANIZATION: organization_key,
    EntityType.DOCKET_NUMBER: _docket_key,
    EntityType.CASE_CITATION: _parsed_or_folded(citation_key),
    EntityType.STATUTE: statute_key,
    EntityType.DATE: _parsed_or_folded(date_key),
    EntityType.MONEY: _parsed_or_folded(money_key),
}
