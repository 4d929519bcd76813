"""The pipeline benchmark's report agrees with itself on a few generated documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.pipeline import measure
from consumers.samples import write_examples

# The born-digital documents: no OCR, so the run takes seconds.
DOCUMENTS = ("court_order.pdf", "docket.html", "services_agreement.docx")


@pytest.mark.slow
def test_pipeline_benchmark_reports_cpu_for_every_stage_and_counts_every_document(
    tmp_path: Path,
) -> None:
    written = {p.name: p for p in write_examples(tmp_path / "examples")}
    report = measure([written[name] for name in DOCUMENTS], rate=100, timeout=120)

    assert report["files"] == report["submitted"] == report["documents"] == len(DOCUMENTS)
    assert report["done"] == len(DOCUMENTS)
    assert report["failed"] == 0
    assert report["pages"] > 0
    assert report["pages_per_second"] == pytest.approx(report["pages"] / report["wall_seconds"])
    assert list(report["stages"]) == ["ocr", "chunk", "entities", "resolve", "relationships"]
    for name, stage in report["stages"].items():
        assert stage["workers"] == 1
        # /proc counts CPU in 10 ms ticks: the light stages may spend less on three documents.
        if name in {"ocr", "entities"}:
            assert stage["cpu_seconds"] > 0
        assert stage["cpu_seconds_per_page"] == pytest.approx(
            stage["cpu_seconds"] / report["pages"]
        )
        assert all(0 <= share <= 1 for share in stage["share"].values())
        assert stage["peak_rss_mib"][0] > 0
    totals = report["totals"]
    assert totals["cpu_seconds"] == pytest.approx(
        sum(s["cpu_seconds"] for s in report["stages"].values())
    )
    # A stage whose few milliseconds of work drew no sample has no split: at most the whole.
    assert sum(totals["share"].values()) <= 1.0 + 1e-9
    assert report["machine"]["redis"] and report["machine"]["postgresql"]
