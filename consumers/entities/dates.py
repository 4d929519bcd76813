"""Calendar dates in the forms legal documents use, with their ISO value.

"December 22, 2020", "Dec. 10, 1979", "Jun 01 2017", "22 December 2020",
"the 19th day of December, 2018", "12/22/2020", "09/30/25", "2017-03-15" and
month-year dates ("June 2009").  Each mention carries ``("value", ISO)``;
impossible dates (February 30) are dropped.
"""

from __future__ import annotations

import calendar
import re

from consumers.entities.spans import make
from consumers.model import EntityType, Mention

_MONTHS = {name.casefold(): index for index, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.casefold(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9


def _month_pattern() -> str:
    names = sorted({*calendar.month_name[1:], *calendar.month_abbr[1:], "Sept"}, key=len)
    forms = [form for name in reversed(names) for form in (name, name.upper())]
    return "(?:" + "|".join(forms) + r")(?![A-Za-z])\.?"


_MONTH = _month_pattern()
_DAY = r"(?:[0-2]?\d|3[01])"
_YEAR = r"(?:1[7-9]\d\d|2[01]\d\d)"
_DATE_RE = re.compile(
    rf"(?<![\w/-])(?:"
    rf"(?P<m1>{_MONTH})[ \t]*\n?[ \t]*(?P<d1>{_DAY})(?:st|nd|rd|th)?,?"
    rf"[ \t]*\n?[ \t]*(?P<y1>{_YEAR})"
    rf"|(?:the[ \t]+)?(?P<d2>{_DAY})(?:st|nd|rd|th)?[ \t]+(?:day[ \t]+of[ \t]+)?"
    rf"(?P<m2>{_MONTH}),?[ \t]+(?P<y2>{_YEAR})"
    rf"|(?P<m3>[01]?\d)/(?P<d3>{_DAY})/(?P<y3>{_YEAR}|\d\d)"
    rf"|(?P<m5>[01]?\d)-(?P<d5>{_DAY})-(?P<y5>{_YEAR})"
    rf"|(?P<y4>{_YEAR})-(?P<m4>[01]\d)-(?P<d4>[0-3]\d)"
    rf"|(?P<m6>{_MONTH})[ \t]+(?P<y6>{_YEAR})"
    rf")(?![\w/]|-\d)"
)


def find_dates(text: str) -> list[Mention]:
    """Every valid calendar date (or month of a year) in ``text``."""
    found = []
    for match in _DATE_RE.finditer(text):
        value = _iso(match)
        if value is None:
            continue
        mention = make(text, EntityType.DATE, match.start(), match.end(), attrs=(("value", value),))
        if mention is not None:
            found.append(mention)
    return found


def _iso(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    for n in "123456":
        if groups.get(f"y{n}"):
            month = _month_number(groups[f"m{n}"])
            year = _full_year(groups[f"y{n}"])
            day = groups.get(f"d{n}")
            return _checked(year, month, int(day) if day else None)
    return None


def _month_number(token: str) -> int:
    if token.isdigit():
        return int(token)
    return _MONTHS.get(token.rstrip(".").casefold(), 0)


def _full_year(token: str) -> int:
    year = int(token)
    if len(token) == 2:
        year += 2000 if year < 50 else 1900
    return year


def _checked(year: int, month: int, day: int | None) -> str | None:
    if not 1 <= month <= 12:
        return None
    if day is None:
        return f"{year:04d}-{month:02d}"
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"
