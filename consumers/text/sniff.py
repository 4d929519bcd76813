"""What kind of document a blob of bytes is, judged from the bytes, never the file name."""

from __future__ import annotations

import io
import re
import struct
import zipfile
from enum import StrEnum


class DocumentKind(StrEnum):
    """The document formats the extractor tells apart."""

    PDF = "pdf"
    DOCX = "docx"
    DOC = "doc"  # legacy Word 97-2003 (OLE2 compound file)
    WORDPERFECT = "wordperfect"
    RTF = "rtf"
    HTML = "html"
    XML = "xml"
    TEXT = "text"
    IMAGE = "image"
    ZIP = "zip"  # a zip archive that is not a Word document
    EMPTY = "empty"
    BINARY = "binary"


_PDF_MAGIC = b"%PDF-"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WORD_STREAM = "WordDocument".encode("utf-16-le")
_WORDPERFECT_MAGIC = b"\xffWPC"
_ZIP_MAGIC = b"PK\x03\x04"
# A local file header: signature, 22 bytes of versions, flags, method, times,
# CRC and sizes, then the lengths of the name and the extra field.
_LOCAL_HEADER = re.compile(re.escape(_ZIP_MAGIC) + rb".{22}(..)..", re.DOTALL)
_LOCAL_HEADERS_WINDOW = 64 * 1024
_IMAGE_MAGICS = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
    b"GIF87a",
    b"GIF89a",
    b"BM",  # Windows bitmap
)
_PREFIXES = (
    (_WORDPERFECT_MAGIC, DocumentKind.WORDPERFECT),
    (b"{\\rtf", DocumentKind.RTF),
    *((magic, DocumentKind.IMAGE) for magic in _IMAGE_MAGICS),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Leading declarations, comments and doctypes that precede the first element.
_PROLOG = re.compile(rb"\s*(<\?.*?\?>|<!--.*?-->|<!doctype[^>]*>)", re.DOTALL | re.IGNORECASE)
_FIRST_TAG = re.compile(rb"\s*<([A-Za-z][\w.:-]*)")
# A document whose first element is one of these is HTML, even without <html>
# (PACER dockets start at <head>); any other first element makes it XML.
# fmt: off
_HTML_FIRST_TAGS = frozenset({
    b"html", b"head", b"body", b"title", b"meta", b"link", b"script", b"style", b"base",
    b"table", b"div", b"p", b"span", b"a", b"br", b"font", b"center", b"form", b"pre",
    b"h1", b"h2", b"h3", b"h4", b"h5", b"h6", b"ul", b"ol", b"b", b"i", b"img", b"hr",
})
# fmt: on
_SNIFF_WINDOW = 4096
# Control bytes other than tab, newline, vertical tab, form feed and carriage return.
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def sniff(data: bytes, filename: str | None = None) -> DocumentKind:
    """Return the kind of document ``data`` holds.

    ``filename`` is accepted for the caller's convenience but deliberately not
    consulted: mislabelled files (a PDF named ``.txt``) are common in court
    uploads, and the bytes are the only reliable witness.
    """
    del filename
    head = data[:_SNIFF_WINDOW]
    if not data:
        return DocumentKind.EMPTY
    binary = _binary_kind(data, head)
    if binary is not None:
        return binary
    return _text_kind(head)


def _binary_kind(data: bytes, head: bytes) -> DocumentKind | None:
    # Acrobat accepts the PDF header anywhere in the first KiB.
    if _PDF_MAGIC in head[:1024]:
        return DocumentKind.PDF
    if head.startswith(_ZIP_MAGIC):
        return DocumentKind.DOCX if _is_docx(data) else DocumentKind.ZIP
    if head.startswith(_OLE2_MAGIC):
        # Excel, PowerPoint and Outlook use the same container; only Word has this stream.
        return DocumentKind.DOC if _WORD_STREAM in data else DocumentKind.BINARY
    if _is_webp(head):
        return DocumentKind.IMAGE
    for prefix, kind in _PREFIXES:
        if head.startswith(prefix):
            return kind
    return None


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        # No readable central directory (a truncated upload): the local headers
        # at the front still name the parts, and a Word document is damaged, not a zip.
        return any(name.startswith(b"word/") for name in _local_names(data))


def _local_names(data: bytes) -> list[bytes]:
    """The member names of the local file headers in the first bytes of a zip."""
    head = data[:_LOCAL_HEADERS_WINDOW]
    names = []
    for header in _LOCAL_HEADER.finditer(head):
        (length,) = struct.unpack("<H", header.group(1))
        names.append(head[header.end() : header.end() + length])
    return names


def _is_webp(head: bytes) -> bool:
    return head.startswith(b"RIFF") and head[8:12] == b"WEBP"


def _text_kind(head: bytes) -> DocumentKind:
    utf16 = head.startswith(_UTF16_BOMS) or _is_utf16(head)
    if not utf16 and _looks_binary(head):
        return DocumentKind.BINARY
    # Markup is judged on the ASCII view: UTF-16 loses its zero bytes.
    text = head.replace(b"\x00", b"") if utf16 else head
    return _markup_kind(text.lstrip(b"\xef\xbb\xbf\xff\xfe")) or DocumentKind.TEXT


def _markup_kind(text: bytes) -> DocumentKind | None:
    position = 0
    while prolog := _PROLOG.match(text, position):
        if prolog.group(1)[:9].lower() == b"<!doctype":
            return DocumentKind.HTML if b"html" in prolog.group(1).lower() else DocumentKind.XML
        position = prolog.end()
    first = _FIRST_TAG.match(text, position)
    if first is None:
        return None
    return DocumentKind.HTML if first.group(1).lower() in _HTML_FIRST_TAGS else DocumentKind.XML


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    return len(_BINARY_BYTES.findall(head)) > len(head) // 100


def _is_utf16(head: bytes) -> bool:
    # ASCII text in UTF-16 without a BOM: every other byte is zero.
    return len(head) >= 4 and head.count(b"\x00") * 2 >= len(head) * 0.9
