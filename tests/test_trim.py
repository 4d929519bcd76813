"""Retention: streams trimmed by age, never past what a consumer group still needs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from processes import Procs, spawn
from redis.asyncio import Redis

from streamproc.client import Client
from streamproc.config import load_settings
from streamproc.connections import connect_redis
from streamproc.embedded import PrivateRedis, find_redis_server, start_private_redis
from streamproc.envelope import now_ms
from streamproc.errors import ConfigurationError
from streamproc.keys import Keys
from streamproc.testing import Probe
from streamproc.trim import GroupMark, age_cutoff, successor, trim, trim_point

DAY_MS = 86_400_000
WEEK = timedelta(days=7)


async def add_entries(redis: Redis, stream: str, start_ms: int, n: int) -> list[str]:
    """``n`` entries with ids one millisecond apart from ``start_ms`` (as if added back then)."""
    return [
        (await redis.xadd(stream, {"d": f"doc{i}"}, id=f"{start_ms + i}-0")).decode()
        for i in range(n)
    ]


async def deliver(redis: Redis, stream: str, group: str, count: int) -> list[str]:
    got = await redis.xreadgroup(group, "c1", {stream: ">"}, count=count)
    return [entry_id.decode() for entry_id, _ in got[0][1]] if got else []


async def remaining(redis: Redis, stream: str) -> list[str]:
    return [entry_id.decode() for entry_id, _ in await redis.xrange(stream)]


@pytest.fixture
async def old_and_new(redis: Redis, prefix: str) -> tuple[str, list[str], list[str]]:
    """Stage s1's stream: five entries ten days old, three from now, and a group from the start."""
    stream = Keys(prefix).stream("s1")
    now = now_ms()
    old = await add_entries(redis, stream, now - 10 * DAY_MS, 5)
    new = await add_entries(redis, stream, now, 3)
    await redis.xgroup_create(stream, "s1", id="0")
    return stream, old, new


def test_successor_is_the_next_possible_id() -> None:
    assert successor("5-0") == "5-1"
    assert successor(f"5-{2**64 - 1}") == "6-0"


def test_age_cutoff_is_now_minus_retention_as_an_id() -> None:
    assert age_cutoff(10 * DAY_MS, WEEK) == f"{3 * DAY_MS}-0"
    assert age_cutoff(1000, WEEK) == "0-0"


def test_trim_point_is_held_back_by_the_slowest_group() -> None:
    groups = [GroupMark("fast", "900-0", None), GroupMark("slow", "500-3", "200-1")]
    assert trim_point("1000-0", groups) == ("200-1", "slow")
    assert trim_point("100-0", groups) == ("100-0", None)
    assert trim_point("1000-0", [GroupMark("lagging", "700-0", None)]) == ("700-1", "lagging")


def test_retention_reads_days_hours_and_minutes_and_refuses_nonsense() -> None:
    assert load_settings().retention == WEEK
    assert load_settings(retention="12h").retention == timedelta(hours=12)
    assert load_settings(retention="90m").retention == timedelta(minutes=90)
    with pytest.raises(ConfigurationError, match="STREAMPROC_RETENTION"):
        load_settings(retention="soon")


async def test_old_acknowledged_entries_are_trimmed_and_recent_ones_kept(
    redis: Redis, prefix: str, old_and_new: tuple[str, list[str], list[str]]
) -> None:
    stream, _, new = old_and_new
    delivered = await deliver(redis, stream, "s1", 8)
    await redis.xack(stream, "s1", *delivered)
    plans = await trim(redis, Keys(prefix), ["s1"], WEEK)
    assert [(p.stream, p.removed, p.held_by) for p in plans] == [(stream, 5, None)]
    assert await remaining(redis, stream) == new


async def test_entry_pending_for_a_group_is_never_trimmed_even_when_older_than_retention(
    redis: Redis, prefix: str, old_and_new: tuple[str, list[str], list[str]]
) -> None:
    stream, old, new = old_and_new
    delivered = await deliver(redis, stream, "s1", 8)
    await redis.xack(stream, "s1", *[i for i in delivered if i != old[2]])
    (plan,) = await trim(redis, Keys(prefix), ["s1"], WEEK)
    assert (plan.trim_point, plan.held_by, plan.removed) == (old[2], "s1", 2)
    assert await remaining(redis, stream) == old[2:] + new


async def test_entry_not_yet_delivered_to_a_lagging_group_is_never_trimmed(
    redis: Redis, prefix: str, old_and_new: tuple[str, list[str], list[str]]
) -> None:
    stream, old, new = old_and_new
    await redis.xack(stream, "s1", *await deliver(redis, stream, "s1", 8))
    await redis.xgroup_create(stream, "replay", id=old[0])
    await redis.xack(stream, "replay", *await deliver(redis, stream, "replay", 1))
    (plan,) = await trim(redis, Keys(prefix), ["s1"], WEEK)
    assert (plan.trim_point, plan.held_by, plan.removed) == (successor(old[1]), "replay", 2)
    assert await remaining(redis, stream) == old[2:] + new


async def test_dry_run_shows_the_trim_point_and_count_and_changes_nothing(
    redis: Redis, prefix: str, old_and_new: tuple[str, list[str], list[str]]
) -> None:
    stream, old, new = old_and_new
    await redis.xack(stream, "s1", *await deliver(redis, stream, "s1", 4))
    (plan,) = await trim(redis, Keys(prefix), ["s1"], WEEK, dry_run=True)
    assert (plan.trim_point, plan.held_by, plan.removed) == (successor(old[3]), "s1", 4)
    assert await remaining(redis, stream) == old + new


async def test_dead_letters_and_events_are_trimmed_by_age_alone(redis: Redis, prefix: str) -> None:
    keys = Keys(prefix)
    now = now_ms()
    for stream in (keys.dead_letters("s1"), keys.events):
        await add_entries(redis, stream, now - 8 * DAY_MS, 4)
        await add_entries(redis, stream, now - 6 * DAY_MS, 2)
    plans = await trim(redis, keys, ["s1"], WEEK)
    assert {p.stream: p.removed for p in plans} == {keys.dead_letters("s1"): 4, keys.events: 4}
    assert await redis.xlen(keys.dead_letters("s1")) == 2
    assert await redis.xlen(keys.events) == 2


async def test_a_long_history_is_removed_in_steps_down_to_the_exact_trim_point(
    redis: Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    stream = keys.stream("s1")
    start = now_ms() - 10 * DAY_MS
    pipe = redis.pipeline(transaction=False)
    for i in range(25_001):
        pipe.xadd(stream, {"d": "x"}, id=f"{start + i}-0")
    await pipe.execute()
    await redis.xgroup_create(stream, "s1", id=f"{start + 24_999}-0")
    (dry,) = await trim(redis, keys, ["s1"], WEEK, dry_run=True)
    assert (dry.removed, dry.trim_point) == (25_000, f"{start + 24_999}-1")
    (plan,) = await trim(redis, keys, ["s1"], WEEK)
    assert (plan.removed, plan.held_by) == (25_000, "s1")
    assert await remaining(redis, stream) == [f"{start + 25_000}-0"]


def run_cli(python: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-m", "streamproc", *args, "--pipeline", "streamproc.testing:one"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


async def test_trim_command_dry_run_then_trim_uses_the_configured_retention(
    redis: Redis,
    prefix: str,
    worker_env: dict[str, str],
    python: str,
    old_and_new: tuple[str, list[str], list[str]],
) -> None:
    stream, _, new = old_and_new
    await redis.xack(stream, "s1", *await deliver(redis, stream, "s1", 8))
    env = worker_env | {"STREAMPROC_RETENTION": "11d"}
    out = await asyncio.to_thread(run_cli, python, env, "trim", "--dry-run", "--json")
    report = json.loads(out.stdout)
    assert report["dry_run"] is True
    assert [(s["stream"], s["removed"]) for s in report["streams"]] == [(stream, 0)]
    env["STREAMPROC_RETENTION"] = "9d"
    out = await asyncio.to_thread(run_cli, python, env, "trim", "--dry-run")
    assert f"{stream}: trim point" in out.stdout and "would remove 5" in out.stdout
    assert await redis.xlen(stream) == 8
    out = await asyncio.to_thread(run_cli, python, env, "trim", "--json")
    assert [s["removed"] for s in json.loads(out.stdout)["streams"]] == [5]
    assert await remaining(redis, stream) == new


async def test_a_stage_stream_no_consumer_group_has_read_yet_is_never_trimmed(
    redis: Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    stream = keys.stream("s1")
    old = await add_entries(redis, stream, now_ms() - 10 * DAY_MS, 5)
    (plan,) = await trim(redis, keys, ["s1"], WEEK)
    assert (plan.removed, plan.untouched) == (0, "no consumer group s1 yet")
    (dry,) = await trim(redis, keys, ["s1"], WEEK, dry_run=True)
    assert (dry.removed, dry.untouched) == (0, "no consumer group s1 yet")
    assert await remaining(redis, stream) == old


async def test_a_side_group_alone_does_not_let_the_stages_own_history_go(
    redis: Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    stream = keys.stream("s1")
    old = await add_entries(redis, stream, now_ms() - 10 * DAY_MS, 5)
    await redis.xgroup_create(stream, "v2", id="$")  # nothing for it, all for the stage
    (plan,) = await trim(redis, keys, ["s1"], WEEK)
    assert plan.removed == 0 and await remaining(redis, stream) == old


FAKETIME_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


@pytest.fixture
def redis_two_days_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PrivateRedis]:
    """A Redis whose clock runs two days behind this machine's (libfaketime).

    Redis 6.2 only: libfaketime cannot start the system's Redis 7, whose jemalloc reads
    the clock before libfaketime is ready.
    """
    if not FAKETIME_LIBRARY.exists():
        pytest.fail("libfaketime is missing: install Debian's faketime package (make does)")
    with monkeypatch.context() as env:
        env.setenv("LD_PRELOAD", str(FAKETIME_LIBRARY))
        env.setenv("FAKETIME", "-2d")
        env.setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        server = start_private_redis(tmp_path / "redis", binary=find_redis_server("bundled"))
    yield server
    server.stop()


async def test_the_age_cutoff_follows_the_redis_clock_that_made_the_ids(
    redis_two_days_behind: PrivateRedis,
) -> None:
    redis = connect_redis(redis_two_days_behind.url)
    keys = Keys("t")
    stream = keys.stream("s1")
    await redis.xgroup_create(stream, "s1", id="0", mkstream=True)
    fresh = [(await redis.xadd(stream, {"d": f"doc{i}"})).decode() for i in range(3)]
    await redis.xack(stream, "s1", *await deliver(redis, stream, "s1", 3))
    seconds, _ = await redis.time()
    assert seconds < time.time() - DAY_MS / 1000, "the server's clock should be behind"
    (plan,) = await trim(redis, keys, ["s1"], timedelta(days=1))
    assert plan.removed == 0, "entries added a moment ago by Redis' clock were trimmed"
    assert await remaining(redis, stream) == fresh
    await redis.aclose()


async def test_the_supervisors_trimmer_leaves_entries_waiting_for_workers_to_start(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    client = Client(redis, Keys(prefix))
    await client.submit("s1", [(f"doc{i}", Probe(seq=i)) for i in range(20)], batch="B")
    await asyncio.sleep(1.5)  # older than the retention before any worker has read them
    env = worker_env | {"STREAMPROC_RETENTION": "1s", "STREAMPROC_TRIM_INTERVAL": "0.1"}
    spawn(spawned, python, env, "run", "--pipeline", "streamproc.testing:one")
    async with asyncio.timeout(60):
        while (status := await client.status("B")) is None or not status.completed:
            assert await redis.exists(Keys(prefix).stream("s1")), "the stream was trimmed away"
            await asyncio.sleep(0.1)
    assert (status.done, status.failed) == (20, 0)
