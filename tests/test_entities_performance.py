"""The extractor stays fast on inputs built to make regular expressions backtrack."""

from __future__ import annotations

import time

import pytest

from consumers.entities import extract_mentions

PATHOLOGICAL = {
    "capitalized words without end": "Alpha Beta Gamma Delta " * 12_000,
    "initials without a surname": "A. " * 40_000,
    "comma list of capitals": "Smith, " * 30_000,
    "versus everywhere": "Smith v. Jones v. " * 10_000,
    "open parentheses": "(“" * 30_000,
    "docket labels without numbers": "No. Case No. Docket # " * 10_000,
    "section signs": "§ 1, " * 30_000,
    "role words": "Plaintiff, Appellant, " * 10_000,
    "dollar signs": "$1,$2,$3, " * 20_000,
    "one enormous line of capitals": "ACME " * 40_000,
    "court words": "Court of Appeals for the " * 8_000,
    "contract preamble that never closes": "between " + "Acme Widgets, Inc., a " * 10_000,
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_adversarial_text_extracts_in_linear_time(name: str) -> None:
    text = PATHOLOGICAL[name]
    started = time.perf_counter()
    mentions = extract_mentions(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 4.0, f"{name}: {elapsed:.2f}s for {len(text)} characters"
    assert all(text[m.start : m.end] == m.text for m in mentions)


def test_doubling_the_input_roughly_doubles_the_time() -> None:
    unit = (
        "Before: Smith, Jones, and Brown, Circuit Judges. ACME WIDGETS, INC., Plaintiff, v. "
        "JOHN DOE, Defendant. See 42 U.S.C. § 1983; Roe v. Wade, 410 U.S. 113 (1973). "
        "Filed December 22, 2020, No. 21-2728, for $1,234.56.\n"
    )
    extract_mentions(unit)
    timings = []
    for copies in (200, 400):
        started = time.perf_counter()
        extract_mentions(unit * copies)
        timings.append(time.perf_counter() - started)
    assert timings[1] < 3.5 * timings[0] + 0.05, timings
