"""Keys for the names of people and of organisations (parties, firms, companies)."""

from __future__ import annotations

from consumers.resolve.text import fold_case, join_letters, tokens, wordset

_TITLES = wordset(
    "hon honorable honourable judge justice chief magistrate district circuit senior "
    "associate presiding bankruptcy mr mrs ms miss mx dr sir madam the"
)
_TRAILING_TITLES = wordset("esq esquire phd")
# What may follow a comma after a surname: "Esq."; for judges also "J." and "C.J.".
_TITLE_PARTS = wordset("esq esquire phd")
_JUDGE_TITLE_PARTS = _TITLE_PARTS | wordset("j jj cj pj dj mj usdj usmj usbj usdcj judge justice")
# "Alito, J., dissenting": words that describe the judge's part, not the name.
_OPINION_WORDS = wordset(
    "dissenting concurring in part the judgment and presiding retired sitting by "
    "designation delivered opinion of court"
)
_GENERATIONS = wordset("jr sr ii iii iv")

_SUFFIXES = wordset("""
    inc incorporated corp corporation co cos company companies ltd limited llc lc
    lp llp lllp pc pa pllc plc na sa ag nv bv gmbh
    """)
_MULTIWORD_SUFFIXES = (
    ("limited", "liability", "company"),
    ("limited", "liability", "partnership"),
    ("limited", "partnership"),
    ("professional", "corporation"),
    ("professional", "association"),
    ("et", "al"),
)
# Abbreviations common in company and agency names, spelled out so that "Standard Ins.
# Co." and "Standard Insurance Company" agree.
_ORGANIZATION_WORDS = {
    "natl": "national",
    "intl": "international",
    "assn": "association",
    "assoc": "association",
    "dept": "department",
    "univ": "university",
    "bros": "brothers",
    "mfg": "manufacturing",
    "ins": "insurance",
    "svcs": "services",
    "svc": "service",
    "mgmt": "management",
    "hldgs": "holdings",
    "govt": "government",
    "commn": "commission",
    "ctr": "center",
    "fed": "federal",
}
_ORGANIZATION_ALIASES = {
    "united states of america": "united states",
    "usa": "united states",
    "us": "united states",
    "united states government": "united states",
}


def person_key(text: str, *, judge: bool = False) -> str:
    """ "Hon. John R. Smith, Jr." -> "john r smith jr"; "Smith, John" -> "john smith".

    For a ``judge``, "J." or "C.J." after a comma is a title ("Alito, J."),
    not an initial.
    """
    titles = _JUDGE_TITLE_PARTS if judge else _TITLE_PARTS
    parts = [words for part in fold_case(text).split(",") if (words := tokens(part))]
    if not parts:
        return ""
    names, generations = [parts[0]], []
    for part in parts[1:]:
        if len(part) == 1 and part[0] in _GENERATIONS:
            generations.append(part[0])
        elif "".join(part) not in titles and not set(part) <= _OPINION_WORDS:
            names.append(part)
    # "Smith, John" is surname first; three or more parts are left in order.
    words = names[1] + names[0] if len(names) == 2 else [w for part in names for w in part]
    return " ".join(_drop_generation(_drop_titles(words) + generations))


def _drop_titles(words: list[str]) -> list[str]:
    start, end = 0, len(words)
    while end - start > 1 and words[start] in _TITLES:
        start += 1
    while end - start > 1 and words[end - 1] in _TRAILING_TITLES:
        end -= 1
    return words[start:end]


def _drop_generation(words: list[str]) -> list[str]:
    """Move "jr", "iii" and the like to the end, wherever the comma put them."""
    kept = words[:1] + [word for word in words[1:] if word not in _GENERATIONS]
    generations = [word for word in words[1:] if word in _GENERATIONS]
    return kept + generations[-1:]


def organization_key(text: str) -> str:
    """ "The Acme Widget Co., L.L.C., et al." -> "acme widget"; "A & B" -> "a and b"."""
    words = [_ORGANIZATION_WORDS.get(word, word) for word in join_letters(tokens(text))]
    while len(words) > 1 and words[0] == "the":
        del words[0]
    while len(words) > 1 and (cut := _suffix_length(words)):
        del words[-cut:]
    key = " ".join(words)
    return _ORGANIZATION_ALIASES.get(key, key)


def _suffix_length(words: list[str]) -> int:
    """How many trailing words are a corporate suffix (or a dangling "and")."""
    for suffix in _MULTIWORD_SUFFIXES:
        if len(words) > len(suffix) and tuple(words[-len(suffix) :]) == suffix:
            return len(suffix)
    last = words[-1]
    return 1 if last in _SUFFIXES or last in ("and", "etal") else 0
