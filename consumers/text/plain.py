"""Plain-text documents: charset detected, newlines normalised, form feeds split pages."""

from __future__ import annotations

from consumers.model import Page
from consumers.text.clean import normalize_newlines, tidy
from consumers.text.encoding import decode_text
from consumers.text.limits import Limits


def text_pages(data: bytes, limits: Limits) -> list[Page]:
    """Return the pages of a plain-text document; a form feed starts a new page."""
    chunks = normalize_newlines(decode_text(data)).split("\f")
    # A form feed that ends the file closes the last page rather than opening an empty one.
    while len(chunks) > 1 and not chunks[-1].strip():
        chunks.pop()
    limits.check_pages(len(chunks), "text document")
    return [Page(number=n, text=tidy(chunk)) for n, chunk in enumerate(chunks, start=1)]
