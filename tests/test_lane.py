"""A runner's own connections (lanes), and a stopping worker ending its blocked reads."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamproc.client import Client
from streamproc.embedded import PrivateRedis
from streamproc.keys import Keys
from streamproc.lane import Lane, stream_entries
from streamproc.testing import Probe, chain
from streamproc.worker import Worker


async def _filled_group(redis: Redis, stream: str) -> None:
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    await redis.xadd(stream, {"d": "doc1", "p": b"{}"})
    await redis.xadd(stream, {"d": "doc2", "p": b'{"x": 1}'})


@pytest.mark.parametrize("protocol", [2, 3])
async def test_a_lane_reads_a_group_like_the_client_does_in_either_protocol(
    redis_server: PrivateRedis, redis: Redis, prefix: str, protocol: int
) -> None:
    stream = f"{prefix}:s"
    await _filled_group(redis, stream)
    client = Redis.from_url(redis_server.url, protocol=protocol)
    lane = Lane(client)
    try:
        reply = await lane.call(
            "XREADGROUP", "GROUP", "g", "c", "COUNT", 10, "STREAMS", stream, ">"
        )
        entries = stream_entries(reply)
        assert [fields for _, fields in entries] == [
            {b"d": b"doc1", b"p": b"{}"},
            {b"d": b"doc2", b"p": b'{"x": 1}'},
        ]
        assert (await redis.xpending(stream, "g"))["pending"] == 2
        empty = await lane.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", 1, "STREAMS", stream, ">")
        assert stream_entries(empty) == []
    finally:
        await lane.close()
        await client.aclose()


async def test_an_error_reply_takes_its_place_and_the_lane_stays_usable(redis: Redis) -> None:
    lane = Lane(redis)
    try:
        replies = await lane.call_many(
            [("EVAL", "return 1", 0), ("EVALSHA", "0" * 40, 0), ("EVAL", "return 3", 0)]
        )
        assert replies[0] == 1 and replies[2] == 3
        assert isinstance(replies[1], NoScriptError)
        assert await lane.call("PING") in (b"PONG", "PONG", True)
    finally:
        await lane.close()


async def test_a_lane_dropped_by_the_server_fails_once_then_reconnects(redis: Redis) -> None:
    lane = Lane(redis)
    try:
        await lane.call("CLIENT", "SETNAME", "dropped")
        [mine] = [c for c in await redis.client_list() if c["name"] == "dropped"]
        assert await redis.client_kill_filter(_id=mine["id"]) == 1
        with pytest.raises(RedisConnectionError):
            await lane.call("PING")
        assert await lane.call("PING") in (b"PONG", "PONG", True)
    finally:
        await lane.close()


async def _blocked_readers(redis: Redis) -> int:
    clients = await redis.client_list()
    return sum(1 for c in clients if c["cmd"] == "xreadgroup" and "b" in c["flags"])


async def test_a_draining_worker_never_waits_on_a_blocked_read(make_settings, redis: Redis) -> None:
    """Draining, reads do not block in Redis: the worker returns as soon as the work is
    done, not after the 30 s BLOCK a reader would otherwise sit in."""
    settings = make_settings(block_ms=30_000)
    client = Client(redis, Keys(settings.prefix))
    await client.submit("s1", [(f"doc{i}", Probe(seq=i)) for i in range(20)], batch="B")
    worker = Worker(chain(3), chain(3).stages, settings, redis)
    async with asyncio.timeout(15):
        report = await worker.run(drain=True)
    assert report.counts == {s: {"done": 20} for s in ("s1", "s2", "s3")}
    assert await _blocked_readers(redis) == 0


async def test_a_stopping_worker_handles_what_its_blocked_read_receives(
    make_settings, redis: Redis
) -> None:
    """A stop lets a read blocked in Redis finish: an entry delivered to it in the meantime
    is handled before the worker exits, not left pending on a consumer that is gone."""
    settings = make_settings(block_ms=1_500)
    worker = Worker(chain(1), chain(1).stages, settings, redis)
    running = asyncio.create_task(worker.run())
    async with asyncio.timeout(20):
        while await _blocked_readers(redis) < 1:
            await asyncio.sleep(0.01)
    worker.stop()
    client = Client(redis, Keys(settings.prefix))
    await client.submit("s1", [("late", Probe(seq=1))], batch="B")
    async with asyncio.timeout(20):
        report = await running
    assert report.counts == {"s1": {"done": 1}}
    assert (await redis.xpending(Keys(settings.prefix).stream("s1"), "s1"))["pending"] == 0
    status = await client.status("B")
    assert status is not None and status.completed


async def test_a_blocking_read_may_outlast_the_socket_timeout_by_the_lanes_patience(
    redis_server: PrivateRedis, redis: Redis, prefix: str
) -> None:
    stream = f"{prefix}:s"
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    client = Redis.from_url(redis_server.url, socket_timeout=0.3)
    read = ("XREADGROUP", "GROUP", "g", "c", "BLOCK", 800, "STREAMS", stream, ">")
    patient, hasty = Lane(client, patience=0.8), Lane(client)
    try:
        assert stream_entries(await patient.call(*read)) == []
        with pytest.raises(RedisTimeoutError):
            await hasty.call(*read)
        assert await hasty.call("PING") in (b"PONG", "PONG", True)  # reconnected
    finally:
        await patient.close()
        await hasty.close()
        await client.aclose()
