"""Replay: history re-injected into a replay batch, groups started back in time, reprocess."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from streamproc import deadletters, envelope, history, replay, trace
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.deadletters import Filter
from streamproc.keys import Keys
from streamproc.replay import NothingToReplay, Selection
from streamproc.stage import Pipeline
from streamproc.testing import Probe, chain, read_probe_log
from streamproc.worker import Worker


async def drain(pipeline: Pipeline, settings: Settings, redis: Redis) -> dict[str, dict[str, int]]:
    async with asyncio.timeout(60):
        report = await Worker(pipeline, pipeline.stages, settings, redis).run(drain=True)
    return report.counts


async def history_of_two_batches(settings: Settings, redis: Redis) -> str:
    """Batches A (doc0..doc9) then B (doc10..doc14) through s1 of a one-stage chain;
    returns the id of B's first entry."""
    client = Client(redis, Keys(settings.prefix))
    await client.submit("s1", [(f"doc{i}", Probe(seq=i)) for i in range(10)], batch="A")
    await drain(chain(1), settings, redis)
    await client.submit("s1", [(f"doc{i}", Probe(seq=i)) for i in range(10, 15)], batch="B")
    await drain(chain(1), settings, redis)
    entries = await history.entries(redis, Keys(settings.prefix).stream("s1"))
    return entries[10][0]


async def test_replay_reinjects_exactly_the_entries_from_the_start_into_a_batch_that_completes(
    settings: Settings, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = Keys(settings.prefix)
    start = await history_of_two_batches(settings, redis)
    report = await replay.replay(redis, keys, "s1", Selection(start))
    assert (report.matched, report.queued) == (5, 5)
    assert report.batch.startswith("replay-")
    added = await history.entries(
        redis, keys.stream("s1"), "(" + (await history.entries(redis, keys.stream("s1")))[14][0]
    )
    envs = [envelope.decode(i, f) for i, f in added]
    assert [(e.doc, e.batch, e.attempt, e.replay) for e in envs] == [
        (f"doc{i}", report.batch, 0, True) for i in range(10, 15)
    ]
    monkeypatch.setenv("STREAMPROC_PROBE_LOG", str(tmp_path / "probe.log"))
    assert (await drain(chain(1), settings, redis))["s1"] == {"done": 5}
    assert sorted(doc for _, doc, _, _ in read_probe_log(str(tmp_path / "probe.log"))) == [
        f"doc{i}" for i in range(10, 15)
    ]
    status = await Client(redis, keys).status(report.batch)
    assert status is not None
    assert (status.total, status.done, status.completed) == (5, 5, True)


async def test_replay_selects_by_range_document_and_batch(settings: Settings, redis: Redis) -> None:
    keys = Keys(settings.prefix)
    b_start = await history_of_two_batches(settings, redis)
    entries = await history.entries(redis, keys.stream("s1"))

    async def docs(selection: Selection) -> list[str]:
        return [e.doc async for e in replay.matching(redis, keys, "s1", selection)]

    assert await docs(Selection(entries[2][0], entries[4][0])) == ["doc2", "doc3", "doc4"]
    assert await docs(Selection("0-0", doc="doc7")) == ["doc7"]
    assert await docs(Selection("0-0", batch="B")) == [f"doc{i}" for i in range(10, 15)]
    assert await docs(Selection(b_start, batch="A")) == []


async def test_replay_queues_a_document_once_however_many_entries_match(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    client = Client(redis, keys)
    await client.submit("s1", [("same", Probe(seq=1))], batch="A")
    await client.submit("s1", [("same", Probe(seq=2))], batch="B")
    await drain(chain(1), settings, redis)
    report = await replay.replay(redis, keys, "s1", Selection("0-0"))
    assert (report.matched, report.queued, report.docs) == (2, 1, {"same"})
    assert (await drain(chain(1), settings, redis))["s1"] == {"done": 1}


async def test_dry_run_replay_counts_and_writes_nothing(settings: Settings, redis: Redis) -> None:
    keys = Keys(settings.prefix)
    await history_of_two_batches(settings, redis)
    report = await replay.replay(redis, keys, "s1", Selection("0-0"), dry_run=True)
    assert (report.matched, report.queued, len(report.docs)) == (15, 0, 15)
    assert await redis.xlen(keys.stream("s1")) == 15
    assert await redis.exists(keys.batch(report.batch)) == 0


async def test_replay_rate_spreads_the_reinjection_over_time(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    await history_of_two_batches(settings, redis)
    began = time.monotonic()
    report = await replay.replay(redis, keys, "s1", Selection("0-0"), rate=10)
    elapsed = time.monotonic() - began
    assert report.queued == 15
    assert elapsed >= 1.0  # 15 messages at 10/s: the last leaves about 1.4 s after the first


async def test_group_created_in_history_has_the_right_lag_and_a_worker_consumes_it(
    settings: Settings, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = Keys(settings.prefix)
    start = await history_of_two_batches(settings, redis)
    lag = await replay.create_group(redis, keys, "s1", "v2", start)
    [info] = [g for g in await redis.xinfo_groups(keys.stream("s1")) if g["name"] == b"v2"]
    if "lag" in info:  # Redis 7 counts it
        assert (lag, info["lag"]) == (5, 5)
    else:
        assert lag is None
    assert info["last-delivered-id"].decode() < start
    stage = dataclasses.replace(chain(1).stages[0], group="v2")
    monkeypatch.setenv("STREAMPROC_PROBE_LOG", str(tmp_path / "probe.log"))
    assert (await drain(Pipeline((stage,)), settings, redis))["s1"] == {"done": 5}
    status = await Client(redis, keys).status("B")
    assert status is not None and (status.total, status.done) == (5, 5)  # not counted again
    assert sorted(doc for _, doc, _, _ in read_probe_log(str(tmp_path / "probe.log"))) == [
        f"doc{i}" for i in range(10, 15)
    ]
    with pytest.raises(replay.GroupExists):
        await replay.create_group(redis, keys, "s1", "v2", start)


async def test_retries_and_redrives_of_a_side_group_stay_in_that_group(
    settings: Settings, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every group reads the whole stream, so an entry a group re-queues (retry, redrive)
    is addressed to it: the other groups acknowledge it without running it."""
    keys = Keys(settings.prefix)
    log = tmp_path / "probe.log"
    monkeypatch.setenv("STREAMPROC_PROBE_LOG", str(log))
    await Client(redis, keys).submit(
        "s1",
        [
            ("flaky", Probe(seq=1, action="retryable", until_attempt=1)),
            ("bad", Probe(seq=2, action="permanent")),
        ],
        batch="A",
    )
    await replay.create_group(redis, keys, "s1", "v2", "0-0")
    side = Pipeline((dataclasses.replace(chain(1).stages[0], group="v2"),))

    def calls() -> list[tuple[str, int]]:
        if not log.exists():
            return []
        found = [(doc, attempt) for _, doc, attempt, _ in read_probe_log(str(log))]
        log.unlink(missing_ok=True)
        return sorted(found)

    assert await drain(chain(1), settings, redis) == {
        "s1": {"retried": 1, "done": 1, "dead_lettered": 1}
    }
    assert calls() == [("bad", 0), ("flaky", 0), ("flaky", 1)]
    # v2 meets the main group's retry entry in the stream and leaves it alone (skipped).
    assert (await drain(side, settings, redis))["s1"] == {
        "retried": 1,
        "done": 1,
        "dead_lettered": 1,
        "skipped": 1,
    }
    assert calls() == [("bad", 0), ("flaky", 0), ("flaky", 1)]
    # v2's retry is not the main group's
    assert (await drain(chain(1), settings, redis))["s1"] == {"skipped": 1}
    assert calls() == []
    dead = [dl async for dl in deadletters.read(redis, keys, "s1", Filter(doc="bad"))]
    assert sorted(dl.group for dl in dead) == ["s1", "v2"]
    v2_letter = next(dl for dl in dead if dl.group == "v2")
    await scripts_redrive(redis, keys, v2_letter)
    assert (await drain(chain(1), settings, redis))["s1"] == {"skipped": 1}
    assert calls() == []
    assert (await drain(side, settings, redis))["s1"] == {"dead_lettered": 1}
    assert calls() == [("bad", 0)]
    for group in ("s1", "v2"):
        assert (await redis.xpending(keys.stream("s1"), group))["pending"] == 0
    status = await Client(redis, keys).status("A")
    assert status is not None and (status.done, status.failed) == (1, 1)  # counted once


async def scripts_redrive(redis: Redis, keys: Keys, dl: deadletters.DeadLetter) -> None:
    """Redrive exactly ``dl`` (by its document and time), as `dlq redrive` does."""
    report = await deadletters.redrive(
        redis, keys, "s1", Filter(doc=dl.doc, since=dl.id, group=dl.group)
    )
    assert report.redriven == 1


async def test_reprocess_reinjects_the_latest_entry_of_a_document(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    await history_of_two_batches(settings, redis)
    report = await replay.reprocess(redis, keys, "doc3", "s1")
    assert (report.matched, report.queued) == (1, 1)
    [(_, fields)] = await history.newest(redis, keys.stream("s1"))
    assert (fields[b"d"], fields[b"r"]) == (b"doc3", b"1")
    steps = (await trace.trace(redis, keys, ["s1"], "doc3")).steps
    assert [(s.batch, s.replay) for s in steps] == [("A", False), (report.batch, True)]
    with pytest.raises(NothingToReplay, match="'ghost' has no entry in the s1 stream"):
        await replay.reprocess(redis, keys, "ghost", "s1")


def cli(python: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [python, "-m", "streamproc", *args, "--pipeline", "streamproc.testing:one"]
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)


async def test_replay_and_reprocess_commands(
    settings: Settings, redis: Redis, worker_env: dict[str, str], python: str
) -> None:
    keys = Keys(settings.prefix)
    start = await history_of_two_batches(settings, redis)
    out = await asyncio.to_thread(
        cli, python, worker_env, "replay", "s1", "--from", start, "--rate", "100/s"
    )
    report = json.loads(out.stdout)
    assert (report["matched"], report["queued"]) == (5, 5) and report["batch"].startswith("replay-")
    status = await Client(redis, keys).status(report["batch"])
    assert status is not None and status.total == 5
    recent = await asyncio.to_thread(
        cli, python, worker_env, "replay", "s1", "--from", "1h", "--dry-run"
    )
    assert json.loads(recent.stdout)["matched"] == 20
    grouped = await asyncio.to_thread(
        cli, python, worker_env, "replay", "s1", "--group", "v2", "--from", start
    )
    assert json.loads(grouped.stdout)["group"] == "v2"
    side = await asyncio.to_thread(cli, python, worker_env, "worker", "--group", "v2", "--drain")
    assert side.returncode == 0, side.stderr[-2000:]
    assert json.loads(side.stdout)["counts"]["s1"] == {"done": 10}  # B's 5 and the 5 replays
    missing = await asyncio.to_thread(cli, python, worker_env, "worker", "--group", "v3", "--drain")
    assert missing.returncode == 2 and "has no consumer group 'v3'" in missing.stderr
    again = await asyncio.to_thread(
        cli, python, worker_env, "reprocess", "doc1", "--from-stage", "s1"
    )
    assert json.loads(again.stdout)["queued"] == 1
    ghost = await asyncio.to_thread(
        cli, python, worker_env, "reprocess", "ghost", "--from-stage", "s1"
    )
    assert ghost.returncode == 2 and ghost.stderr.startswith("streamproc: document 'ghost'")
    bad = await asyncio.to_thread(cli, python, worker_env, "replay", "s1", "--from", "yesterday")
    assert bad.returncode == 2 and "cannot read time 'yesterday'" in bad.stderr
