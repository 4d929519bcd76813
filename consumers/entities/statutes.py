"""Statutes, regulations, rules and constitutions.

"42 U.S.C. § 1983", "28 U.S.C. §§ 1331, 1332", "38 C.F.R. § 3.102",
"Fed. R. Civ. P. 12(b)(6)", "Federal Rule of Evidence 702",
"Tenn. Code Ann. § 50-6-239(c)(1)", "Section 566.062, RSMo", "Pub. L. No.
111-148", "124 Stat. 119", "U.S. Const. amend. I", named acts ("Securities
Act of 1933") and bare section references ("§ 1983", marked ``form=short``).
"""

from __future__ import annotations

import re

from consumers.entities.gazetteer import STATES
from consumers.entities.scan import scan
from consumers.entities.spans import line_start_before, make
from consumers.model import EntityType, Mention

_SECTION = r"\d[\w.]*(?:[-–:]\d[\w.]*)*(?:\([A-Za-z0-9]{1,4}\))*"
_SECTIONS = (
    rf"{_SECTION}(?:[ \t]*(?:,|&|and|or|to|through|[-–])[ \t]*(?:§[ \t]*)?{_SECTION}){{0,8}}"
    r"(?:,?[ \t]+et[ \t]+seq\.?)?"
)
_SIGN = r"(?:§§?|[Ss]ec(?:tion)?s?\.?|[Pp]arts?|[Pp]t\.)"
_STATE = "|".join(
    re.escape(s.abbreviation).replace(r"\ ", r"\s?") + "|" + re.escape(s.name) for s in STATES
)
_CODE_WORDS = (
    r"(?:[A-Z][A-Za-z.&]*\.?[ \t]+|&[ \t]+){0,5}"
    r"(?:Code|Stat\.|Statutes|Laws|Gen\.\s?Laws|Comp\.\s?Laws|Rev\.\s?Code|Ann\.)"
    r"(?:[ \t]+Ann\.)?(?:[ \t]+\([^)]{1,20}\))?"
)
_RULE_KIND = (
    r"(?:Civ(?:il|\.)[ \t]?P(?:roc(?:edure)?\.?|\.)|App(?:ellate|\.)[ \t]?P(?:roc(?:edure)?\.?|\.)"
    r"|Crim(?:inal|\.)[ \t]?P(?:roc(?:edure)?\.?|\.)|Evid(?:ence|\.)"
    r"|Bankr(?:uptcy|\.)[ \t]?P(?:roc(?:edure)?\.?|\.))"
)
_PATTERNS = (
    rf"\b\d{{1,2}}[ \t]+U\.?[ \t]?S\.?[ \t]?C(?:\.|ode)?(?:[ \t]?A\.|[ \t]?S\.)?[ \t]*"
    rf"(?:{_SIGN}[ \t]*)?{_SECTIONS}",
    rf"\b\d{{1,2}}[ \t]+C\.?[ \t]?F\.?[ \t]?R\.?[ \t]*(?:{_SIGN}[ \t]*)?{_SECTIONS}",
    rf"\bFed(?:eral|\.)[ \t]?R(?:ules?|\.)[ \t]?(?:of[ \t]+)?{_RULE_KIND}[ \t]*"
    rf"(?:Rule[ \t]*)?{_SECTION}",
    rf"\bFederal[ \t]+Rules?[ \t]+of[ \t]+(?:Civil|Appellate|Criminal|Bankruptcy)[ \t]+Procedure"
    rf"[ \t]+{_SECTION}",
    rf"\bFederal[ \t]+Rules?[ \t]+of[ \t]+Evidence[ \t]+{_SECTION}",
    rf"\b(?:{_STATE})[ \t]+R\.[ \t]?{_RULE_KIND}[ \t]*{_SECTION}",
    rf"\b(?:{_STATE})[ \t]+{_CODE_WORDS}[ \t]*(?:{_SIGN}|art\.|Art\.)?[ \t]*{_SECTIONS}",
    rf"(?:§§?|[Ss]ections?)[ \t]*{_SECTIONS},?[ \t]+(?:RSMo|R\.S\.Mo\.|C\.R\.S\.|ORS|RCW|MCL|ILCS)"
    r"(?:[ \t]+(?:Supp\.[ \t]+)?\d{4})?",
    r"\b\d{1,4}[ \t]+ILCS[ \t]+\d+/[\w.-]+",
    r"\bPub(?:lic|\.)[ \t]?L(?:aw|\.)[ \t]?(?:No\.[ \t]?)?\d{1,3}[-–]\d{1,4}",
    r"\b\d{1,3}[ \t]+Stat\.[ \t]+\d{1,5}",
    rf"\b(?:U\.[ \t]?S\.|{_STATE})[ \t]+Const\.(?:[ \t]*(?:art\.|amend\.|Art\.|Amend\.|pmbl\.)"
    r"[ \t]*[IVXLC\d]+)?(?:,[ \t]*§[ \t]*\d+)?(?:,[ \t]*cl\.[ \t]*\d+)?",
    rf"(?<![\w.])§§?[ \t]*{_SECTIONS}",
)
_STATUTE_RE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))
_BARE_SECTION = re.compile(r"§")
_ACT_RE = re.compile(r"\bAct\b(?:[ \t]+of[ \t]+\d{4})?")
_ACT_WORD_RE = re.compile(r"[A-Z][\w'’.-]+")
_ACT_CONNECTORS = frozenset({"of", "and", "for", "on", "&"})
_NOT_ACT_START = frozenset({"This", "The", "Such", "Each", "Any", "Said", "That", "Our", "An", "A"})
_TOKEN_RE = re.compile(r"\S+")
# Every form above contains one of these; elsewhere the big pattern is not run.
_ANCHOR_RE = re.compile(
    r"§|U\.?\s?S\.?\s?C|C\.?\s?F\.?\s?R|\bFed|\bStat\b|Const\.|\bPub|ILCS|RSMo|C\.R\.S|ORS|RCW"
    r"|MCL|\bCode\b|\bLaws\b|\bAnn\.|\b[Ss]ections?\b|\bR\.\s?(?:Civ|App|Crim|Evid)"
)
_NUMBER_END = frozenset("0123456789)")


def find_statutes(text: str) -> list[Mention]:
    """Every statute, regulation, rule or constitution cited in ``text``."""
    found = _named_acts(text)
    for match in scan(_STATUTE_RE, text, _ANCHOR_RE, 160, 200):
        value = match.group(0)
        end = match.end()
        if value.endswith(".") and value[-2:-1] in _NUMBER_END:
            end -= 1  # the sentence's full stop, not part of the section number
        attrs = (("form", "short"),) if _BARE_SECTION.match(value) else ()
        mention = make(text, EntityType.STATUTE, match.start(), end, attrs=attrs)
        if mention is not None:
            found.append(mention)
    return found


def _named_acts(text: str) -> list[Mention]:
    """ "Securities Act of 1933", "the Copyright Act": capitalized words before "Act"."""
    found = []
    for act in _ACT_RE.finditer(text):
        start = _act_start(text, act.start())
        if start is not None:
            mention = make(text, EntityType.STATUTE, start, act.end())
            found.extend([mention] if mention is not None else [])
    return found


def _act_start(text: str, end: int) -> int | None:
    start = None
    previous_connector = False
    for token in reversed(list(_TOKEN_RE.finditer(text, line_start_before(text, end, 160), end))):
        word = token.group(0)
        if word in _ACT_CONNECTORS and start is not None and not previous_connector:
            previous_connector = True
            continue
        if not _ACT_WORD_RE.fullmatch(word) or word in _NOT_ACT_START:
            break
        start, previous_connector = token.start(), False
    return start
