"""Paths that once lost, duplicated or miscounted work, each reproduced against real Redis.

A consumer group deleted under running workers, side groups, handlers that swallow
their cancellation, more entries in flight than one lease call used to cover, error
replies other than a lost connection, scripts the server forgot between two calls of
one round trip, oversized results and dead consumers read from at the wrong moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from streamproc.client import Client
from streamproc.config import Settings
from streamproc.errors import ConfigurationError
from streamproc.ids import parse
from streamproc.keys import Keys
from streamproc.scripts import Scripts
from streamproc.stage import Context, Pipeline, Stage
from streamproc.testing import Probe, chain
from streamproc.worker import Report, Worker


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


async def status_of(client: Client, batch: str) -> tuple[int, int, int, bool]:
    status = await client.status(batch)
    assert status is not None
    return status.total, status.done, status.failed, status.completed


async def dead_letters(redis: Redis, keys: Keys, stage: str) -> list[dict[str, str]]:
    entries = await redis.xrange(keys.dead_letters(stage))
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in entries]


async def checkpointed_past(redis: Redis, keys: Keys, stage: str, entry: bytes) -> bool:
    point = await redis.hget(keys.group_checkpoints, f"{keys.stream(stage)}\n{stage}")
    return point is not None and parse(point.decode()) >= parse(entry.decode())


def start(worker: Worker, **kwargs: Any) -> asyncio.Task[Report]:
    return asyncio.create_task(worker.run(**kwargs))


async def stopped(worker: Worker, task: asyncio.Task[Report]) -> Report:
    worker.stop()
    return await asyncio.wait_for(task, 20)


# -- a consumer group deleted under the workers --------------------------------------------


async def test_a_group_recreated_by_one_worker_keeps_every_other_workers_entries(
    make_settings: Any, redis: Redis
) -> None:
    settings = make_settings(concurrency=4)
    keys, pipeline = Keys(settings.prefix), chain(2)
    client = Client(redis, keys)
    slow = [(f"doc{i}", Probe(seq=i, action="sleep", seconds=1.0, at_stage="s1")) for i in range(8)]
    await client.submit("s1", slow, batch="B")
    workers = [Worker(pipeline, pipeline.stages, settings, redis) for _ in range(2)]
    tasks = [start(w) for w in workers]

    async def both_hold_entries() -> bool:
        with contextlib.suppress(ResponseError):  # no group yet
            consumers = await redis.xinfo_consumers(keys.stream("s1"), "s1")
            return len([c for c in consumers if c["pending"]]) == 2
        return False

    await until(both_hold_entries)
    await redis.xgroup_destroy(keys.stream("s1"), "s1")
    await until(lambda: _completed(client, "B"), 30)

    assert await status_of(client, "B") == (8, 8, 0, True)
    s2 = await redis.xrange(keys.stream("s2"))
    assert sorted({f[b"d"].decode() for _, f in s2}) == sorted(d for d, _ in slow)
    for worker, task in zip(workers, tasks, strict=True):
        assert not task.done(), "a worker ended on the deleted group"
        await stopped(worker, task)


async def test_a_fresh_worker_recreates_a_deleted_group_without_replaying_history(
    settings: Settings, redis: Redis
) -> None:
    keys, pipeline = Keys(settings.prefix), chain(2)
    client = Client(redis, keys)
    await client.submit("s1", [(f"old{i}", Probe(seq=i)) for i in range(50)], batch="OLD")
    first = Worker(pipeline, pipeline.stages, settings, redis)
    running = start(first)
    await until(lambda: _completed(client, "OLD"))
    [*_, (last, _)] = await redis.xrange(keys.stream("s1"))
    await until(lambda: checkpointed_past(redis, keys, "s1", last))
    await stopped(first, running)

    await redis.xgroup_destroy(keys.stream("s1"), "s1")  # while no worker runs
    await client.submit("s1", [(f"new{i}", Probe(seq=i)) for i in range(5)], batch="NEW")
    [report] = await asyncio.wait_for(
        asyncio.gather(Worker(pipeline, pipeline.stages, settings, redis).run(drain=True)), 30
    )

    assert report.counts["s1"] == {"done": 5}
    assert await redis.xlen(keys.stream("s2")) == 55
    assert await status_of(client, "OLD") == (50, 50, 0, True)
    assert await status_of(client, "NEW") == (5, 5, 0, True)


async def test_a_group_first_missing_in_lease_renewal_or_the_flush_does_not_end_the_worker(
    make_settings: Any, redis: Redis
) -> None:
    # Every slot is taken by a slow handler, so the reader is not reading: the group's
    # absence is first met by the lease renewal and then by the flush.
    settings = make_settings(concurrency=3, visibility_timeout=0.6)
    keys, pipeline = Keys(settings.prefix), chain(1)
    client = Client(redis, keys)
    slow = [(f"doc{i}", Probe(seq=i, action="sleep", seconds=0.8)) for i in range(3)]
    await client.submit("s1", slow, batch="B")
    worker = Worker(pipeline, pipeline.stages, settings, redis)
    task = start(worker)
    await until(lambda: _pending(redis, keys, 3))
    await redis.xgroup_destroy(keys.stream("s1"), "s1")
    await until(lambda: _completed(client, "B"), 30)
    assert not task.done(), "the worker ended on the deleted group"
    report = await stopped(worker, task)
    assert report.counts["s1"]["done"] == 3


# -- side groups ------------------------------------------------------------------------------


async def test_a_side_groups_dead_letters_leave_the_original_batch_alone(
    make_settings: Any, redis: Redis
) -> None:
    settings = make_settings(visibility_timeout=0.2, max_deliveries=3)
    keys, pipeline = Keys(settings.prefix), chain(1)
    client = Client(redis, keys)
    await client.submit("s1", [(f"doc{i}", Probe(seq=i)) for i in range(3)], batch="B")
    await Worker(pipeline, pipeline.stages, settings, redis).run(drain=True)
    assert await status_of(client, "B") == (3, 3, 0, True)
    [(first, _), *_] = await redis.xrange(keys.stream("s1"))
    # A malformed entry naming the batch and one of its documents (its attempt is no number).
    await redis.xadd(keys.stream("s1"), {"d": "doc1", "b": "B", "a": "x", "p": b"{}"})
    await redis.xgroup_create(keys.stream("s1"), "v2", id="0")
    # The side group's consumers died three times holding doc0's entry: it is poison there.
    await redis.xreadgroup("v2", "ghost", {keys.stream("s1"): ">"}, count=1)
    for _ in range(2):
        await redis.xclaim(keys.stream("s1"), "v2", "ghost", 0, [first])
    await asyncio.sleep(0.3)

    side = [dataclasses.replace(s, group="v2") for s in pipeline.stages]
    report = await asyncio.wait_for(Worker(pipeline, side, settings, redis).run(drain=True), 20)

    assert report.counts["s1"] == {"done": 2, "dead_lettered": 2}
    letters = [d for d in await dead_letters(redis, keys, "s1") if d["group"] == "v2"]
    assert sorted(d["error_class"] for d in letters) == ["InvalidMessage", "PoisonMessage"]
    assert [d["batch"] for d in letters] == ["", ""]
    assert await status_of(client, "B") == (3, 3, 0, True)
    states = await redis.hgetall(keys.batch_documents("B"))
    assert set(states.values()) == {b"done"}


async def test_a_stage_run_from_code_as_a_missing_side_group_is_refused(
    settings: Settings, redis: Redis
) -> None:
    keys, pipeline = Keys(settings.prefix), chain(1)
    await Client(redis, keys).submit("s1", [("doc0", Probe())], batch="B")
    side = [dataclasses.replace(s, group="v2") for s in pipeline.stages]
    with pytest.raises(ConfigurationError, match=r"no consumer group 'v2'.*streamproc replay s1"):
        await Worker(pipeline, side, settings, redis).run(drain=True)
    groups = await redis.xinfo_groups(keys.stream("s1"))
    assert [g["name"] for g in groups] == []


# -- a handler that swallows its cancellation ----------------------------------------------


class Stubborn(BaseModel):
    seconds: float = 3.0


async def stubborn(msg: Stubborn, ctx: Context) -> None:
    """Ignores the first cancellation and runs on (a second one ends it)."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        await asyncio.sleep(msg.seconds)


async def test_a_handler_that_swallows_cancellation_is_abandoned_and_its_message_moves_on(
    make_settings: Any, redis: Redis
) -> None:
    settings = make_settings(handler_timeout=0.2, max_attempts=2)
    keys = Keys(settings.prefix)
    pipeline = Pipeline((Stage("s1", Stubborn, stubborn),))
    await Client(redis, keys).submit("s1", [("doc0", Stubborn())], batch="B")

    report = await asyncio.wait_for(
        Worker(pipeline, pipeline.stages, settings, redis).run(drain=True), 20
    )

    assert report.counts["s1"] == {"retried": 1, "dead_lettered": 1}
    assert report.orphans >= 1  # still running, ignored: the CLI ends such a process
    left = asyncio.all_tasks() - {asyncio.current_task()}
    for task in left:  # a second cancellation ends the stubborn handlers
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    [letter] = await dead_letters(redis, keys, "s1")
    assert letter["error_class"] == "HandlerTimeout" and "ignored cancellation" in letter["error"]
    assert (await redis.xpending(keys.stream("s1"), "s1"))["pending"] == 0


# -- leases of many entries ---------------------------------------------------------------------


async def test_renewing_a_chunk_of_many_entries_of_one_consumer_keeps_every_one(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    scripts = Scripts(redis, keys)
    await scripts.load()
    stream = keys.stream("s1")
    pipe = redis.pipeline(transaction=False)
    for i in range(1500):
        pipe.xadd(stream, {"d": f"doc{i}"})
    await pipe.execute()
    await redis.xgroup_create(stream, "s1", id="0")
    read = await redis.xreadgroup("s1", "me", {stream: ">"}, count=1500)
    ids = [eid.decode() for eid, _ in read[0][1]]
    chunk = random.Random(7).sample(ids, 500)

    kept, taken = await scripts.call(
        scripts.renew(stage="s1", group="s1", consumer="me", ids=chunk)
    )

    assert taken == []
    assert sorted(k.decode() for k in kept) == sorted(chunk)


async def test_a_worker_with_over_a_thousand_entries_in_flight_keeps_them_all(
    make_settings: Any, redis: Redis
) -> None:
    # A dead consumer's entries, taken over late, sit among the holder's newer ones: a lease
    # call then covers a range of ids holding far more of the holder's entries than its own.
    settings = make_settings(concurrency=1500, visibility_timeout=1.0, read_count=500)
    keys, pipeline = Keys(settings.prefix), chain(1)
    client = Client(redis, keys)
    work = [(f"doc{i}", Probe(seq=i, action="sleep", seconds=5.0)) for i in range(1500)]
    await client.submit("s1", work, batch="B")
    await redis.xgroup_create(keys.stream("s1"), "s1", id="0")
    await redis.xreadgroup("s1", "ghost", {keys.stream("s1"): ">"}, count=400)
    holder = Worker(pipeline, pipeline.stages, settings, redis)
    held = start(holder)

    async def holder_has_everything() -> bool:
        consumers = await redis.xinfo_consumers(keys.stream("s1"), "s1")
        return any(c["pending"] == 1500 for c in consumers)

    await until(holder_has_everything)
    rival = Worker(pipeline, pipeline.stages, settings, redis)
    rivalling = start(rival)
    await until(lambda: _completed(client, "B"), 60)

    rival_report, holder_report = await stopped(rival, rivalling), await stopped(holder, held)
    assert rival_report.counts["s1"] == {}, "the rival re-ran entries still held"
    assert holder_report.counts["s1"] == {"done": 1500}


# -- error replies other than a lost connection -------------------------------------------------


async def test_a_redis_out_of_memory_pauses_the_worker_instead_of_ending_it(
    make_settings: Any, redis: Redis
) -> None:
    settings = make_settings(heartbeat_interval=0.1)
    keys, pipeline = Keys(settings.prefix), chain(1)
    client = Client(redis, keys)
    await client.submit("s1", [("doc0", Probe())], batch="A")
    worker = Worker(pipeline, pipeline.stages, settings, redis)
    task = start(worker)
    await until(lambda: _completed(client, "A"))
    maxmemory = (await redis.config_get("maxmemory"))["maxmemory"]
    policy = (await redis.config_get("maxmemory-policy"))["maxmemory-policy"]
    await redis.config_set("maxmemory-policy", "noeviction")
    await redis.config_set("maxmemory", 1)  # every write that needs memory is refused
    try:
        await asyncio.sleep(1.0)  # heartbeats, checkpoints and promotions all hit OOM
        assert not task.done(), "the worker ended on an out-of-memory reply"
    finally:
        await redis.config_set("maxmemory", maxmemory)
        await redis.config_set("maxmemory-policy", policy)
    await client.submit("s1", [("doc1", Probe())], batch="B")
    await until(lambda: _completed(client, "B"))
    report = await stopped(worker, task)
    assert report.counts["s1"]["done"] == 2


# -- scripts the server forgot between two calls of one round trip ------------------------------


async def test_after_a_partial_noscript_only_the_refused_calls_are_sent_again(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    scripts = Scripts(redis, keys)
    await scripts.load()
    await redis.script_flush()
    take = scripts.token_bucket(
        name="llm",
        request_capacity=10,
        requests_per_minute=60,
        token_capacity=1000,
        tokens_per_minute=1000,
        requests=1,
        tokens=100,
        now=1_000,
    )
    await redis.script_load(_source("token_bucket"))  # only this one is known to the server
    enqueue = scripts.enqueue(stage="s1", batch="B", docs=[("doc0", ["d", "doc0"])], now=1)

    await scripts.run([take, enqueue])

    bucket = {
        k.decode(): float(v) for k, v in (await redis.hgetall(keys.rate_limit("llm"))).items()
    }
    assert bucket["t"] == pytest.approx(900)  # taken once, not twice
    assert await redis.xlen(keys.stream("s1")) == 1


def _source(name: str) -> str:
    from streamproc.scripts import script_source

    return script_source(name)


# -- oversized results ----------------------------------------------------------------------------


class Big(BaseModel):
    text: str = ""


async def grow(msg: Big, ctx: Context) -> Big:
    return Big(text="x" * (2 << 20))


async def test_a_result_too_big_for_a_stream_entry_is_dead_lettered_saying_so(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    pipeline = Pipeline((Stage("s1", Big, grow, next="s2"), Stage("s2", Big, grow)))
    client = Client(redis, keys)
    await client.submit("s1", [("doc0", Big())], batch="B")
    report = await asyncio.wait_for(
        Worker(pipeline, pipeline.stages[:1], settings, redis).run(drain=True), 20
    )
    assert report.counts["s1"] == {"dead_lettered": 1}
    [letter] = await dead_letters(redis, keys, "s1")
    assert "limit for a stream entry" in letter["error"] and "reference" in letter["error"]
    assert await redis.xlen(keys.stream("s2")) == 0


# -- dead consumers -------------------------------------------------------------------------------


async def test_a_consumer_is_reaped_only_if_it_holds_nothing_when_the_script_runs(
    settings: Settings, redis: Redis
) -> None:
    keys = Keys(settings.prefix)
    scripts = Scripts(redis, keys)
    await scripts.load()
    stream = keys.stream("s1")
    await redis.xgroup_create(stream, "s1", id="0", mkstream=True)
    await redis.xreadgroup("s1", "ghost", {stream: ">"})  # known to the group, holds nothing
    await asyncio.sleep(0.05)
    # It reads an entry after a janitor looked at it (idle, nothing pending)...
    await redis.xadd(stream, {"d": "doc0"})
    await redis.xreadgroup("s1", "ghost", {stream: ">"})
    # ...so the janitor's delete, checked again in the script, keeps it.
    reap = scripts.reap(stream=stream, group="s1", consumer="ghost", min_idle_ms=0)
    assert await scripts.call(reap) == 0
    assert (await redis.xpending(stream, "s1"))["pending"] == 1
    [(mid, _)] = await redis.xrange(stream)
    await redis.xack(stream, "s1", mid)
    assert await scripts.call(reap) == 1
    assert await redis.xinfo_consumers(stream, "s1") == []


async def _completed(client: Client, batch: str) -> bool:
    status = await client.status(batch, with_states=False)
    return status is not None and status.completed


async def _pending(redis: Redis, keys: Keys, n: int) -> bool:
    with contextlib.suppress(ResponseError):  # no group yet
        return (await redis.xpending(keys.stream("s1"), "s1"))["pending"] == n
    return False
