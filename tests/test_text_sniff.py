"""Telling document kinds apart from their bytes, and the pure clean-up and layout rules."""

from __future__ import annotations

import io
import json
import zipfile

import docx
import pytest
from PIL import Image

from consumers.text import DocumentKind, Limits, sniff
from consumers.text.clean import is_garbled, tidy, tidy_pdf_text, visible_chars
from consumers.text.encoding import decode_text
from consumers.text.survey import PageSurvey, covered_length, needs_ocr
from consumers.text.writer import TextWriter
from streamproc.errors import ConfigurationError

from corpus import corpus_dir

MANIFEST_FORMATS = {
    "PDF": DocumentKind.PDF,
    "HTML": DocumentKind.HTML,
    "XML (CAP casebody)": DocumentKind.XML,
    "plain text": DocumentKind.TEXT,
    "DOCX": DocumentKind.DOCX,
    "MS Word 97 .doc": DocumentKind.DOC,
    "WordPerfect .wpd": DocumentKind.WORDPERFECT,
}
# The manifest goes by file name; this one is an RSS feed that was saved as .html.
RSS_SAVED_AS_HTML = "juriscraper__ca7_opinion_listing_page.html"


@pytest.mark.corpus
def test_every_corpus_document_sniffs_to_its_manifest_format() -> None:
    entries = json.loads((corpus_dir() / "MANIFEST.json").read_text())
    assert len(entries) == 67
    for entry in entries:
        data = (corpus_dir() / entry["name"]).read_bytes()
        expected = MANIFEST_FORMATS[entry["format"]]
        if entry["name"] == RSS_SAVED_AS_HTML:
            expected = DocumentKind.XML
        assert sniff(data) is expected, entry["name"]


@pytest.mark.corpus
def test_the_file_name_never_overrides_the_bytes() -> None:
    pdf = (corpus_dir() / "xray__cacd_civil_minutes_general.pdf").read_bytes()
    assert sniff(pdf, "minutes.txt") is DocumentKind.PDF
    assert sniff(b"<html><body>Order</body></html>", "order.pdf") is DocumentKind.HTML
    assert sniff(b"Plain order text", "order.docx") is DocumentKind.TEXT


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "GIF", "BMP", "WEBP"])
def test_images_sniff_as_images(fmt: str) -> None:
    buffer = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buffer, format=fmt)
    assert sniff(buffer.getvalue()) is DocumentKind.IMAGE


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", DocumentKind.EMPTY),
        (b"   \n", DocumentKind.TEXT),
        (b"junk before %PDF-1.7 header", DocumentKind.PDF),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), DocumentKind.BINARY),
        (b"\xffWPC\x10\x00\x00\x00", DocumentKind.WORDPERFECT),
        (b"{\\rtf1\\ansi Order}", DocumentKind.RTF),
        (b"\x00\x01\x02\x03binary\x00\x00", DocumentKind.BINARY),
        (b"<!-- saved --><!DOCTYPE html><p>x</p>", DocumentKind.HTML),
        (b"<head><title>23-30126 Docket</title></head>", DocumentKind.HTML),
        (b"<?xml version='1.0'?><html><body/></html>", DocumentKind.HTML),
        (b"<?xml version='1.0'?>\n<casebody><p>x</p></casebody>", DocumentKind.XML),
        (b"<casebody firstpage='1'><p>x</p></casebody>", DocumentKind.XML),
        (b"<< not markup >>", DocumentKind.TEXT),
        ("<html><body>Order</body></html>".encode("utf-16"), DocumentKind.HTML),
        ("Order of the court".encode("utf-16-le"), DocumentKind.TEXT),
    ],
)
def test_kinds_are_sniffed_from_magic_numbers_and_markup(data: bytes, kind: DocumentKind) -> None:
    assert sniff(data) is kind


def test_a_word_stream_in_an_ole2_file_makes_it_a_legacy_word_document() -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512) + "WordDocument".encode("utf-16-le")
    assert sniff(data) is DocumentKind.DOC


def test_zip_archives_are_docx_only_with_a_word_document_part() -> None:
    buffer = io.BytesIO()
    docx.Document().save(buffer)
    assert sniff(buffer.getvalue()) is DocumentKind.DOCX
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("content.xml", "<office:document/>")
    assert sniff(other.getvalue()) is DocumentKind.ZIP


def test_tidy_normalises_newlines_spaces_ligatures_and_blank_runs() -> None:
    raw = "\n\nFirst\u00a0line  \r\nsecond\u2003line\r\r\r\n\nof\ufb01ce  \n  indented\x07\n\n"
    assert tidy(raw) == "First line\nsecond line\n\noffice\n  indented"


def test_pdf_hyphen_markers_become_hyphens_but_soft_hyphens_vanish_elsewhere() -> None:
    assert tidy_pdf_text("post\ufffeapprovals, Go\u00adPage") == "post-approvals, Go-Page"
    assert tidy("Hop\u00adwood") == "Hopwood"


def test_garbled_text_layers_are_told_from_real_text() -> None:
    assert not is_garbled("Tarrant Regional Water District v. Herrmann, 569 U.S. 614 (2013)")
    assert not is_garbled("$ 1,204,500   $ 2,310,000   12.5 %   2011   2012")
    assert is_garbled("!\"#$%&'()*+,-./ !\"#$ %&'() *+,")
    assert is_garbled("\ue000\ue001\ue002\ue003 \ue004\ue005\ue006 abc")
    assert is_garbled("   ")
    assert visible_chars(" a b\nc\t") == 3


def test_covered_length_is_the_union_of_intervals() -> None:
    assert covered_length([]) == 0
    assert covered_length([(0, 10), (5, 15), (20, 25)]) == 20
    assert covered_length([(10, 0), (2, 3)]) == 10


@pytest.mark.parametrize(
    ("survey", "ocr"),
    [
        (PageSurvey(text="", objects=0, image_cover=0.0, text_band=0.0), False),
        (PageSurvey(text="", objects=1, image_cover=1.0, text_band=0.0), True),
        (PageSurvey(text="Page 1 of 2", objects=3, image_cover=0.0, text_band=0.01), True),
        (PageSurvey(text="x" * 60, objects=5, image_cover=1.0, text_band=0.02), True),
        (PageSurvey(text="x" * 900, objects=90, image_cover=1.0, text_band=0.15), False),
        (PageSurvey(text="x" * 60, objects=5, image_cover=0.1, text_band=0.02), False),
    ],
    ids=["blank", "scan", "short", "stamp-over-scan", "ocr-layer-over-scan", "sparse-digital"],
)
def test_which_pdf_pages_need_ocr(survey: PageSurvey, ocr: bool) -> None:
    assert needs_ocr(survey) is ocr


def test_text_writer_merges_breaks_and_collapses_whitespace() -> None:
    writer = TextWriter()
    writer.paragraph_break()
    writer.text("  Smith   v.\n Jones ")
    writer.text("(1999)")
    writer.line_break()
    writer.paragraph_break()
    writer.text("Cell A")
    writer.cell_break()
    writer.text("Cell B")
    writer.hard_break()
    writer.hard_break()
    writer.text("  keep  ", preserve=True)
    writer.line_break()
    assert writer.getvalue() == "Smith v. Jones (1999)\n\nCell A\tCell B\n\n  keep  "


def test_decoding_prefers_bom_then_utf8_then_the_declared_charset() -> None:
    assert decode_text("naïve".encode("utf-8-sig")) == "naïve"
    assert decode_text("café".encode(), declared="iso-8859-1") == "café"
    assert decode_text(b"\x93quoted\x94", declared="iso-8859-1") == "“quoted”"
    assert decode_text("Müller & Söhne GmbH, Düsseldorf".encode("cp1252")).startswith("Müller")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match=r"max_pages must be positive, got 0"):
        Limits(max_pages=0)
