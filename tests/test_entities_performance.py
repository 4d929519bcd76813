"""The extractor stays fast on inputs built to make regular expressions backtrack.

Time bounds are relative to the same machine's speed on ordinary legal text,
measured in the same session, and generous: a loaded machine slows both, while
a quadratic rule on these inputs is slower by a factor of a hundred or more.
"""

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
    "blank lines": "\n" * 100_000,
    "one line of tabs": "\t" * 100_000,
    "spaces before represented by": " " * 100_000 + "represented by Jane Roe",
    "docket party rows": "Acme Inc.\trepresented by\tJohn Smith\n" * 3_000,
    "docket role cells": "Appellant\tJohn Smith\n" * 5_000,
    "role line far above represented by": "Defendant\n" + "\n" * 100_000 + "represented by",
}

ORDINARY = (
    "Before: Smith, Jones, and Brown, Circuit Judges. ACME WIDGETS, INC., Plaintiff, v. "
    "JOHN DOE, Defendant. See 42 U.S.C. § 1983; Roe v. Wade, 410 U.S. 113 (1973). "
    "Filed December 22, 2020, No. 21-2728, for $1,234.56.\n"
)
#: How many times slower per character than ordinary text an input may be.
SLACK = 10.0


@pytest.fixture(scope="module")
def seconds_per_character() -> float:
    """The extractor's speed on ordinary legal text on this machine, now."""
    extract_mentions(ORDINARY)  # compile and warm the patterns
    text = ORDINARY * 200
    started = time.perf_counter()
    extract_mentions(text)
    return (time.perf_counter() - started) / len(text)


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_adversarial_text_extracts_in_linear_time(name: str, seconds_per_character: float) -> None:
    text = PATHOLOGICAL[name]
    budget = SLACK * seconds_per_character * len(text) + 1.0
    started = time.perf_counter()
    mentions = extract_mentions(text)
    elapsed = time.perf_counter() - started
    assert elapsed < budget, f"{name}: {elapsed:.2f}s for {len(text)} characters"
    assert all(text[m.start : m.end] == m.text for m in mentions)


def test_doubling_the_input_roughly_doubles_the_time() -> None:
    extract_mentions(ORDINARY)
    timings = []
    for copies in (200, 400):
        runs = []
        for _ in range(2):  # the faster of two runs: a busy neighbour slows one, rarely both
            started = time.perf_counter()
            extract_mentions(ORDINARY * copies)
            runs.append(time.perf_counter() - started)
        timings.append(min(runs))
    assert timings[1] < 3.5 * timings[0] + 0.05, timings
