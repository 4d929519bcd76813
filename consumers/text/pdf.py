"""PDF pages: the text layer where it is usable, tesseract where the page is a scan.

PDFium is not thread-safe, so every PDFium call happens under one process-wide
lock; OCR, the slow part, runs outside it, so a thread pool still overlaps the
OCR of several documents.  A process pool needs no lock at all.

Text drawn invisibly (render mode 3, how OCR layers are stored) and text that
other drawing hides are both kept, exactly as copy-and-paste or search finds
them: dropping invisible text would discard every OCR layer, and deciding what
the drawing hides is a redaction audit, not text extraction.  The text layer
still beats OCR for a born-digital page that hides a stray glyph or two, since
OCR makes more errors than that.  Redacted PDFs must be flattened before they
are submitted.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from consumers.model import Page
from consumers.text.clean import tidy
from consumers.text.limits import Limits
from consumers.text.ocr import recognize
from consumers.text.survey import needs_ocr, survey_page
from streamproc.errors import PermanentError

#: Held around every PDFium call in this process; PDFium has global state.
PDFIUM_LOCK = threading.RLock()
_POINTS_PER_INCH = 72


@dataclass(frozen=True, slots=True)
class _Scan:
    """A page rendered for OCR."""

    image: Image.Image
    dpi: int


def pdf_pages(data: bytes, limits: Limits) -> list[Page]:
    """Return the pages of the PDF in ``data``, OCR-ing those that are scans."""
    with PDFIUM_LOCK:
        document = open_pdf(data)
    try:
        with PDFIUM_LOCK:
            count = len(document)
        _check_count(count, limits)
        return _read_pages(document, count, limits)
    finally:
        with PDFIUM_LOCK:
            document.close()


def open_pdf(data: bytes) -> pdfium.PdfDocument:
    """Open ``data`` with PDFium, translating its failures into ``PermanentError``."""
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise PermanentError(_open_failure(exc, data)) from exc


def _open_failure(exc: pdfium.PdfiumError, data: bytes) -> str:
    code = getattr(exc, "err_code", None)
    if code == pdfium_c.FPDF_ERR_PASSWORD:
        return "encrypted PDF needs a password to open: remove the password and submit again"
    if code == pdfium_c.FPDF_ERR_SECURITY:
        return (
            "encrypted PDF uses an unsupported security handler: "
            "remove the encryption and submit again"
        )
    truncated = b"%%EOF" not in data[-2048:]
    damage = "truncated (it has no end-of-file marker)" if truncated else "corrupt"
    return (
        f"PDF is {damage} and cannot be opened ({exc}): "
        "export or download it again and submit the new copy"
    )


def _check_count(count: int, limits: Limits) -> None:
    if count == 0:
        raise PermanentError("PDF has no pages: export it again and submit the new copy")
    limits.check_pages(count, "PDF")


def _read_pages(document: pdfium.PdfDocument, count: int, limits: Limits) -> list[Page]:
    # Survey every page first, so an over-limit scan is refused before any OCR is spent.
    layers = [_text_layer(document, index) for index in range(count)]
    scans = sum(layer is None for layer in layers)
    if scans > limits.max_ocr_pages:
        raise PermanentError(
            f"PDF needs OCR on {scans} pages, more than the {limits.max_ocr_pages} allowed: "
            "split it into smaller documents and submit them again"
        )
    return [
        Page(number=index + 1, text=layer, ocr=False)
        if layer is not None
        else Page(number=index + 1, text=_ocr_page(document, index, limits), ocr=True)
        for index, layer in enumerate(layers)
    ]


def _text_layer(document: pdfium.PdfDocument, index: int) -> str | None:
    """The page's usable text layer, or None when the page must be OCR'd."""
    with _page(document, index) as page:
        survey = survey_page(page)
    return None if needs_ocr(survey) else survey.text


def _ocr_page(document: pdfium.PdfDocument, index: int, limits: Limits) -> str:
    with _page(document, index) as page:
        _check_images(page, index, limits)
        scan = _render(page, limits)
    what = f"page {index + 1} of the PDF"
    return tidy(recognize(scan.image, dpi=scan.dpi, limits=limits, what=what))


@contextmanager
def _page(document: pdfium.PdfDocument, index: int) -> Iterator[pdfium.PdfPage]:
    """Hold the PDFium lock while page ``index`` is open; its failures become permanent."""
    with PDFIUM_LOCK:
        page = _load_page(document, index)
        try:
            yield page
        except pdfium.PdfiumError as exc:
            raise PermanentError(
                f"page {index + 1} of the PDF is damaged ({exc}): "
                "export or download it again and submit the new copy"
            ) from exc
        finally:
            page.close()


def _load_page(document: pdfium.PdfDocument, index: int) -> pdfium.PdfPage:
    try:
        return document[index]
    except pdfium.PdfiumError as exc:
        raise PermanentError(
            f"page {index + 1} of the PDF is damaged and cannot be loaded ({exc}): "
            "export or download it again and submit the new copy"
        ) from exc


def _check_images(page: pdfium.PdfPage, index: int, limits: Limits) -> None:
    """Refuse a page embedding an image over ``max_pixels``: PDFium decodes it whole to render."""
    for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
        if isinstance(image, pdfium.PdfImage):
            width, height = image.get_px_size()
            limits.check_pixels(width, height, f"an image on page {index + 1} of the PDF")


def _render(page: pdfium.PdfPage, limits: Limits) -> _Scan:
    width, height = page.get_size()
    scale = render_scale(width, height, limits)
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        # A copy, so the image outlives the PDFium bitmap it came from.
        image = bitmap.to_pil().copy()
    finally:
        bitmap.close()
    return _Scan(image=image, dpi=max(1, round(scale * _POINTS_PER_INCH)))


def render_scale(width: float, height: float, limits: Limits) -> float:
    """The scale that renders a page of the given points at ``ocr_dpi``, within ``max_pixels``."""
    scale = limits.ocr_dpi / _POINTS_PER_INCH
    pixels = width * height * scale * scale
    if pixels > limits.max_pixels:
        scale *= math.sqrt(limits.max_pixels / pixels)
    return scale
