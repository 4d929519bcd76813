"""Pure text clean-up shared by every format: newlines, odd spaces, ligatures, blank lines."""

from __future__ import annotations

import re
import unicodedata

# PDFium marks a hyphen it judged to end a line with U+FFFE; the glyph was
# printed, so it is a hyphen.  A soft hyphen in a PDF text layer was drawn too.
_PDF_GLYPHS = str.maketrans({"\ufffe": "-", "\u00ad": "-"})
_TRANSLATION = str.maketrans(
    {
        "\u00ad": None,  # elsewhere a soft hyphen is invisible
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb05": "st",
        "\ufb06": "st",
        "\uf0b7": "•",  # the bullet of the Symbol font, in its private-use slot
        "\u00a0": " ",
        "\u2028": "\n",
        "\u2029": "\n\n",
        "\x0b": "\n",
        "\ufeff": None,
        "\x00": None,
    }
)
_ODD_SPACES = re.compile(r"[\u2000-\u200a\u202f\u205f\u3000]")
_CONTROLS = re.compile(r"[\x01-\x08\x0e-\x1f\x7f]")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_RUN = re.compile(r"\n{3,}")


def normalize_newlines(text: str) -> str:
    """Turn CRLF and lone CR into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def tidy(text: str) -> str:
    """Return ``text`` with one newline style, plain spaces, no trailing blanks.

    Runs of blank lines shrink to one, so paragraph breaks survive as a single
    empty line; leading indentation is kept because it carries layout (block
    quotes, numbered clauses).  Form feeds must already have been split off.
    """
    text = normalize_newlines(text).translate(_TRANSLATION)
    text = _ODD_SPACES.sub(" ", text)
    text = _CONTROLS.sub("", text)
    text = _TRAILING.sub("\n", text + "\n")
    return _BLANK_RUN.sub("\n\n", text).strip("\n")


def tidy_pdf_text(text: str) -> str:
    """``tidy`` for a PDF text layer, where hyphen markers stand for printed hyphens."""
    return tidy(text.translate(_PDF_GLYPHS))


def visible_chars(text: str) -> int:
    """Count the characters of ``text`` that are not whitespace."""
    return len(text) - sum(1 for char in text if char.isspace())


def is_garbled(text: str) -> bool:
    """Whether a text layer is junk: mostly symbols, private-use or undecodable glyphs.

    Fonts without a Unicode map come out as runs of punctuation or private-use
    code points; real text, even a table of figures, is mostly letters and digits.
    """
    glyphs = [char for char in text if not char.isspace()]
    if not glyphs:
        return True
    bad = sum(1 for char in glyphs if _is_bad_glyph(char))
    alnum = sum(1 for char in glyphs if char.isalnum())
    return bad > len(glyphs) * 0.1 or alnum < len(glyphs) * 0.5


def _is_bad_glyph(char: str) -> bool:
    return char == "\ufffd" or unicodedata.category(char) in {"Co", "Cn", "Cc", "Cs"}
