"""Keys for court names: "N.D. Ill." and "Northern District of Illinois" agree.

A small table, not a gazetteer: federal district and bankruptcy courts,
the circuits, the Supreme Court of the United States and state supreme
courts get one canonical spelling each; any other court keeps its folded
name without a leading "the".
"""

from __future__ import annotations

import re

from consumers.resolve.text import join_letters, tokens

# Bluebook abbreviations and the full names, compacted (no spaces), of states.
_STATES = {
    "ala": "alabama",
    "alaska": "alaska",
    "ariz": "arizona",
    "ark": "arkansas",
    "cal": "california",
    "colo": "colorado",
    "conn": "connecticut",
    "del": "delaware",
    "dc": "columbia",
    "fla": "florida",
    "ga": "georgia",
    "haw": "hawaii",
    "idaho": "idaho",
    "ill": "illinois",
    "ind": "indiana",
    "iowa": "iowa",
    "kan": "kansas",
    "ky": "kentucky",
    "la": "louisiana",
    "me": "maine",
    "md": "maryland",
    "mass": "massachusetts",
    "mich": "michigan",
    "minn": "minnesota",
    "miss": "mississippi",
    "mo": "missouri",
    "mont": "montana",
    "neb": "nebraska",
    "nev": "nevada",
    "nh": "new hampshire",
    "nj": "new jersey",
    "nm": "new mexico",
    "ny": "new york",
    "nc": "north carolina",
    "nd": "north dakota",
    "ohio": "ohio",
    "okla": "oklahoma",
    "or": "oregon",
    "ore": "oregon",
    "pa": "pennsylvania",
    "pr": "puerto rico",
    "ri": "rhode island",
    "sc": "south carolina",
    "sd": "south dakota",
    "tenn": "tennessee",
    "tex": "texas",
    "utah": "utah",
    "vt": "vermont",
    "va": "virginia",
    "wash": "washington",
    "wva": "west virginia",
    "wis": "wisconsin",
    "wyo": "wyoming",
    "guam": "guam",
    "vi": "virgin islands",
}
_STATES.update({name.replace(" ", ""): name for name in list(_STATES.values())})
_STATE = "|".join(sorted(_STATES, key=len, reverse=True))
_DIRECTIONS = {
    "n": "northern",
    "s": "southern",
    "e": "eastern",
    "w": "western",
    "c": "central",
    "m": "middle",
}
_DIRECTION = "|".join([*_DIRECTIONS, *_DIRECTIONS.values()])
_ORDINALS = {
    "1st": "first",
    "2d": "second",
    "2nd": "second",
    "3d": "third",
    "3rd": "third",
    "4th": "fourth",
    "5th": "fifth",
    "6th": "sixth",
    "7th": "seventh",
    "8th": "eighth",
    "9th": "ninth",
    "10th": "tenth",
    "11th": "eleventh",
    "dc": "dc",
    "fed": "federal",
}
_ORDINALS.update({word: word for word in list(_ORDINALS.values())})
_ORDINAL = "|".join(sorted(_ORDINALS, key=len, reverse=True))

# Matched against the key with its spaces removed, so "S.D.N.Y." and "S.D. N.Y." agree.
_PREFIX = r"(?:the)?(?:unitedstates|us)?(?P<bankruptcy>bankruptcy|bankr)?(?:districtcourt|court)?"
_DISTRICT = re.compile(
    _PREFIX + rf"(?:for|of)?(?:the)?(?P<direction>{_DIRECTION})?d(?:istrictof)?(?P<state>{_STATE})"
)
_CIRCUIT = re.compile(
    r"(?:the)?(?:unitedstates|us)?(?:courtofappeals)?(?:for)?(?:the)?"
    rf"(?P<ordinal>{_ORDINAL})(?:cir|circuit)(?:courtofappeals)?"
)
_SUPREME_US = re.compile(
    r"(?:the)?(?:supremecourtof(?:the)?unitedstates(?:ofamerica)?|(?:unitedstates|us)supremecourt|scotus)"
)
_SUPREME_STATE = re.compile(
    rf"(?:the)?(?:supremecourtof(?:thestateof)?(?P<state1>{_STATE})|(?P<state2>{_STATE})supremecourt)"
)


def court_key(text: str) -> str:
    """ "N.D. Ill.", "U.S. District Court for the Northern District of Illinois" ->
    "northern district of illinois"; "2d Cir." -> "second circuit"."""
    words = join_letters(tokens(text))
    compact = "".join(words)
    if match := _DISTRICT.fullmatch(compact):
        return _district(match)
    if match := _CIRCUIT.fullmatch(compact):
        return f"{_ORDINALS[match['ordinal']]} circuit"
    if _SUPREME_US.fullmatch(compact):
        return "supreme court of the united states"
    if match := _SUPREME_STATE.fullmatch(compact):
        return f"supreme court of {_STATES[match['state1'] or match['state2']]}"
    while len(words) > 1 and words[0] == "the":
        del words[0]
    return " ".join(words)


def _district(match: re.Match[str]) -> str:
    direction = match["direction"]
    words = ["bankruptcy"] if match["bankruptcy"] else []
    if direction:
        words.append(_DIRECTIONS.get(direction, direction))
    words += ["district of", _STATES[match["state"]]]
    return " ".join(words)


COURT_WORDS = frozenset(
    word
    for name in [*_STATES.values(), *_DIRECTIONS.values(), *_ORDINALS.values(), "bankruptcy"]
    for word in name.split()
)
"""Words that tell courts apart; two court keys match only if they agree on them."""
