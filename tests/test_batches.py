"""The batch lifecycle: counted once per document, completed once, reopened, expired, listed."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from streamproc import envelope, history
from streamproc.batches import delete_batch, list_batches
from streamproc.client import Client
from streamproc.config import Settings, load_settings
from streamproc.errors import BatchBusy, ConfigurationError, NoSuchBatch, StreamprocError
from streamproc.keys import Keys
from streamproc.outcome import Kind, Outcome, dead_letter_entry
from streamproc.scripts import Finished, Scripts
from streamproc.stage import Pipeline
from streamproc.testing import Probe, chain, noop_chain
from streamproc.worker import Worker

GROUP = "s1"


async def drain(pipeline: Pipeline, settings: Settings, redis: Redis) -> dict[str, dict[str, int]]:
    async with asyncio.timeout(60):
        report = await Worker(pipeline, pipeline.stages, settings, redis).run(drain=True)
    return report.counts


async def completions(redis: Redis, keys: Keys, batch: str) -> list[dict[bytes, bytes]]:
    events = await history.entries(redis, keys.events, count=10_000)
    return [
        f for _, f in events if f[b"type"] == b"batch_completed" and f[b"batch"] == batch.encode()
    ]


async def read(redis: Redis, keys: Keys, stage: str) -> list[tuple[str, dict[bytes, bytes]]]:
    """Deliver every undelivered entry of ``stage`` to consumer c1 of its group."""
    resp = await redis.xreadgroup(GROUP, "c1", {keys.stream(stage): ">"}, count=1000)
    return [(eid.decode(), fields) for eid, fields in resp[0][1]] if resp else []


async def copy_entry(redis: Redis, keys: Keys, stage: str, fields: dict[bytes, bytes]) -> None:
    """A second copy of a message in the stream: what a recreated group or a replay delivers."""
    await redis.xadd(keys.stream(stage), fields)  # type: ignore[arg-type]


Entry = tuple[str, dict[bytes, bytes]]


def finished(entries: list[Entry]) -> list[Finished]:
    return [Finished(i, f[b"d"].decode(), f[b"b"].decode(), []) for i, f in entries]


async def last_stage_setup(
    redis: Redis, prefix: str, docs: int
) -> tuple[Client, Scripts, Keys, list[tuple[str, dict[bytes, bytes]]]]:
    """A sealed batch B of ``docs`` documents on the one stage s1, delivered to c1."""
    keys = Keys(prefix)
    client = Client(redis, keys)
    await redis.xgroup_create(keys.stream("s1"), GROUP, id="0", mkstream=True)
    await client.submit("s1", [(f"doc{i}", b"{}") for i in range(docs)], batch="B")
    scripts = client.scripts
    await scripts.load()
    return client, scripts, keys, await read(redis, keys, "s1")


def handoff(scripts: Scripts, items: list[Finished], now: int = 10) -> Any:
    return scripts.call(
        scripts.handoff(stage="s1", next_stage=None, group=GROUP, items=items, now=now)
    )


def dead_letter(scripts: Scripts, entry: Entry, now: int = 10) -> Any:
    """Dead-letter ``entry`` as a worker does, with the entry a worker writes."""
    mid, raw = entry
    o = Outcome(mid, Kind.DEAD, envelope.decode(mid, raw), reason="permanent error", raw=raw)
    env = o.env
    assert env is not None
    fields = dead_letter_entry(o, stage="s1", group=GROUP, consumer="c1", now=now)
    call = scripts.dead_letter(
        stage="s1", group=GROUP, id=mid, doc=env.doc, batch=env.batch, entry=fields, now=now
    )
    return scripts.call(call)


# --- 1. each document counted once ---------------------------------------------------------


async def test_a_duplicate_of_a_finished_document_neither_counts_twice_nor_completes_the_batch(
    redis: Redis, prefix: str
) -> None:
    client, scripts, keys, entries = await last_stage_setup(redis, prefix, 2)
    assert await handoff(scripts, finished(entries[:1])) == [1]
    await copy_entry(redis, keys, "s1", entries[0][1])
    copies = await read(redis, keys, "s1")
    assert await handoff(scripts, finished(copies)) == [1]  # acknowledged: the engine's part

    status = await client.status("B")
    assert status is not None
    assert (status.done, status.failed, status.completed) == (1, 0, False)
    assert status.counters["passed:s1"] == 1
    assert status.states == {"done": 1, "queued:s1": 1}
    assert await completions(redis, keys, "B") == []
    assert await redis.zscore(keys.open_batches, "B") is not None


async def test_two_copies_of_a_document_in_one_handoff_count_it_once(
    redis: Redis, prefix: str
) -> None:
    client, scripts, keys, entries = await last_stage_setup(redis, prefix, 2)
    await copy_entry(redis, keys, "s1", entries[0][1])
    copies = await read(redis, keys, "s1")
    assert await handoff(scripts, finished(entries[:1] + copies)) == [1, 1]
    status = await client.status("B")
    assert status is not None and (status.done, status.completed) == (1, False)


async def test_a_document_dead_lettered_twice_counts_failed_once(redis: Redis, prefix: str) -> None:
    client, scripts, keys, entries = await last_stage_setup(redis, prefix, 2)
    assert await dead_letter(scripts, entries[0]) == 1
    await copy_entry(redis, keys, "s1", entries[0][1])
    [copy] = await read(redis, keys, "s1")
    assert await dead_letter(scripts, copy) == 1  # the dead letter is still written
    assert await redis.xlen(keys.dead_letters("s1")) == 2

    status = await client.status("B")
    assert status is not None
    assert (status.done, status.failed, status.completed) == (0, 1, False)
    assert status.counters["failed:s1"] == 1
    assert await completions(redis, keys, "B") == []


async def test_a_duplicate_dead_lettered_after_its_document_finished_does_not_count_it_failed(
    redis: Redis, prefix: str
) -> None:
    client, scripts, keys, entries = await last_stage_setup(redis, prefix, 1)
    assert await handoff(scripts, finished(entries)) == [1]
    await copy_entry(redis, keys, "s1", entries[0][1])
    [copy] = await read(redis, keys, "s1")
    assert await dead_letter(scripts, copy) == 1

    status = await client.status("B")
    assert status is not None
    assert (status.done, status.failed, status.completed) == (1, 0, True)
    assert status.states == {"done": 1}
    [event] = await completions(redis, keys, "B")
    assert (event[b"done"], event[b"failed"]) == (b"1", b"0")


async def test_a_recreated_consumer_group_redelivering_finished_documents_counts_nothing_twice(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    client = Client(redis, keys)
    await client.submit("s1", [(f"doc{i}", Probe(seq=i)) for i in range(3)], batch="B")
    assert (await drain(noop_chain(2), settings, redis))["s2"] == {"done": 3}
    for stage in ("s1", "s2"):  # recreated at the start of history: every entry comes again
        await redis.xgroup_destroy(keys.stream(stage), stage)
        await redis.xgroup_create(keys.stream(stage), stage, id="0")
    again = await drain(noop_chain(2), settings, redis)
    assert again["s1"] == {"done": 3} and again["s2"] == {"done": 6}  # forwarded: idempotent sinks

    status = await client.status("B")
    assert status is not None
    assert (status.total, status.done, status.failed, status.completed) == (3, 3, 0, True)
    assert (status.counters["passed:s1"], status.counters["passed:s2"]) == (3, 3)
    assert status.states == {"done": 3}
    assert len(await completions(redis, keys, "B")) == 1


async def test_a_redriven_document_moves_from_failed_to_done_once_and_completes_the_batch_again(
    redis: Redis, prefix: str
) -> None:
    from streamproc import deadletters
    from streamproc.deadletters import Filter

    client, scripts, keys, entries = await last_stage_setup(redis, prefix, 2)
    assert await handoff(scripts, finished(entries[:1])) == [1]
    assert await dead_letter(scripts, entries[1]) == 1
    report = await deadletters.redrive(redis, keys, "s1", Filter())
    assert report.redriven == 1
    redriven = finished(await read(redis, keys, "s1"))
    await copy_entry(redis, keys, "s1", entries[1][1])  # and an old copy of it, once more
    old_copy = finished(await read(redis, keys, "s1"))
    assert await handoff(scripts, redriven + old_copy, now=20) == [1, 1]

    status = await client.status("B")
    assert status is not None
    assert (status.done, status.failed, status.completed) == (2, 0, True)
    assert (status.counters["failed:s1"], status.counters["redriven:s1"]) == (0, 1)
    events = await completions(redis, keys, "B")
    assert [(e[b"done"], e[b"failed"]) for e in events] == [(b"1", b"1"), (b"2", b"0")]


async def test_a_duplicate_retried_after_its_document_finished_leaves_it_done(
    redis: Redis, prefix: str
) -> None:
    client, scripts, keys, entries = await last_stage_setup(redis, prefix, 1)
    assert await handoff(scripts, finished(entries)) == [1]
    await copy_entry(redis, keys, "s1", entries[0][1])
    [(mid, _)] = await read(redis, keys, "s1")
    retry = scripts.retry(
        stage="s1",
        group=GROUP,
        id=mid,
        doc="doc0",
        batch="B",
        fields=["d", "doc0", "b", "B"],
        delay_ms=1,
        counter="retried:s1",
        state="retrying:s1",
    )
    assert await scripts.call(retry) == 1
    status = await client.status("B")
    assert status is not None
    assert (status.states, status.counters.get("retried:s1")) == ({"done": 1}, None)


# --- 2. a batch name used again, or by two submitters at once ------------------------------


async def test_new_documents_submitted_into_a_completed_batch_reopen_it_and_it_completes_once_more(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    client = Client(redis, keys)
    await client.submit("s1", [(f"doc{i}", Probe(seq=i)) for i in range(2)], batch="B")
    await drain(noop_chain(1), settings, redis)
    again = await client.submit("s1", [(f"doc{i}", Probe(seq=i)) for i in range(3)], batch="B")
    assert (again.queued, again.total) == (1, 3)

    reopened = await client.status("B")
    assert reopened is not None
    assert (reopened.total, reopened.done, reopened.completed) == (3, 2, False)
    assert await redis.zscore(keys.open_batches, "B") is not None
    assert await redis.pttl(keys.batch("B")) == -1  # reopened: no expiry until it completes
    await drain(noop_chain(1), settings, redis)

    final = await client.status("B")
    assert final is not None and (final.total, final.done, final.completed) == (3, 3, True)
    events = await completions(redis, keys, "B")
    assert [(e[b"total"], e[b"done"]) for e in events] == [(b"2", b"2"), (b"3", b"3")]
    assert await redis.zscore(keys.open_batches, "B") is None


async def test_submitting_only_documents_already_in_a_completed_batch_changes_nothing(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    client = Client(redis, keys)
    docs = [(f"doc{i}", Probe(seq=i)) for i in range(2)]
    await client.submit("s1", docs, batch="B")
    await drain(noop_chain(1), settings, redis)
    again = await client.submit("s1", docs, batch="B")
    assert (again.queued, again.total) == (0, 2)
    status = await client.status("B")
    assert status is not None and (status.done, status.completed) == (2, True)
    assert len(await completions(redis, keys, "B")) == 1
    assert await redis.zscore(keys.open_batches, "B") is None


async def test_a_submitter_sealing_while_another_still_submits_does_not_complete_the_batch(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    first, second = Client(redis, keys), Client(redis, keys)
    await first.submit("s1", [(f"a{i}", Probe(seq=i)) for i in range(3)], batch="B", seal=False)
    await second.submit("s1", [(f"b{i}", Probe(seq=i)) for i in range(2)], batch="B", seal=False)
    await first.seal("B")
    await drain(noop_chain(1), settings, redis)  # everything submitted so far is done
    midway = await first.status("B")
    assert midway is not None and (midway.done, midway.completed) == (5, False)
    assert await completions(redis, keys, "B") == []

    await second.submit("s1", [(f"b{i}", Probe(seq=i)) for i in range(2, 4)], batch="B", seal=False)
    assert await second.seal("B") == 7
    await drain(noop_chain(1), settings, redis)
    [event] = await completions(redis, keys, "B")
    assert (event[b"total"], event[b"done"]) == (b"7", b"7")
    assert await redis.zscore(keys.open_batches, "B") is None


async def test_two_concurrent_submitters_complete_one_new_batch_once_after_all_their_documents(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    worker = Worker(noop_chain(1), noop_chain(1).stages, settings, redis)
    running = asyncio.create_task(worker.run())

    async def submitter(name: str, n: int, step: int) -> int:
        client = Client(redis, keys)
        for at in range(0, n, step):
            part = [(f"{name}{i}", Probe(seq=i)) for i in range(at, min(n, at + step))]
            await client.submit("s1", part, batch="B", seal=False)
            await asyncio.sleep(0.02)  # the worker finishes what is queued meanwhile
        return await client.seal("B")

    try:
        async with asyncio.timeout(60):
            await asyncio.gather(submitter("a", 10, 10), submitter("b", 40, 5))
            while not (await completions(redis, keys, "B")):
                await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await running
    [event] = await completions(redis, keys, "B")
    assert (event[b"total"], event[b"done"], event[b"failed"]) == (b"50", b"50", b"0")
    status = await Client(redis, keys).status("B")
    assert status is not None and (status.total, status.done, status.completed) == (50, 50, True)
    assert await redis.zscore(keys.open_batches, "B") is None


# --- 4. completed batches expire ----------------------------------------------------------


async def test_a_completed_batch_keeps_its_keys_for_the_default_retention_of_seven_days(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    client = Client(redis, keys)
    await client.submit("s1", [("doc0", Probe())], batch="B")
    open_ttl = await redis.pttl(keys.batch("B"))
    await drain(noop_chain(1), settings, redis)
    week = 7 * 86400 * 1000
    assert open_ttl == -1  # an open batch never expires
    for key in (keys.batch("B"), keys.batch_documents("B")):
        assert week - 60_000 < await redis.pttl(key) <= week


async def test_a_redrive_into_a_completed_batch_removes_its_expiry_until_it_completes_again(
    settings: Settings, redis: Redis
) -> None:
    from streamproc import deadletters
    from streamproc.deadletters import Filter

    keys = Keys(settings.prefix)
    client = Client(redis, keys)
    await client.submit("s1", [("ok", Probe()), ("bad", Probe(action="permanent"))], batch="B")
    await drain(chain(1), settings, redis)
    assert await redis.pttl(keys.batch("B")) > 0
    await deadletters.redrive(redis, keys, "s1", Filter())
    assert await redis.pttl(keys.batch("B")) == -1
    assert await redis.pttl(keys.batch_documents("B")) == -1
    await drain(noop_chain(1), settings, redis)
    assert await redis.pttl(keys.batch("B")) > 0
    assert await redis.pttl(keys.batch_documents("B")) > 0


def test_batch_retention_is_read_as_a_duration_and_must_be_positive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().batch_retention == timedelta(days=7)
    monkeypatch.setenv("STREAMPROC_BATCH_RETENTION", "36h")
    assert load_settings().batch_retention == timedelta(hours=36)
    monkeypatch.setenv("STREAMPROC_BATCH_RETENTION", "0")
    with pytest.raises(ConfigurationError, match=r"STREAMPROC_BATCH_RETENTION: .*must be positive"):
        load_settings()


async def test_a_client_applies_its_batch_retention_to_the_batches_it_submits(
    redis: Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    client = Client(redis, keys, batch_retention=timedelta(seconds=0.3))
    await client.submit("s1", [], batch="Empty")  # nothing to wait for: completes at once
    assert 0 < await redis.pttl(keys.batch("Empty")) <= 300
    await asyncio.sleep(0.4)
    assert await client.status("Empty") is None


# --- 3. batch ids -------------------------------------------------------------------------

RULE = "use 1 to 128 letters, digits, '.', '_' or '-'"


@pytest.mark.parametrize("bad", ["x:docs", "two words", "", "x" * 129, "caf\u00e9", "a/b", "{sp}"])
async def test_a_batch_id_outside_the_rule_is_refused_at_submit_naming_the_rule(
    redis: Redis, prefix: str, bad: str
) -> None:
    keys = Keys(prefix)
    client = Client(redis, keys)
    with pytest.raises(StreamprocError, match=re.escape(RULE)):
        await client.submit("s1", [("doc0", b"{}")], batch=bad)
    with pytest.raises(StreamprocError, match=re.escape(RULE)):
        await client.status(bad)
    assert await redis.keys(keys.pattern()) == []


async def test_batch_x_colon_docs_cannot_write_into_the_document_states_of_batch_x(
    redis: Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    client = Client(redis, keys)
    await client.submit("s1", [("doc0", b"{}")], batch="x")
    with pytest.raises(StreamprocError, match=re.escape(RULE)):
        await client.submit("s1", [("doc1", b"{}")], batch="x:docs")
    assert await redis.hgetall(keys.batch_documents("x")) == {b"doc0": b"queued:s1"}
    assert await client.submit("s1", [("doc1", b"{}")], batch="x.docs-2_b" + "y" * 118)


def test_commands_refuse_a_batch_id_outside_the_rule_with_one_line(
    worker_env: dict[str, str], python: str
) -> None:
    env = worker_env | {"STREAMPROC_PIPELINE": "streamproc.testing:one"}
    for args in (["batches", "delete", "x:docs", "--yes"], ["dlq", "list", "s1", "--batch", "a b"]):
        done = subprocess.run(
            [python, "-m", "streamproc", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert RULE in done.stderr and "Traceback" not in done.stderr


# --- 5. listing and deleting batches ------------------------------------------------------


async def test_batches_lists_open_and_completed_batches_with_their_figures(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    client = Client(redis, keys)
    await client.submit("s1", [("a", Probe()), ("b", Probe(action="permanent"))], batch="first")
    await drain(chain(1), settings, redis)
    await client.submit("s1", [("c", Probe())], batch="second", seal=False)
    listed = await list_batches(redis, keys, now=envelope.now_ms())
    figures = [
        (b.batch, b.total, b.submitted, b.done, b.failed, b.completed_ms is not None, b.unsealed)
        for b in listed
    ]
    assert figures == [("first", 2, 2, 1, 1, True, 0), ("second", None, 1, 0, 0, False, 1)]
    assert all(b.created_ms for b in listed)


async def test_deleting_an_open_batch_in_progress_is_refused_unless_forced(
    redis: Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    client = Client(redis, keys)
    await client.submit("s1", [("a", b"{}"), ("b", b"{}")], batch="B")
    with pytest.raises(BatchBusy, match="2 of its documents are still being processed"):
        await delete_batch(redis, keys, "B")
    assert await client.status("B") is not None
    await delete_batch(redis, keys, "B", force=True)
    assert await client.status("B") is None
    assert await list_batches(redis, keys, now=envelope.now_ms()) == []
    assert await redis.keys(keys.pattern()) == [keys.stream("s1").encode()]
    with pytest.raises(NoSuchBatch, match="no batch 'B'"):
        await delete_batch(redis, keys, "B")


def cli(
    python: str, env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = [python, "-m", "streamproc", *args]
    return subprocess.run(
        command, env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("redis_server", ["system"], indirect=True)
def test_batches_command_lists_with_what_postgresql_knows_and_deletes_after_asking(
    worker_env: dict[str, str], database_url: str, python: str, tmp_path: Path
) -> None:
    env = worker_env | {"DATABASE_URL": database_url}
    letter = tmp_path / "letter.txt"
    letter.write_text("The Court finds for the plaintiff.\n")
    ok(cli(python, env, "submit", str(letter), "--batch", "B1", "--json"))

    [listed] = json.loads(ok(cli(python, env, "batches", "--json")))
    assert (listed["batch"], listed["total"], listed["done"], listed["completed"]) == (
        "B1",
        1,
        0,
        None,
    )
    assert listed["database"]["documents"] == 1
    table = ok(cli(python, env, "batches"))
    assert "B1" in table and "open" in table

    refused = cli(python, env, "batches", "delete", "B1", "--yes")
    assert refused.returncode == 2
    assert "1 of its documents are still being processed" in refused.stderr
    assert "--force" in refused.stderr
    declined = cli(python, env, "batches", "delete", "B1", "--force", stdin="n\n")
    assert declined.returncode == 1 and "Aborted" in declined.stderr
    assert len(json.loads(ok(cli(python, env, "batches", "--json")))) == 1
    ok(cli(python, env, "batches", "delete", "B1", "--force", stdin="y\n"))
    assert json.loads(ok(cli(python, env, "batches", "--json"))) == []
    missing = cli(python, env, "batches", "delete", "B1", "--yes")
    assert missing.returncode == 2 and "no batch 'B1'" in missing.stderr

    helped = ok(cli(python, env, "batches", "--help"))
    assert "delete" in helped and "STREAMPROC_BATCH_RETENTION" in helped
