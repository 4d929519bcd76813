"""The demo's sample documents: generated deterministically, sniffed right, read back in full."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pypdfium2 as pdfium
import pytest
from rapidfuzz import fuzz

from consumers import samples
from consumers.model import Page
from consumers.text import DocumentKind, read_document

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "make_examples.py"
KINDS = {
    "court_order.pdf": DocumentKind.PDF,
    "court_order_scanned.pdf": DocumentKind.PDF,
    "services_agreement.docx": DocumentKind.DOCX,
    "docket.html": DocumentKind.HTML,
}


@pytest.fixture(scope="module")
def examples() -> ModuleType:
    return samples


@pytest.fixture(scope="module")
def documents(examples: ModuleType) -> dict[str, bytes]:
    built: dict[str, bytes] = examples.build_examples()
    return built


@pytest.fixture(scope="module")
def read_back(documents: dict[str, bytes]) -> dict[str, tuple[DocumentKind, list[Page]]]:
    return {name: read_document(data, name) for name, data in documents.items()}


def squash(text: str) -> str:
    return " ".join(text.split())


def test_the_script_writes_every_sample_into_the_named_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "samples")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in (tmp_path / "samples").iterdir()) == sorted(KINDS)


def test_the_script_without_a_directory_prints_its_usage() -> None:
    command = [sys.executable, str(SCRIPT)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "usage: python examples/make_examples.py OUTDIR" in done.stderr


def test_samples_are_byte_for_byte_the_same_on_every_run(
    examples: ModuleType, documents: dict[str, bytes]
) -> None:
    assert examples.build_examples() == documents


def test_each_sample_sniffs_to_its_kind(
    read_back: dict[str, tuple[DocumentKind, list[Page]]],
) -> None:
    assert {name: kind for name, (kind, _) in read_back.items()} == KINDS


def test_digital_samples_yield_every_key_phrase_verbatim(
    examples: ModuleType, read_back: dict[str, tuple[DocumentKind, list[Page]]]
) -> None:
    for name, phrases in examples.KEY_PHRASES.items():
        if name == "court_order_scanned.pdf":
            continue
        pages = read_back[name][1]
        assert not any(page.ocr for page in pages), name
        text = "\n".join(page.text for page in pages)
        for phrase in phrases:
            if "\t" in phrase:
                assert phrase in text, (name, phrase)  # table cells stay tab-separated
            else:
                assert squash(phrase) in squash(text), (name, phrase)


def test_the_scanned_order_has_no_text_layer_and_ocr_recovers_its_key_phrases(
    examples: ModuleType,
    documents: dict[str, bytes],
    read_back: dict[str, tuple[DocumentKind, list[Page]]],
) -> None:
    scan = pdfium.PdfDocument(documents["court_order_scanned.pdf"])
    assert all(not page.get_textpage().get_text_range().strip() for page in scan)
    pages = read_back["court_order_scanned.pdf"][1]
    assert len(pages) == len(read_back["court_order.pdf"][1])
    assert all(page.ocr for page in pages)
    text = squash(" ".join(page.text for page in pages))
    for phrase in examples.KEY_PHRASES["court_order_scanned.pdf"]:
        assert fuzz.partial_ratio(phrase, text) >= 95, phrase


def test_the_contract_puts_its_fee_exhibit_on_a_page_of_its_own(
    read_back: dict[str, tuple[DocumentKind, list[Page]]],
) -> None:
    pages = read_back["services_agreement.docx"][1]
    assert len(pages) == 2
    assert pages[1].text.startswith("EXHIBIT A")
    assert "EXHIBIT A - FEE SCHEDULE" not in pages[0].text
