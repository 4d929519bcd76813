"""Dead letters: listing, stats, redrive (atomic, idempotent, batch-aware) and purge."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable

from redis.asyncio import Redis

from streamproc import deadletters, envelope, history
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.deadletters import Filter
from streamproc.keys import Keys
from streamproc.scripts import Scripts
from streamproc.stage import Pipeline
from streamproc.testing import Probe, chain, noop_chain
from streamproc.worker import Worker


async def drain(pipeline: Pipeline, settings: Settings, redis: Redis) -> dict[str, dict[str, int]]:
    async with asyncio.timeout(60):
        report = await Worker(pipeline, pipeline.stages, settings, redis).run(drain=True)
    return report.counts


async def fail_some(
    settings: Settings, redis: Redis, failing: set[int], batch: str = "B", n: int = 5
) -> Client:
    """Submit n probes to s1 of a one-stage chain; those in ``failing`` fail permanently."""
    client = Client(redis, Keys(settings.prefix))
    probes = [
        (f"{batch}-doc{i}", Probe(seq=i, action="permanent" if i in failing else "ok"))
        for i in range(n)
    ]
    await client.submit("s1", probes, batch=batch)
    await drain(chain(1), settings, redis)
    return client


async def completions(redis: Redis, keys: Keys, batch: str) -> list[dict[bytes, bytes]]:
    events = await history.entries(redis, keys.events, count=10_000)
    return [
        f for _, f in events if f[b"type"] == b"batch_completed" and f[b"batch"] == batch.encode()
    ]


async def test_redriven_document_completes_its_reopened_batch_exactly_once_more(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    client = await fail_some(settings, redis, {3})
    status = await client.status("B")
    assert status is not None and (status.done, status.failed, status.completed) == (4, 1, True)

    report = await deadletters.redrive(redis, keys, "s1", Filter())
    assert (report.matched, report.redriven, report.outside_batch) == (1, 1, 0)
    reopened = await client.status("B")
    assert reopened is not None
    assert (reopened.failed, reopened.completed) == (0, False)
    assert reopened.states == {"done": 4, "queued:s1": 1}
    assert await redis.zscore(keys.open_batches, "B") is not None
    assert await redis.xlen(keys.dead_letters("s1")) == 0
    [(_, redriven)] = await history.newest(redis, keys.stream("s1"))
    env = envelope.decode("x", redriven)
    assert (env.doc, env.batch, env.attempt, env.replay) == ("B-doc3", "B", 0, True)

    counts = await drain(noop_chain(1), settings, redis)  # the cause is fixed: the handler passes
    assert counts["s1"] == {"done": 1}
    final = await client.status("B")
    assert final is not None
    assert (final.done, final.failed, final.completed) == (5, 0, True)
    assert final.counters["redriven:s1"] == 1
    done_events = await completions(redis, keys, "B")
    assert [(f[b"done"], f[b"failed"]) for f in done_events] == [(b"4", b"1"), (b"5", b"0")]
    assert await redis.zscore(keys.open_batches, "B") is None


async def test_redriving_the_same_dead_letter_twice_processes_it_once(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    client = await fail_some(settings, redis, {1})
    length = await redis.xlen(keys.stream("s1"))
    reports = await asyncio.gather(
        *(deadletters.redrive(redis, keys, "s1", Filter()) for _ in range(3))
    )
    assert sum(r.redriven for r in reports) == 1
    again = await deadletters.redrive(redis, keys, "s1", Filter())
    assert (again.matched, again.redriven) == (0, 0)
    assert await redis.xlen(keys.stream("s1")) == length + 1
    assert (await drain(noop_chain(1), settings, redis))["s1"] == {"done": 1}
    status = await client.status("B")
    assert status is not None and (status.done, status.failed) == (5, 0)


async def test_redrive_script_does_nothing_for_an_entry_already_gone(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    await fail_some(settings, redis, {0})
    [dl] = [d async for d in deadletters.read(redis, keys, "s1")]
    scripts = Scripts(redis, keys)
    call = scripts.redrive(
        stage="s1",
        entry_id=dl.id,
        doc=dl.doc,
        batch=dl.batch,
        fields=deadletters.redrive_fields(dl),
        now=envelope.now_ms(),
    )
    assert await scripts.run([call, call]) == [1, 0]


async def test_dead_letter_of_a_document_no_longer_failed_is_redriven_outside_its_batch(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    client = await fail_some(settings, redis, {2})
    await redis.hset(keys.batch_documents("B"), "B-doc2", "done")  # e.g. resubmitted and done
    report = await deadletters.redrive(redis, keys, "s1", Filter())
    assert (report.redriven, report.outside_batch) == (1, 1)
    [(_, fields)] = await history.newest(redis, keys.stream("s1"))
    assert fields[b"b"] == b""
    status = await client.status("B")
    assert status is not None and (status.failed, status.completed) == (1, True)


async def test_dry_run_redrive_reports_matches_and_changes_nothing(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    await fail_some(settings, redis, {0, 4})
    before = (
        await redis.xlen(keys.stream("s1")),
        await redis.xlen(keys.dead_letters("s1")),
        await redis.hgetall(keys.batch("B")),
        await redis.hgetall(keys.batch_documents("B")),
    )
    report = await deadletters.redrive(redis, keys, "s1", Filter(), dry_run=True)
    assert (report.matched, report.redriven, sorted(report.docs)) == (
        2,
        0,
        ["B-doc0", "B-doc4"],
    )
    after = (
        await redis.xlen(keys.stream("s1")),
        await redis.xlen(keys.dead_letters("s1")),
        await redis.hgetall(keys.batch("B")),
        await redis.hgetall(keys.batch_documents("B")),
    )
    assert after == before


async def test_filters_select_by_batch_error_class_document_and_time(
    make_settings: Callable[..., Settings], redis: Redis
) -> None:
    settings = make_settings(max_attempts=1)
    keys = Keys(settings.prefix)
    await fail_some(settings, redis, {1, 2}, batch="A")
    [(boundary, _)] = await history.newest(redis, keys.dead_letters("s1"))
    client = Client(redis, keys)
    await client.submit(
        "s1", [("C-doc0", Probe(seq=0, action="retryable", until_attempt=9))], batch="C"
    )
    await drain(chain(1), settings, redis)

    async def docs(flt: Filter) -> list[str]:
        return [dl.doc async for dl in deadletters.read(redis, keys, "s1", flt)]

    assert await docs(Filter()) == ["A-doc1", "A-doc2", "C-doc0"]
    assert await docs(Filter(batch="A")) == ["A-doc1", "A-doc2"]
    assert await docs(Filter(error_class="RetryableError")) == ["C-doc0"]
    assert await docs(Filter(doc="A-doc2")) == ["A-doc2"]
    assert await docs(Filter(since="(" + boundary)) == ["C-doc0"]
    rows = [r.as_dict() for r in await deadletters.stats(redis, keys, ["s1"])]
    assert [(r["stage"], r["error_class"], r["count"]) for r in rows] == [
        ("s1", "PermanentError", 2),
        ("s1", "RetryableError", 1),
    ]
    assert rows[0]["first"] <= rows[0]["last"]


def cli(
    python: str, env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    command = [python, "-m", "streamproc", *args, "--pipeline", "streamproc.testing:one"]
    return subprocess.run(
        command, check=False, env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


async def test_purge_asks_first_and_deletes_only_when_confirmed(
    settings: Settings, redis: Redis, worker_env: dict[str, str], python: str
) -> None:
    keys = Keys(settings.prefix)
    await fail_some(settings, redis, {0, 1, 2})
    refused = await asyncio.to_thread(cli, python, worker_env, "dlq", "purge", "s1", stdin="n\n")
    assert refused.returncode == 1 and "Delete 3 dead letter(s) of s1?" in refused.stdout
    assert await redis.xlen(keys.dead_letters("s1")) == 3
    one = await asyncio.to_thread(
        cli, python, worker_env, "dlq", "purge", "s1", "--doc", "B-doc1", stdin="y\n"
    )
    assert one.returncode == 0 and json.loads(one.stdout[one.stdout.index("{") :])["purged"] == 1
    rest = await asyncio.to_thread(cli, python, worker_env, "dlq", "purge", "s1", "--yes")
    assert json.loads(rest.stdout) == {"stage": "s1", "purged": 2}
    assert await redis.xlen(keys.dead_letters("s1")) == 0


async def test_dlq_commands_list_show_count_and_redrive(
    settings: Settings, redis: Redis, worker_env: dict[str, str], python: str
) -> None:
    keys = Keys(settings.prefix)
    await fail_some(settings, redis, {2, 3})
    listed = await asyncio.to_thread(cli, python, worker_env, "dlq", "list", "s1", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["doc"], r["error_class"]) for r in rows] == [
        ("B-doc2", "PermanentError"),
        ("B-doc3", "PermanentError"),
    ]
    shown = await asyncio.to_thread(cli, python, worker_env, "dlq", "show", f"s1:{rows[1]['id']}")
    detail = json.loads(shown.stdout)
    assert (detail["doc"], detail["message"]["d"]) == ("B-doc3", "B-doc3")
    counted = await asyncio.to_thread(cli, python, worker_env, "dlq", "stats", "--json")
    assert [(r["error_class"], r["count"]) for r in json.loads(counted.stdout)] == [
        ("PermanentError", 2)
    ]
    dry = await asyncio.to_thread(
        cli, python, worker_env, "dlq", "redrive", "s1", "--doc", "B-doc2", "--dry-run"
    )
    assert json.loads(dry.stdout)["matched"] == 1 and json.loads(dry.stdout)["redriven"] == 0
    done = await asyncio.to_thread(
        cli,
        python,
        worker_env,
        "dlq",
        "redrive",
        "s1",
        "--error",
        "PermanentError",
        "--rate",
        "5/s",
    )
    assert json.loads(done.stdout)["redriven"] == 2
    assert await redis.xlen(keys.dead_letters("s1")) == 0
    missing = await asyncio.to_thread(cli, python, worker_env, "dlq", "show", "1-1")
    assert missing.returncode == 2 and missing.stderr.startswith("streamproc: no dead letter")
    unknown = await asyncio.to_thread(cli, python, worker_env, "dlq", "list", "nope")
    assert unknown.returncode == 2 and "unknown stage 'nope'" in unknown.stderr


async def test_redrive_rate_spreads_the_reinjection_over_time(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    await fail_some(settings, redis, set(range(12)), n=12)
    began = time.monotonic()
    report = await deadletters.redrive(redis, keys, "s1", Filter(), rate=10)
    elapsed = time.monotonic() - began
    assert report.redriven == 12
    assert elapsed >= 0.8  # 12 messages at 10/s: the last leaves about 1.1 s after the first


async def test_purge_deletes_only_up_to_the_entry_the_operator_saw(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    await fail_some(settings, redis, {0, 1, 2})
    seen = [dl.id async for dl in deadletters.read(redis, keys, "s1")]
    assert await deadletters.purge(redis, keys, "s1", Filter(), upto=seen[1]) == 2
    assert [dl.doc async for dl in deadletters.read(redis, keys, "s1")] == ["B-doc2"]
