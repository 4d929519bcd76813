"""Turning the bytes of a legal document into the text of its pages.

``sniff`` tells the format from the bytes; ``extract_pages`` reads a PDF's
text layer (OCR-ing scanned pages with tesseract), a DOCX, HTML, XML, plain
text or an image, and refuses everything else with a ``PermanentError`` that
says what to do; ``read_isolated`` does the same in a child process under a
memory cap.  ``Limits`` bounds the bytes, pages, pixels, markup, memory and
OCR time one document may cost.
"""

from __future__ import annotations

from consumers.text.extract import extract_pages, read_document
from consumers.text.isolation import read_isolated
from consumers.text.limits import Limits
from consumers.text.ocr import require_tesseract
from consumers.text.sniff import DocumentKind, sniff

__all__ = [
    "DocumentKind",
    "Limits",
    "extract_pages",
    "read_document",
    "read_isolated",
    "require_tesseract",
    "sniff",
]
