"""Score the offline entity extractor against the corpus ground truth.

Usage: ``python -m bench.quality CORPUS_DIR [--json OUT]``

For every ``*.expected.json`` in CORPUS_DIR the runner reads the document's
text (``document_text``), runs the extractor, scores the mentions against the
entities the expected file states, and prints precision/recall/F1 per entity
type.  ``document_text`` is the one place that decides where text comes
from, so it can be swapped for the real pipeline.

Figures of the offline extractor on the corpus (text layer only, so the
scanned disclosure report contributes nothing; matching rule in
``quality_score``), recall R and, where ground truth is complete, precision P:
PARTY P 0.98 R 0.99, ATTORNEY P 0.97 R 0.96, LAW_FIRM P 1.00 R 1.00, JUDGE
P 1.00 R 0.88, CASE_CITATION P 0.78 R 0.98 (CAP lists few parallel
citations), DOCKET_NUMBER R 1.00, DATE R 0.99, COURT R 0.86, MONEY and
ORGANIZATION R 0.00 (only in the scanned report); overall P 0.95 R 0.96
F1 0.95.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pypdfium2 as pdfium
from lxml import etree, html
from rich.console import Console
from rich.table import Table

from bench.quality_score import (
    Counts,
    Expected,
    expected_entities,
    score_document,
    summarize,
)
from bench.quality_pipeline import pipeline_mentions
from consumers.entities import extract_mentions
from consumers.entities.names import words

_BLOCK_TAGS = words(
    """
    p div br tr li h1 h2 h3 h4 h5 h6 table thead tbody title dt dd pre blockquote
    section article header footer ul ol center form hr
    """
)
_CELL_TAGS = frozenset({"td", "th"})


def document_text(path: Path) -> str:
    """Return the plain text of the document at ``path`` (text layer only, no OCR)."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _pdf_text(path)
    if suffix in {".html", ".htm"}:
        return _markup_text(html.fromstring(path.read_bytes()))
    if suffix == ".xml":
        return _markup_text(etree.fromstring(path.read_bytes()))
    return path.read_text(encoding="utf-8", errors="replace")


def _pdf_text(path: Path) -> str:
    document = pdfium.PdfDocument(str(path))
    try:
        pages = [document[i].get_textpage().get_text_bounded() for i in range(len(document))]
    finally:
        document.close()
    return "\n\f".join(page.replace("\r\n", "\n") for page in pages)


def _markup_text(root: etree._Element) -> str:
    """Markup to text, breaking lines at block elements and ``<br>``."""
    etree.strip_elements(root, "script", "style", "noscript", with_tail=False)
    parts: list[str] = []
    _walk(root, parts)
    return "".join(parts)


def _walk(element: etree._Element, parts: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    local = tag.rsplit("}", 1)[-1].lower()
    if element.text and tag:
        parts.append(element.text)
    for child in element:
        _walk(child, parts)
    if local in _BLOCK_TAGS:
        parts.append("\n")
    elif local in _CELL_TAGS:
        parts.append("\t")
    elif tag and local not in {"a", "b", "i", "u", "em", "strong", "span", "font", "sup", "sub"}:
        parts.append("\n")
    if element.tail:
        parts.append(element.tail)


def _document_for(expected_path: Path) -> Path:
    record = json.loads(expected_path.read_text(encoding="utf-8"))
    return expected_path.parent / str(record["document"])


def run(corpus: Path, source: str = "pipeline") -> tuple[dict[str, Counts], list[dict[str, object]], float]:
    """Score every document of ``corpus`` that has ground truth.

    ``source`` is ``pipeline`` (the documents go through every stage, OCR
    included, and the stored mentions are scored) or ``text-layer`` (the
    extractor alone over each document's embedded text).
    """
    totals: dict[str, Counts] = {}
    per_document: list[dict[str, object]] = []
    expected_paths = sorted(corpus.glob("*.expected.json"))
    if source == "pipeline":
        found, seconds = pipeline_mentions([_document_for(p) for p in expected_paths])
    else:
        found, seconds = {}, 0.0
    for expected_path in expected_paths:
        expected: Expected = expected_entities(json.loads(expected_path.read_text("utf-8")))
        if source == "pipeline":
            mentions = found.get(_document_for(expected_path).name, [])
        else:
            text = document_text(_document_for(expected_path))
            started = time.perf_counter()
            mentions = extract_mentions(text)
            seconds += time.perf_counter() - started
        counts = score_document(mentions, expected)
        per_document.append({"document": expected_path.name, **summarize(counts)})
        for kind, count in counts.items():
            totals[kind] = totals.get(kind, Counts()) + count
    return totals, per_document, seconds


def _table(totals: dict[str, Counts]) -> Table:
    table = Table(title="Offline extractor vs corpus ground truth")
    for column in ("type", "expected", "predicted", "matched", "P", "R", "F1"):
        table.add_column(column, justify="left" if column == "type" else "right")
    overall = sum(totals.values(), Counts())
    for kind, count in [*sorted(totals.items()), ("ALL", overall)]:
        table.add_row(
            kind,
            str(count.expected),
            str(count.predicted),
            f"{count.matched_expected}/{count.matched_predicted}",
            f"{count.precision:.3f}",
            f"{count.recall:.3f}",
            f"{count.f1:.3f}",
        )
    return table


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--json", type=Path, default=None, dest="json_out")
    parser.add_argument("--source", choices=("pipeline", "text-layer"), default="pipeline",
                        help="run the whole pipeline (default) or the extractor on PDF text layers")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"{args.corpus} is not a directory: pass the corpus directory", file=sys.stderr)
        return 2
    totals, per_document, seconds = run(args.corpus, args.source)
    Console().print(_table(totals))
    print(f"{args.source} time: {seconds:.2f}s over {len(per_document)} documents")
    if args.json_out is not None:
        report = {
            "totals": summarize(totals),
            "documents": per_document,
            "extract_seconds": seconds,
        }
        args.json_out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
