"""What a PDF page carries (text layer, images, text lines) and whether it must be OCR'd."""

from __future__ import annotations

from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from consumers.text.clean import is_garbled, tidy_pdf_text, visible_chars

# Fewer visible characters than this and the page is a scan (or a blank).
MIN_TEXT_CHARS = 20
# A page is image-dominated when its images cover at least this share of it...
IMAGE_DOMINATED = 0.5
# ...and its text lines stack up to less than this share of the page height: a
# one-line ECF header stamped over a scan is about 0.015, three overlapping
# stamps 0.025, while the sparsest real text page in the corpus is 0.148.
TEXT_BAND_OF_A_STAMP = 0.06

Rect = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class PageSurvey:
    """The facts about one PDF page that decide how its text is read.

    ``image_cover`` is the share of the page area under images (capped at 1),
    ``text_band`` the share of the page height covered by lines of text.
    """

    text: str
    objects: int
    image_cover: float
    text_band: float


def needs_ocr(survey: PageSurvey) -> bool:
    """Whether the page's text must come from OCR rather than its text layer.

    A page without objects is blank and needs nothing.  Otherwise OCR is due
    when the text layer is missing, too short or garbled, or when a scanned
    image fills the page and the text layer is only a thin band over it (a
    court's filing stamp over a scanned body).  An invisible OCR layer over
    a scan covers the page's lines, so it is kept.
    """
    if survey.objects == 0:
        return False
    if visible_chars(survey.text) < MIN_TEXT_CHARS or is_garbled(survey.text):
        return True
    return survey.image_cover >= IMAGE_DOMINATED and survey.text_band < TEXT_BAND_OF_A_STAMP


def survey_page(page: pdfium.PdfPage) -> PageSurvey:
    """Measure ``page``; the caller must hold the PDFium lock."""
    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        text = tidy_pdf_text(textpage.get_text_range())
        rects = [textpage.get_rect(i) for i in range(textpage.count_rects())]
    finally:
        textpage.close()
    objects, images = _objects_and_images(page)
    area = max(width * height, 1.0)
    return PageSurvey(
        text=text,
        objects=objects,
        image_cover=min(1.0, sum(_clipped_area(rect, width, height) for rect in images) / area),
        text_band=covered_length([(rect[1], rect[3]) for rect in rects]) / max(height, 1.0),
    )


def covered_length(intervals: list[tuple[float, float]]) -> float:
    """Total length of the union of ``intervals`` (each given in either order)."""
    total = 0.0
    end = float("-inf")
    for low, high in sorted((min(a, b), max(a, b)) for a, b in intervals):
        if high > end:
            total += high - max(low, end)
            end = high
    return total


def _objects_and_images(page: pdfium.PdfPage) -> tuple[int, list[Rect]]:
    count = 0
    images: list[Rect] = []
    for obj in page.get_objects(max_depth=4):
        count += 1
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            images.append(_page_bounds(obj))
    return count, images


def _page_bounds(obj: pdfium.PdfObject) -> Rect:
    # Bounds of an object inside a Form XObject are in the form's space.
    rect: Rect = obj.get_bounds()
    container = obj.container
    while container is not None:
        rect = container.get_matrix().on_rect(*rect)
        container = container.container
    return rect


def _clipped_area(rect: Rect, width: float, height: float) -> float:
    left, bottom, right, top = rect
    inside_width = max(0.0, min(right, width) - max(left, 0.0))
    return inside_width * max(0.0, min(top, height) - max(bottom, 0.0))
