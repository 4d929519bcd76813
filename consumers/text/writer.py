"""A text builder for markup walkers: collapses whitespace and merges line breaks."""

from __future__ import annotations


class TextWriter:
    """Accumulates text and break requests, emitting the strongest break once.

    Breaks requested between two pieces of text merge: a line break and a
    paragraph break in a row make one paragraph break, and breaks before the
    first text or after the last are dropped.  Whitespace inside text
    collapses to single spaces unless ``preserve`` is set.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._newlines = 0
        self._cell = False
        self._space = False
        self._line_start = True

    def text(self, text: str | None, *, preserve: bool = False) -> None:
        """Append ``text``; its whitespace collapses unless ``preserve``."""
        if not text:
            return
        if preserve:
            self._emit(text)
            return
        words = text.split()
        if text[0].isspace():
            self._space = True
        if words:
            self._emit(" ".join(words))
        self._space = text[-1].isspace()

    def line_break(self) -> None:
        """End the current line."""
        self._newlines = max(self._newlines, 1)

    def paragraph_break(self) -> None:
        """End the current paragraph: an empty line follows."""
        self._newlines = 2

    def hard_break(self) -> None:
        """An explicit line break (``<br>``); two in a row leave an empty line."""
        self._newlines = min(2, self._newlines + 1)

    def cell_break(self) -> None:
        """Separate table cells by a tab unless a line break intervenes."""
        self._cell = True

    def getvalue(self) -> str:
        """The text written so far."""
        return "".join(self._parts)

    def _emit(self, text: str) -> None:
        if self._parts:
            self._parts.append(self._separator())
        self._parts.append(text)
        self._newlines, self._cell, self._space = 0, False, False
        self._line_start = text.endswith("\n")

    def _separator(self) -> str:
        if self._newlines:
            return "\n" * self._newlines
        if self._cell and not self._line_start:
            return "\t"
        return " " if self._space and not self._line_start else ""
