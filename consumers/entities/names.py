"""Regex fragments and checks for the names of people, organizations and roles.

Every rule family builds on these, so that "what a name looks like" is
decided in one place.  Fragments are plain strings meant to be embedded in
larger patterns; the checks run on candidate strings after a regex matched,
which keeps the patterns themselves simple and free of backtracking traps.
"""

from __future__ import annotations

import re


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``: word lists kept as readable data."""
    return frozenset(text.split())


UP = "A-ZÀ-ÖØ-Þ"
LO = "a-zß-öø-ÿ"
APOS = "'’"

# A capitalized word ("Smith", "McGuireWoods", "O'Donnell", "Quinn-Judge")
# or an all-capitals word ("SMITH", "O'DONNELL").
WORD = (
    rf"(?:[{UP}][{LO}]*(?:[{UP}][{LO}]+)*(?:[{APOS}\-][{UP}][{LO}]+|-[{LO}]{{2,}})*"
    rf"(?:[{APOS}](?=[ ][{UP}]))?"
    rf"|[{UP}][{UP}{APOS}\-]*[{UP}])(?![{UP}{LO}])"
)
INITIAL = rf"(?>[{UP}]\.(?:[ ]?[{UP}]\.){{0,3}})"
SUFFIX = r"(?:Jr\.?|Sr\.?|JR\.?|SR\.?|III|II|IV|V)(?![A-Za-z])"
# One name token; spaces inside a name may be runs (PACER pads with spaces).
NAME_TOKEN = rf"(?:St\.|{INITIAL}|{WORD}|(?:de|da|del|della|di|du|van|von|der|la|le)\b)"
PERSON = rf"(?:{NAME_TOKEN}(?:[ ]+{NAME_TOKEN}){{1,5}}(?:,?[ ]+{SUFFIX}(?![{LO}]))?)"
# A name written with single spaces, for prose and signatures ("/s/ Jane Roe   Jane Roe").
PERSON_TIGHT = rf"(?:{NAME_TOKEN}(?:[ ]{NAME_TOKEN}){{1,4}}(?:,?[ ]{SUFFIX}(?![{LO}]))?)"

CORP_SUFFIX = (
    r"(?:Inc\.?|INC\.?|Incorporated|INCORPORATED|Corp\.?|CORP\.?|Corporation|CORPORATION"
    r"|Co\.|CO\.|Company|COMPANY|LLC|L\.L\.C\.|Ltd\.?|LTD\.?|Limited|LIMITED|L\.P\.|LP"
    r"|LLLP|N\.A\.|PLC|plc|P\.L\.C\.|GmbH|AG|S\.A\.|N\.V\.|B\.V\.|S\.p\.A\.|Pty\.? Ltd\.?)"
)
FIRM_SUFFIX = (
    r"(?:LLP|L\.L\.P\.|PLLC|P\.L\.L\.C\.|P\.C\.|PC|P\.A\.|PA|P\.L\.C\.|PLC|Chartered"
    r"|LPA|L\.P\.A\.|APC|A\.P\.C\.|APLC|S\.C\.)"
)

# Words that never start or end a proper name: grammar, legal roles and
# titles, document vocabulary, months.
_NOT_NAME_WORDS = words(
    """
    a an and the this that these those of for to in on at by with from as or but if when
    where whereas whereby hereby herein thereof section article exhibit schedule court
    courts judge judges justice justices chief senior magistrate bankruptcy plaintiff
    plaintiffs defendant defendants appellant appellants appellee appellees petitioner
    petitioners respondent respondents debtor creditor trustee intervenor attorney
    attorneys counsel esq docket case no nos page pages document filed date dated order
    orders opinion motion appeal appeals brief january february march april may june
    july august september october november december jan feb mar apr jun jul aug sep
    sept oct nov dec monday tuesday wednesday thursday friday saturday sunday mr mrs ms
    dr hon honorable re see id ibid supra cf also per curiam agreement party parties
    lead notice noticed pro hac vice se i ii iii iv v vi vii viii ix x total amount
    entered memorandum notes note upon findings recommendation report next first second
    third forms form reply response however further therefore accordingly thus via
    should shall will would could must might each every all any such said other others
    certain not including but because has have been is are was were be between among
    officer officers president director directors chairman manager treasurer executive vice
    """
)
# Words that may sit inside an organization's name but never in a person's.
_NOT_PERSON_WORDS = words(
    """
    district county state states united america inc llc corp company ltd lp llp
    department office agency board bureau commission division government email fax
    phone tel telephone direct suite street avenue road box floor center centre
    foundation institute league project clinic fund society association program act
    advocate general team committee leadership one us square plaza drive lane
    boulevard level rating visits northern southern eastern western central american
    national civil liberties international public limited corporation incorporated
    investments holdings partners mail electronic certified delivery liability circuit
    group firm offices associates
    """
)

_SUFFIX_RE = re.compile(rf"^{SUFFIX}$")
_NAME_TOKEN_RE = re.compile(NAME_TOKEN)
_INITIAL_RE = re.compile(rf"^{INITIAL}$|^[{UP}]$")
_TOKEN_SPLIT = re.compile(r"[\s,]+")


def name_tokens(candidate: str) -> list[str]:
    """Whitespace/comma separated tokens of a candidate name."""
    return [token for token in _TOKEN_SPLIT.split(candidate.strip()) if token]


def is_person_name(candidate: str) -> bool:
    """Whether ``candidate`` reads as a person's name (2-6 tokens, a surname last).

    Structural only: capitalized tokens or initials, no function words,
    legal vocabulary, months or titles; the last token (before a Jr./III
    suffix) is a word, not an initial.
    """
    tokens = name_tokens(candidate)
    while tokens and _SUFFIX_RE.match(tokens[-1]):
        tokens.pop()
    if not 2 <= len(tokens) <= 6 or _INITIAL_RE.match(tokens[-1]):
        return False
    if not all(_NAME_TOKEN_RE.fullmatch(t.rstrip(APOS)) for t in tokens):
        return False
    words = [t for t in tokens if not _INITIAL_RE.match(t)]
    if not words or len(words[-1]) < 2:
        return False
    return not any(
        _plain(t) in _NOT_NAME_WORDS or _plain(t) in _NOT_PERSON_WORDS
        for t in tokens
        if not _INITIAL_RE.match(t)
    )


def is_surname(candidate: str) -> bool:
    """Whether ``candidate`` is one capitalized word usable as a surname."""
    token = candidate.strip()
    return (
        len(token) >= 2
        and token[0].isupper()
        and re.fullmatch(WORD, token) is not None
        and _plain(token) not in _NOT_NAME_WORDS
        and _plain(token) not in _NOT_PERSON_WORDS
    )


def _plain(token: str) -> str:
    return token.strip(".,;:'’").casefold()


def is_common_word(token: str) -> bool:
    """Whether ``token`` is vocabulary that never names a person ("Team", "Forms")."""
    return _plain(token) in _NOT_NAME_WORDS or _plain(token) in _NOT_PERSON_WORDS


def is_function_word(token: str) -> bool:
    """Whether ``token`` is vocabulary that never starts or ends a proper name."""
    return _plain(token) in _NOT_NAME_WORDS


# Roles a party can hold in a case or contract.
# The prefixes and "Creditor Committee" are CM/ECF's own party types ("ThirdParty
# Defendant", "Consol Plaintiff", "Joint Debtor", "Lead Plaintiff"), spelled as its
# reports print them.
ROLE_WORD = (
    r"(?:(?:Third[-\s]?Party|3rd[-\s]Party|Counter|Cross|Counterclaim|Cross[-\s]Claim"
    r"|Consol(?:idated)?|Joint|Lead)[-\s])?"
    r"(?:Plaintiffs?|Defendants?|Appellants?|Appellees?|Petitioners?|Respondents?"
    r"|Debtors?(?:[-\s]in[-\s]Possession)?|Creditors?(?:[-\s]Committee)?|Intervenors?|Interveners?"
    r"|Claimants?|Movants?|Applicants?|Trustees?|Garnishees?|Relators?|Objectors?"
    r"|Real\s+Part(?:y|ies)\s+in\s+Interest|Interested\s+Part(?:y|ies)|Amicus\s+Curiae|Amici\s+Curiae"
    r"|Employee|Employer|Complainants?|Libellants?|Condemnors?|Condemnees?)"
)
ROLE_PHRASE = (
    rf"(?:{ROLE_WORD}(?:[^\S\n]*(?:[-–—/,]|\band\b)?[^\S\n]*\n?[^\S\n]*{ROLE_WORD}){{0,3}})"
)

_ROLE_PART = re.compile(ROLE_WORD, re.IGNORECASE)
_ROLE_ALIASES = {
    "amici curiae": "amicus",
    "amicus curiae": "amicus",
    "intervener": "intervenor",
    "real parties in interest": "real party in interest",
    "interested parties": "interested party",
}
_ROLE_PREFIX_RE = re.compile(r"^(?:third[- ]?party|3rd[- ]party|(?P<consol>consol))[- ]")


def normalize_role(phrase: str) -> str:
    """``"Plaintiffs—Appellants"`` -> ``"plaintiff-appellant"``; parts keep their order."""
    parts = []
    for match in _ROLE_PART.finditer(phrase):
        word = _ROLE_PREFIX_RE.sub(_prefix, re.sub(r"\s+", " ", match.group(0).casefold()))
        if word in _ROLE_ALIASES:
            word = _ROLE_ALIASES[word]
        elif word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if word not in parts:
            parts.append(word)
    return "-".join(parts)


def _prefix(match: re.Match[str]) -> str:
    """CM/ECF's abbreviated prefixes written out: "ThirdParty", "3rd Party", "Consol"."""
    return "consolidated " if match.group("consol") else "third-party "
