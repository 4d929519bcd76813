"""PDF text extraction against the real corpus: text layers, OCR of scans, damaged input, limits."""

from __future__ import annotations

import collections
import io
import json
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pypdfium2 as pdfium
import pytest
from fpdf import FPDF
from rapidfuzz.distance import Levenshtein

from consumers.model import Page
from consumers.text import DocumentKind, Limits, extract_pages, read_document, require_tesseract
from consumers.text.ocr import recognize
from consumers.text.pdf import render_scale
from streamproc.errors import ConfigurationError, PermanentError, RetryableError

from corpus import corpus_dir

pytestmark = pytest.mark.corpus

TARRANT_DIGITAL = "doctor__scotus_tarrant_regional_water_v_herrmann_11-889_slip.pdf"
TARRANT_SCANNED = "doctor__scotus_tarrant_v_herrmann_SCANNED.pdf"
HIDDEN_TEXT = "xray__liebowitz_law_firm_letter_hidden_text.pdf"
OCR_LAYER = "courtlistener__tn_wc_court_calderon_fuentes_v_ceva_OCRLAYER.pdf"
# Measured with tesseract 5.3 (eng, LSTM): 0.57 % over both pages.
MAX_TARRANT_CER = 0.015


def manifest() -> list[dict[str, object]]:
    entries: list[dict[str, object]] = json.loads((corpus_dir() / "MANIFEST.json").read_text())
    return entries


def read(name: str) -> bytes:
    return (corpus_dir() / name).read_bytes()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]{3,}", text.lower())


def squash(text: str) -> str:
    return " ".join(text.split())


def digital_pdfs() -> list[dict[str, object]]:
    return [
        entry
        for entry in manifest()
        if entry["format"] == "PDF" and str(entry["text_layer"]).startswith("yes (digital")
    ]


def scanned_names() -> list[str]:
    return [str(e["name"]) for e in manifest() if "_SCANNED" in str(e["name"])]


@pytest.fixture(scope="session")
def ocr_results() -> dict[str, list[Page]]:
    """Every scanned PDF and the partly scanned Tarrant slip opinion, OCR'd once, in parallel."""
    names = [*scanned_names(), TARRANT_DIGITAL]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        pages = pool.map(lambda name: extract_pages(read(name)), names)
        return dict(zip(names, pages, strict=True))


@pytest.fixture(scope="session")
def vocabulary() -> set[str]:
    """Words of the corpus's born-digital text: what OCR output ought to be made of."""
    known: set[str] = set()
    for entry in digital_pdfs():
        known.update(words(" ".join(page.text for page in extract_pages(read(str(entry["name"]))))))
    return known


def test_every_digital_pdf_has_its_manifest_page_count_and_text_on_every_page() -> None:
    for entry in digital_pdfs():
        pages = extract_pages(read(str(entry["name"])), DocumentKind.PDF)
        assert len(pages) == entry["pages"], entry["name"]
        assert [page.number for page in pages] == list(range(1, len(pages) + 1))
        for page in pages:
            visible = len(page.text) - page.text.count(" ") - page.text.count("\n")
            assert visible >= 20, f"{entry['name']} page {page.number} has no text"
            assert not page.ocr, f"{entry['name']} page {page.number} was OCR'd needlessly"


def test_scanned_pdfs_come_out_of_ocr_made_of_real_words(
    ocr_results: dict[str, list[Page]], vocabulary: set[str]
) -> None:
    expected_pages = {str(e["name"]): e["pages"] for e in manifest()}
    for name in scanned_names():
        pages = ocr_results[name]
        assert len(pages) == expected_pages[name], name
        assert all(page.ocr for page in pages), name
        found = words(" ".join(page.text for page in pages))
        known = sum(word in vocabulary for word in found)
        assert len(found) >= 25, f"{name}: only {len(found)} words read"
        assert known / len(found) > 0.6, f"{name}: {known} of {len(found)} words are known"


def test_scans_under_a_text_filing_stamp_are_ocr_d_beyond_the_stamp(
    ocr_results: dict[str, list[Page]],
) -> None:
    stamped = [e for e in manifest() if str(e["text_layer"]).startswith("partial")]
    assert len(stamped) == 3
    for entry in stamped:
        name = str(entry["name"])
        document = pdfium.PdfDocument(read(name))
        for page, ocr_page in zip(document, ocr_results[name], strict=True):
            layer = page.get_textpage().get_text_range()
            assert layer.strip(), f"{name}: expected a stamp in the text layer"
            assert ocr_page.ocr
            assert len(words(ocr_page.text)) > 4 * len(words(layer)), name


def test_ocr_of_the_tarrant_scan_matches_the_digital_text_layer(
    ocr_results: dict[str, list[Page]],
) -> None:
    digital = ocr_results[TARRANT_DIGITAL][:2]
    scanned = ocr_results[TARRANT_SCANNED]
    assert [page.ocr for page in scanned] == [True, True]
    assert [page.ocr for page in digital] == [False, False]
    truth = squash(" ".join(page.text for page in digital))
    read_back = squash(" ".join(page.text for page in scanned))
    assert Levenshtein.distance(truth, read_back) / len(truth) < MAX_TARRANT_CER


def test_a_digital_pdf_with_image_only_appendix_pages_ocrs_just_those(
    ocr_results: dict[str, list[Page]],
) -> None:
    pages = ocr_results[TARRANT_DIGITAL]
    assert len(pages) == 30
    assert [page.number for page in pages if page.ocr] == [29, 30]
    assert all(page.text.strip() for page in pages)


def test_an_existing_ocr_layer_is_kept_and_its_textless_pages_are_ocr_d() -> None:
    source = pdfium.PdfDocument(read(OCR_LAYER))
    layers = [source[i].get_textpage().get_text_range() for i in range(len(source))]
    keep = [i for i, text in enumerate(layers) if text.strip()][:2]
    blank = [i for i, text in enumerate(layers) if not text.strip()][:1]
    subset = pdfium.PdfDocument.new()
    subset.import_pages(source, keep + blank)
    pages = extract_pages(_saved(subset))
    assert [page.ocr for page in pages] == [False, False, True]
    for page, index in zip(pages, keep, strict=False):
        assert words(page.text) == words(layers[index])
    assert len(words(pages[2].text)) > 20


def test_hidden_text_letter_keeps_its_text_layer_which_agrees_with_the_rendered_page() -> None:
    data = read(HIDDEN_TEXT)
    [page] = extract_pages(data)
    assert not page.ocr
    image = pdfium.PdfDocument(data)[0].render(scale=300 / 72, grayscale=True).to_pil()
    seen = recognize(image, dpi=300, limits=Limits(), what="the rendered letter")
    layer, shown = collections.Counter(page.text.split()), collections.Counter(seen.split())
    common = sum((layer & shown).values())
    assert common / sum(layer.values()) > 0.9
    assert common / sum(shown.values()) > 0.9
    assert all(count == 1 for line, count in collections.Counter(_lines(page.text)).items() if line)


def test_pdfs_are_read_correctly_by_concurrent_threads() -> None:
    names = [str(entry["name"]) for entry in digital_pdfs()][:8]
    alone = [extract_pages(read(name)) for name in names]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda name: extract_pages(read(name)), names * 2))
    assert together == alone + alone


def test_a_pdf_named_txt_is_read_as_a_pdf() -> None:
    data = read("doctor__ca10_in_re_liebowitz_21-800_order.pdf")
    kind, pages = read_document(data, "order.txt")
    assert kind is DocumentKind.PDF
    assert pages == extract_pages(data, DocumentKind.PDF)


def test_a_truncated_pdf_is_refused_as_truncated() -> None:
    data = read("doctor__mo_ctapp_ed_jagels_v_state.pdf")
    with pytest.raises(PermanentError, match=r"PDF is truncated .* submit the new copy"):
        extract_pages(data[: len(data) // 5])


def test_a_pdf_cut_after_its_page_content_is_still_read_in_full() -> None:
    # PDFium rebuilds a lost cross-reference table; what survives is worth reading.
    data = read("doctor__mo_ctapp_ed_jagels_v_state.pdf")
    assert extract_pages(data[: len(data) // 2]) == extract_pages(data)


def test_a_bit_flipped_pdf_is_refused_as_corrupt() -> None:
    data = bytearray(read("xray__cacd_civil_minutes_general.pdf"))
    # Damage everything past the header, keeping the end-of-file marker in place.
    for index in range(1024, len(data) - 64, 7):
        data[index] ^= 0x5A
    with pytest.raises(PermanentError, match=r"PDF is corrupt and cannot be opened"):
        extract_pages(bytes(data))


def test_a_password_protected_pdf_is_refused_with_what_to_do() -> None:
    sealed = _fpdf_document("Sealed order", owner_password="clerk", user_password="secret")
    with pytest.raises(PermanentError, match=r"encrypted PDF .* remove the password"):
        extract_pages(sealed)


def test_a_pdf_encrypted_only_against_editing_is_read() -> None:
    pages = extract_pages(_fpdf_document("Order granting the motion", owner_password="clerk"))
    assert squash(pages[0].text) == "Order granting the motion"


def test_blank_pages_are_empty_without_ocr_and_an_all_blank_pdf_is_refused() -> None:
    pages = extract_pages(_fpdf_document("Judgment entered for the plaintiff", blank_pages=1))
    assert [(page.number, page.text, page.ocr) for page in pages] == [
        (1, "Judgment entered for the plaintiff", False),
        (2, "", False),
    ]
    with pytest.raises(PermanentError, match=r"PDF contains no text"):
        extract_pages(_fpdf_document("", blank_pages=1))


def test_a_pdf_over_the_page_limit_is_refused_before_reading() -> None:
    data = read("doctor__mo_ctapp_ed_jagels_v_state.pdf")
    with pytest.raises(PermanentError, match=r"PDF has 5 pages, over the 3-page limit"):
        extract_pages(data, limits=Limits(max_pages=3))


def test_a_document_over_the_size_limit_is_refused() -> None:
    data = read("doctor__mo_ctapp_ed_jagels_v_state.pdf")
    with pytest.raises(PermanentError, match=r"document is 0\.1 MiB, over the 0 MiB limit"):
        extract_pages(data, limits=Limits(max_bytes=1000))


def test_a_pdf_needing_more_ocr_than_allowed_is_refused_before_any_ocr() -> None:
    data = read("doctor__cand_shimmick_v_rli_stipulation_SCANNED.pdf")
    started = time.perf_counter()
    with pytest.raises(PermanentError, match=r"needs OCR on 2 pages, more than the 1 allowed"):
        extract_pages(data, limits=Limits(max_ocr_pages=1))
    assert time.perf_counter() - started < 0.5


def test_a_missing_tesseract_is_a_configuration_error_naming_the_package() -> None:
    limits = Limits(tesseract_cmd="/nonexistent/tesseract")
    with pytest.raises(ConfigurationError, match=r"apt-get install tesseract-ocr"):
        extract_pages(read(TARRANT_SCANNED), limits=limits)
    with pytest.raises(ConfigurationError, match=r"not found"):
        require_tesseract(limits)


def test_the_installed_tesseract_is_accepted_at_start_up() -> None:
    assert require_tesseract(Limits()).startswith("tesseract ")


def test_missing_ocr_language_data_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"install tesseract-ocr-xyz"):
        require_tesseract(Limits(ocr_language="xyz"))


def test_ocr_past_its_time_limit_is_retryable() -> None:
    limits = Limits(tesseract_timeout=0.01)
    with pytest.raises(RetryableError, match=r"tesseract took longer than 0\.01 s on page 1"):
        extract_pages(read("xray__cacd_gray_v_perry_jury_note_SCANNED.pdf"), limits=limits)


def test_rendering_scales_down_to_stay_within_the_pixel_limit() -> None:
    letter = (612.0, 792.0)
    assert render_scale(*letter, Limits()) == pytest.approx(300 / 72)
    scale = render_scale(*letter, Limits(max_pixels=1_000_000))
    assert letter[0] * letter[1] * scale * scale == pytest.approx(1_000_000)
    huge = render_scale(14_400.0, 14_400.0, Limits())
    assert (14_400 * huge) ** 2 <= Limits().max_pixels * 1.0001


def _lines(text: str) -> Iterator[str]:
    return (line.strip() for line in text.splitlines())


def _saved(document: pdfium.PdfDocument) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _fpdf_document(
    text: str, *, owner_password: str | None = None, user_password: str = "", blank_pages: int = 0
) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    if text:
        pdf.cell(text=text)
    for _ in range(blank_pages):
        pdf.add_page()
    if owner_password is not None:
        pdf.set_encryption(owner_password=owner_password, user_password=user_password)
    return bytes(pdf.output())
