"""Pure text clean-up shared by every format: newlines, odd spaces, ligatures, blank lines."""

from __future__ import annotations

import re

# PDFium marks a hyphen it judged to end a line with U+FFFE; the glyph was
# printed, so it is a hyphen.  A soft hyphen in a PDF text layer was drawn too.
_PDF_GLYPHS = {"\ufffe": "-", "\u00ad": "-"}
_REPLACEMENTS = {
    "\u00ad": "",  # elsewhere a soft hyphen is invisible
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb05": "st",
    "\ufb06": "st",
    "\uf0b7": "•",  # the bullet of the Symbol font, in its private-use slot
    "\u2028": "\n",
    "\u2029": "\n\n",
    "\x0b": "\n",
    "\ufeff": "",
    **{chr(code): " " for code in (0xA0, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)},
    **{chr(code): "" for code in (*range(0x09), *range(0x0E, 0x20), 0x7F)},
}


def _substitution(table: dict[str, str]) -> re.Pattern[str]:
    return re.compile("[" + "".join(re.escape(char) for char in table) + "]")


# Regex substitution touches only the rare characters it matches, unlike str.translate.
_PDF_GLYPH_PATTERN = _substitution(_PDF_GLYPHS)
_REPLACEMENT_PATTERN = _substitution(_REPLACEMENTS)
_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_RUN = re.compile(r"\n{3,}")
_WHITESPACE = re.compile(r"\s+")
_LETTERS_AND_DIGITS = re.compile(r"[^\W_]+")
# Replacement characters, private-use code points, C0/C1 controls and lone surrogates.
_BAD_GLYPHS = re.compile(
    "[\ufffd\ue000-\uf8ff\U000f0000-\U0010ffff\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]+"
)


def normalize_newlines(text: str) -> str:
    """Turn CRLF and lone CR into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def tidy(text: str) -> str:
    """Return ``text`` with one newline style, plain spaces, no trailing blanks.

    Runs of blank lines shrink to one, so paragraph breaks survive as a single
    empty line; leading indentation is kept because it carries layout (block
    quotes, numbered clauses).  Form feeds must already have been split off.
    """
    text = _REPLACEMENT_PATTERN.sub(_replace, normalize_newlines(text))
    text = _TRAILING.sub("\n", text + "\n")
    return _BLANK_RUN.sub("\n\n", text).strip("\n")


def _replace(found: re.Match[str]) -> str:
    return _REPLACEMENTS[found.group()]


def tidy_pdf_text(text: str) -> str:
    """``tidy`` for a PDF text layer, where hyphen markers stand for printed hyphens."""
    return tidy(_PDF_GLYPH_PATTERN.sub(lambda found: _PDF_GLYPHS[found.group()], text))


def visible_chars(text: str) -> int:
    """Count the characters of ``text`` that are not whitespace."""
    return len(text) - sum(map(len, _WHITESPACE.findall(text)))


def is_garbled(text: str) -> bool:
    """Whether a text layer is junk: mostly symbols, private-use or undecodable glyphs.

    Fonts without a Unicode map come out as runs of punctuation or private-use
    code points; real text, even a table of figures, is mostly letters and digits.
    """
    glyphs = visible_chars(text)
    if not glyphs:
        return True
    bad = sum(map(len, _BAD_GLYPHS.findall(text)))
    alnum = sum(map(len, _LETTERS_AND_DIGITS.findall(text)))
    return bad > glyphs * 0.1 or alnum < glyphs * 0.5
