"""Matching keys to canonical entities; deterministic ids and blocking keys."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.model import EntityType
from consumers.resolve.matching import best_match, blocking_key, canonical_id
from consumers.resolve.normalize import normalize_name

T = EntityType
PEOPLE = [
    ("john smith", "id-john"),
    ("jane smith", "id-jane"),
    ("john q smith jr", "id-jr"),
    ("maria gonzalez", "id-maria"),
]


def test_canonical_id_is_a_uuid_fixed_by_type_and_key() -> None:
    first = canonical_id(T.PARTY, "acme")
    assert uuid.UUID(first).version == 5
    assert canonical_id(T.PARTY, "acme") == first
    assert canonical_id(T.ORGANIZATION, "acme") != first
    assert canonical_id(T.PARTY, "acme widget") != first


@given(entity_type=st.sampled_from(EntityType), key=st.text(), other=st.text())
def test_canonical_ids_agree_exactly_when_keys_agree(
    entity_type: EntityType, key: str, other: str
) -> None:
    same = canonical_id(entity_type, key) == canonical_id(entity_type, other)
    assert same == (key == other)


def test_an_exact_key_wins_over_any_fuzzy_candidate() -> None:
    candidates = [("acme widgets", "near"), ("acme widget", "exact")]
    assert best_match(T.ORGANIZATION, "acme widget", candidates) == "exact"


@pytest.mark.parametrize(
    ("entity_type", "key", "candidate"),
    [
        (T.CASE_CITATION, "347 us 483", "347 us 488"),
        (T.DOCKET_NUMBER, "1:19-cr-00725", "1:19-cr-00726"),
        (T.STATUTE, "42 usc 1983", "42 usc 1988"),
        (T.DATE, "2020-12-22", "2020-12-23"),
        (T.MONEY, "1250000", "1250001"),
    ],
)
def test_values_with_structure_match_only_exactly(
    entity_type: EntityType, key: str, candidate: str
) -> None:
    assert best_match(entity_type, key, [(candidate, "other")]) is None
    assert best_match(entity_type, key, [(candidate, "other"), (key, "same")]) == "same"


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("Smith, John", "id-john"),
        ("SMITH JOHN", "id-john"),
        ("John R. Smith", "id-john"),
        ("Jon Smith", None),
        ("J. Smith", None),
        ("Maria Gonzales", "id-maria"),
        ("Jane Smyth", None),
        ("John Q. Smith", None),
        ("John Smith, Jr.", None),
        ("Mary Smith", None),
        ("John Smithers", None),
    ],
)
def test_people_match_on_surname_and_compatible_given_names(
    spelling: str, expected: str | None
) -> None:
    key = normalize_name(T.PERSON, spelling)
    assert best_match(T.PERSON, key, PEOPLE) == expected


def test_an_initial_matches_when_only_one_person_fits() -> None:
    assert best_match(T.ATTORNEY, "j smith", [("john smith", "id-john")]) == "id-john"
    assert best_match(T.ATTORNEY, "j smith", [("john smith", "a"), ("jane smith", "b")]) is None


def test_a_judge_named_by_surname_alone_matches_a_unique_full_name() -> None:
    key = normalize_name(T.JUDGE, "ROBERTS, C. J.")
    assert best_match(T.JUDGE, key, [("john g roberts", "cj")]) == "cj"
    assert best_match(T.JUDGE, key, [("john g roberts", "a"), ("owen roberts", "b")]) is None
    assert best_match(T.PERSON, "roberts", [("john g roberts", "cj")]) is None


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("acme widgets", "acme"),
        ("widget acme", "acme"),
        ("deutsche bank natlonal trust", "db"),
        ("abd holdings", None),
        ("acme", None),
        ("acme widget international", None),
    ],
)
def test_organisations_match_by_token_sort_ratio_with_exact_short_words(
    key: str, expected: str | None
) -> None:
    candidates = [
        ("acme widget", "acme"),
        ("abc holdings", "abc"),
        ("deutsche bank national trust", "db"),
    ]
    assert best_match(T.ORGANIZATION, key, candidates) == expected


def test_words_with_digits_must_agree_for_a_fuzzy_match() -> None:
    assert best_match(T.PARTY, "acme fund 2", [("acme fund 3", "other")]) is None


def test_courts_differing_in_direction_or_circuit_never_match() -> None:
    candidates = [("northern district of illinois", "ndill"), ("second circuit", "ca2")]
    assert best_match(T.COURT, "southern district of illinois", candidates) is None
    assert best_match(T.COURT, "eastern district of illinois", candidates) is None
    assert best_match(T.COURT, "third circuit", candidates) is None
    assert best_match(T.COURT, "northern distriet of illinois", candidates) == "ndill"


def test_a_tie_between_different_entities_is_ambiguous() -> None:
    assert (
        best_match(T.ORGANIZATION, "acme widget", [("acme widgets", "a"), ("acme widgett", "b")])
        is None
    )
    assert (
        best_match(T.ORGANIZATION, "acme widget", [("acme widgets", "a"), ("acme widgets", "a")])
        == "a"
    )


def test_no_candidates_means_no_match() -> None:
    assert best_match(T.PERSON, "john smith", []) is None
    assert best_match(T.ORGANIZATION, "acme", iter([])) is None


JUDGES = [*PEOPLE, ("j smith", "id-j"), ("smith john", "id-sj")]


@given(st.permutations(JUDGES))
def test_the_match_does_not_depend_on_candidate_order(candidates: list[tuple[str, str]]) -> None:
    for key in ("john smith", "j smith", "john r smith", "jane smith", "smith", "maria gonzales"):
        assert best_match(T.JUDGE, key, candidates) == best_match(T.JUDGE, key, JUDGES)


def test_spellings_of_one_person_share_a_blocking_key() -> None:
    keys = {
        blocking_key(T.PERSON, normalize_name(T.PERSON, spelling))
        for spelling in ["John Smith", "Smith, John", "J. Smith", "John Q. Smith, Jr.", "Smyth, J."]
    } - {blocking_key(T.PERSON, "j smyth")}
    assert keys == {"PERSON:smi"}


def test_organisations_block_on_their_first_significant_word() -> None:
    assert blocking_key(T.ORGANIZATION, "bank of america") == "ORGANIZATION:ame"
    assert blocking_key(T.ORGANIZATION, "america bank") == "ORGANIZATION:ame"
    assert blocking_key(T.COURT, "northern district of illinois") == "COURT:dis"


def test_values_block_on_their_whole_key() -> None:
    assert blocking_key(T.CASE_CITATION, "347 us 483") == "CASE_CITATION:347 us 483"


def test_an_empty_key_still_has_a_blocking_key() -> None:
    assert {blocking_key(entity_type, "") for entity_type in EntityType} == {
        f"{entity_type.value}:" for entity_type in EntityType
    }
