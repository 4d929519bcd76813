"""What every entity extractor offers the entities stage."""

from __future__ import annotations

from typing import Protocol

from consumers.model import Mention


class Extractor(Protocol):
    """Finds entity mentions in a text.

    ``version`` names the extractor and its rules or model; it is part of the
    cache key of an extraction, so a new version re-extracts.
    ``whole_document`` is True for an extractor that reads a whole document at
    once (captions and counsel blocks are then never cut at a chunk boundary);
    False for one bound to chunk-sized inputs, such as a language model.
    """

    version: str
    whole_document: bool

    async def extract(self, text: str) -> list[Mention]:
        """Mentions in ``text``, each with ``text[m.start:m.end] == m.text``."""
        ...
