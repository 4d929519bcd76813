"""Sums of money: "$1,234.56", "$ 350", "$2.5 billion", "USD 5 million", "10 dollars".

Each mention carries ``("value", <decimal string>)`` and ``("currency", code)``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from consumers.entities.spans import make
from consumers.model import EntityType, Mention

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"


def _scale(n: int) -> str:
    words = "thousand|million|billion|trillion|Thousand|Million|Billion|Trillion|bn"
    return rf"(?:[ \t]+(?P<s{n}>{words})\b)?"


_MONEY_RE = re.compile(
    rf"(?<![\w$])(?:"
    rf"(?P<sym>US\$|U\.S\.\$|\$|€|£|¥)[ \t]?(?P<n1>{_NUMBER}){_scale(1)}"
    rf"|(?P<code>USD|EUR|GBP|CAD|JPY|CHF|AUD)[ \t]?(?P<n2>{_NUMBER}){_scale(2)}"
    rf"|(?P<n3>{_NUMBER}){_scale(3)}[ \t]+(?P<word>dollars|Dollars|DOLLARS|U\.S\. dollars|euros)"
    rf")(?![\d,]*\d)"
)
_SCALES = {"thousand": 3, "million": 6, "billion": 9, "bn": 9}
_SCALES["trillion"] = 12
_SYMBOLS = {"$": "USD", "US$": "USD", "U.S.$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}


def find_money(text: str) -> list[Mention]:
    """Every sum of money written with a currency sign, code or word."""
    found = []
    for match in _MONEY_RE.finditer(text):
        value = _value(match)
        if value is None:
            continue
        currency = _currency(match)
        attrs = (("value", value), ("currency", currency))
        mention = make(text, EntityType.MONEY, match.start(), match.end(), attrs=attrs)
        if mention is not None:
            found.append(mention)
    return found


def _value(match: re.Match[str]) -> str | None:
    digits = match.group("n1") or match.group("n2") or match.group("n3")
    try:
        amount = Decimal(digits.replace(",", ""))
    except InvalidOperation:
        return None
    scale = match.group("s1") or match.group("s2") or match.group("s3")
    if scale:
        amount = amount.scaleb(_SCALES[scale.casefold()])
    return format(amount.normalize(), "f")


def _currency(match: re.Match[str]) -> str:
    if match.group("sym"):
        return _SYMBOLS[match.group("sym")]
    if match.group("code"):
        return match.group("code")
    return "EUR" if match.group("word") == "euros" else "USD"
