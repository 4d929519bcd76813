"""Resource limits for text extraction, so one hostile document cannot exhaust a worker."""

from __future__ import annotations

from dataclasses import dataclass

from streamproc.errors import ConfigurationError, PermanentError

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the size of a document and on the work spent reading it.

    ``max_bytes`` caps the input, ``max_pages`` the page count (PDF pages, TIFF
    frames or form-feed pages), ``max_ocr_pages`` how many pages may need OCR,
    ``max_pixels`` the size of any image decoded or rendered (a page rendered
    at ``ocr_dpi`` is scaled down to fit, an image a scanned page embeds is
    not), ``max_markup_bytes`` the XML or HTML parsed into one tree (a DOCX's
    unpacked parts, an HTML or XML document), which costs up to twenty times
    its size in memory, ``max_document_memory`` the memory of the process that reads
    one document in isolation (``read_isolated``), and ``tesseract_timeout``
    the seconds one page may spend in tesseract.
    """

    max_bytes: int = 200 * _MIB
    max_pages: int = 2_000
    max_ocr_pages: int = 500
    max_pixels: int = 40_000_000
    max_markup_bytes: int = 32 * _MIB
    max_document_memory: int = 1024 * _MIB
    ocr_dpi: int = 300
    ocr_language: str = "eng"
    tesseract_timeout: float = 120.0
    tesseract_cmd: str = "tesseract"

    def __post_init__(self) -> None:
        numbers = {
            "max_bytes": self.max_bytes,
            "max_pages": self.max_pages,
            "max_ocr_pages": self.max_ocr_pages,
            "max_pixels": self.max_pixels,
            "max_markup_bytes": self.max_markup_bytes,
            "max_document_memory": self.max_document_memory,
            "ocr_dpi": self.ocr_dpi,
            "tesseract_timeout": self.tesseract_timeout,
        }
        for name, value in numbers.items():
            if value <= 0:
                raise ConfigurationError(f"text limit {name} must be positive, got {value}")

    def check_size(self, size: int, what: str) -> None:
        """Refuse a document of ``size`` bytes that is larger than ``max_bytes``."""
        if size > self.max_bytes:
            raise PermanentError(
                f"{what} is {size / _MIB:.1f} MiB, over the {self.max_bytes / _MIB:.0f} MiB "
                "limit: split it into smaller documents and submit them again"
            )

    def check_pages(self, count: int, what: str) -> None:
        """Refuse a document with more than ``max_pages`` pages."""
        if count > self.max_pages:
            raise PermanentError(
                f"{what} has {count} pages, over the {self.max_pages}-page limit: "
                "split it into smaller documents and submit them again"
            )

    def check_pixels(self, width: int, height: int, what: str) -> None:
        """Refuse an image larger than ``max_pixels`` before it is decoded."""
        if width * height > self.max_pixels:
            raise PermanentError(
                f"{what} is {width}x{height} pixels, over the {self.max_pixels:,}-pixel limit: "
                "scan it at a lower resolution (300 dpi is plenty) and submit it again"
            )

    def check_markup(self, size: int, what: str) -> None:
        """Refuse ``size`` bytes of XML or HTML, more than ``max_markup_bytes``, before parsing."""
        if size > self.max_markup_bytes:
            raise PermanentError(
                f"{what} holds {size / _MIB:.1f} MiB of markup, over the "
                f"{self.max_markup_bytes / _MIB:.0f} MiB that may be parsed at once: "
                "split it into smaller documents and submit them again"
            )
