"""Score the offline entity extractor against the corpus ground truth.

Usage: ``python -m bench.quality CORPUS_DIR [--source pipeline|text-layer] [--json OUT]``

For every ``*.expected.json`` in CORPUS_DIR the runner gets the document's
mentions, scores them against the entities the expected file states, and
prints precision/recall/F1 per entity type.  ``--source pipeline`` (the
default) submits the documents to the real pipeline and scores the mentions
it stored.  ``--source text-layer`` runs the extractor alone on
``document_text``: the same reader and page join as the pipeline, so the
same text, but no other stage and no OCR (a scanned PDF contributes only its
invisible text layer, if any) -- seconds instead of half a minute, for
tuning rules.

Figures of the offline extractor on the corpus through the pipeline (matching
rule in ``quality_score``; recall R and, where ground truth is complete,
precision P): PARTY P 0.98 R 1.00, ATTORNEY P 0.97 R 0.99, LAW_FIRM P 1.00
R 1.00, JUDGE P 1.00 R 0.88, CASE_CITATION P 0.78 R 0.98 (CAP lists few
parallel citations), DOCKET_NUMBER R 1.00, DATE R 0.99, COURT R 0.86,
ORGANIZATION R 0.75 and MONEY R 0.50 (both only in the scanned report);
overall P 0.95 R 0.98 F1 0.96.  Text-layer mode gives the same figures but
for the scanned report (overall R 0.97).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pypdfium2 as pdfium
from rich.console import Console
from rich.table import Table

from bench.quality_pipeline import pipeline_mentions
from bench.quality_score import (
    Counts,
    Expected,
    expected_entities,
    score_document,
    summarize,
)
from consumers.chunking import join_pages
from consumers.entities import extract_mentions
from consumers.model import Page
from consumers.text import DocumentKind, read_document, sniff
from consumers.text.pdf import PDFIUM_LOCK, open_pdf
from consumers.text.survey import survey_page


def document_text(path: Path, *, ocr: bool = False) -> str:
    """The text the entities stage reads for the document at ``path``.

    The pipeline's own reader (``read_document``) and page join (``join_pages``)
    make it, so the benchmark and the stage see the same characters.  Without
    ``ocr``, PDF pages give their text layer only, as the pipeline reads a page
    that needs no OCR (a scan gives its invisible text, usually none): fast
    enough for tests and for re-running the benchmark while tuning rules.
    """
    data = path.read_bytes()
    if not ocr and sniff(data, path.name) is DocumentKind.PDF:
        pages = _text_layers(data)
    else:
        pages = read_document(data, path.name)[1]
    return join_pages(pages)[0]


def _text_layers(data: bytes) -> list[Page]:
    with PDFIUM_LOCK:
        document = open_pdf(data)
        try:
            return [_text_layer(document, index) for index in range(len(document))]
        finally:
            document.close()


def _text_layer(document: pdfium.PdfDocument, index: int) -> Page:
    page = document[index]
    try:
        return Page(number=index + 1, text=survey_page(page).text)
    finally:
        page.close()


def _document_for(expected_path: Path) -> Path:
    record = json.loads(expected_path.read_text(encoding="utf-8"))
    return expected_path.parent / str(record["document"])


def run(
    corpus: Path, source: str = "pipeline"
) -> tuple[dict[str, Counts], list[dict[str, object]], float]:
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
    parser.add_argument(
        "--source",
        choices=("pipeline", "text-layer"),
        default="pipeline",
        help="run the whole pipeline (default) or the extractor on PDF text layers",
    )
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
