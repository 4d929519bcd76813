"""Pure core of the entities stage: per-chunk mentions -> one document's mentions.

Chunks overlap, so a name near a chunk boundary may be found twice (same
type, same document span) or, cut off by the boundary, once whole and once
truncated. Mentions are shifted into document offsets (``chunk.start +
m.start``) and swept in document order: of two that overlap, the one with
more context around it in its chunk (farther from the chunk's edges) is
kept, ties going to the earlier chunk. The result never overlaps, which is
also what the offline extractor promises within one text.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace

from consumers.chunking import PageSpan
from consumers.model import Chunk, Mention

# A mention in document offsets, its distance from its chunk's edges, and the chunk.
_Candidate = tuple[Mention, int, int]


def merge_mentions(chunks: Sequence[Chunk], found: Sequence[Sequence[Mention]]) -> list[Mention]:
    """The document's mentions, in document offsets, sorted and without overlaps.

    ``found[i]`` holds the mentions of ``chunks[i]`` in chunk offsets; one whose
    text is not the chunk's text at its offsets is dropped as malformed.
    """
    candidates = sorted(_shifted(chunks, found), key=lambda c: (c[0].start, -c[1], c[2]))
    kept: list[_Candidate] = []
    for candidate in candidates:
        if kept and candidate[0].start < kept[-1][0].end:
            if candidate[1] > kept[-1][1]:
                kept[-1] = candidate
            continue
        kept.append(candidate)
    return [mention for mention, _, _ in kept]


def _shifted(chunks: Sequence[Chunk], found: Sequence[Sequence[Mention]]) -> list[_Candidate]:
    candidates = []
    for chunk, mentions in zip(chunks, found, strict=True):
        for m in mentions:
            if 0 <= m.start < m.end <= len(chunk.text) and chunk.text[m.start : m.end] == m.text:
                margin = min(m.start, len(chunk.text) - m.end)
                moved = replace(m, start=chunk.start + m.start, end=chunk.start + m.end)
                candidates.append((moved, margin, chunk.index))
    return candidates


def page_of(spans: Sequence[PageSpan], offset: int) -> int | None:
    """The number of the page holding ``offset`` (the page before, in a separator)."""
    if not spans:
        return None
    index = bisect.bisect_right(spans, offset, key=lambda span: span[1]) - 1
    return spans[max(index, 0)][0]
