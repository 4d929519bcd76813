"""Word (DOCX) documents: paragraphs and tables in document order, split at explicit page breaks."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator

import docx
from docx.opc.exceptions import PackageNotFoundError
from lxml import etree

from consumers.model import Page
from consumers.text.clean import tidy
from consumers.text.limits import Limits
from streamproc.errors import PermanentError

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# Run content that is not shown as text: tracked deletions, field codes, properties,
# and the fallback copy of content a newer Word also stores in its preferred form.
_HIDDEN = {
    f"{_W}delText",
    f"{_W}instrText",
    f"{_W}rPr",
    f"{_W}pPr",
    f"{_W}del",
    _MC_FALLBACK,
}
_SIMPLE = {f"{_W}tab": "\t", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}
_PAGE_BREAK = None  # marker in the inline stream
_Piece = str | None
# What a damaged zip raises while it is listed or inflated: a flipped bit can
# corrupt a deflate stream, a version field or a compression method.
_ZIP_DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,  # a member flagged as encrypted
    KeyError,
    ValueError,
    OSError,
)
# The parts python-docx parses into XML trees; media and embedded files stay bytes.
_MARKUP_SUFFIXES = (".xml", ".rels")


def docx_pages(data: bytes, limits: Limits) -> list[Page]:
    """Return the text of a DOCX document, one page per explicit page break."""
    _check_unpacked_size(data, limits)
    body = _open(data).element.body
    pages: list[list[str]] = [[]]
    for piece in _blocks(body):
        if piece is _PAGE_BREAK:
            pages.append([])
        else:
            pages[-1].append(piece)
    limits.check_pages(len(pages), "DOCX document")
    return [Page(number=n, text=tidy("\n".join(lines))) for n, lines in enumerate(pages, 1)]


def _check_unpacked_size(data: bytes, limits: Limits) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except _ZIP_DAMAGE as exc:
        raise PermanentError(_damaged(exc)) from exc
    # A zip bomb declares its true size, or inflates no further than the size it
    # declares (zipfile stops there): refuse it before anything inflates it.
    limits.check_size(sum(m.file_size for m in members), "DOCX document, unpacked,")
    markup = sum(m.file_size for m in members if m.filename.lower().endswith(_MARKUP_SUFFIXES))
    limits.check_markup(markup, "DOCX document")


def _open(data: bytes) -> docx.document.Document:
    try:
        return docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, etree.XMLSyntaxError, *_ZIP_DAMAGE) as exc:
        raise PermanentError(_damaged(exc)) from exc


def _damaged(exc: Exception) -> str:
    return (
        f"DOCX document is damaged and cannot be opened ({exc}): "
        "save it again from Word (or export it as PDF) and submit the new copy"
    )


def _blocks(container: etree._Element) -> Iterator[_Piece]:
    """Yield one line per paragraph or table row, and a marker at each page break."""
    for child in container:
        if child.tag == f"{_W}p":
            yield from _paragraph(child)
        elif child.tag == f"{_W}tbl":
            yield from _table(child)
        elif child.tag == f"{_W}sdt":
            content = child.find(f"{_W}sdtContent")
            if content is not None:
                yield from _blocks(content)


def _paragraph(paragraph: etree._Element) -> Iterator[_Piece]:
    if _breaks_page_before(paragraph):
        yield _PAGE_BREAK
    line: list[str] = []
    for piece in _inline(paragraph):
        if piece is _PAGE_BREAK:
            yield "".join(line)
            line = []
            yield _PAGE_BREAK
        else:
            line.append(piece)
    yield "".join(line)


def _breaks_page_before(paragraph: etree._Element) -> bool:
    flag = paragraph.find(f"{_W}pPr/{_W}pageBreakBefore")
    return flag is not None and flag.get(f"{_W}val", "true") not in {"false", "0", "off"}


def _table(table: etree._Element) -> Iterator[str]:
    # One line per row, cells apart by a tab; a cell's own lines are joined by spaces.
    for row in table.iterfind(f"{_W}tr"):
        cells = [_cell_text(cell) for cell in row.iterfind(f"{_W}tc")]
        yield "\t".join(cells)


def _cell_text(cell: etree._Element) -> str:
    lines = (piece for piece in _blocks(cell) if piece is not _PAGE_BREAK)
    return " ".join(line.strip() for line in lines if line and line.strip())


def _inline(element: etree._Element) -> Iterator[_Piece]:
    """Yield the text shown inside a paragraph, in order."""
    for child in element:
        tag = child.tag
        if tag == f"{_W}t":
            yield child.text or ""
        elif tag in _SIMPLE:
            yield _SIMPLE[tag]
        elif tag == f"{_W}br":
            yield _PAGE_BREAK if child.get(f"{_W}type") == "page" else "\n"
        elif tag == f"{_W}fldChar":
            yield _form_field_value(child)
        elif isinstance(tag, str) and tag not in _HIDDEN:
            yield from _inline(child)


def _form_field_value(field_char: etree._Element) -> str:
    """The value a legacy form field shows but does not store as text (drop-down, check box)."""
    choices = field_char.find(f"{_W}ffData/{_W}ddList")
    if choices is not None:
        entries = [entry.get(f"{_W}val", "") for entry in choices.iterfind(f"{_W}listEntry")]
        result = choices.find(f"{_W}result")
        chosen = result.get(f"{_W}val", "0") if result is not None else "0"
        index = int(chosen) if chosen.isdigit() else 0
        return entries[index] if index < len(entries) else ""
    box = field_char.find(f"{_W}ffData/{_W}checkBox")
    if box is not None:
        state = box.find(f"{_W}checked")
        if state is None:
            state = box.find(f"{_W}default")
        ticked = state is not None and state.get(f"{_W}val", "true") not in {"false", "0"}
        return "☒" if ticked else "☐"
    return ""
