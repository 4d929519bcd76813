"""From the bytes of a document to its pages: dispatch on the sniffed kind, refuse the rest."""

from __future__ import annotations

from collections.abc import Callable

from consumers.model import Page
from consumers.text.docx import docx_pages
from consumers.text.image import image_pages
from consumers.text.limits import Limits
from consumers.text.markup import html_pages, xml_pages
from consumers.text.pdf import pdf_pages
from consumers.text.plain import text_pages
from consumers.text.sniff import DocumentKind, sniff
from streamproc.errors import PermanentError

Reader = Callable[[bytes, Limits], list[Page]]

_READERS: dict[DocumentKind, Reader] = {
    DocumentKind.PDF: pdf_pages,
    DocumentKind.DOCX: docx_pages,
    DocumentKind.HTML: html_pages,
    DocumentKind.XML: xml_pages,
    DocumentKind.TEXT: text_pages,
    DocumentKind.IMAGE: image_pages,
}
_LABELS = {
    DocumentKind.PDF: "PDF",
    DocumentKind.DOCX: "DOCX document",
    DocumentKind.HTML: "HTML document",
    DocumentKind.XML: "XML document",
    DocumentKind.TEXT: "text document",
    DocumentKind.IMAGE: "image",
}
_CONVERT = "convert it to DOCX or PDF and submit again"
_REFUSALS = {
    DocumentKind.DOC: f"legacy Word 97-2003 .doc (OLE2 compound file) is not supported: {_CONVERT}",
    DocumentKind.WORDPERFECT: f"WordPerfect document (.wpd) is not supported: {_CONVERT}",
    DocumentKind.RTF: f"RTF document is not supported: {_CONVERT}",
    DocumentKind.ZIP: (
        "zip archive that is not a DOCX is not supported: submit its documents one by one"
    ),
    DocumentKind.EMPTY: (
        "document is empty (0 bytes): the upload may have been cut off; submit it again"
    ),
    DocumentKind.BINARY: (
        "unrecognised binary file (not PDF, DOCX, HTML, XML, text or an image) "
        f"is not supported: {_CONVERT}"
    ),
}


def extract_pages(
    data: bytes, kind: DocumentKind | None = None, *, limits: Limits | None = None
) -> list[Page]:
    """Return the pages of the document in ``data``, numbered from 1.

    ``kind`` is sniffed from the bytes when not given.  CPU-heavy and
    synchronous (PDF rendering, OCR): call it from a worker thread or process.
    Raises ``PermanentError`` for documents that cannot be read (unsupported,
    damaged, encrypted, over a limit, without any text), ``RetryableError``
    when OCR timed out or was killed, and ``ConfigurationError`` when OCR is
    needed but tesseract is missing.
    """
    limits = limits or Limits()
    limits.check_size(len(data), "document")
    kind = kind or sniff(data)
    reader = _READERS.get(kind)
    if reader is None:
        raise PermanentError(_REFUSALS[kind])
    pages = reader(data, limits)
    if not any(page.text.strip() for page in pages):
        raise PermanentError(_no_text(kind, pages))
    return pages


def read_document(
    data: bytes, filename: str | None = None, *, limits: Limits | None = None
) -> tuple[DocumentKind, list[Page]]:
    """Sniff and extract in one call; returns the kind with the pages."""
    kind = sniff(data, filename)
    return kind, extract_pages(data, kind, limits=limits)


def label(kind: DocumentKind) -> str:
    """How messages name a document of ``kind`` ("PDF", "DOCX document", ...)."""
    return _LABELS.get(kind, "document")


def _no_text(kind: DocumentKind, pages: list[Page]) -> str:
    label = _LABELS[kind]
    if any(page.ocr for page in pages):
        return f"{label} has no readable text, even after OCR: submit a clearer scan"
    return f"{label} contains no text, only whitespace: check that the right file was submitted"
