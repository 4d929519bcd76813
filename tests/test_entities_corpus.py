"""The offline extractor on the real corpus: offsets, ground truth, speed.

Documents are read as the pipeline reads them (``document_text``: the
pipeline's reader and page join, PDF text layers without OCR).  Expected
values come from the corpus at test time: the ``*.expected.json`` files'
parties, attorneys, firms, citations and numbers, and the documents' own
caption lines.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.quality import document_text
from consumers.entities import extract_mentions
from consumers.model import EntityType, Mention

from corpus import corpus_dir

pytestmark = pytest.mark.corpus

# DOCX too: the benchmark reads documents as the pipeline does, whatever their format.
TEXT_SUFFIXES = {".pdf", ".html", ".xml", ".txt", ".docx"}


def documents() -> list[Path]:
    found = sorted(p for p in corpus_dir().iterdir() if p.suffix in TEXT_SUFFIXES)
    if not found:
        pytest.fail(f"no text-bearing documents in the corpus at {corpus_dir()}")
    return found


@cache
def text_of(name: str) -> str:
    return document_text(corpus_dir() / name)


@cache
def mentions_of(name: str) -> tuple[Mention, ...]:
    return tuple(extract_mentions(text_of(name)))


def ground_truth(kind: str) -> list[tuple[str, Any]]:
    records = []
    for path in sorted(corpus_dir().glob("*.expected.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record["kind"] == kind:
            records.append((record["document"], record["ground_truth"]))
    if not records:
        pytest.fail(f"no {kind} ground truth in the corpus at {corpus_dir()}")
    return records


def squeeze(value: str) -> str:
    return " ".join(value.split()).casefold()


def of_type(name: str, kind: EntityType) -> list[Mention]:
    return [m for m in mentions_of(name) if m.type is kind]


def test_every_mention_in_the_corpus_is_the_exact_text_at_its_offsets() -> None:
    for path in documents():
        text = text_of(path.name)
        for mention in mentions_of(path.name):
            assert text[mention.start : mention.end] == mention.text, (path.name, mention)


def test_mentions_are_sorted_and_never_overlap() -> None:
    for path in documents():
        spans = [(m.start, m.end) for m in mentions_of(path.name)]
        assert spans == sorted(spans), path.name
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_offsets_hold_on_random_slices_of_corpus_texts(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from([p.name for p in documents()]))
    text = text_of(name)
    start = data.draw(st.integers(0, max(0, len(text) - 1)))
    end = data.draw(st.integers(start, min(len(text), start + 6000)))
    piece = text[start:end]
    for mention in extract_mentions(piece):
        assert piece[mention.start : mention.end] == mention.text


def test_docket_parties_are_found_with_their_roles() -> None:
    for document, truth in ground_truth("juriscraper_pacer_docket"):
        parties = of_type(document, EntityType.PARTY)
        found = 0
        for party in truth["parties"]:
            name = squeeze(re.split(r",\s+also known as", party["name"])[0])
            role = re.split(r"\W+", party["type"].casefold())[0]
            if any(squeeze(m.text) in name and role in (m.role or "") for m in parties):
                found += 1
        assert found >= 0.9 * len(truth["parties"]), document


def test_docket_attorneys_are_found_and_know_whom_they_represent() -> None:
    for document, truth in ground_truth("juriscraper_pacer_docket"):
        attorneys = of_type(document, EntityType.ATTORNEY)
        pairs = {(squeeze(m.text), squeeze(dict(m.attrs).get("represents", ""))) for m in attorneys}
        expected = [
            (squeeze(a["name"]), squeeze(p["name"]))
            for p in truth["parties"]
            for a in p.get("attorneys", [])
        ]
        hits = sum(
            any(
                name.startswith(got) and got_party and got_party in party
                for got, got_party in pairs
            )
            for name, party in expected
        )
        assert hits >= 0.9 * len(expected), document


def test_docket_law_firms_named_in_contact_blocks_are_found() -> None:
    for document, truth in ground_truth("juriscraper_pacer_docket"):
        firms = {squeeze(m.text) for m in of_type(document, EntityType.LAW_FIRM)}
        lines = [
            a["contact"].splitlines()[0].strip()
            for p in truth["parties"]
            for a in p.get("attorneys", [])
            if a["contact"] and re.search(r"\bLLP\b|&", a["contact"].splitlines()[0])
        ]
        for line in lines:
            assert squeeze(line) in firms, (document, line)


def test_docket_numbers_and_filing_dates_of_dockets_are_found() -> None:
    for document, truth in ground_truth("juriscraper_pacer_docket"):
        numbers = [squeeze(m.text) for m in of_type(document, EntityType.DOCKET_NUMBER)]
        assert any(n.startswith(squeeze(truth["docket_number"])) for n in numbers), document
        values = {dict(m.attrs)["value"] for m in of_type(document, EntityType.DATE)}
        assert truth["date_filed"] in values, document


def test_cited_cases_of_cap_records_are_found_as_full_citations() -> None:
    for document, truth in ground_truth("harvard_cap_case_record"):
        found = {
            re.sub(r"\W", "", m.text).casefold()
            for m in of_type(document, EntityType.CASE_CITATION)
            if ("form", "full") in m.attrs
        }
        cited = truth["cap_metadata"].get("cites_to", [])
        cites = {re.sub(r"\W", "", c["cite"]).casefold() for c in cited}
        assert len(cites & found) >= 0.85 * len(cites), document


def test_contract_parties_named_with_a_corporate_suffix_are_parties() -> None:
    for document, truth in ground_truth("cuad_master_clauses_row"):
        spans = truth["fields"]["Parties"]["spans"]
        named = [s for s in spans if re.search(r"\b(?:Inc|LLC|Corp|Corporation|Ltd)\b\.?$", s)]
        parties = [squeeze(m.text) for m in of_type(document, EntityType.PARTY)]
        for name in named:
            assert any(p in squeeze(name) or squeeze(name) in p for p in parties), (document, name)


def test_workers_compensation_judges_are_found() -> None:
    for document, truth in ground_truth("courtlistener_tennessee_workers_comp_metadata"):
        judges = {squeeze(m.text) for m in of_type(document, EntityType.JUDGE)}
        assert squeeze(truth["judge"]) in judges, document


def caption_blocks(text: str) -> list[tuple[int, int]]:
    """Spans of the line blocks just above and below a standalone "v." line."""
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text[:4000])]
    blocks = []
    for index, (start, end) in enumerate(lines):
        if text[start:end].strip() in {"v.", "versus", "vs."}:
            above = [
                span for span in lines[max(0, index - 4) : index] if text[span[0] : span[1]].strip()
            ]
            below = [
                span for span in lines[index + 1 : index + 5] if text[span[0] : span[1]].strip()
            ]
            blocks += [(above[0][0], above[-1][1]), (below[0][0], below[-1][1])]
            break
    return blocks


def test_both_sides_of_opinion_captions_yield_a_party() -> None:
    checked = 0
    for path in documents():
        if path.suffix != ".pdf":
            continue
        blocks = caption_blocks(text_of(path.name))
        parties = of_type(path.name, EntityType.PARTY)
        for lo, hi in blocks:
            assert any(lo <= m.start < hi for m in parties), (path.name, text_of(path.name)[lo:hi])
        checked += bool(blocks)
    assert checked >= 5, "expected several corpus PDFs with a caption laid out around a 'v.' line"


ORDINARY = (
    "Before: Smith, Jones, and Brown, Circuit Judges. ACME WIDGETS, INC., Plaintiff, v. "
    "JOHN DOE, Defendant. See 42 U.S.C. § 1983; Roe v. Wade, 410 U.S. 113 (1973). "
    "Filed December 22, 2020, No. 21-2728, for $1,234.56.\n"
)


def test_the_largest_corpus_document_extracts_no_slower_than_ordinary_text() -> None:
    # Relative to ordinary legal text timed alongside, so a loaded machine slows both.
    largest = max(documents(), key=lambda p: len(text_of(p.name)))
    text = text_of(largest.name)
    ordinary = (ORDINARY * (len(text) // len(ORDINARY) + 1))[: len(text) // 4]
    extract_mentions(ORDINARY)  # warm the compiled patterns
    started = time.perf_counter()
    extract_mentions(ordinary)
    ordinary_seconds = 4 * (time.perf_counter() - started)
    started = time.perf_counter()
    extract_mentions(text)
    seconds = time.perf_counter() - started
    assert seconds < 5 * ordinary_seconds + 0.5, (largest.name, len(text), seconds)
