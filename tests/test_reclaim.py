"""Taking entries over from a dead consumer while Redis goes away."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from streamproc.client import Client
from streamproc.config import load_settings
from streamproc.connections import connect_redis
from streamproc.embedded import PrivateRedis, start_private_redis
from streamproc.keys import Keys
from streamproc.runner import StageRunner
from streamproc.runtime import Runtime
from streamproc.scripts import Scripts
from streamproc.testing import Probe, one


@pytest.fixture
def restartable_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis of this test's own, which it may stop and start again."""
    server = start_private_redis(tmp_path / "redis")
    yield server
    server.stop()


async def test_entries_claimed_as_redis_goes_away_are_let_go_unstarted_not_fatal(
    restartable_redis: PrivateRedis, tmp_path: Path
) -> None:
    settings = load_settings(redis_url=restartable_redis.url, prefix="t", data_dir=tmp_path)
    keys, stage = Keys("t"), one().stages[0]
    redis = connect_redis(restartable_redis.url)
    await Client(redis, keys).submit("s1", [("doc1", Probe(seq=1))], batch="B")
    await redis.xgroup_create(keys.stream("s1"), "s1", id="0")
    read = await redis.xreadgroup("s1", "ghost", {keys.stream("s1"): ">"})
    [[_, [(mid, _fields)]]] = cast(list[tuple[bytes, list[tuple[bytes, Any]]]], read)
    rt = Runtime(
        redis, Scripts(redis, keys), keys, settings, "me", asyncio.Event(), asyncio.Event()
    )
    async with asyncio.TaskGroup() as tg:
        runner = StageRunner(stage, rt, tg)
        restartable_redis.stop()
        # What the reclaimer does with an entry its claim just took, Redis gone meanwhile.
        await runner.reclaimer.take_over([(mid.decode(), 1)])
        assert (runner.inflight, runner.tasks) == ({}, {})

    restartable_redis.start()
    [pending] = await redis.xpending_range(keys.stream("s1"), "s1", "-", "+", 10)
    assert (pending["message_id"], pending["times_delivered"]) == (mid, 1)
    await redis.aclose()
