"""The extractor interface: the offline extractor as the stage sees it."""

from __future__ import annotations

from consumers.entities import OFFLINE_VERSION, Extractor, OfflineExtractor, extract_mentions
from consumers.model import EntityType

SENTENCE = (
    "On December 22, 2020, JUSTICE KAGAN wrote that 42 U.S.C. § 1983 applies; "
    "see Roe v. Wade, 410 U.S. 113 (1973). No. 21-2728. Damages: $1,234.56."
)


def test_the_offline_extractor_is_an_extractor_with_a_version() -> None:
    extractor: Extractor = OfflineExtractor()
    assert extractor.version == OFFLINE_VERSION
    assert OFFLINE_VERSION.startswith("offline-")


async def test_async_extraction_returns_what_the_pure_function_returns() -> None:
    mentions = await OfflineExtractor().extract(SENTENCE)
    assert mentions == extract_mentions(SENTENCE)


def test_one_sentence_yields_one_mention_of_each_kind_it_holds() -> None:
    found = {(m.type, m.text) for m in extract_mentions(SENTENCE)}
    assert found >= {
        (EntityType.DATE, "December 22, 2020"),
        (EntityType.JUDGE, "KAGAN"),
        (EntityType.STATUTE, "42 U.S.C. § 1983"),
        (EntityType.CASE_CITATION, "410 U.S. 113"),
        (EntityType.DOCKET_NUMBER, "21-2728"),
        (EntityType.MONEY, "$1,234.56"),
    }


def test_empty_and_blank_texts_have_no_mentions() -> None:
    assert extract_mentions("") == []
    assert extract_mentions(" \n\t\f ") == []


def test_extraction_is_deterministic() -> None:
    assert extract_mentions(SENTENCE * 3) == extract_mentions(SENTENCE * 3)
