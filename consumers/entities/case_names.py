"""Parties named on a single line: inline captions, case-name lines, "In re".

- inline captions state roles after each side, all in one paragraph:
  "DALLAS SALES COMPANY, INC., Appellant, v. CARLISLE SILVER COMPANY, INC.,
  ..., Appellees." or "In re Julian H. EADY, Debtor. John J. GOGER, Trustee
  and Plaintiff, v. UNITED STATES of America; ...";
- a case-name line is a line whose content is "A v. B" (perhaps after a
  docket number, before a bracketed note) -- running heads, docket titles,
  opinion lists.  A "v." inside a sentence or followed by a reporter
  citation names a cited case, not a party of this document, and is left
  alone;
- a line starting "In re X" names X, unless X is a litigation ("In re Bard
  IVC Filters Products Liability Litigation");
- labelled fields: "Party name: X".
"""

from __future__ import annotations

import re

from consumers.entities.caption import party_mentions
from consumers.entities.lines import Line, content, is_heading_or_label
from consumers.entities.names import ROLE_PHRASE
from consumers.entities.parties import split_side
from consumers.model import Mention

_INLINE_ROLE_RE = re.compile(
    rf",\d{{0,2}}\s*(?P<role>{ROLE_PHRASE})(?=[ \t]*(?:[.,;:]|$|\s+(?:v|vs|V|VS)\.\s))",
    re.IGNORECASE,
)
_CAPTION_MARK_RE = re.compile(r"\s(?:v|vs|V|VS)\.\s|^\s*(?:In re|IN RE|In the [Mm]atter of)\b")
_GROUP_LEAD_RE = re.compile(r"[\s.,;]*(?:(?:v|vs|V|VS)\.\s+)?(?:and\s+)?", re.IGNORECASE)
_SENTENCE_BREAK_RE = re.compile(r"[a-z]{3,}\.\s+(?=[A-Z])")
_VERSUS_RE = re.compile(r"\s+(?:v|vs|V|VS)\.?\s+(?=[A-Z0-9])")
_ENDS_VERSUS_RE = re.compile(r"\s(?:v|vs|V|VS)\.$")
_CAPS_RUN_MARK_RE = re.compile(r"(?:^|\s)(?:v|vs|V|VS)\.(?:\s|$)")
_SIDE_TOKEN_RE = re.compile(r"[^\s]+")
_TAIL_OK_RE = re.compile(
    r"\s*(?:,?\s*(?:et\.?\s+al\.?|ET\s+AL\.?),?)?\s*(?:[(\[{][^)\]}]*[)\]}]\s*)*(?:,\s*Applicants?)?\s*$"
)
# What may stand before the first side on a case-name line: a docket number
# ("FinalOpinion in case# 21-2913 A v. B") or a field label ("Title: A v. B").
_LEAD_OK_RE = re.compile(
    r".{0,60}?(?:No\.|#|case#|Case|Docket|:)\s*[\w:.-]*\d[\w:.-]*"
    r"|(?:Title|Style|Case Name|Caption|Re|RE)\s*:?",
    re.IGNORECASE,
)
_IN_RE_RE = re.compile(
    r"(?:In re|IN RE|In Re|In the Matter of|IN THE MATTER OF|In the matter of)\s*:?\s+\S"
)
_LITIGATION_RE = re.compile(
    r"(?:Litigation|LITIGATION|Proceedings|Application|Grand Jury|Subpoena|Search|Estate of)\b"
)
_LABEL_RE = re.compile(r"(?:Party name|Party Name|PARTY NAME)\s*:\s*")
_CONNECTORS = frozenset({"of", "and", "&", "the", "for", "de", "la", "ex", "rel."})
_MAX_LINE = 3000


def find_case_name_parties(text: str, lines: list[Line]) -> list[Mention]:
    """Parties of inline captions, case-name lines, "In re" lines and labelled fields."""
    found: list[Mention] = []
    for line in lines:
        if line.end - line.start > _MAX_LINE or line.end == line.start:
            continue
        found += _unit_parties(text, line)
        value = content(text, line)
        if _IN_RE_RE.match(value):
            found += _in_re_line(text, line)
        label = _LABEL_RE.match(value)
        if label is not None:
            role = "amicus" if "in support of" in value else None
            side = split_side(text, line.start + label.end(), line.end)
            found += party_mentions(text, side, role)
    for run in [*_caps_runs(text, lines), *_wrapped_captions(text, lines)]:
        found += _unit_parties(text, run)
    return found


def _wrapped_captions(text: str, lines: list[Line]) -> list[Line]:
    """A caption line ending in "v." continues on the next line."""
    units = []
    for index, line in enumerate(lines[:-1]):
        if _ENDS_VERSUS_RE.search(content(text, line)):
            following = next((n for n in lines[index + 1 : index + 4] if n.end > n.start), None)
            if following is not None:
                units.append(Line(line.start, following.end))
    return units


def _unit_parties(text: str, unit: Line) -> list[Mention]:
    value = content(text, unit)
    if _CAPTION_MARK_RE.search(value) and _INLINE_ROLE_RE.search(value):
        return _inline_caption(text, unit)
    if _VERSUS_RE.search(value):
        return _case_name_line(text, unit)
    return []


def _caps_runs(text: str, lines: list[Line]) -> list[Line]:
    """Consecutive capitalised lines holding a "v." -- captions wrapped over lines."""
    runs: list[Line] = []
    run: list[Line] = []
    for line in [*lines, Line(len(text), len(text))]:
        value = content(text, line)
        if value.strip() and _capitalised(value) and not is_heading_or_label(value):
            run.append(line)
            continue
        if value.strip() == "" and run:
            continue
        if len(run) > 1 and _CAPS_RUN_MARK_RE.search(text, run[0].start, run[-1].end):
            runs.append(Line(run[0].start, run[-1].end))
        run = []
    return runs


def _capitalised(value: str) -> bool:
    letters = [ch for ch in value if ch.isalpha()]
    return len(letters) >= 2 and sum(ch.isupper() for ch in letters) >= 0.8 * len(letters)


def _inline_caption(text: str, line: Line) -> list[Mention]:
    found: list[Mention] = []
    group_start = line.start
    for role in _INLINE_ROLE_RE.finditer(text, line.start, line.end):
        start = _group_start(text, group_start, role.start())
        found += party_mentions(text, split_side(text, start, role.end("role")))
        group_start = role.end()
    rest = re.match(r"[\s.,;]*(?:v|vs|V|VS)\.\s+", text[group_start : line.end])
    if rest is not None:  # "..., PETITIONER v. RUDOLF JOHN HERRMANN ET AL." states no role
        found += party_mentions(text, split_side(text, group_start + rest.end(), line.end))
    return found


def _group_start(text: str, start: int, end: int) -> int:
    lead = _GROUP_LEAD_RE.match(text, start, end)
    if lead is not None:
        start = lead.end()
    for brk in _SENTENCE_BREAK_RE.finditer(text, start, end):
        start = brk.end()  # "S.J.S., a minor child. D.L.M. and D.E.M., Petitioners"
    return start


def _case_name_line(text: str, line: Line) -> list[Mention]:
    versus = _VERSUS_RE.search(text, line.start, line.end)
    if versus is None or not _real_versus(text, versus):
        return []
    left = _left_side(text, line.start, versus.start())
    right_end = _right_side_end(text, versus.end(), line.end)
    if left is None or right_end is None:
        return []
    found = party_mentions(text, split_side(text, left, versus.start()))
    return found + party_mentions(text, split_side(text, versus.end(), right_end))


def _real_versus(text: str, versus: re.Match[str]) -> bool:
    """A capital "V." is a middle initial unless the name before it is in capitals."""
    if versus.group(0).strip()[0] == "v":
        return True
    before = text[max(0, versus.start() - 20) : versus.start()].split()
    return bool(before) and before[-1].isupper() and len(before[-1]) > 1


def _left_side(text: str, line_start: int, end: int) -> int | None:
    """Start of the name run before "v.", if all before it is a docket label or nothing."""
    tokens = list(_SIDE_TOKEN_RE.finditer(text, line_start, end))
    start = None
    for token in reversed(tokens):
        word = token.group(0)
        if word[0].isupper() or word in _CONNECTORS or word[0] in "&'’":
            start = token.start()
            continue
        break
    if start is None or not text[start].isupper():
        return None
    prefix = text[line_start:start].strip()
    return start if not prefix or _LEAD_OK_RE.fullmatch(prefix) else None


def _right_side_end(text: str, start: int, line_end: int) -> int | None:
    """End of the name run after "v."; None when the line goes on (a citation, a sentence)."""
    end = start
    for token in _SIDE_TOKEN_RE.finditer(text, start, line_end):
        word = token.group(0)
        if word[0] in "([{" or word in {"et", "ET"}:
            break
        if not (word[0].isupper() or _ordinal(word) or word in _CONNECTORS or word[0] in "&"):
            break
        end = token.end()
    if end == start or re.search(r",\s*\d", text[start:end]):
        return None
    return end if _TAIL_OK_RE.match(text, end, line_end) else None


def _ordinal(word: str) -> bool:
    """Numbers inside names are ordinals or series ("21st", "2020-A"), not docket numbers."""
    return re.fullmatch(r"\d+(?:st|nd|rd|th|d)|\d{4}-[A-Z]\d?,?", word) is not None


def _in_re_line(text: str, line: Line) -> list[Mention]:
    value = text[line.start : line.end + 80]  # the matter's name may wrap onto the next line
    if _LITIGATION_RE.search(value) or re.search(r",\s*\d+\s+[A-Z]", content(text, line)):
        return []
    return party_mentions(text, split_side(text, line.start, line.end))
