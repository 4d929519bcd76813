"""Chaos, short: documents through real workers killed, frozen and cut off from their servers.

The run (``bench.chaos``) starts its own Redis (AOF, ``appendfsync always``) and
PostgreSQL, which it restarts, and three ``streamproc worker`` processes, and
feeds them batches of the sample documents while it SIGKILLs workers holding
work, freezes one past the visibility timeout until its entries are taken
over, crashes Redis and crashes PostgreSQL. ``make chaos`` runs the same at
a larger size.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from bench.chaos import ChaosConfig, run_chaos, timeline
from bench.chaos.verify import Expected, audit_redis
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.keys import Keys
from streamproc.testing import Probe, three
from streamproc.worker import Worker

SHORT = ChaosConfig(
    documents=45,
    workers=3,
    duration=20.0,
    seed=7,
    batches=9,
    kills=2,
    stops=1,
    redis_restarts=1,
    postgres_restarts=1,
    bad=2,
    scanned=1,
    visibility_timeout=2.0,
    stop_seconds=5.0,
    timeout=240.0,
)


@pytest.fixture
def chaos_dir() -> Iterator[Path]:
    """The run's files, outside pytest's base directory (PostgreSQL runs as another user)."""
    root = Path(tempfile.mkdtemp(prefix="streamproc-chaos-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_the_timeline_comes_from_the_seed_and_holds_every_disruption() -> None:
    events = timeline(SHORT)
    assert events == timeline(SHORT)
    assert timeline(replace(SHORT, seed=8)) != events
    actions = Counter(e.action for e in events)
    assert actions == {"submit": 9, "kill": 2, "stop": 1, "redis": 1, "postgres": 1}
    assert [e.arg for e in events if e.action == "submit"] == list(range(9))
    assert all(0 <= e.at <= SHORT.duration for e in events)
    [stop] = [e for e in events if e.action == "stop"]
    assert stop.at + SHORT.stop_seconds <= SHORT.duration
    assert "postgres" not in {e.action for e in timeline(replace(SHORT, noop=True))}


def test_a_stop_must_outlast_the_visibility_timeout() -> None:
    with pytest.raises(ValueError, match="past the visibility timeout"):
        replace(SHORT, stop_seconds=SHORT.visibility_timeout)


async def test_the_audit_finds_a_second_handoff_a_lost_document_and_a_second_completion(
    settings: Settings, redis: Redis
) -> None:
    keys, pipeline = Keys(settings.prefix), three()
    await Client(redis, keys).submit("s1", [(f"doc{i}", Probe(seq=i)) for i in range(3)], batch="B")
    await Worker(pipeline, pipeline.stages, settings, redis).run(drain=True)
    expected = Expected({"B": {f"doc{i}": "probe" for i in range(3)}}, ["s1", "s2", "s3"])
    clean = await audit_redis(redis, keys, expected)
    assert (clean.problems, clean.completed, clean.batch_completions) == ([], 3, 1)

    entries = cast(list[tuple[bytes, dict[Any, Any]]], await redis.xrange(keys.stream("s2")))
    handed = {fields[b"d"]: fields for _, fields in entries}
    await redis.xadd(keys.stream("s2"), handed[b"doc0"])  # doc0 forwarded into s2 again
    await redis.hset(keys.batch_documents("B"), "doc1", "queued:s3")  # doc1 stuck in s3
    await redis.xadd(keys.events, {"type": "batch_completed", "batch": "B"})
    audit = await audit_redis(redis, keys, expected)

    assert (audit.completed, audit.lost, audit.duplicated_forwards) == (2, 1, 1)
    assert (audit.batch_completions, audit.leftover) == (2, 1)
    assert "doc0 was handed to s2 2 times" in audit.problems
    assert "batch B completed 2 times, not once" in audit.problems


@pytest.mark.slow
async def test_documents_keep_every_guarantee_through_kills_a_stop_and_server_crashes(
    chaos_dir: Path,
) -> None:
    said: list[str] = []
    report = await run_chaos(SHORT, chaos_dir, say=said.append)
    done, audit = report.disruptions, report.audit

    assert audit.problems == [], "\n".join([*said, *audit.problems])
    assert (done.kills, done.stops, done.redis_restarts, done.postgres_restarts) == (2, 1, 1, 1)
    assert done.held_by_killed >= 1, "no kill caught a worker holding work"
    assert done.taken_over == done.held_by_stopped >= 1, "the stop must outlast its leases"
    assert (audit.completed, audit.dead_lettered, audit.lost) == (43, 2, 0)
    assert (audit.duplicated_forwards, audit.duplicate_rows, audit.leftover) == (0, 0, 0)
    assert audit.batch_completions == SHORT.batches
