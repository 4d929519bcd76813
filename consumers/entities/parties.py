"""Splitting one side of a caption into party names and their role.

``split_side`` takes the text of one side ("Standard Insurance Company;
Dearborn National Life Insurance Company, Defendants—Appellees.") and
returns the span of each party's name and the side's role.  Descriptions
after a name ("JANET T. MILLS, in her official capacity as Governor ...",
"..., as Trustee of ...", "d/b/a ...", "also known as ...") are cut off;
lists are split on semicolons, or on commas and a final "and" when the role
is plural.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from consumers.entities.lines import is_contact
from consumers.entities.names import (
    ROLE_PHRASE,
    SUFFIX,
    is_function_word,
    normalize_role,
    words,
)


class Side(NamedTuple):
    """Party name spans of one caption side, and the role stated for them."""

    names: list[tuple[int, int]]
    role: str | None


_TRAILING_ROLE_RE = re.compile(
    rf"(?:^|[,\s])[ \t]*\(?(?P<role>{ROLE_PHRASE})\)?[ \t]*[.,;:]?[ \t]*$", re.IGNORECASE
)
_LEADING_RE = re.compile(
    r"(?:(?:Title|Style|Case Name|Caption|Party name|Parties|Re|RE)[ \t]*:[ \t]*"
    r"|Title[ \t]+(?=[A-Z]{2}))?"
    r"(?:(?:In re|IN RE|In Re|In the Matter of|IN THE MATTER OF|In the matter of|Matter of"
    r"|Ex parte|EX PARTE)[ \t]*:?\s*)?(?:(?:Mr|Mrs|Ms|Dr|MR|MS|MRS|DR)\.?[ \t]+)?"
)
_ET_AL_RE = re.compile(r",?\s*(?:et\.?\s+al\.?|ET\s+AL\.?)[,.]?\s*$")
_TITLES = (
    r"(?:Warden|Marshal|Sheriff|Governor|Secretary|Director|Commissioner|President|Attorney"
    r"|Administrator|Executor|Executrix|Chairman|Chairperson|Mayor|Superintendent|Chief|Acting"
    r"|Assistant|Deputy"
    r"|WARDEN|GOVERNOR|SECRETARY|DIRECTOR|COMMISSIONER|PRESIDENT|ATTORNEY|CHAPTER|Chapter)\b"
)
_CUT_RE = re.compile(
    r",\s+(?=[a-z]|as\b|d/b/a|a/k/a|f/k/a|also\b|individually|et\b|Individually|AS\b"
    rf"|in\s+(?:his|her|their|its)\b|{_TITLES})|\s+(?:d/b/a|a/k/a|f/k/a|D/B/A|dba)\s"
    r"|,?\s+(?:located|having|with\s+(?:its\s+)?(?:offices|a\s+place|principal))\b"
    r"|,?\s+in support of\b|\s+(?:No\.|NO\.|Nos\.)\s*\d|,\s*(?:ETC|etc)\.?"
)
_COMMA_SPLIT_RE = re.compile(
    rf",\s+(?!(?:{SUFFIX}|Inc\b|INC\b|LLC|L\.L\.C|Ltd|LTD|L\.P\.|LP\b|N\.A\.|PLC|Co\.|CO\.|Corp"
    rf"|CORP|d/b/a|a/k/a|[a-z]|{_TITLES}))"
)
_AND_SPLIT_RE = re.compile(r"\s+(?:and|AND|&)\s+")
_TOKEN_RE = re.compile(r"\S+")
# Lower-case words that belong inside names ("Bank of America", "ex rel.", "de la").
_CONNECTORS = words("of the and for & de la du da del der van von y ex rel. rel on in at to")
_MAX_TOKENS = 16
# A "name" made only of these is a role or a fragment, never a party.
_ROLE_OR_FILLER_RE = re.compile(
    rf"{ROLE_PHRASE}|the|and|of|et|al|v|vs|in|re|court|no|case|others|party|parties|[A-Z]",
    re.IGNORECASE,
)


def split_side(text: str, start: int, end: int, *, trailing_role: bool = True) -> Side:
    """Party names in ``text[start:end]`` and the role the side states.

    Without ``trailing_role`` the side's role was stated elsewhere (a docket's
    role line), so a role word ending it belongs to the name ("UCC - Unsecured
    Creditors Committee").
    """
    role = None
    plural = False
    segment = text[start:end]
    trailing = _TRAILING_ROLE_RE.search(segment) if trailing_role else None
    if trailing is not None and trailing.start() > 0:
        role = normalize_role(trailing.group("role"))
        plural = trailing.group("role").split()[0].rstrip(",.").lower().endswith("s")
        end = start + trailing.start()
    lead = _LEADING_RE.match(text, start, end)
    if lead is not None:
        start = lead.end()
    et_al = _ET_AL_RE.search(text, start, end)
    if et_al is not None:
        end = et_al.start()
    if role is None:
        plural = _looks_like_list(text[start:end])
    return Side(_items(text, start, end, plural), role or None)


def _looks_like_list(segment: str) -> bool:
    """ "A, B, C and D" with no role stated still lists several parties."""
    return len(_COMMA_SPLIT_RE.findall(segment)) >= 2 and _AND_SPLIT_RE.search(segment) is not None


def _items(text: str, start: int, end: int, plural: bool) -> list[tuple[int, int]]:
    segment = text[start:end]
    if ";" in segment:
        pieces = _pieces(start, segment, re.compile(r";"))
    elif plural:
        pieces = _pieces(start, segment, _COMMA_SPLIT_RE)
    else:
        pieces = [(start, end)]
    names = []
    for piece_start, piece_end in pieces:
        for part in _and_split(text, piece_start, piece_end, plural):
            name = _clean(text, *part)
            if name is not None:
                names.append(name)
    return names


def _pieces(offset: int, segment: str, separator: re.Pattern[str]) -> list[tuple[int, int]]:
    pieces = []
    last = 0
    for match in separator.finditer(segment):
        pieces.append((offset + last, offset + match.start()))
        last = match.end()
    pieces.append((offset + last, offset + len(segment)))
    return pieces


def _and_split(text: str, start: int, end: int, plural: bool) -> list[tuple[int, int]]:
    """Split "A and B" when A is clearly a whole name on its own."""
    match = _AND_SPLIT_RE.search(text, start, end)
    if match is None:
        return [(start, end)]
    left = _cut(text, start, match.start())
    whole_left = _has_initial(left) or _ends_corporate(left) or (plural and len(left.split()) >= 2)
    if whole_left and text[match.end() : match.end() + 1].isupper():
        return [(start, match.start()), *_and_split(text, match.end(), end, plural)]
    return [(start, end)]


def _has_initial(value: str) -> bool:
    return re.search(r"\b[A-Z]\.\s+[A-Z][a-z]", value) is not None


def _ends_corporate(value: str) -> bool:
    return re.search(r"(?:Inc|LLC|Corp|Co|Ltd|L\.P|Company|Corporation)\.?$", value) is not None


def _cut(text: str, start: int, end: int) -> str:
    cut = _CUT_RE.search(text, start, end)
    return text[start : cut.start() if cut else end].strip()


def _clean(text: str, start: int, end: int) -> tuple[int, int] | None:
    cut = _CUT_RE.search(text, start, end)
    if cut is not None:
        end = cut.start()
    lead = _LEADING_RE.match(text, start, end)
    if lead is not None and lead.end() < end:
        start = lead.end()
    footnote = re.search(r",\d{1,2}$", text[start:end])
    if footnote is not None:
        end = start + footnote.start()  # "TORIE BORDELON,1": a footnote mark
    while start < end and text[start] in " \t\n\r,;:()":
        start += 1
    while end > start and text[end - 1] in " \t\n\r,;:().":
        if text[end - 1] == "." and _keeps_stop(text, start, end):
            break
        end -= 1
    return (start, end) if _plausible(text[start:end]) else None


def _keeps_stop(text: str, start: int, end: int) -> bool:
    """A final full stop that belongs to an abbreviation ("Inc.", "Jr.", "J.")."""
    word = text[start:end].rsplit(maxsplit=1)[-1]
    return len(word) <= 5 or word.count(".") > 1


def _plausible(name: str) -> bool:
    tokens = _TOKEN_RE.findall(name)
    if not tokens or len(tokens) > _MAX_TOKENS or not (name[0].isupper() or name[0].isdigit()):
        return False
    if sum(ch.isalpha() for ch in name) < 2 or is_contact(name):
        return False
    if len(tokens) == 1 and is_function_word(tokens[0]):
        return False  # "Notice", "Order": a form's heading under a blank caption
    if _lowercase_words(tokens) > len(tokens) - _lowercase_words(tokens):
        return False  # "Sworn and subscribed before me": a sentence, not a name
    return not all(_ROLE_OR_FILLER_RE.fullmatch(token.strip(",.;:")) for token in tokens)


def _lowercase_words(tokens: list[str]) -> int:
    return sum(token[0].islower() and token.casefold() not in _CONNECTORS for token in tokens)
