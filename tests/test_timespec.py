"""Times typed by operators become stream ids; rates become items per second."""

from __future__ import annotations

import pytest

from streamproc.pacing import parse_rate
from streamproc.timespec import BadTime, iso, to_entry_id

NOW = 1_700_000_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1699999999999-3", "1699999999999-3"),
        ("1699999999999", "1699999999999-0"),
        ("90s", f"{NOW - 90_000}-0"),
        ("2h", f"{NOW - 7_200_000}-0"),
        ("7d", f"{NOW - 7 * 86_400_000}-0"),
        ("1.5m", f"{NOW - 90_000}-0"),
        ("2023-11-14T22:13:20", f"{NOW}-0"),
        ("2023-11-14T22:13:20Z", f"{NOW}-0"),
        ("2023-11-14T23:13:20+01:00", f"{NOW}-0"),
    ],
)
def test_times_become_stream_ids(text: str, expected: str) -> None:
    assert to_entry_id(text, NOW) == expected


def test_an_unreadable_time_names_the_accepted_forms() -> None:
    with pytest.raises(BadTime, match=r"'last tuesday'.*ISO time.*2h.*stream id"):
        to_entry_id("last tuesday", NOW)


def test_iso_renders_milliseconds_in_utc() -> None:
    assert iso(NOW + 5) == "2023-11-14T22:13:20.005+00:00"


def test_rates_are_read_with_or_without_the_per_second_suffix() -> None:
    assert (parse_rate("50/s"), parse_rate("2.5"), parse_rate(None)) == (50.0, 2.5, None)
    with pytest.raises(ValueError, match="positive"):
        parse_rate("0/s")
