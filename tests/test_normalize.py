"""Canonical keys of entity names: exact keys for known spellings, and fixed points."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.model import EntityType
from consumers.resolve.normalize import normalize_name, split_docket_number

T = EntityType

SAME_KEY = [
    (T.ORGANIZATION, ["Acme Corp.", "ACME Corporation", "Acme, Inc.", "The Acme Company"], "acme"),
    (T.ORGANIZATION, ["Smith & Jones LLP", "Smith and Jones, L.L.P."], "smith and jones"),
    (T.ORGANIZATION, ["Widget Co., Ltd.", "Widget Limited"], "widget"),
    (T.PARTY, ["Standard Ins. Co.", "Standard Insurance Company"], "standard insurance"),
    (
        T.ORGANIZATION,
        ["Natl. Assn. of Widget Mfrs.", "National Association of Widget Mfrs"],
        "national association of widget mfrs",
    ),
    (T.PARTY, ["Acme Widget Co., et al.", "ACME WIDGET COMPANY"], "acme widget"),
    (T.PARTY, ["United States of America", "U.S.", "USA", "United States"], "united states"),
    (T.LAW_FIRM, ["Doe Law Firm, PLLC", "Doe Law Firm P.L.L.C."], "doe law firm"),
    (T.LAW_FIRM, ["Roe & Poe, P.C.", "Roe and Poe PC"], "roe and poe"),
    (T.JUDGE, ["Hon. J. R. Smith", "Judge J.R. Smith", "Smith, J. R."], "j r smith"),
    (T.JUDGE, ["ROBERTS, C. J.", "Chief Justice Roberts", "Justice Roberts"], "roberts"),
    (T.JUDGE, ["Alito, J., dissenting", "ALITO"], "alito"),
    (T.ATTORNEY, ["John Smith, Esq.", "Mr. John Smith", "Smith, John"], "john smith"),
    (T.PERSON, ["Smith, John, Jr.", "John Smith Jr.", "Smith Jr., John"], "john smith jr"),
    (T.PERSON, ["Mary O’Brien", "Mary O'Brien", "MARY OBRIEN"], "mary obrien"),
    (
        T.COURT,
        [
            "N.D. Ill.",
            "Northern District of Illinois",
            "United States District Court for the Northern District of Illinois",
            "U.S. District Court, N.D. Ill.",
        ],
        "northern district of illinois",
    ),
    (
        T.COURT,
        ["S.D.N.Y.", "S.D. N.Y.", "Southern District of New York"],
        "southern district of new york",
    ),
    (T.COURT, ["D. Mass.", "District of Massachusetts"], "district of massachusetts"),
    (T.COURT, ["D.D.C.", "District of Columbia"], "district of columbia"),
    (T.COURT, ["M.D. Fla.", "Middle District of Florida"], "middle district of florida"),
    (T.COURT, ["D. Md.", "District of Maryland"], "district of maryland"),
    (
        T.COURT,
        ["Bankr. N.D. Ga.", "United States Bankruptcy Court for the Northern District of Georgia"],
        "bankruptcy northern district of georgia",
    ),
    (
        T.COURT,
        ["2d Cir.", "Second Circuit", "U.S. Court of Appeals for the Second Circuit"],
        "second circuit",
    ),
    (T.COURT, ["D.C. Cir.", "Court of Appeals for the D.C. Circuit"], "dc circuit"),
    (
        T.COURT,
        ["Supreme Court of the United States", "U.S. Supreme Court", "SCOTUS"],
        "supreme court of the united states",
    ),
    (
        T.COURT,
        ["N.C. Supreme Court", "Supreme Court of North Carolina", "North Carolina Supreme Court"],
        "supreme court of north carolina",
    ),
    (T.COURT, ["The Tax Court", "Tax Court"], "tax court"),
    (
        T.DOCKET_NUMBER,
        ["Case No. 1:19-cr-725-JPO", "1:19-CR-00725", "No. 1:19-cr-00725 (JPO)"],
        "1:19-cr-00725",
    ),
    (T.DOCKET_NUMBER, ["No. 11-889", "11-889", "Docket No.: 11 - 889"], "11-889"),
    (T.DOCKET_NUMBER, ["C 08-02214 SBA", "No. C 08-02214"], "c 08-02214"),
    (T.DOCKET_NUMBER, ["No. 10-18-00219-CV"], "10-18-00219-cv"),
    (
        T.CASE_CITATION,
        ["347 U. S. 483", "347 U.S. 483", "Brown v. Board of Education, 347 U.S. 483, 495 (1954)"],
        "347 us 483",
    ),
    (T.CASE_CITATION, ["134 S.W.3d 673", "134 S. W. 3d 673"], "134 sw3d 673"),
    (T.CASE_CITATION, ["Doe 1 v. Roe, 5 F.3d 6"], "5 f3d 6"),
    (T.CASE_CITATION, ["2022-NCSC-1"], "2022 ncsc 1"),
    (T.STATUTE, ["42 U.S.C. § 1983", "42 USC Sec. 1983", "42 U.S.C.A. §1983"], "42 usc 1983"),
    (T.STATUTE, ["Fed. R. Civ. P. 12(b)(6)", "Fed.R.Civ.P. 12 (b) (6)"], "fed r civ p 12 b 6"),
    (
        T.DATE,
        ["Dec. 22, 2020", "December 22, 2020", "22 December 2020", "12/22/2020", "2020-12-22"],
        "2020-12-22",
    ),
    (T.DATE, ["the 20th day of January, 2026"], "2026-01-20"),
    (T.DATE, ["January 2026", "Jan. 2026"], "2026-01"),
    (T.DATE, ["2020"], "2020"),
    (T.MONEY, ["$1,250,000.00", "$1.25 million", "1,250,000 dollars", "USD 1250000"], "1250000"),
    (T.MONEY, ["$12.50", "12.5 dollars"], "12.5"),
    (T.MONEY, ["25 cents"], "0.25"),
    (T.MONEY, ["€20", "EUR 20"], "eur 20"),
]


@pytest.mark.parametrize(
    ("entity_type", "spellings", "key"),
    SAME_KEY,
    ids=[f"{case[0]}-{case[2]}" for case in SAME_KEY],
)
def test_spellings_of_one_entity_share_one_key(
    entity_type: EntityType, spellings: list[str], key: str
) -> None:
    assert [normalize_name(entity_type, text) for text in spellings] == [key] * len(spellings)


DIFFERENT_KEYS = [
    (T.COURT, "N.D. Ill.", "S.D. Ill."),
    (T.COURT, "2d Cir.", "3d Cir."),
    (T.PERSON, "John Smith", "John Smith Jr."),
    (T.ORGANIZATION, "Acme Holdings", "Acme"),
    (T.DOCKET_NUMBER, "1:19-cr-00725", "1:19-cr-00726"),
    (T.CASE_CITATION, "347 U.S. 483", "347 U.S. 484"),
    (T.DATE, "Dec. 22, 2020", "Dec. 23, 2020"),
    (T.MONEY, "$5 million", "$5 billion"),
]


@pytest.mark.parametrize(("entity_type", "first", "second"), DIFFERENT_KEYS)
def test_different_entities_keep_different_keys(
    entity_type: EntityType, first: str, second: str
) -> None:
    assert normalize_name(entity_type, first) != normalize_name(entity_type, second)


def test_text_no_parser_recognises_falls_back_to_the_folded_text() -> None:
    assert normalize_name(T.DATE, "Sometime  LATER!") == "sometime later"
    assert normalize_name(T.MONEY, "five dollars") == "five dollars"
    assert normalize_name(T.CASE_CITATION, "Id. at 5") == "id at 5"


def test_a_lone_title_or_suffix_is_kept_rather_than_emptied() -> None:
    assert normalize_name(T.JUDGE, "Judge") == "judge"
    assert normalize_name(T.ORGANIZATION, "Company") == "company"


def test_text_without_letters_or_digits_has_an_empty_key() -> None:
    assert {normalize_name(entity_type, " .,;- ") for entity_type in EntityType} == {""}


def test_docket_number_keeps_the_judges_initials_apart() -> None:
    assert split_docket_number("Case No. 1:19-cr-725-JPO") == ("1:19-cr-00725", "jpo")
    assert split_docket_number("C 08-02214 SBA") == ("c 08-02214", "sba")
    assert split_docket_number("No. 11-889") == ("11-889", "")


PIECES = [
    *"abcdefghijklmnopqrstuvwxyzACJNSUV0123456789 .,;:&'’-§$€()/#",
    *["Inc.", "Corp", "L.L.C.", "The ", " v. ", "Hon. ", "Judge ", "Esq.", "Jr.", "N.D. "],
    *["Ill.", "Cir.", "No. ", "U.S.", " million", "Dec. ", "2020", "et al.", "ß", "ﬁ", "İ"],
]
LEGALISH = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)


@settings(max_examples=300)
@given(entity_type=st.sampled_from(EntityType), text=st.text(max_size=40) | LEGALISH)
def test_a_key_is_its_own_key(entity_type: EntityType, text: str) -> None:
    key = normalize_name(entity_type, text)
    assert normalize_name(entity_type, key) == key


@settings(max_examples=100)
@given(entity_type=st.sampled_from(EntityType), text=LEGALISH)
def test_keys_ignore_letter_case_and_extra_spaces(entity_type: EntityType, text: str) -> None:
    variant = "  " + text.upper().replace(" ", "   ") + " "
    assert normalize_name(entity_type, variant) == normalize_name(entity_type, text.upper())
