"""Where the test corpus of real legal documents is, and what it lists.

The corpus is read from ``STREAMPROC_CORPUS`` (default: ``shared/corpus``
beside the repository) at test time and never copied into the project.
Tests that need it use the ``corpus_dir`` fixture or carry the ``corpus``
marker; where no corpus is present those tests are not run and the summary
says so (see ``conftest.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def corpus_root() -> Path:
    """Where the corpus should be."""
    return Path(os.environ.get("STREAMPROC_CORPUS") or REPO.parent / "shared" / "corpus")


def corpus_present() -> bool:
    """Whether the corpus (its MANIFEST.json) is there."""
    return (corpus_root() / "MANIFEST.json").is_file()


def corpus_dir() -> Path:
    """The corpus directory; fails the calling test with what to do when it is missing."""
    root = corpus_root()
    if not corpus_present():
        pytest.fail(f"test corpus not found at {root}: set STREAMPROC_CORPUS to its directory")
    return root


def manifest() -> list[dict[str, Any]]:
    """The corpus's MANIFEST.json entries."""
    entries: list[dict[str, Any]] = json.loads((corpus_dir() / "MANIFEST.json").read_text())
    return entries


def read(name: str) -> bytes:
    """The bytes of one corpus document."""
    return (corpus_dir() / name).read_bytes()
