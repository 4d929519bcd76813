"""Turning the bytes of a text or HTML document into ``str``: BOM, UTF-8, declared, detected."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
# Browsers read these labels as Windows-1252, and so do the documents' authors.
_AS_WINDOWS_1252 = {"latin-1", "iso8859-1", "ascii"}
_SAMPLE = 4096


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode ``data``: a BOM wins, then valid UTF-8, then ``declared``, then detection.

    Valid UTF-8 is preferred to a declared charset because a document with
    non-ASCII bytes that happen to form valid UTF-8 is almost surely UTF-8,
    whatever its (often copied) declaration says.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    wide = _utf16_without_bom(data[:_SAMPLE])
    if wide:
        return data.decode(wide, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    encoding = _known(declared) or _detected(data) or "cp1252"
    return data.decode(encoding, errors="replace")


def html_charset(data: bytes) -> str | None:
    """The charset a ``<meta>`` tag in the first few KiB declares, if any."""
    found = _META_CHARSET.search(data[:_SAMPLE])
    return found.group(1).decode("ascii") if found else None


def _known(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return "cp1252" if name in _AS_WINDOWS_1252 else name


def _detected(data: bytes) -> str | None:
    best = from_bytes(data).best()
    return _known(best.encoding) if best is not None else None


def _utf16_without_bom(sample: bytes) -> str | None:
    # ASCII-range text in UTF-16 has a zero in every other byte.
    if len(sample) < 4 or sample.count(b"\x00") * 2 < len(sample) * 0.9:
        return None
    return "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
