"""Docket and case numbers.

Two sources: the federal CM/ECF form ("1:19-cr-00725-JPO", found anywhere),
and any number introduced by a docket label ("No. 21-2728", "Case No.",
"Docket Nos. 19031-13, 2939-14", "Court of Appeals Docket #: 23-30126",
"Case: 20-1507").  Lists after one label yield one mention per number.
Labels that name other kinds of numbers (documents, receipts, patents,
public laws) are refused.  The span is the number alone.
"""

from __future__ import annotations

import re

from consumers.entities.spans import make
from consumers.model import EntityType, Mention

_FEDERAL_RE = re.compile(
    r"(?<![\w:/-])\d{1,2}:\d{2}-[A-Za-z]{2,4}-\d{2,6}(?:-[A-Za-z0-9]{1,5}){0,3}(?![\w/-])"
)
_TEXAS_APPEALS_RE = re.compile(r"(?<![\w-])\d{2}-\d{2}-\d{5}-(?:CV|CR)(?![\w-])")
_ID = r"(?:[A-Z]{1,4}[ -]?){0,2}\d(?:[A-Za-z0-9.:/-]*[A-Za-z0-9])?(?![\w])"
_LABEL_RE = re.compile(
    r"(?<![\w.])(?:(?P<word>[A-Za-z][A-Za-z.']*(?:[ \t]+[A-Za-z][A-Za-z.']*){0,3})[ \t]+)?"
    r"(?:(?:No|NO|Nos|NOS|Number|NUMBER|Num)\.?[ \t]*[:#]?|#[ \t]*:?|(?:Case|CASE|Docket|DOCKET)"
    r"[ \t]*:|(?i:case|docket)[ \t]*#[ \t]*:?)[ \t]*"
    rf"(?P<first>{_ID})(?P<rest>(?:[ \t]*(?:,|&|and|,[ \t]*and)[ \t]*{_ID}){{0,12}})"
)
_NEXT_ID_RE = re.compile(_ID)
# A form field: the label alone on its line, the number alone on a later one.
_FIELD_RE = re.compile(
    rf"^[^\S\n]*(?:[A-Z][a-z]+[^\S\n]+)?(?:Case|Docket|Cause)(?:[^\S\n]+(?:Number|No\.?|#))?"
    rf"[^\S\n]*:?[^\S\n]*\n(?:[^\S\n]*\n){{0,8}}[^\S\n]*(?P<id>{_ID})[^\S\n]*$",
    re.MULTILINE,
)
_STREET_RE = re.compile(
    r"[ \t]+(?:[A-Z]\w*[ \t]+){0,2}(?:Road|Rd|Street|St|Avenue|Ave|Boulevard|Blvd|Lane|Drive"
    r"|Floor|Building|Bldg|Suite|Highway|Hwy)\b"
)
# Words before "No." that mean the number is not a docket number.
_REFUSED = re.compile(
    r"(?:document|doc|ecf|dkt|entry|receipt|exhibit|ex|form|serial|patent|registration|reg"
    r"|account|acct|policy|pub|l|law|stat|ein|id|phone|telephone|fax|order|resolution"
    r"|ordinance|rule|item|page|invoice|contract|agreement|license|permit|certificate|bill"
    r"|h\.r|s|claim|diagnostic|code|citation|part|unit|lot|room|suite|route|box|flight"
    r"|check|loan|card|model|version|tax|social|security|file\s+state|citation nr)\.?$",
    re.IGNORECASE,
)
_DOCKET_WORDS = re.compile(
    r"(?:case|docket|action|appeal|appeals|bankruptcy|bankr|adv|adversary|proceeding|application"
    r"|cause|index|misc|mdl|petition|civil|criminal|matter|file|usdc|no)\.?$",
    re.IGNORECASE,
)


def find_docket_numbers(text: str) -> list[Mention]:
    """Every docket or case number in ``text``."""
    found: list[Mention] = []
    for pattern in (_FEDERAL_RE, _TEXAS_APPEALS_RE):
        for match in pattern.finditer(text):
            _add(text, match.start(), match.end(), found)
    for match in _LABEL_RE.finditer(text):
        if _label_accepted(match):
            _add_labelled(text, match, found)
    for match in _FIELD_RE.finditer(text):
        if _plausible(match.group("id")):
            _add(text, match.start("id"), match.end("id"), found)
    return list({(m.start, m.end): m for m in found}.values())


def _label_accepted(match: re.Match[str]) -> bool:
    word = match.group("word")
    if not word:
        return True
    last = word.split()[-1]
    if _DOCKET_WORDS.match(last):
        return True
    return _REFUSED.match(last) is None and not last[0].isupper()


def _add_labelled(text: str, match: re.Match[str], found: list[Mention]) -> None:
    first = match.group("first")
    if not _plausible(first) or _STREET_RE.match(text, match.end("first")):
        return
    if text.startswith(("-_", "_"), match.end("first")):
        return  # a number left blank on a form: "1:21-cv-______"
    _add(text, match.start("first"), match.end("first"), found)
    for more in _NEXT_ID_RE.finditer(text, match.start("rest"), match.end("rest")):
        if _plausible(more.group(0)) and _shape(more.group(0)) == _shape(first):
            _add(text, more.start(), more.end(), found)


def _shape(number: str) -> tuple[bool, bool]:
    """Numbers of one list share a shape; "No. 20A87, 2020 WL ..." is no list."""
    return (re.search(r"[-:]", number) is not None, re.search(r"[A-Za-z]", number) is not None)


def _plausible(number: str) -> bool:
    """A docket number has a separator with digits, letters with digits, or 4+ digits."""
    digits = sum(ch.isdigit() for ch in number)
    if re.search(r"\d[-:]\d|\d-[A-Za-z]|[A-Za-z]-?\d", number):
        return digits >= 2
    if re.fullmatch(r"\d+", number):
        return digits >= 4
    return digits >= 3 and any(ch.isalpha() for ch in number)


def _add(text: str, start: int, end: int, found: list[Mention]) -> None:
    while end > start and text[end - 1] in ".,;:-":
        end -= 1
    mention = make(text, EntityType.DOCKET_NUMBER, start, end)
    if mention is not None:
        found.append(mention)
