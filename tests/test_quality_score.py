"""Scoring of extracted mentions against ground truth: exact figures on tiny cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image

from bench.quality import document_text
from bench.quality_score import Counts, matches, normalize, score_document, summarize
from bench.quality_truth import Expected, ExpectedEntity, expected_entities, iso_dates
from consumers.chunking import PAGE_SEPARATOR, join_pages
from consumers.model import EntityType as T
from consumers.model import Mention
from consumers.text import read_document


def mention(kind: T, text: str, *attrs: tuple[str, str]) -> Mention:
    return Mention(kind, text, 0, len(text), attrs=attrs)


def test_precision_recall_and_f1_are_exact_on_a_constructed_case() -> None:
    expected = Expected(
        (
            ExpectedEntity(T.PARTY, ("Acme Widgets, Inc.",)),
            ExpectedEntity(T.PARTY, ("Jane Q. Roe",)),
            ExpectedEntity(T.PARTY, ("United States of America",)),
        ),
        frozenset({T.PARTY}),
    )
    predicted = [
        mention(T.PARTY, "ACME WIDGETS, INC."),
        mention(T.PARTY, "Roe, Jane Q."),
        mention(T.PARTY, "Globex"),
        mention(T.PARTY, "Initech LLC"),
    ]
    counts = score_document(predicted, expected)["PARTY"]
    assert counts == Counts(expected=3, matched_expected=2, predicted=4, matched_predicted=2)
    assert counts.precision == 0.5
    assert counts.recall == pytest.approx(2 / 3)
    assert counts.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_types_stated_only_in_part_score_recall_but_not_precision() -> None:
    expected = Expected((ExpectedEntity(T.DATE, ("2017-03-15",)),), frozenset())
    predicted = [mention(T.DATE, "March 15, 2017"), mention(T.DATE, "June 1, 2020")]
    assert score_document(predicted, expected) == {"DATE": Counts(1, 1, 0, 0)}


def test_types_the_ground_truth_does_not_state_are_not_scored() -> None:
    expected = Expected((ExpectedEntity(T.JUDGE, ("Gregory M. Sleet",)),), frozenset({T.JUDGE}))
    predicted = [mention(T.JUDGE, "Gregory M. Sleet"), mention(T.MONEY, "$5")]
    assert set(score_document(predicted, expected)) == {"JUDGE"}


def test_accepted_but_not_required_entities_do_not_count_against_recall() -> None:
    expected = Expected(
        (ExpectedEntity(T.CASE_CITATION, ("612 P.2d 1106",), required=False),),
        frozenset({T.CASE_CITATION}),
    )
    predicted = [mention(T.CASE_CITATION, "612 P.2d 1106", ("form", "full"))]
    assert score_document(predicted, expected) == {"CASE_CITATION": Counts(0, 0, 1, 1)}


def test_short_and_id_citations_are_left_out_of_the_score() -> None:
    expected = Expected(
        (ExpectedEntity(T.CASE_CITATION, ("79 S.W.3d 633",)),), frozenset({T.CASE_CITATION})
    )
    predicted = [
        mention(T.CASE_CITATION, "79 S.W.3d 633", ("form", "full")),
        mention(T.CASE_CITATION, "79 S.W.3d at 636", ("form", "short")),
        mention(T.CASE_CITATION, "Id.", ("form", "id")),
    ]
    assert score_document(predicted, expected) == {"CASE_CITATION": Counts(1, 1, 1, 1)}


@pytest.mark.parametrize(
    ("kind", "left", "right", "same"),
    [
        (T.DATE, "March 15, 2017", "2017-03-15", True),
        (T.DATE, "03/15/2017", "2017-03-16", False),
        (T.MONEY, "$2.5 billion", "$2,500,000,000", True),
        (T.CASE_CITATION, "6 N.J. Super. 456", "6 N.J.Super. 456", True),
        (T.DOCKET_NUMBER, "1:09-cv-00189-GMS", "1:09-cv-00189", True),
        (T.DOCKET_NUMBER, "No. 10-00-00077-CV.", "10-00-00077-CV", True),
        (T.JUDGE, "Robert M. Dow, Jr.", "Robert M. Dow Jr", True),
        (T.JUDGE, "Frank H. Easterbrook", "Easterbrook", True),
        (T.ATTORNEY, "Jack Blumenfeld", "Jack B. Blumenfeld", True),
        (T.PARTY, "Albert, Nathan D.", "Nathan D. Albert", True),
        (T.PARTY, "USA", "United States of America", True),
        (T.PARTY, "Chan-cey", "Jack W. Chancey", True),
        (T.PARTY, "State", "State of Missouri", False),
        (T.PARTY, "Acme Corp.", "Globex Corp.", False),
        (T.ORGANIZATION, "Teva", "Teva Parenteral Medicines Inc.", True),
    ],
)
def test_matching_rule(kind: T, left: str, right: str, same: bool) -> None:
    assert matches(kind, normalize(kind, left), normalize(kind, right)) is same


def test_summary_adds_an_overall_row() -> None:
    summary = summarize({"PARTY": Counts(2, 1, 2, 2), "DATE": Counts(2, 2, 0, 0)})
    assert summary["ALL"]["expected"] == 4
    assert summary["ALL"]["recall"] == 0.75
    assert summary["ALL"]["precision"] == 1.0


def test_iso_dates_reads_the_formats_of_the_ground_truth() -> None:
    assert iso_dates("2019-10-2") == ["2019-10-02"]
    assert iso_dates("7th day of September, 1999.") == ["1999-09-07"]
    assert iso_dates("Feb 10, 2014 and 1/29/2020") == ["2014-02-10", "2020-01-29"]


def test_a_docket_record_states_parties_attorneys_firms_and_numbers() -> None:
    record = {
        "kind": "juriscraper_pacer_docket",
        "ground_truth": {
            "assigned_to_str": "Gregory M. Sleet",
            "docket_number": "1:09-cv-00189",
            "date_filed": "2009-03-23",
            "parties": [
                {
                    "name": "Acme Inc.",
                    "type": "Plaintiff",
                    "attorneys": [
                        {"name": "Jane Roe", "contact": "Roe & Doe LLP\n1 Main St.\n", "roles": []}
                    ],
                }
            ],
            "docket_entries": [],
        },
    }
    expected = expected_entities(record)
    stated = {(e.kind, e.aliases[0]) for e in expected.entities}
    assert stated == {
        (T.PARTY, "Acme Inc."),
        (T.ATTORNEY, "Jane Roe"),
        (T.LAW_FIRM, "Roe & Doe LLP"),
        (T.JUDGE, "Gregory M. Sleet"),
        (T.DOCKET_NUMBER, "1:09-cv-00189"),
        (T.DATE, "2009-03-23"),
    }
    assert expected.exhaustive == {T.PARTY, T.ATTORNEY, T.LAW_FIRM}


def test_an_unknown_ground_truth_kind_states_nothing() -> None:
    assert expected_entities({"kind": "something_else", "ground_truth": {}}).entities == ()


def test_benchmark_text_of_markup_is_the_pipeline_rendering(tmp_path: Path) -> None:
    page = tmp_path / "docket.html"
    page.write_text(
        "<html><head><script>var x = 1;</script></head><body><table>"
        "<tr><td>Plaintiff</td></tr>"
        "<tr><td>Cubist Inc.</td><td>represented by</td><td>Jane Roe<br>Roe LLP</td></tr>"
        "</table><div>V.</div></body></html>",
        encoding="utf-8",
    )
    lines = [line for line in document_text(page).splitlines() if line.strip()]
    assert lines == ["Plaintiff", "Cubist Inc.\trepresented by\tJane Roe", "Roe LLP", "V."]
    assert document_text(page) == join_pages(read_document(page.read_bytes(), page.name)[1])[0]


def test_benchmark_text_of_a_pdf_is_its_text_layer_joined_as_the_pipeline_joins_pages(
    tmp_path: Path,
) -> None:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for words in (
        "Acme Widgets, Inc., Plaintiff, v. John Doe, Defendant.",
        "It is so ordered this day.",
    ):
        pdf.add_page()
        pdf.multi_cell(0, 10, words)
    path = tmp_path / "order.pdf"
    path.write_bytes(bytes(pdf.output()))
    text = document_text(path)
    assert text.split(PAGE_SEPARATOR) == [
        "Acme Widgets, Inc., Plaintiff, v. John Doe, Defendant.",
        "It is so ordered this day.",
    ]
    assert text == join_pages(read_document(path.read_bytes(), path.name)[1])[0]


def test_benchmark_text_layer_mode_leaves_a_scanned_page_empty(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 10, "Page one is typed and has a text layer of its own.")
    pdf.add_page()
    scan = tmp_path / "scan.png"
    Image.new("L", (800, 1000), color=255).save(scan)
    pdf.image(str(scan), x=0, y=0, w=210, h=297)
    path = tmp_path / "mixed.pdf"
    path.write_bytes(bytes(pdf.output()))
    first, second = document_text(path).split(PAGE_SEPARATOR)
    assert first.startswith("Page one is typed")
    assert second == ""
