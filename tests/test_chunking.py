"""Chunking: exact offsets, full coverage, bounded sizes, page numbers, legal sentences."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.chunking import PAGE_SEPARATOR, chunk_text, join_pages
from consumers.model import Chunk, Page

from corpus import corpus_dir


def corpus_texts() -> list[Path]:
    texts = sorted(corpus_dir().glob("*.txt"))
    if not texts:
        pytest.fail(f"no .txt documents in the test corpus at {corpus_dir()}")
    return texts


def pages_of(text: str, lines_per_page: int = 50) -> list[Page]:
    """Split a plain-text document into pages at form feeds, else every N lines."""
    if "\f" in text:
        return [Page(n, part) for n, part in enumerate(text.split("\f"), start=1)]
    lines = text.splitlines(keepends=True)
    groups = [lines[i : i + lines_per_page] for i in range(0, len(lines), lines_per_page)]
    return [Page(n, "".join(group)) for n, group in enumerate(groups, start=1)]


def expected_pages(spans: list[tuple[int, int, int]], chunk: Chunk) -> tuple[int, ...]:
    """The pages a chunk spans, computed the slow, obvious way."""
    hit = tuple(n for n, s, e in spans if s < e and s < chunk.end and chunk.start < e)
    if hit or not spans:
        return hit
    before = [n for n, s, _ in spans if s <= chunk.start]
    return (before[-1] if before else spans[0][0],)


def assert_well_formed(
    text: str, spans: list[tuple[int, int, int]], chunks: list[Chunk], size: int, overlap: int
) -> None:
    """Offsets map back, every character is covered, sizes and overlaps are bounded."""
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    assert all(chunk.text == text[chunk.start : chunk.end] for chunk in chunks)
    assert all(0 < len(chunk.text) <= size for chunk in chunks)
    if not text:
        assert chunks == []
        return
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)
    for previous, chunk in itertools.pairwise(chunks):
        assert previous.start < chunk.start <= previous.end < chunk.end
        assert previous.end - chunk.start <= overlap
    assert all(chunk.pages == expected_pages(spans, chunk) for chunk in chunks)


def rejoin(chunks: list[Chunk]) -> str:
    """The text rebuilt from chunk texts by their offsets, overlaps counted once."""
    parts, reached = [], 0
    for chunk in chunks:
        parts.append(chunk.text[reached - chunk.start :])
        reached = chunk.end
    return "".join(parts)


def test_join_pages_separates_pages_and_maps_each_back() -> None:
    pages = [Page(1, "First page."), Page(2, ""), Page(3, "Third.")]
    text, spans = join_pages(pages)
    assert text == PAGE_SEPARATOR.join(page.text for page in pages)
    assert [text[start:end] for _, start, end in spans] == [page.text for page in pages]
    assert [number for number, _, _ in spans] == [1, 2, 3]


@pytest.mark.parametrize(
    ("size", "overlap", "message"),
    [
        (0, 0, "size must be positive"),
        (-5, 0, "size must be positive"),
        (100, 100, "overlap must be >= 0 and < size"),
        (100, -1, "overlap must be >= 0 and < size"),
    ],
)
def test_bad_size_or_overlap_is_refused(size: int, overlap: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chunk_text("some text", [(1, 0, 9)], size=size, overlap=overlap)


def test_page_spans_out_of_order_or_past_the_text_are_refused() -> None:
    with pytest.raises(ValueError, match="page 2 span"):
        chunk_text("abcdef", [(1, 3, 6), (2, 0, 2)])
    with pytest.raises(ValueError, match="page 1 span"):
        chunk_text("abc", [(1, 0, 9)])


def test_empty_text_has_no_chunks() -> None:
    assert chunk_text("", [(1, 0, 0)]) == []


def test_short_text_is_one_chunk_on_its_page() -> None:
    assert chunk_text("Short.", [(4, 0, 6)]) == [Chunk(0, "Short.", 0, 6, (4,))]


def test_chunks_end_at_blank_lines_when_paragraphs_fit() -> None:
    paragraph = ("The court held that the claim fails. " * 16).strip()
    text = "\n\n".join([paragraph] * 6)
    chunks = chunk_text(text, [(1, 0, len(text))], size=1400, overlap=100)
    assert all(chunk.text.endswith("fails.\n\n") for chunk in chunks[:-1])
    assert_well_formed(text, [(1, 0, len(text))], chunks, 1400, 100)


def test_citations_and_abbreviations_are_never_cut() -> None:
    sentence = "See Brown v. Board of Educ., 347 U.S. 483, 495 (1954); Fed. R. Civ. P. 12. "
    text = sentence * 40
    chunks = chunk_text(text, [(1, 0, len(text))], size=500, overlap=60)
    assert_well_formed(text, [(1, 0, len(text))], chunks, 500, 60)
    for chunk in chunks[:-1]:
        assert chunk.text.endswith("P. 12. ")
    for chunk in chunks[1:]:
        assert chunk.text.startswith(
            (
                "See ",
                "Brown ",
                "v. ",
                "Board ",
                "of ",
                "Educ.",
                "347 ",
                "U.S. ",
                "483, ",
                "495 ",
                "(1954); ",
                "Fed. ",
                "R. ",
                "Civ. ",
                "P. ",
                "12. ",
            )
        )


def test_sentence_break_beats_word_break_and_overlap_starts_on_a_sentence() -> None:
    text = " ".join(f"Sentence number {n} ends here." for n in range(200))
    chunks = chunk_text(text, [(1, 0, len(text))], size=300, overlap=80)
    assert_well_formed(text, [(1, 0, len(text))], chunks, 300, 80)
    assert all(chunk.text.endswith("here. ") for chunk in chunks[:-1])
    assert all(chunk.text.startswith("Sentence number ") for chunk in chunks)


def test_a_word_longer_than_a_chunk_is_split_hard_with_exact_overlap() -> None:
    text = "x" * 2500
    chunks = chunk_text(text, [(1, 0, 2500)], size=1000, overlap=100)
    assert [(chunk.start, chunk.end) for chunk in chunks] == [(0, 1000), (900, 1900), (1800, 2500)]


def test_a_page_break_ends_a_chunk_and_the_overlap_carries_the_page_before() -> None:
    pages = [Page(1, "Alpha beta gamma. " * 20), Page(2, "Delta epsilon. " * 20)]
    text, spans = join_pages(pages)
    chunks = chunk_text(text, spans, size=250, overlap=30)
    assert_well_formed(text, spans, chunks, 250, 30)
    assert chunks[1].text.endswith(PAGE_SEPARATOR)
    assert [chunk.pages for chunk in chunks] == [(1,), (1,), (1, 2), (2,)]


WORDS = st.sampled_from(
    [
        "the",
        "Court",
        "held",
        "U.S.",
        "v.",
        "No.",
        "Inc.",
        "§",
        "347",
        "483",
        "J.",
        "Smith",
        ". ",
        "! ",
        "? ",
        ", ",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\f",
        "\t",
        "x" * 30,
        "é",
        "—",
        ".\n",
    ]
)
PAGE_TEXT = st.lists(WORDS, max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    pages=st.lists(PAGE_TEXT, max_size=6),
    size=st.integers(min_value=1, max_value=120),
    overlap_fraction=st.floats(min_value=0, max_value=0.99),
)
def test_chunks_cover_the_text_exactly_within_bounds(
    pages: list[str], size: int, overlap_fraction: float
) -> None:
    overlap = min(int(size * overlap_fraction), size - 1)
    text, spans = join_pages([Page(n, page) for n, page in enumerate(pages, start=1)])
    chunks = chunk_text(text, spans, size=size, overlap=overlap)
    assert_well_formed(text, spans, chunks, size, overlap)
    assert rejoin(chunks) == text


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300), size=st.integers(min_value=1, max_value=80))
def test_any_unicode_text_is_covered_exactly(text: str, size: int) -> None:
    chunks = chunk_text(text, [(1, 0, len(text))], size=size, overlap=size // 3)
    assert_well_formed(text, [(1, 0, len(text))], chunks, size, size // 3)


@pytest.mark.corpus
def test_every_corpus_text_is_rebuilt_from_its_chunks() -> None:
    for path in corpus_texts():
        pages = pages_of(path.read_text(encoding="utf-8", errors="replace"))
        text, spans = join_pages(pages)
        chunks = chunk_text(text, spans)
        assert_well_formed(text, spans, chunks, 2000, 200)
        assert rejoin(chunks) == text, path.name
        assert {n for chunk in chunks for n in chunk.pages} == {
            page.number for page in pages if page.text
        }, path.name


@pytest.mark.corpus
def test_corpus_chunks_do_not_end_inside_a_reporter_citation() -> None:
    citation_tail = re.compile(r"\d+ U\. ?S\. $|\bv\. $")
    for path in corpus_texts():
        text = path.read_text(encoding="utf-8", errors="replace")
        for chunk in chunk_text(text, [(1, 0, len(text))])[:-1]:
            assert not citation_tail.search(chunk.text), (path.name, chunk.text[-40:])


@pytest.mark.corpus
def test_chunking_runs_in_linear_time_on_the_largest_corpus_text() -> None:
    largest = max(corpus_texts(), key=lambda path: path.stat().st_size)
    text = largest.read_text(encoding="utf-8", errors="replace") * 4
    timings = []
    for copies in (1, 4):
        sample = text * copies
        started = time.perf_counter()
        chunk_text(sample, [(1, 0, len(sample))])
        timings.append((time.perf_counter() - started) / len(sample))
    # Time per character must not grow with length (a ratio, so a busy machine cannot fail it).
    assert timings[1] < timings[0] * 3
