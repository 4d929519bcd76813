"""Textract's text-detection results as pages: pure functions, no I/O.

``GetDocumentTextDetection`` answers with ``Blocks``: a ``PAGE`` block per
page, whose ``CHILD`` relationship lists the page's ``LINE`` blocks in reading
order, the ``LINE`` blocks themselves (their ``Text`` and ``Page`` number) and
``WORD`` blocks. A long result comes in several responses joined by
``NextToken``; :class:`Detection` takes them one by one and keeps only what a
page's text needs (the lines and each page's order), so a 3,000-page result
never sits in memory whole.

A page's text is its lines, one per line, in the order its ``PAGE`` block
lists them; lines a ``PAGE`` block does not list (or every line, when there is
no ``PAGE`` block) follow in the order Textract returned them. Pages run from
1 to the page count Textract reports (or the highest page seen), so a blank
page is an empty page, not a gap.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from consumers.model import Page
from consumers.text.sniff import DocumentKind, sniff

IN_PROGRESS = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
PARTIAL_SUCCESS = "PARTIAL_SUCCESS"

Block = Mapping[str, Any]

# Besides PDF, Textract's asynchronous operations read these images (not GIF, BMP or WebP).
_TEXTRACT_IMAGES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")


@dataclass
class Detection:
    """One text-detection job's result, gathered from its responses in order."""

    status: str = ""
    message: str | None = None
    page_count: int | None = None
    lines: dict[str, tuple[int, str]] = field(default_factory=dict)
    order: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    listed: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, response: Mapping[str, Any]) -> None:
        """Take in one response (the first, or the next ``NextToken`` page)."""
        self.status = str(response.get("JobStatus") or self.status)
        self.message = response.get("StatusMessage") or self.message
        self.page_count = _page_count(response) or self.page_count
        for block in response.get("Blocks") or ():
            self._add_block(block)

    def _add_block(self, block: Block) -> None:
        kind = block.get("BlockType")
        if kind == "LINE" and "Id" in block:
            page = _page_of(block)
            self.lines[block["Id"]] = (page, str(block.get("Text") or ""))
            self.order[page].append(block["Id"])
        elif kind == "PAGE":
            self.listed[_page_of(block)].extend(_children(block))

    def pages(self) -> list[Page]:
        """The document's pages, numbered from 1, as OCR'd pages."""
        highest = max((*self.order, *self.listed), default=0)
        count = max(self.page_count or 0, highest)
        return [Page(n, "\n".join(self._page_lines(n)), ocr=True) for n in range(1, count + 1)]

    def _page_lines(self, page: int) -> list[str]:
        listed = [i for i in self.listed.get(page, ()) if self.lines.get(i, (0,))[0] == page]
        seen = set(listed)
        ids = listed + [i for i in self.order.get(page, ()) if i not in seen]
        return [self.lines[i][1] for i in ids]


def detection(responses: Iterable[Mapping[str, Any]]) -> Detection:
    """The :class:`Detection` of a job's responses, in the order they came."""
    found = Detection()
    for response in responses:
        found.add(response)
    return found


def textract_kind(data: bytes) -> Literal["pdf", "image"] | None:
    """The kind of document Textract's asynchronous text detection reads in ``data``, if any.

    That is a PDF or a TIFF, JPEG or PNG image; None for everything else
    (DOCX, HTML, text, other images), which the local extractors read.
    """
    if data.startswith(_TEXTRACT_IMAGES):
        return "image"
    return "pdf" if sniff(data[:4096]) is DocumentKind.PDF else None


def job_token(document: str, trace: str) -> str:
    """The idempotency token of a document's job: a redelivered start gets the same job back.

    The trace differs per submission, so submitting a document again starts a
    new job instead of being handed an old, perhaps failed, one.
    """
    return hashlib.sha256(f"{document}\x1f{trace}".encode()).hexdigest()


def _page_of(block: Block) -> int:
    # Synchronous results of a single image carry no Page: it is page 1.
    page = block.get("Page", 1)
    return page if isinstance(page, int) and page > 0 else 1


def _children(block: Block) -> list[str]:
    ids: list[str] = []
    for relation in block.get("Relationships") or ():
        if relation.get("Type") == "CHILD":
            ids.extend(relation.get("Ids") or ())
    return ids


def _page_count(response: Mapping[str, Any]) -> int | None:
    pages = (response.get("DocumentMetadata") or {}).get("Pages")
    # Only a whole number counts (moto answers with a nested mapping here).
    return pages if isinstance(pages, int) and not isinstance(pages, bool) and pages > 0 else None
