"""Value types shared by the legal-document stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EntityType(StrEnum):
    """The kinds of entity the extractors find."""

    COURT = "COURT"
    JUDGE = "JUDGE"
    PARTY = "PARTY"
    ATTORNEY = "ATTORNEY"
    LAW_FIRM = "LAW_FIRM"
    ORGANIZATION = "ORGANIZATION"
    PERSON = "PERSON"
    DOCKET_NUMBER = "DOCKET_NUMBER"
    CASE_CITATION = "CASE_CITATION"
    STATUTE = "STATUTE"
    DATE = "DATE"
    MONEY = "MONEY"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a document's text; ``number`` counts from 1."""

    number: int
    text: str
    ocr: bool = False


@dataclass(frozen=True, slots=True)
class Chunk:
    """A slice of the document text: ``text == document_text[start:end]``."""

    index: int
    text: str
    start: int
    end: int
    pages: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Mention:
    """An entity found in a text: ``text == source_text[start:end]``.

    ``role`` says how a party or attorney stands in the case (plaintiff,
    defendant, appellant, appellee, petitioner, respondent, debtor, ...), and
    for an attorney it may name whom they represent in ``attrs``.
    """

    type: EntityType
    text: str
    start: int
    end: int
    role: str | None = None
    attrs: tuple[tuple[str, str], ...] = field(default=())
