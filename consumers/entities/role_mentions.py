"""Parties mentioned with their role in running text.

"Plaintiff Berkshire Life Insurance Company of America", "plaintiff-appellant
Calvary Chapel of Bangor", "Appellant Nichole M. Jagels", "filed by creditor
Larry A. Stout": a role word directly followed by a capitalized name.
"""

from __future__ import annotations

import re

from consumers.entities.caption import party_mentions
from consumers.entities.names import (
    CORP_SUFFIX,
    NAME_TOKEN,
    ROLE_WORD,
    is_common_word,
    normalize_role,
)
from consumers.entities.parties import split_side
from consumers.model import Mention

# Litigation roles only: "Employee Benefits" or "Trustee Fee" in a contract
# are noun phrases, not parties; creditors filing claims in a bankruptcy are
# numerous and not parties to the case.
_ROLE = (
    r"(?i:(?:plaintiff|defendant|appellant|appellee|petitioner|respondent|debtor"
    r"|intervenor|movant|claimant|relator|applicant)s?)"
)
_LINK = r"(?:[ ]+(?:of|and|&|the|de)[ ]+|[ ]*\n[ ]*|[ ]+)"  # prose wraps names over lines
_ROLE_NAME_RE = re.compile(
    rf"(?<![\w'’-])(?P<role>{_ROLE}(?:[-–—]{_ROLE})?)[ ]+(?:(?:Mr|Mrs|Ms|Dr)\.[ ]+)?"
    rf"(?P<name>{NAME_TOKEN}(?:{_LINK}{NAME_TOKEN}){{0,7}}(?:,?[ \t]+{CORP_SUFFIX})?)"
)
_UPPER_START = re.compile(r"[A-Z]")
_INNER_ROLE_RE = re.compile(rf"[ ]+(?:and[ ]+)?{_ROLE}\b")


def find_role_mentions(text: str) -> list[Mention]:
    """Parties introduced by a role word in prose."""
    found: list[Mention] = []
    for match in _ROLE_NAME_RE.finditer(text):
        name = match.group("name")
        if not _UPPER_START.match(name) or _is_role_word(name.split()[0]):
            continue
        role = normalize_role(match.group("role"))
        end = match.end("name")
        inner = _INNER_ROLE_RE.search(text, match.start("name"), end)
        if inner is not None:
            end = inner.start()  # "Brian Broussard and Appellee United States"
        side = split_side(text, match.start("name"), end)
        found += [m for m in party_mentions(text, side, role) if not _generic(m.text)]
    return found


def _generic(name: str) -> bool:
    """ "Reply Brief", "Motion": capitalized words that name no one."""
    return all(is_common_word(token) for token in name.split())


def _is_role_word(word: str) -> bool:
    return re.fullmatch(ROLE_WORD, word, re.IGNORECASE) is not None
