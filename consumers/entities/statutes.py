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
from consumers.entities.spans import make
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
    r"(?:(?<=\bthe )|(?<=\bThe )|(?<![\w]))(?!(?:This|The|Such|Each|Any|Said|That|Our|An?)\b)"
    r"(?:[A-Z][\w'’.-]+[ \t]+(?:(?:of|and|for|on|&)[ \t]+)?){1,7}Act"
    r"(?:[ \t]+of[ \t]+\d{4})?(?![\w])",
    rf"(?<![\w.])§§?[ \t]*{_SECTIONS}",
)
_STATUTE_RE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))
_BARE_SECTION = re.compile(r"§")
_NUMBER_END = frozenset("0123456789)")


def find_statutes(text: str) -> list[Mention]:
    """Every statute, regulation, rule or constitution cited in ``text``."""
    found = []
    for match in _STATUTE_RE.finditer(text):
        value = match.group(0)
        end = match.end()
        if value.endswith(".") and value[-2:-1] in _NUMBER_END:
            end -= 1  # the sentence's full stop, not part of the section number
        attrs = (("form", "short"),) if _BARE_SECTION.match(value) else ()
        mention = make(text, EntityType.STATUTE, match.start(), end, attrs=attrs)
        if mention is not None:
            found.append(mention)
    return found
