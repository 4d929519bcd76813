"""The peer benchmark's completion tally and payload (the peers themselves run under
`make bench`, in a virtualenv of their own, since their pins hold redis-py back)."""

from __future__ import annotations

from bench.payload import PAYLOAD
from bench.peers.marks import PROGRESS_EVERY, Tally
from streamproc.testing import Probe


def test_the_tally_reports_every_thousandth_completion_and_the_last() -> None:
    tally = Tally(2500)
    reported = [done for done in range(1, 2501) if tally.reports(done)]
    assert reported == [PROGRESS_EVERY, 2 * PROGRESS_EVERY, 2500]


def test_only_the_first_start_in_a_process_is_recorded() -> None:
    tally = Tally(3)
    assert [tally.first_start() for _ in range(3)] == [True, False, False]


def test_the_peers_payload_is_what_the_engine_benchmarks_probe_serializes_to() -> None:
    assert Probe(seq=0, pad="x" * 150).model_dump_json().encode() == PAYLOAD
