"""The worker in this process: drain, retries, dead letters, deferral, NOGROUP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from streamproc.client import Client
from streamproc.config import Settings
from streamproc.connections import connect_redis
from streamproc.embedded import start_private_redis
from streamproc.ids import parse
from streamproc.keys import Keys
from streamproc.stage import Pipeline
from streamproc.testing import Probe, chain, read_probe_log
from streamproc.worker import Report, Worker


async def drain(
    pipeline: Pipeline, settings: Settings, redis: Redis, workers: int = 1
) -> list[Report]:
    runs = [
        Worker(pipeline, pipeline.stages, settings, redis).run(drain=True) for _ in range(workers)
    ]
    async with asyncio.timeout(60):
        return list(await asyncio.gather(*runs))


async def submit(settings: Settings, redis: Redis, probes: list[Probe], batch: str = "B") -> Client:
    client = Client(redis, Keys(settings.prefix))
    await client.submit("s1", [(f"doc{p.seq}", p) for p in probes], batch=batch)
    return client


async def dead_letters(redis: Redis, settings: Settings, stage: str) -> list[dict[str, str]]:
    entries = await redis.xrange(Keys(settings.prefix).dead_letters(stage))
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in entries]


async def test_three_stage_noop_pipeline_drains_end_to_end(
    settings: Settings, redis: Redis
) -> None:
    client = await submit(settings, redis, [Probe(seq=i) for i in range(300)])
    [report] = await drain(chain(3), settings, redis)
    assert report.counts == {"s1": {"done": 300}, "s2": {"done": 300}, "s3": {"done": 300}}
    status = await client.status("B")
    assert status is not None
    assert (status.total, status.done, status.failed, status.completed) == (300, 300, 0, True)
    assert status.states == {"done": 300}
    assert await redis.xlen(Keys(settings.prefix).stream("s3")) == 300


async def test_batch_completes_exactly_once_with_several_concurrent_workers(
    settings: Settings, redis: Redis
) -> None:
    await submit(settings, redis, [Probe(seq=i) for i in range(400)])
    reports = await drain(chain(3), settings, redis, workers=3)
    assert sum(r.counts.get("s3", {}).get("done", 0) for r in reports) == 400
    assert sum(r.total("duplicate") for r in reports) == 0
    events = await redis.xrange(Keys(settings.prefix).events)
    completed = [f for _, f in events if f[b"type"] == b"batch_completed"]
    assert [(f[b"batch"], f[b"done"], f[b"total"]) for f in completed] == [(b"B", b"400", b"400")]


async def test_permanent_error_dead_letters_at_once_while_others_flow(
    settings: Settings, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMPROC_PROBE_LOG", str(tmp_path / "probe.log"))
    probes = [
        Probe(seq=i, action="permanent" if i == 3 else "ok", at_stage="s2") for i in range(10)
    ]
    client = await submit(settings, redis, probes)
    [report] = await drain(chain(3), settings, redis)
    assert report.counts["s2"] == {"done": 9, "dead_lettered": 1}
    [entry] = await dead_letters(redis, settings, "s2")
    assert (entry["doc"], entry["error_class"], entry["reason"]) == (
        "doc3",
        "PermanentError",
        "permanent error",
    )
    assert "probe 3 refuses permanently" in entry["error"]
    assert "PermanentError" in entry["traceback"]
    assert orjson.loads(entry["message"])["d"] == "doc3"
    calls = [row for row in read_probe_log(str(tmp_path / "probe.log")) if row[1] == "doc3"]
    assert [(stage, attempt) for stage, _, attempt, _ in calls] == [("s1", 0), ("s2", 0)]
    status = await client.status("B")
    assert status is not None and (status.done, status.failed, status.completed) == (9, 1, True)
    assert status.states["failed:s2"] == 1


async def test_retryable_error_succeeds_on_a_later_attempt_after_backoff(
    settings: Settings, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMPROC_PROBE_LOG", str(tmp_path / "probe.log"))
    client = await submit(settings, redis, [Probe(seq=1, action="retryable", until_attempt=2)])
    [report] = await drain(chain(1), settings, redis)
    assert report.counts["s1"] == {"retried": 2, "done": 1}
    attempts = [attempt for _, _, attempt, _ in read_probe_log(str(tmp_path / "probe.log"))]
    assert attempts == [0, 1, 2]
    status = await client.status("B")
    assert status is not None and status.counters["retried:s1"] == 2 and status.done == 1


async def test_retries_exhausted_end_in_the_dead_letter_stream(make_settings, redis: Redis) -> None:
    settings = make_settings(max_attempts=3)
    await submit(settings, redis, [Probe(seq=1, action="retryable", until_attempt=99)])
    [report] = await drain(chain(1), settings, redis)
    assert report.counts["s1"] == {"retried": 2, "dead_lettered": 1}
    [entry] = await dead_letters(redis, settings, "s1")
    assert (entry["reason"], entry["attempt"], entry["error_class"]) == (
        "gave up after 3 attempts",
        "2",
        "RetryableError",
    )


async def test_handler_past_its_time_limit_is_retried_then_dead_lettered(
    make_settings, redis: Redis
) -> None:
    settings = make_settings(handler_timeout=0.05, max_attempts=2)
    await submit(settings, redis, [Probe(seq=1, action="sleep", seconds=5)])
    [report] = await drain(chain(1), settings, redis)
    assert report.counts["s1"] == {"retried": 1, "dead_lettered": 1}
    [entry] = await dead_letters(redis, settings, "s1")
    assert entry["error_class"] == "HandlerTimeout"
    assert "0.05 s limit" in entry["error"]


async def test_deferred_message_is_called_again_without_counting_an_attempt(
    settings: Settings, redis: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMPROC_PROBE_LOG", str(tmp_path / "probe.log"))
    await submit(settings, redis, [Probe(seq=1, action="poll", polls=3, seconds=0.01)])
    [report] = await drain(chain(2), settings, redis)
    assert report.counts == {"s1": {"deferred": 3, "done": 1}, "s2": {"done": 1}}
    rows = read_probe_log(str(tmp_path / "probe.log"))
    assert [(stage, attempt) for stage, _, attempt, _ in rows] == [("s1", 0)] * 4 + [("s2", 0)]


@pytest.mark.parametrize(
    ("fields", "error_class"),
    [
        ({"x": "no envelope at all"}, "InvalidMessage"),
        ({"d": "doc", "p": "{not json"}, "ValidationError"),
        ({"d": "doc", "p": '{"seq": "NaN-not-int"}'}, "ValidationError"),
        ({"d": "doc", "p": "{}", "a": "one"}, "InvalidMessage"),
        ({"d": b"\xff\xfe", "p": "{}"}, "InvalidMessage"),
    ],
)
async def test_malformed_entries_are_dead_lettered_and_the_reader_carries_on(
    settings: Settings, redis: Redis, fields: dict[str, str | bytes], error_class: str
) -> None:
    keys = Keys(settings.prefix)
    await redis.xadd(keys.stream("s1"), fields)  # type: ignore[arg-type]
    await submit(settings, redis, [Probe(seq=i) for i in range(5)])
    [report] = await drain(chain(1), settings, redis)
    assert report.counts["s1"] == {"dead_lettered": 1, "done": 5}
    [entry] = await dead_letters(redis, settings, "s1")
    assert entry["error_class"] == error_class


async def test_a_group_deleted_under_a_running_worker_is_recreated(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    pipeline = chain(1)
    worker = Worker(pipeline, pipeline.stages, settings, redis)
    task = asyncio.create_task(worker.run())
    client = await submit(settings, redis, [Probe(seq=i) for i in range(5)], batch="B1")
    await _until(lambda: _completed(client, "B1"))
    [*_, (last, _)] = await redis.xrange(keys.stream("s1"))
    await _until(lambda: _checkpointed_past(redis, keys, "s1", last))
    await redis.xgroup_destroy(keys.stream("s1"), "s1")
    await client.submit("s1", [(f"late{i}", Probe(seq=i)) for i in range(5)], batch="B2")
    try:
        await _until(lambda: _completed(client, "B2"), 5)
    except TimeoutError:
        print(
            "STATUS",
            await client.status("B2"),
            await redis.xinfo_groups(keys.stream("s1")),
            await redis.xrange(keys.stream("s1")),
        )
        raise
    worker.stop()
    report = await asyncio.wait_for(task, 10)
    assert report.counts["s1"]["done"] == 10


async def _checkpointed_past(redis: Redis, keys: Keys, stage: str, entry: bytes) -> bool:
    """Whether the group's checkpoint has moved up to ``entry``."""
    point = await redis.hget(keys.group_checkpoints, f"{keys.stream(stage)}\n{stage}")
    return point is not None and parse(point.decode()) >= parse(entry.decode())


async def _completed(client: Client, batch: str) -> bool:
    status = await client.status(batch)
    return status is not None and status.completed


async def _until(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def _running_with(
    settings: Settings, redis: Redis, *, pending: int
) -> tuple[Worker, asyncio.Task[Report]]:
    """A one-stage worker started in this process, once it holds ``pending`` entries."""
    worker = Worker(chain(1), chain(1).stages, settings, redis)
    running = asyncio.create_task(worker.run())
    stream = Keys(settings.prefix).stream("s1")

    async def holding() -> bool:
        try:
            return (await redis.xpending(stream, "s1"))["pending"] == pending
        except ResponseError:  # the worker has not created its group yet
            return False

    await _until(holding)
    return worker, running


async def test_dead_consumer_is_removed_only_after_its_pending_entries_were_taken_over(
    make_settings, redis: Redis
) -> None:
    settings = make_settings(
        visibility_timeout=0.3, dead_consumer_after=0.6, heartbeat_interval=0.1
    )
    keys = Keys(settings.prefix)
    client = await submit(settings, redis, [Probe(seq=i) for i in range(3)])
    await redis.xgroup_create(keys.stream("s1"), "s1", id="0")
    await redis.xreadgroup("s1", "ghost", {keys.stream("s1"): ">"}, count=2)  # dies holding two
    await redis.xgroup_create(keys.stream("s1"), "v2", id="$")  # a side group's dead consumer
    await redis.xreadgroup("v2", "ghost2", {keys.stream("s1"): ">"}, count=1)
    pipeline = chain(1)
    worker = Worker(pipeline, pipeline.stages, settings, redis)
    task = asyncio.create_task(worker.run())

    async def ghost_gone() -> bool:
        names = {c["name"] for c in await redis.xinfo_consumers(keys.stream("s1"), "s1")}
        side = {c["name"] for c in await redis.xinfo_consumers(keys.stream("s1"), "v2")}
        return b"ghost" not in names and b"ghost2" not in side

    await _until(ghost_gone)
    worker.stop()
    report = await asyncio.wait_for(task, 10)
    assert report.counts["s1"]["done"] == 3
    assert await _completed(client, "B")


async def test_progress_is_published_once_per_batch_and_handoff_and_on_completion(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    pubsub = redis.pubsub()
    await pubsub.subscribe(keys.progress_channel)
    probes = [
        Probe(seq=i, action="permanent" if i == 0 else "ok", at_stage="s2") for i in range(50)
    ]
    await submit(settings, redis, probes)
    await drain(chain(2), settings, redis)
    passed: dict[str, int] = {}
    failed = completed = 0
    for _ in range(1000):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is None:  # also what the swallowed subscribe confirmation gives
            if completed:
                break
            continue
        batch, stage, kind, count = message["data"].decode().split("\t")
        assert batch == "B"
        if kind == "passed":
            passed[stage] = passed.get(stage, 0) + int(count)
        failed += kind == "failed"
        completed += kind == "completed"
    await pubsub.aclose()
    assert passed == {"s1": 50, "s2": 49}
    assert (failed, completed) == (1, 1)


async def test_shutdown_with_redis_gone_gives_up_after_the_grace_period_and_loses_nothing(
    make_settings, tmp_path: Path
) -> None:
    """The final flush waits for an unreachable Redis only until the grace period ends; the
    messages it could not hand off stay pending and the next worker finishes them."""
    server = start_private_redis(tmp_path / "redis", appendfsync="always")
    redis = connect_redis(server.url)
    try:
        settings = make_settings(redis_url=server.url, grace_period=1.0, visibility_timeout=0.5)
        # The first to finish holds the flush loop in its wait for Redis; the second is left
        # to the final flush.
        probes = [Probe(seq=i, action="sleep", seconds=0.4 * i) for i in (1, 2)]
        client = await submit(settings, redis, probes)
        worker, running = await _running_with(settings, redis, pending=2)
        stream = Keys(settings.prefix).stream("s1")
        server.kill()  # the handler finishes while Redis is gone
        worker.stop()
        async with asyncio.timeout(30):  # a hang guard: without the bound this never returns
            report = await running
        assert report.counts["s1"].get("done", 0) == 0
        server.start()
        await redis.connection_pool.disconnect()
        assert (await redis.xpending(stream, "s1"))["pending"] == 2  # AOF kept them, unacked
        [again] = await drain(chain(1), settings, redis)
        assert again.counts["s1"] == {"done": 2}
        assert await _completed(client, "B")
    finally:
        await redis.aclose()
        server.stop()


async def test_a_worker_started_before_redis_waits_for_it(make_settings, tmp_path: Path) -> None:
    server = start_private_redis(tmp_path / "redis", appendfsync="always")
    redis = connect_redis(server.url)
    try:
        settings = make_settings(redis_url=server.url)
        client = await submit(settings, redis, [Probe(seq=1)])
        server.stop()
        running = asyncio.create_task(
            Worker(chain(1), chain(1).stages, settings, redis).run(drain=True)
        )
        await asyncio.sleep(1.0)
        assert not running.done()  # waiting, not crashed
        server.start()
        async with asyncio.timeout(30):
            report = await running
        assert report.counts["s1"] == {"done": 1}
        assert await _completed(client, "B")
    finally:
        await redis.aclose()
        server.stop()


async def test_a_stop_during_a_handoff_waits_for_its_reply_and_counts_what_it_confirmed(
    settings: Settings, redis: Redis
) -> None:
    """Stopping while the flush loop waits for a handoff's reply: the final flush waits for
    that reply too, so the worker counts every message Redis handed off."""
    probes = [Probe(seq=i, action="sleep", seconds=0.3) for i in range(5)]
    client = await submit(settings, redis, probes)
    worker, running = await _running_with(settings, redis, pending=5)
    await redis.execute_command("CLIENT", "PAUSE", 1500, "WRITE")  # holds the handoff
    await asyncio.sleep(0.6)  # the handlers finish; their handoff waits in Redis
    worker.stop()
    async with asyncio.timeout(20):
        report = await running
    assert report.counts["s1"] == {"done": 5}
    assert await _completed(client, "B")
