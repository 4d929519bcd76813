"""Keys for values with structure: docket numbers, citations, statutes, dates, money.

Each parser either recognises its value and returns the canonical spelling,
which it recognises again unchanged, or returns ``None`` and the caller
falls back to the generic folded key.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from dateutil import parser as dateparser

from consumers.resolve.text import fold, fold_case, join_letters, tokens, wordset

_DOCKET_PREFIX = re.compile(
    r"^(?:(?:civil|criminal|bankruptcy|adversary)\s+)?(?:(?:action|case|docket|appeal)\b\s*:?\s*)?"
    r"(?:(?:nos?|numbers?)\b\s*:?\s*)?"
)
_DOCKET_JUNK = re.compile(r"[^\w:/-]+|_")
_DOCKET_JOINERS = re.compile(r"\s*([:/-])\s*")
# PACER: office:yy-type-number, then the assigned judges' initials ("1:19-cr-00725-JPO").
_FEDERAL_DOCKET = re.compile(
    r"(?:(?P<office>\d{1,2}):)?(?P<year>\d{2})-(?P<kind>[a-z]{1,4})-(?P<number>\d{1,6})"
    r"(?P<judges>(?:[- ][a-z]{2,4})*)"
)
# Northern District of California: "C 08-02214 SBA".
_LETTERED_DOCKET = re.compile(
    r"(?P<letters>[a-z]{1,2}) (?P<year>\d{2})-(?P<number>\d{4,6})(?P<judges>(?: [a-z]{2,4})*)"
)

_REPORTER_WORD = r"(?!vs?\b)(?:[a-z][a-z0-9]*|\d+(?:d|th|st|nd|rd))"
_CITATION = re.compile(
    rf"\b(?P<volume>\d+) (?P<reporter>{_REPORTER_WORD}(?: {_REPORTER_WORD}){{0,5}}) (?P<page>\d+)\b"
)
_STATUTE_NOISE = wordset("section sections sec secs ss")
_STATUTE_ALIASES = re.compile(r"\b(?:usca|united states code|us code)\b")

_DATE_NOISE = re.compile(r"\b(?:the|day|dated|on|this|of)\b|(?<=\d)(?:st|nd|rd|th)\b")
_DEFAULTS = (datetime(1, 1, 1), datetime(2, 2, 2))
_MONEY = re.compile(
    r"(?P<currency>[a-z]{3}\s*)?(?P<symbol>[$€£¥])?\s*(?P<amount>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?P<fraction>\.\d+)?\s*(?P<scale>thousand|million|billion|trillion|k|m|mm|bn)?"
    r"(?:\s*(?P<unit>dollars?|usd|cents?))?"
)
_SCALES = {
    "thousand": 3,
    "k": 3,
    "million": 6,
    "m": 6,
    "mm": 6,
    "billion": 9,
    "bn": 9,
    "trillion": 12,
}
_SYMBOLS = {"$": "usd", "€": "eur", "£": "gbp", "¥": "jpy"}


def split_docket_number(text: str) -> tuple[str, str]:
    """Split a docket number into its key and the judges' initials ("" if none).

    "Case No. 1:19-cr-725-JPO" -> ("1:19-cr-00725", "jpo"); "No. 11-889" -> ("11-889", "").
    """
    cleaned = _clean_docket(text)
    if match := _FEDERAL_DOCKET.fullmatch(cleaned):
        office = f"{match['office']}:" if match["office"] else ""
        key = f"{office}{match['year']}-{match['kind']}-{int(match['number']):05d}"
        return key, " ".join(match["judges"].replace("-", " ").split())
    if match := _LETTERED_DOCKET.fullmatch(cleaned):
        return f"{match['letters']} {match['year']}-{match['number']}", match["judges"].strip()
    return cleaned, ""


def _clean_docket(text: str) -> str:
    text = fold_case(text)
    # Each step can expose work for another ("-No. No. 5"); no round lengthens the text,
    # so repeating until nothing changes reaches a fixed point within len(text) rounds.
    for _ in range(len(text) + 1):
        cleaned = " ".join(_DOCKET_JUNK.sub(" ", text).split())
        cleaned = _DOCKET_JOINERS.sub(r"\1", _DOCKET_PREFIX.sub("", cleaned)).strip(":/-")
        if cleaned == text:
            break
        text = cleaned
    return text


def citation_key(text: str) -> str | None:
    """ "Brown v. Board, 347 U. S. 483, 495 (1954)" -> "347 us 483"; else ``None``."""
    if match := _CITATION.search(fold(text)):
        reporter = match["reporter"].replace(" ", "")
        return f"{match['volume']} {reporter} {match['page']}"
    return None


def statute_key(text: str) -> str:
    """ "42 U.S.C. § 1983" and "42 USC Sec. 1983" -> "42 usc 1983"."""
    # Drop the noise before joining letters, so "a sec b" cannot become "ab" later.
    words = join_letters([word for word in tokens(text) if word not in _STATUTE_NOISE])
    return _STATUTE_ALIASES.sub("usc", " ".join(words))


def date_key(text: str) -> str | None:
    """ "Dec. 22, 2020" -> "2020-12-22", "January 2026" -> "2026-01"; ``None`` if no year."""
    cleaned = _DATE_NOISE.sub(" ", " ".join(fold_case(text).split()))
    try:
        first, second = (
            dateparser.parse(cleaned, default=default, ignoretz=True) for default in _DEFAULTS
        )
    except (ValueError, OverflowError):
        return None
    if first.year != second.year or not 1000 <= first.year <= 9999:
        return None
    if first.month != second.month:
        return f"{first.year:04d}"
    if first.day != second.day:
        return f"{first.year:04d}-{first.month:02d}"
    return first.date().isoformat()


def money_key(text: str) -> str | None:
    """ "$1,250,000.00" -> "1250000", "$1.5 million" -> "1500000", "€20" -> "eur 20"."""
    match = _MONEY.fullmatch(" ".join(fold_case(text).split()))
    if match is None or (match["currency"] and match["symbol"]):
        return None
    try:
        amount = Decimal(match["amount"].replace(",", "") + (match["fraction"] or ""))
    except InvalidOperation:
        return None
    amount = amount.scaleb(_SCALES.get(match["scale"] or "", 0))
    if (match["unit"] or "").startswith("cent"):
        amount = amount.scaleb(-2)
    currency = (match["currency"] or "").strip() or _SYMBOLS.get(match["symbol"] or "", "usd")
    number = format(amount.normalize(), "f")
    return number if currency == "usd" else f"{currency} {number}"
