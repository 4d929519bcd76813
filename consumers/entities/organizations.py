"""Organizations named by a corporate suffix or an institutional noun, and people
named with a courtesy title or on a signature line.

An organization is found from its end: a corporate suffix ("Inc.", "LLC",
"Corporation") or an institutional head noun ("Bank", "University",
"Commission"), then the capitalized words before it, walked back until a
word that cannot be part of a name.  Head-first names ("Department of
Justice", "University of Iowa") have their own pattern.  Defined terms
("the Company") never qualify: a name needs a word of its own before the
suffix.
"""

from __future__ import annotations

import re

from consumers.entities.names import CORP_SUFFIX, PERSON, WORD, is_function_word, words
from consumers.entities.spans import line_start_before, make
from consumers.model import EntityType, Mention

_HEAD_NOUNS = (
    r"Bank|University|College|School|Academy|Institute|Foundation|Association|Society|Church"
    r"|Hospital|Commission|Agency|Administration|Bureau|Authority|Council|Department|Corps"
    r"|Museum|Coalition|Federation|League|Union|Ministry|Partnership|Fund|Trust|Holdings"
    r"|Industries|Enterprises|Bancorp|Laboratories|Labs|Institution"
)
_TAIL_RE = re.compile(
    rf"(?<=[\w.)])(?:(?P<comma>,)?[ \t]+(?P<suffix>{CORP_SUFFIX})|[ \t]+(?P<head>{_HEAD_NOUNS}|"
    rf"{_HEAD_NOUNS.upper()}))(?![\w])(?![ \t]+(?:Liability|Partnership|LIABILITY|PARTNERSHIP))"
)
# Suffixes that follow a comma ("Acme, Inc."); "Exhibits, Company" is no name.
_COMMA_SUFFIXES = words(
    """
    Inc Inc. INC INC. LLC L.L.C. Ltd Ltd. LTD LTD. L.P. LP LLLP N.A. PLC plc P.L.C. GmbH
    AG S.A. N.V. B.V. Limited LIMITED
    """
)
# Words that describe rather than name: "Regulatory Authority" is no body.
_GENERIC = words(
    """
    governmental regulatory applicable additional corporate clearing investment
    insurance legal amended restated initial financial competent relevant appropriate
    such other foreign domestic local national federal state public private new existing
    former trust agent collateral marketing master depository law school
    """
)
_HEAD_FIRST_RE = re.compile(
    rf"(?<![\w])(?P<pre>(?:{WORD}[ \t]+){{0,3}})(?:Department|Bureau|Office|Board|Commission"
    rf"|University|Ministry|Administration|Council|Institute|Bank|College|School|Academy"
    rf"|Society|Association|Federation|League|Museum|Church|Division|Secretary)"
    rf"[ \t]+(?:of|for|on)[ \t]+(?:the[ \t]+)?{WORD}"
    rf"(?:[ \t]+(?:(?:of|and|&|for)[ \t]+)?{WORD}){{0,4}}"
)
_GENERIC_BOARDS = re.compile(
    r"Board of (?:Directors|Trustees|Managers|Governors)\b|Office of the\b"
)
_TOKEN_RE = re.compile(r"\S+")
_CONNECTORS = frozenset({"of", "and", "&", "the", "de", "du", "la"})
_NAME_WORD_RE = re.compile(rf"(?:{WORD}|[A-Z]\.|\d+[A-Za-z]+|[A-Z][A-Za-z]*[0-9]+)[,]?")
_MAX_WORDS = 7
_REACH = 200  # characters searched back for a name: bounds the work per suffix
_ENDS_NAME_RE = re.compile(rf"(?:{CORP_SUFFIX}|{_HEAD_NOUNS}),?")
_WRAPPED_LINE = 40

_HONORIFIC_RE = re.compile(
    rf"(?<![\w])(?:Mr|Mrs|Ms|Miss|Dr|Prof|Mx|MR|MRS|MS|DR)\.?[ \t]+(?P<name>{PERSON}|{WORD})"
)
_SIGNATURE_RE = re.compile(
    rf"(?<![\w])(?:Name|NAME|Printed Name|Print Name)[ \t]*:[ \t]*(?:/s/[ \t]*)?(?P<name>{PERSON})"
)


def find_organizations(text: str) -> list[Mention]:
    """Organizations named by a suffix, head noun or head-first pattern."""
    found = []
    for match in _TAIL_RE.finditer(text):
        if match.group("comma") and match.group("suffix") not in _COMMA_SUFFIXES:
            continue
        start = _name_start(text, match.start())
        if start is not None and _specific(text[start : match.start()]):
            mention = make(text, EntityType.ORGANIZATION, start, match.end())
            if mention is not None:
                found.append(mention)
    for match in _HEAD_FIRST_RE.finditer(text):
        found.extend(_head_first(text, match))
    return found


def find_persons(text: str) -> list[Mention]:
    """People named with a courtesy title ("Ms. MacLean") or on a "Name:" line."""
    found = []
    for pattern in (_HONORIFIC_RE, _SIGNATURE_RE):
        for match in pattern.finditer(text):
            name = match.group("name")
            if is_function_word(name.split()[0]):
                continue
            mention = make(text, EntityType.PERSON, match.start("name"), match.end("name"))
            if mention is not None:
                found.append(mention)
    return found


def _name_start(text: str, end: int) -> int | None:
    """Walk back over name words before ``end``; None if there are none.

    The walk may continue onto the previous line when that line does not
    end a sentence or a label, since names wrap ("Dearborn National Life /
    Insurance Company").
    """
    line_start = line_start_before(text, end, _REACH)
    window_start = line_start_before(text, max(0, line_start - 1), _REACH)
    if line_start - window_start < _WRAPPED_LINE:
        window_start = line_start  # a short line above is a field, not wrapped prose
    tokens = list(_TOKEN_RE.finditer(text, window_start, end))
    start: int | None = None
    count = 0
    previous = ""
    for index in range(len(tokens) - 1, -1, -1):
        word = tokens[index].group(0)
        if tokens[index].end() < line_start and (start is None or word[-1] in ".:;)"):
            break
        if not _continues(word, previous, start):
            break
        if word in {"and", "&"} and _two_names(tokens, index):
            break  # "Lending Fund and Acme Holdings, LLC" are two organizations
        previous = word
        if word.casefold() in _CONNECTORS:
            continue
        start = tokens[index].start()
        count += 1
        if count >= _MAX_WORDS:
            break
    return start


def _two_names(tokens: list[re.Match[str]], index: int) -> bool:
    """Whether the words left of "and" close a name of their own.

    "Securities and Exchange Commission" joins single words; "Rudolph
    Giuliani and Giuliani Partners LLC" or "Fund and Acme, LLC" do not.
    """
    if index == 0:
        return False
    left = tokens[index - 1].group(0)
    if _ENDS_NAME_RE.fullmatch(left):
        return True
    before = tokens[index - 2].group(0) if index > 1 else ""
    return bool(_NAME_WORD_RE.fullmatch(left) and _NAME_WORD_RE.fullmatch(before))


def _continues(word: str, right: str, start: int | None) -> bool:
    """Whether ``word`` extends a name whose next word (to the right) is ``right``."""
    folded = word.casefold()
    if folded in _CONNECTORS:
        # "the" only inside "of the"; a connector never starts a name.
        return start is not None and (folded != "the" or right.casefold() != "of")
    if folded == "of" or not _NAME_WORD_RE.fullmatch(word) or is_function_word(word.rstrip(",")):
        return False
    # "Acme, Inc." keeps its comma; "Delaware, Acme Inc." stops at it.
    return not (word.endswith(",") and start is not None)


def _specific(name: str) -> bool:
    words = [w.strip(",").casefold() for w in name.split() if w.casefold() not in _CONNECTORS]
    return any(word not in _GENERIC for word in words)


def _head_first(text: str, match: re.Match[str]) -> list[Mention]:
    value = match.group(0)
    if _GENERIC_BOARDS.search(value):
        return []
    start = match.start()
    prefix = match.group("pre")
    for word in prefix.split():
        if not is_function_word(word):
            break
        start = text.index(word, start) + len(word)
    mention = make(text, EntityType.ORGANIZATION, start, match.end())
    return [mention] if mention is not None else []
