"""Each Lua script called directly against a real Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from streamproc import envelope
from streamproc.keys import Keys
from streamproc.scripts import SCRIPT_NAMES, Finished, Scripts, script_dir

GROUP = "g"


@pytest.fixture
async def setup(redis: Redis, prefix: str) -> tuple[Scripts, Keys]:
    keys = Keys(prefix)
    scripts = Scripts(redis, keys)
    await scripts.load()
    for stage in ("a", "b"):
        await redis.xgroup_create(keys.stream(stage), GROUP, id="0", mkstream=True)
    return scripts, keys


async def _deliver(redis: Redis, keys: Keys, stage: str, n: int, batch: str = "") -> list[str]:
    for i in range(n):
        env = envelope.fresh(f"doc{i}", batch, b"{}")
        await redis.xadd(
            keys.stream(stage), dict(zip(*[iter(envelope.encode(env))] * 2, strict=True))
        )
    resp = await redis.xreadgroup(GROUP, "c1", {keys.stream(stage): ">"}, count=n)
    return [eid.decode() for eid, _ in resp[0][1]]


def test_every_script_file_has_a_wrapper_and_every_wrapper_a_file() -> None:
    files = {p.stem for p in Path(str(script_dir())).glob("*.lua")}
    assert files == set(SCRIPT_NAMES)
    assert all(callable(getattr(Scripts, name)) for name in SCRIPT_NAMES)


async def test_handoff_forwards_only_messages_whose_xack_removed_them(setup, redis: Redis) -> None:
    scripts, keys = setup
    ids = await _deliver(redis, keys, "a", 3)
    await redis.xack(keys.stream("a"), GROUP, ids[1])  # finished elsewhere already
    items = [Finished(i, f"doc{n}", "", ["d", f"doc{n}", "p", "{}"]) for n, i in enumerate(ids)]
    call = scripts.handoff(stage="a", next_stage="b", group=GROUP, items=items, now=1)
    assert await scripts.call(call) == [1, 0, 1]
    forwarded = await redis.xrange(keys.stream("b"))
    assert [f[b"d"] for _, f in forwarded] == [b"doc0", b"doc2"]
    assert (await redis.xpending(keys.stream("a"), GROUP))["pending"] == 0


async def test_handoff_twice_forwards_once(setup, redis: Redis) -> None:
    scripts, keys = setup
    ids = await _deliver(redis, keys, "a", 1)
    call = scripts.handoff(
        stage="a",
        next_stage="b",
        group=GROUP,
        items=[Finished(ids[0], "doc0", "", ["d", "doc0"])],
        now=1,
    )
    assert await scripts.run([call, call]) == [[1], [0]]
    assert await redis.xlen(keys.stream("b")) == 1


async def test_last_stage_handoff_counts_done_and_completes_the_batch_once(
    setup, redis: Redis
) -> None:
    scripts, keys = setup
    enqueue = scripts.enqueue(
        stage="a",
        batch="B",
        now=5,
        docs=[(f"doc{i}", ["d", f"doc{i}", "b", "B", "p", "{}"]) for i in range(2)],
    )
    assert await scripts.call(enqueue) == [1, 1]
    seal = scripts.seal(batch="B", docs=["doc0", "doc1"], now=6)
    assert await scripts.call(seal) == [2, 0, 0]
    resp = await redis.xreadgroup(GROUP, "c1", {keys.stream("a"): ">"}, count=10)
    items = [Finished(eid.decode(), f[b"d"].decode(), "B", []) for eid, f in resp[0][1]]
    first = scripts.handoff(stage="a", next_stage=None, group=GROUP, items=items[:1], now=7)
    rest = scripts.handoff(stage="a", next_stage=None, group=GROUP, items=items, now=8)
    assert await scripts.run([first, rest]) == [[1], [0, 1]]
    events = await redis.xrange(keys.events)
    assert len(events) == 1
    assert events[0][1][b"type"] == b"batch_completed"
    assert events[0][1][b"done"] == b"2"
    batch = await redis.hgetall(keys.batch("B"))
    assert (batch[b"done"], batch[b"passed:a"], batch[b"completed_at"]) == (b"2", b"2", b"8")
    assert await redis.hgetall(keys.batch_documents("B")) == {b"doc0": b"done", b"doc1": b"done"}
    assert await redis.zcard(keys.open_batches) == 0


async def test_enqueue_is_idempotent_per_document(setup, redis: Redis) -> None:
    scripts, keys = setup
    docs = [("x", ["d", "x", "b", "B"]), ("y", ["d", "y", "b", "B"])]
    call = scripts.enqueue(stage="a", batch="B", docs=docs, now=1)
    assert await scripts.run([call, call]) == [[1, 1], [0, 0]]
    assert await redis.xlen(keys.stream("a")) == 2
    assert await redis.hget(keys.batch("B"), "submitted") == b"2"


async def test_seal_of_a_batch_already_finished_completes_it(setup, redis: Redis) -> None:
    scripts, keys = setup
    await scripts.call(scripts.enqueue(stage="a", batch="B", docs=[("x", ["d", "x"])], now=1))
    await redis.hset(keys.batch("B"), "failed", 1)
    assert await scripts.call(scripts.seal(batch="B", docs=["x"], now=2)) == [1, 0, 1]
    assert await scripts.call(scripts.seal(batch="B", docs=["x"], now=3)) == [1, 0, 0]
    assert await redis.xlen(keys.events) == 1


async def test_retry_and_promote_keep_time_by_the_servers_clock_not_the_callers(
    setup, redis: Redis
) -> None:
    scripts, keys = setup
    ids = await _deliver(redis, keys, "a", 1)
    seconds, micros = await redis.time()
    server_ms = seconds * 1000 + micros // 1000
    retry = scripts.retry(
        stage="a",
        group=GROUP,
        id=ids[0],
        doc="doc0",
        batch="",
        fields=["d", "doc0"],
        delay_ms=60_000,
        counter="retried:a",
        state="retrying:a",
    )
    assert await scripts.call(retry) == 1
    [(_, score)] = await redis.zrange(keys.delayed("a"), 0, -1, withscores=True)
    assert server_ms + 60_000 <= score < server_ms + 65_000
    moved, wait = await scripts.call(scripts.promote(stage="a"))
    assert moved == 0 and 55_000 < wait <= 60_000
    await redis.zadd(keys.delayed("a"), {orjson.dumps(["d", "doc0"]): server_ms - 1})
    moved, _ = await scripts.call(scripts.promote(stage="a"))
    assert moved == 1


async def test_seal_leaves_the_total_unset_while_another_submitter_has_unsealed_documents(
    setup, redis: Redis
) -> None:
    scripts, keys = setup
    for doc in ("mine", "theirs"):
        call = scripts.enqueue(stage="a", batch="B", docs=[(doc, ["d", doc])], now=1)
        assert await scripts.call(call) == [1]
    await redis.hset(keys.batch("B"), "done", 2)  # both finished before either sealed
    assert await scripts.call(scripts.seal(batch="B", docs=["mine"], now=2)) == [2, 1, 0]
    assert await redis.hget(keys.batch("B"), "total") is None
    assert await scripts.call(scripts.seal(batch="B", docs=["theirs"], now=3)) == [2, 0, 1]
    assert await redis.hget(keys.batch("B"), "total") == b"2"
    assert await redis.exists(keys.batch_unsealed("B")) == 0


async def test_the_call_completing_a_batch_makes_its_keys_expire_after_its_retention(
    setup, redis: Redis
) -> None:
    scripts, keys = setup
    call = scripts.enqueue(stage="a", batch="B", docs=[("x", ["d", "x"])], now=1, retention_ms=500)
    await scripts.call(call)
    await redis.hset(keys.batch("B"), "done", 1)
    assert await scripts.call(scripts.seal(batch="B", docs=["x"], now=1000, retention_ms=500)) == [
        1,
        0,
        1,
    ]
    assert 0 < await redis.pttl(keys.batch("B")) <= 500
    assert 0 < await redis.pttl(keys.batch_documents("B")) <= 500
    assert await redis.zrange(keys.completed_batches, 0, -1, withscores=True) == [(b"B", 1500.0)]
    await asyncio.sleep(0.6)
    assert await redis.exists(keys.batch("B"), keys.batch_documents("B")) == 0


async def test_retry_schedules_the_message_in_the_delayed_set_and_promote_returns_it(
    setup, redis: Redis
) -> None:
    scripts, keys = setup
    enqueue = scripts.enqueue(stage="a", batch="B", docs=[("doc0", ["d", "doc0", "b", "B"])], now=1)
    await scripts.call(enqueue)
    resp = await redis.xreadgroup(GROUP, "c1", {keys.stream("a"): ">"}, count=1)
    ids = [resp[0][1][0][0].decode()]
    retry = scripts.retry(
        stage="a",
        group=GROUP,
        id=ids[0],
        doc="doc0",
        batch="B",
        fields=["d", "doc0", "a", "1"],
        delay_ms=1000,
        now=0,
        counter="retried:a",
        state="retrying:a",
    )
    assert await scripts.run([retry, retry]) == [1, 0]
    assert await redis.zrange(keys.delayed("a"), 0, -1, withscores=True) == [
        (orjson.dumps(["d", "doc0", "a", "1"]), 1000.0)
    ]
    assert await redis.hget(keys.batch("B"), "retried:a") == b"1"
    assert await redis.hget(keys.batch_documents("B"), "doc0") == b"retrying:a"
    assert await scripts.call(scripts.promote(stage="a", now=999)) == [0, 1]
    assert await scripts.call(scripts.promote(stage="a", now=1000)) == [1, -1]
    last = await redis.xrevrange(keys.stream("a"), count=1)
    assert last[0][1] == {b"d": b"doc0", b"a": b"1"}
    assert await redis.zcard(keys.delayed("a")) == 0


async def test_dead_letter_writes_the_entry_and_counts_the_document_failed(
    setup, redis: Redis
) -> None:
    scripts, keys = setup
    await scripts.call(
        scripts.enqueue(stage="a", batch="B", docs=[("doc0", ["d", "doc0", "b", "B"])], now=1)
    )
    await scripts.call(scripts.seal(batch="B", docs=["doc0"], now=1))
    resp = await redis.xreadgroup(GROUP, "c1", {keys.stream("a"): ">"}, count=1)
    mid = resp[0][1][0][0].decode()
    call = scripts.dead_letter(
        stage="a",
        group=GROUP,
        id=mid,
        doc="doc0",
        batch="B",
        entry=["error", "boom", "reason", "permanent error"],
        now=9,
    )
    assert await scripts.run([call, call]) == [1, 0]
    dlq = await redis.xrange(keys.dead_letters("a"))
    assert [f for _, f in dlq] == [{b"error": b"boom", b"reason": b"permanent error"}]
    assert await redis.hget(keys.batch_documents("B"), "doc0") == b"failed:a"
    assert await redis.hget(keys.batch("B"), "failed") == b"1"
    events = await redis.xrange(keys.events)
    assert [(e[b"type"], e[b"failed"]) for _, e in events] == [(b"batch_completed", b"1")]


async def test_renew_keeps_only_entries_still_owned_by_the_consumer(setup, redis: Redis) -> None:
    scripts, keys = setup
    ids = await _deliver(redis, keys, "a", 3)
    await redis.xclaim(keys.stream("a"), GROUP, "c2", 0, [ids[1]])  # taken over by another
    await redis.xack(keys.stream("a"), GROUP, ids[2])  # finished meanwhile: neither kept nor taken
    kept, taken = await scripts.call(scripts.renew(stage="a", group=GROUP, consumer="c1", ids=ids))
    assert [k.decode() for k in kept] == [ids[0]]
    assert [t.decode() for t in taken] == [ids[1]]
    rows = await redis.xpending_range(keys.stream("a"), GROUP, "-", "+", 10)
    owners = {r["message_id"].decode(): r["consumer"].decode() for r in rows}
    assert owners == {ids[0]: "c1", ids[1]: "c2"}
    assert all(r["times_delivered"] == 1 for r in rows if r["consumer"] == b"c1")


async def test_scripts_are_reloaded_after_the_server_forgets_them(setup, redis: Redis) -> None:
    scripts, _ = setup
    await redis.script_flush()
    call = scripts.enqueue(stage="a", batch="B", docs=[("x", ["d", "x"])], now=1)
    assert await scripts.call(call) == [1]  # one call: sent on its own
    await redis.script_flush()
    more = [scripts.enqueue(stage="a", batch="B", docs=[(d, ["d", d])], now=1) for d in "yz"]
    assert await scripts.run(more) == [[1], [1]]  # several: one pipeline


async def test_claim_takes_over_idle_entries_without_counting_a_delivery(
    setup, redis: Redis
) -> None:
    scripts, keys = setup
    ids = await _deliver(redis, keys, "a", 3)
    await redis.xdel(keys.stream("a"), ids[2])  # trimmed away while pending
    call = scripts.claim(
        stage="a", group=GROUP, consumer="c2", min_idle_ms=0, cursor="0-0", count=10, now=7
    )
    cursor, claimed, deleted = await scripts.call(call)
    assert cursor == b"0-0"
    assert [(mid.decode(), n) for mid, n in claimed] == [(ids[0], 1), (ids[1], 1)]
    assert [d.decode() for d in deleted] == [ids[2]]  # on Redis 6.2 and 7 alike
    rows = await redis.xpending_range(keys.stream("a"), GROUP, "-", "+", 10)
    owners = {
        r["message_id"].decode(): (r["consumer"].decode(), r["times_delivered"]) for r in rows
    }
    assert owners == {ids[0]: ("c2", 1), ids[1]: ("c2", 1)}  # the deleted one is not pending
    [(_, letter)] = await redis.xrange(keys.dead_letters("a"))
    fields = {k.decode(): v.decode() for k, v in letter.items()}
    assert (fields["message_id"], fields["error_class"], fields["failed_at"]) == (
        ids[2],
        "EntryDeleted",
        "7",
    )
    assert "streamproc reprocess DOC --from-stage a" in fields["error"]


async def test_claim_leaves_entries_that_are_not_idle_long_enough(setup, redis: Redis) -> None:
    scripts, keys = setup
    await _deliver(redis, keys, "a", 2)
    call = scripts.claim(
        stage="a", group=GROUP, consumer="c2", min_idle_ms=60_000, cursor="0-0", count=10, now=1
    )
    _, claimed, _ = await scripts.call(call)
    assert claimed == []
