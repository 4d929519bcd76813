"""Split a document's text into overlapping, page-aware chunks.

Pure functions, no I/O.  ``join_pages`` builds the document text the later
stages index into; ``chunk_text`` cuts it into chunks of at most ``size``
characters whose offsets map back exactly (``chunk.text ==
text[chunk.start:chunk.end]``).

Where a chunk ends, in order of preference, within the last half of the
window allowed to it:

1. at a paragraph break (a blank line or a page separator);
2. at a sentence break -- ``.``, ``!`` or ``?`` (plus closing quotes or
   brackets), whitespace, then a capital letter -- unless the period closes
   an abbreviation common in legal text ("U.S.", "v.", "No.", "Inc.",
   initials), so citations such as "347 U.S. 483" are never cut;
3. at a word boundary;
4. anywhere (a single "word" longer than the window).

Breaks fall after the whitespace, so a chunk ends with the whitespace that
follows its last sentence and the next chunk starts on a word.  The next
chunk then reaches back at most ``overlap`` characters, starting on a
sentence if one starts in the older half of that overlap, else on a word.

Every chunk is at most ``size`` characters long, with no exception; every
character of the text lies in at least one chunk; the work per chunk is
bounded by ``size``, so the whole is linear in the length of the text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence

from consumers.model import Chunk, Page

PAGE_SEPARATOR = "\n\f\n"
"""Put between pages by ``join_pages``: a form feed, read as a paragraph break."""

PageSpan = tuple[int, int, int]
"""A page's ``(number, start, end)`` in the joined text, ``end`` exclusive."""

_PARAGRAPH = re.compile(r"\n[ \t\r\v]*\n\s*|\f\s*")
_SENTENCE = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]*[A-Z])")
_WORD = re.compile(r"\s+")
# How far before a window a break's whitespace run may begin and still count.
_LOOKBACK = 32


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ABBREVIATIONS = _wordset("""
    v vs no nos inc corp co ltd llc cos bros assn ass'n dep't dept gov't govt comm'n
    mr mrs ms dr hon jr sr st esq messrs prof gen sen rep atty att'y
    cir ct app supp fed reg stat ann rev civ crim evid proc bankr dist div
    sec art ch cl para pt subch tit par pp p n nn fn
    e.g i.e cf id ibid al etc viz approx
    jan feb mar apr jun jul aug sep sept oct nov dec
    u.s u.s.c c.f.r f f.2d f.3d f.4th s.ct l.ed
    ala ariz ark cal colo conn del fla ga ill ind kan ky la md mass mich minn
    miss mo mont neb nev okla or ore pa tenn tex va vt wash wis wyo
    ave blvd rd ste fl mt ft
    """)


def join_pages(pages: Sequence[Page]) -> tuple[str, list[PageSpan]]:
    """Join page texts with ``PAGE_SEPARATOR``; return the text and each page's span."""
    parts: list[str] = []
    spans: list[PageSpan] = []
    offset = 0
    for index, page in enumerate(pages):
        if index:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        parts.append(page.text)
        spans.append((page.number, offset, offset + len(page.text)))
        offset += len(page.text)
    return "".join(parts), spans


def chunk_text(
    text: str, page_spans: Sequence[PageSpan], *, size: int = 2000, overlap: int = 200
) -> list[Chunk]:
    """Cut ``text`` into ordered chunks of at most ``size`` characters.

    Consecutive chunks share at most ``overlap`` characters.  A chunk's
    ``pages`` are the numbers of the pages whose span it intersects; a chunk
    lying wholly between pages (in a separator) belongs to the last page
    starting at or before it; with no page spans, ``pages`` is empty.  Raises ``ValueError`` unless
    ``0 <= overlap < size``, or if the page spans are out of order or outside
    the text.
    """
    _check_parameters(text, page_spans, size, overlap)
    return [
        Chunk(index, text[start:end], start, end, _pages_of(page_spans, start, end))
        for index, (start, end) in enumerate(_bounds(text, size, overlap))
    ]


def _check_parameters(text: str, spans: Sequence[PageSpan], size: int, overlap: int) -> None:
    if size <= 0:
        raise ValueError(f"chunk size must be positive, got {size}")
    if not 0 <= overlap < size:
        raise ValueError(f"chunk overlap must be >= 0 and < size ({size}), got {overlap}")
    previous_end = 0
    for number, start, end in spans:
        if not previous_end <= start <= end <= len(text):
            raise ValueError(
                f"page {number} span ({start}, {end}) is out of order or outside the text "
                f"of {len(text)} characters; pass the spans join_pages returned"
            )
        previous_end = end


def _bounds(text: str, size: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Yield each chunk's ``(start, end)``."""
    start = 0
    # A chunk is longer than the overlap, so every next chunk starts further on.
    shortest = max(overlap + 1, size // 2)
    while len(text) - start > size:
        end = _break_in(text, start + shortest, start + size)
        yield start, end
        start = _restart(text, end, overlap)
    if start < len(text):
        yield start, len(text)


def _break_in(text: str, low: int, high: int) -> int:
    """The best place in ``[low, high]`` to end a chunk."""
    for finder in (_paragraph_breaks, _sentence_breaks, _word_breaks):
        last = max(finder(text, low, high), default=-1)
        if last >= 0:
            return last
    return high


def _restart(text: str, end: int, overlap: int) -> int:
    """Where the chunk after one ending at ``end`` starts."""
    if overlap == 0:
        return end
    low = end - overlap
    for position in _paragraph_breaks(text, low, end - overlap // 2):
        return position
    for position in _sentence_breaks(text, low, end - overlap // 2):
        return position
    for position in _word_breaks(text, low, end - 1):
        return position
    return low


def _paragraph_breaks(text: str, low: int, high: int) -> Iterator[int]:
    """Positions in ``[low, high]`` where a paragraph starts, ascending."""
    return _ends(_PARAGRAPH, text, low, high)


def _word_breaks(text: str, low: int, high: int) -> Iterator[int]:
    """Positions in ``[low, high]`` where a word starts after whitespace, ascending."""
    return _ends(_WORD, text, low, high)


def _sentence_breaks(text: str, low: int, high: int) -> Iterator[int]:
    """Positions in ``[low, high]`` where a sentence starts, ascending."""
    for match in _SENTENCE.finditer(text, max(0, low - _LOOKBACK), high + _LOOKBACK):
        if match.end() > high:
            return
        if match.end() >= low and not _is_abbreviation(text, match.start()):
            yield match.end()


def _ends(pattern: re.Pattern[str], text: str, low: int, high: int) -> Iterator[int]:
    # endpos reaches past high so a run of whitespace ending at high is seen whole.
    for match in pattern.finditer(text, max(0, low - _LOOKBACK), high + _LOOKBACK):
        if match.end() > high:
            return
        if match.end() >= low:
            yield match.end()


def _is_abbreviation(text: str, period: int) -> bool:
    """Whether the ``.`` at ``period`` closes an abbreviation, not a sentence."""
    if text[period] != ".":
        return False
    word_start = period
    while word_start > 0 and not text[word_start - 1].isspace() and period - word_start < 24:
        word_start -= 1
    word = text[word_start:period].lstrip("(\"'“‘[").casefold()
    # One letter is an initial ("J."); inner periods mark "U.S.", "N.D." and the like.
    return len(word) == 1 or "." in word or word in _ABBREVIATIONS


def _pages_of(spans: Sequence[PageSpan], start: int, end: int) -> tuple[int, ...]:
    """Numbers of the pages a chunk ``[start, end)`` intersects."""
    if not spans:
        return ()
    index = bisect.bisect_right(spans, start, key=lambda span: span[2])
    numbers = []
    while index < len(spans) and spans[index][1] < end:
        if spans[index][1] < spans[index][2]:
            numbers.append(spans[index][0])
        index += 1
    if numbers:
        return tuple(numbers)
    before = bisect.bisect_right(spans, start, key=lambda span: span[1])
    return (spans[max(before - 1, 0)][0],)
