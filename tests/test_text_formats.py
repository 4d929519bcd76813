"""DOCX, HTML, XML, plain text and images, read from the corpus and from documents built here."""

from __future__ import annotations

import collections
import io
import json
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import cast

import docx
import pypdfium2 as pdfium
import pytest
from lxml import etree, html
from PIL import Image

from consumers.model import Page
from consumers.text import DocumentKind, extract_pages, sniff
from streamproc.errors import PermanentError

from corpus import corpus_dir

pytestmark = pytest.mark.corpus

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
DOCX = "doctor__navy_discharge_review_board_decision.docx"
# Elements whose text a reader never sees as document content.
INVISIBLE_HTML = ("script", "style", "head", "noscript", "template", "iframe", "button", "select")


def corpus_names(fmt: str) -> list[str]:
    entries = json.loads((corpus_dir() / "MANIFEST.json").read_text())
    return [entry["name"] for entry in entries if str(entry["format"]).startswith(fmt)]


def read(name: str) -> bytes:
    return (corpus_dir() / name).read_bytes()


def only_page(data: bytes) -> Page:
    [page] = extract_pages(data)
    return page


def squash(text: str) -> str:
    return " ".join(text.split())


def bare(text: str) -> str:
    return "".join(text.split())


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(word in remaining for word in needle)


# DOCX


def test_corpus_docx_keeps_every_paragraph_in_order_and_splits_at_its_page_break() -> None:
    data = read(DOCX)
    pages = extract_pages(data)
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml")
    assert len(pages) == len(re.findall(rb'<w:br w:type="page"/>', xml)) + 1
    ours = " ".join(page.text for page in pages).split()
    theirs = " ".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs).split()
    assert is_subsequence(theirs, ours)


def test_corpus_docx_shows_the_chosen_entry_of_each_drop_down_field() -> None:
    data = read(DOCX)
    text = " ".join(page.text for page in extract_pages(data))
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml"))
    choices = root.findall(f".//{W}ddList")
    assert choices
    for choice in choices:
        entries = [entry.get(f"{W}val") for entry in choice.iter(f"{W}listEntry")]
        result = choice.find(f"{W}result")
        index = int(result.get(f"{W}val", "0")) if result is not None else 0
        if entries and entries[index]:
            assert str(entries[index]) in text
    assert "FORMDROPDOWN" not in text


def test_docx_tables_and_page_breaks_come_out_in_document_order() -> None:
    document = docx.Document()
    document.add_paragraph("IN THE SUPERIOR COURT OF EXAMPLE COUNTY")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Plaintiff", "Acme Widgets, Inc."
    table.cell(1, 0).text, table.cell(1, 1).text = "Defendant", "Bolt & Nut LLC"
    document.add_paragraph("ORDER")
    document.add_page_break()  # type: ignore[no-untyped-call]
    document.add_paragraph("SO ORDERED.")
    pages = extract_pages(_docx_bytes(document))
    assert [(page.number, page.text) for page in pages] == [
        (
            1,
            "IN THE SUPERIOR COURT OF EXAMPLE COUNTY\n"
            "Plaintiff\tAcme Widgets, Inc.\n"
            "Defendant\tBolt & Nut LLC\n"
            "ORDER",
        ),
        (2, "SO ORDERED."),
    ]


def test_a_docx_without_text_is_refused() -> None:
    document = docx.Document()
    document.add_paragraph("   ")
    with pytest.raises(PermanentError, match=r"DOCX document contains no text"):
        extract_pages(_docx_bytes(document))


def test_a_damaged_docx_is_refused_as_damaged() -> None:
    data = bytearray(read(DOCX))
    half = len(data) // 2
    with pytest.raises(PermanentError, match=r"DOCX document is damaged"):
        extract_pages(bytes(data[:half]), DocumentKind.DOCX)


# HTML


def test_html_text_is_the_visible_text_of_the_page_in_order() -> None:
    for name in corpus_names("HTML"):
        data = read(name)
        if sniff(data) is not DocumentKind.HTML:
            continue  # an RSS feed saved as .html is XML, tested below
        root = html.document_fromstring(data)
        for element in list(root.iter(*INVISIBLE_HTML)):
            cast("html.HtmlElement", element).drop_tree()
        visible = cast("html.HtmlElement", root).text_content()
        assert bare(only_page(data).text) == bare(visible), name


def test_pacer_docket_rows_each_start_a_line() -> None:
    for name in corpus_names("HTML"):
        if "pacer_docket" not in name:
            continue
        data = read(name)
        text = only_page(data).text
        lines = [line.strip() for line in text.splitlines()]
        root = html.document_fromstring(data)
        rows = [row.xpath("./td|./th") for row in root.iter("tr")]
        firsts = [row[0] for row in rows if isinstance(row, list) and row]
        assert firsts, name
        for cell in firsts:
            pieces = [piece.split() for piece in cast("html.HtmlElement", cell).itertext()]
            leading = next((words[0] for words in pieces if words), None)
            if leading is not None:
                assert any(line.startswith(leading) for line in lines), (name, leading)


def test_html_blocks_breaks_cells_entities_and_preformatted_text() -> None:
    page = only_page(
        b"<!DOCTYPE html><html><head><title>Docket</title><style>p {color: red}</style>"
        b"<script>track()</script></head><body><h1>Order</h1>"
        b"<p>Smith &amp; Jones,\n   <b>LLP</b>  appeared.</p><p>First line<br>second line</p>"
        b"<table><tr><td>03/07/2023</td><td>1</td><td>NOTICE of appeal</td></tr></table>"
        b"<pre>  12   U.S.C.\n  \xc2\xa7 1983</pre></body></html>"
    )
    assert page.text == (
        "Order\n\nSmith & Jones, LLP appeared.\n\nFirst line\nsecond line\n\n"
        "03/07/2023\t1\tNOTICE of appeal\n\n  12   U.S.C.\n  § 1983"
    )


def test_html_in_windows_1252_is_decoded_by_its_declared_charset() -> None:
    data = (
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
        b"</head><body><p>\x93Caf\xe9 Holdings\x94 \x96 $1,000</p></body></html>"
    )
    assert only_page(data).text == "“Café Holdings” – $1,000"


# XML


def test_cap_casebody_xml_gives_every_block_as_its_own_paragraph_without_star_pages() -> None:
    for name in corpus_names("XML"):
        data = read(name)
        text = only_page(data).text
        root = etree.fromstring(data)
        for marker in root.iter("{*}page-number"):
            assert marker.text not in text.split(), name
        paragraphs = text.split("\n\n")
        for element in root.iter("{*}p", "{*}parties", "{*}docketnumber", "{*}court"):
            expected = squash("".join(_text_without_star_pages(element)))
            if expected:
                assert any(p.startswith(expected) for p in paragraphs), (name, expected[:60])


def test_an_rss_listing_saved_as_html_is_read_as_xml() -> None:
    data = read("juriscraper__ca7_opinion_listing_page.html")
    assert sniff(data) is DocumentKind.XML
    text = only_page(data).text
    for title in etree.fromstring(data).iter("title"):
        assert squash(title.text or "") in text


def test_xml_external_entities_are_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("sealed settlement amount")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE order [<!ENTITY leak SYSTEM "file://{secret}">]>'
        "<order><p>Amount: &leak; paid.</p></order>"
    ).encode()
    text = only_page(data).text
    assert "sealed" not in text
    assert text.startswith("Amount:")


def test_a_markup_document_with_only_markup_is_refused() -> None:
    with pytest.raises(PermanentError, match=r"XML document contains no text"):
        extract_pages(b"<?xml version='1.0'?><casebody><p>  </p></casebody>")


# Plain text


def test_plain_text_keeps_every_character_of_the_file() -> None:
    for name in corpus_names("plain text"):
        data = read(name)
        try:
            expected = data.decode("utf-8")
        except UnicodeDecodeError:
            expected = data.decode("cp1252")
        pages = extract_pages(data)
        # A soft hyphen only shows where a line breaks; in running text it is dropped.
        expected = expected.replace("\f", " ").replace("\u00ad", "")
        assert bare(" ".join(page.text for page in pages)) == bare(expected)


def test_form_feeds_split_a_text_file_into_pages() -> None:
    data = read("eyecite__scotus_fisher_v_univ_of_texas_11-345_slip.txt")
    expected = data.split(b"\f")
    while not expected[-1].strip():
        expected.pop()
    pages = extract_pages(data)
    assert len(pages) == len(expected) > 1
    texts = [chunk.decode("utf-8").replace("\u00ad", "") for chunk in expected]
    assert [bare(page.text) for page in pages] == [bare(text) for text in texts]


def test_text_newlines_are_normalised_and_utf16_is_decoded() -> None:
    assert only_page(b"Line one\r\nLine two\rLine three\n").text == "Line one\nLine two\nLine three"
    utf16 = "Motion to compel — granted\n".encode("utf-16")
    assert only_page(utf16).text == "Motion to compel — granted"


def test_whitespace_only_text_is_refused() -> None:
    with pytest.raises(PermanentError, match=r"text document contains no text, only whitespace"):
        extract_pages(b" \n\t\r\n \f \n")


# Images


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_images_are_ocr_d_into_one_page(fmt: str, order_strip: tuple[Image.Image, str]) -> None:
    image, layer = order_strip
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, dpi=(300, 300))
    [page] = extract_pages(buffer.getvalue())
    assert page.ocr
    assert _overlap(page.text, layer) > 0.85


def test_a_multi_page_tiff_gives_one_page_per_frame(order_strip: tuple[Image.Image, str]) -> None:
    image, layer = order_strip
    buffer = io.BytesIO()
    image.save(buffer, format="TIFF", save_all=True, append_images=[image.rotate(180)])
    pages = extract_pages(buffer.getvalue())
    assert [(page.number, page.ocr) for page in pages] == [(1, True), (2, True)]
    assert _overlap(pages[1].text, layer) > 0.85  # the upside-down frame is turned by OSD


def test_an_image_over_the_pixel_limit_is_refused_before_decoding() -> None:
    with pytest.raises(PermanentError, match=r"8000x8000 pixels, over the 40,000,000-pixel limit"):
        extract_pages(_png_header_only(8000, 8000))


def test_a_decompression_bomb_image_is_refused() -> None:
    with pytest.raises(PermanentError, match=r"image is too large to decode safely"):
        extract_pages(_png_header_only(100_000, 100_000))


def test_a_truncated_image_is_refused_as_damaged(order_strip: tuple[Image.Image, str]) -> None:
    buffer = io.BytesIO()
    order_strip[0].save(buffer, format="PNG")
    data = buffer.getvalue()
    with pytest.raises(PermanentError, match=r"damaged"):
        extract_pages(data[: len(data) // 2])


# Refused formats


def test_legacy_word_doc_is_refused_with_what_to_do() -> None:
    data = read("doctor__ind_supreme_court_opinion_legacy.doc")
    assert sniff(data, "opinion.docx") is DocumentKind.DOC
    with pytest.raises(
        PermanentError,
        match=r"^legacy Word 97-2003 \.doc \(OLE2 compound file\) is not supported: "
        r"convert it to DOCX or PDF and submit again$",
    ):
        extract_pages(data)


def test_wordperfect_is_refused_with_what_to_do() -> None:
    data = read("doctor__ind_supreme_court_johnson_v_state.wpd")
    assert sniff(data) is DocumentKind.WORDPERFECT
    with pytest.raises(
        PermanentError,
        match=r"^WordPerfect document \(\.wpd\) is not supported: "
        r"convert it to DOCX or PDF and submit again$",
    ):
        extract_pages(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"document is empty \(0 bytes\)"),
        (bytes(range(256)) * 8, r"unrecognised binary file"),
        (b"{\\rtf1\\ansi Order}", r"RTF document is not supported"),
    ],
)
def test_empty_binary_and_rtf_documents_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(PermanentError, match=message):
        extract_pages(data)


def test_a_zip_that_is_not_a_docx_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("exhibits/a.txt", "Exhibit A")
    with pytest.raises(PermanentError, match=r"zip archive that is not a DOCX"):
        extract_pages(buffer.getvalue())


# Helpers


@pytest.fixture(scope="module")
def order_strip() -> tuple[Image.Image, str]:
    """The top third of a one-page digital order rendered at 300 dpi, with its text layer."""
    document = pdfium.PdfDocument(read("doctor__ca10_in_re_liebowitz_21-800_order.pdf"))
    page = document[0]
    height = page.get_height()
    image = page.render(scale=300 / 72, grayscale=True).to_pil()
    strip = image.crop((0, 0, image.width, image.height // 3))
    layer = page.get_textpage().get_text_bounded(top=height, bottom=height * 2 / 3)
    return strip, layer


def _overlap(read_back: str, truth: str) -> float:
    ours, theirs = collections.Counter(read_back.split()), collections.Counter(truth.split())
    return sum((ours & theirs).values()) / max(1, sum(theirs.values()))


def _docx_bytes(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))


def _text_without_star_pages(element: etree._Element) -> list[str]:
    parts = [element.text or ""]
    for child in element:
        if etree.QName(child).localname != "page-number":
            parts.extend(_text_without_star_pages(child))
        parts.append(child.tail or "")
    return parts
