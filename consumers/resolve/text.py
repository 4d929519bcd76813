"""Text folding shared by every normaliser: unicode, case, punctuation, spaces."""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = re.compile(r"['’ʼ‘`´]")
_NOT_ALNUM = re.compile(r"[\W_]+")
# Enough rounds for any string: casefolding an NFKC string rarely un-normalises it.
_MAX_ROUNDS = 4


def fold_case(text: str) -> str:
    """NFKC and casefold, repeated until stable, so the result is a fixed point."""
    for _ in range(_MAX_ROUNDS):
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
        if folded == text:
            break
        text = folded
    return text


def tokens(text: str) -> list[str]:
    """Lower-case alphanumeric words: apostrophes dropped, ``&`` read as "and"."""
    # Fold again: deleting an apostrophe can bring together characters NFKC composes.
    text = fold_case(_APOSTROPHES.sub("", fold_case(text))).replace("&", " and ")
    return _NOT_ALNUM.sub(" ", text).split()


def fold(text: str) -> str:
    """The generic key: ``tokens`` joined by single spaces."""
    return " ".join(tokens(text))


def join_letters(words: list[str]) -> list[str]:
    """Merge runs of one-letter words: "l l c" -> "llc", "u s steel" -> "us steel"."""
    merged: list[str] = []
    run = ""
    for word in words:
        if len(word) == 1 and word.isalpha():
            run += word
            continue
        if run:
            merged.append(run)
            run = ""
        merged.append(word)
    if run:
        merged.append(run)
    return merged


def wordset(text: str) -> frozenset[str]:
    """The whitespace-separated words of a table written as one string."""
    return frozenset(text.split())
