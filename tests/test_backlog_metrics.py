"""Backlog metrics read from Redis at scrape time, served beside the workers' own metrics."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

from processes import Procs, free_port, http_get
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from streamproc.backlog_metrics import BacklogCollector, delivery_buckets, read_snapshot
from streamproc.client import Client
from streamproc.connections import connect_redis
from streamproc.envelope import now_ms
from streamproc.keys import Keys
from streamproc.testing import Probe

PROMTOOL = "/usr/bin/promtool"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def start_supervisor(procs: Procs, python: str, env: dict[str, str], port: int) -> None:
    """``streamproc run`` over the three-stage probe pipeline with no worker for s3."""
    log = Path(env["STREAMPROC_PROBE_LOG"]).with_name("supervisor.log")
    args = ["run", "--pipeline", "streamproc.testing:three", "--procs", "s3=0"]
    with open(log, "wb") as err:
        procs.append(
            subprocess.Popen(
                [python, "-m", "streamproc", *args, "--metrics-port", str(port)],
                env=env,
                stderr=err,
            )
        )


async def scrape(port: int) -> str:
    async with asyncio.timeout(30):
        while True:
            try:
                return await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/metrics")
            except OSError:
                await asyncio.sleep(0.1)


def samples(body: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


async def until(check, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


def test_delivery_buckets_are_cumulative_and_end_with_all_entries() -> None:
    assert delivery_buckets([1, 1, 2, 4, 7, 12]) == (2, 3, 3, 4, 5, 6)
    assert delivery_buckets([]) == (0, 0, 0, 0, 0, 0)


async def collect(collector: BacklogCollector) -> Samples:
    """Scrape ``collector`` from another thread, as the metrics endpoint does."""
    families = await asyncio.to_thread(lambda: list(collector.collect()))
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


async def test_backlog_is_cached_between_close_scrapes_and_reread_after(
    redis: Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    loop = asyncio.get_running_loop()
    collector = BacklogCollector(lambda: read_snapshot(redis, keys, ["s1"]), loop, 0.3)
    await redis.xadd(keys.stream("s1"), {"d": "a"})
    first = await collect(collector)
    await redis.xadd(keys.stream("s1"), {"d": "b"})
    assert value(await collect(collector), "streamproc_stream_length", stage="s1") == 1
    await asyncio.sleep(0.35)
    assert value(await collect(collector), "streamproc_stream_length", stage="s1") == 2
    assert value(first, "streamproc_backlog_up") == 1
    assert value(first, "streamproc_open_batches") == 0


async def test_unreachable_redis_reports_backlog_down_instead_of_failing_the_scrape(
    prefix: str,
) -> None:
    down = connect_redis(f"redis://127.0.0.1:{free_port()}/0")
    keys = Keys(prefix)
    loop = asyncio.get_running_loop()
    collector = BacklogCollector(lambda: read_snapshot(down, keys, ["s1"]), loop)
    try:
        found = await collect(collector)
    finally:
        await down.aclose()
    assert found == {("streamproc_backlog_up", frozenset()): 0}


async def settle(redis: Redis, keys: Keys) -> None:
    """Wait until s1's dead letters and delayed retries and s3's backlog are in place."""

    async def settled() -> bool:
        figures = (
            await redis.xlen(keys.stream("s3")),
            await redis.xlen(keys.dead_letters("s1")),
            await redis.zcard(keys.delayed("s1")),
        )
        return figures == (4, 2, 3)

    await until(settled)


async def test_metrics_endpoint_reports_backlog_from_redis_and_passes_promtool(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    keys = Keys(prefix)
    s3 = keys.stream("s3")
    await redis.xgroup_create(s3, "s3", id="0", mkstream=True)
    probes = [(f"ok{i}", Probe(seq=i)) for i in range(4)]
    probes += [(f"bad{i}", Probe(seq=10 + i, action="permanent")) for i in range(2)]
    probes += [
        (f"wait{i}", Probe(seq=20 + i, action="poll", seconds=3600, polls=1)) for i in range(3)
    ]
    await Client(redis, keys).submit("s1", probes, batch="B")
    port = free_port()
    start_supervisor(spawned, python, worker_env, port)
    await settle(redis, keys)
    taken = await redis.xreadgroup("s3", "reader", {s3: ">"}, count=2)
    first = taken[0][1][0][0]
    await redis.xclaim(s3, "s3", "other", 0, [first])
    body = await scrape(port)

    check = await asyncio.to_thread(
        subprocess.run, [PROMTOOL, "check", "metrics"], input=body, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    found = samples(body)
    assert value(found, "streamproc_backlog_up") == 1
    assert [
        value(found, name, stage="s3")
        for name in (
            "streamproc_stream_length",
            "streamproc_group_lag",
            "streamproc_pending_messages",
            "streamproc_consumers",
        )
    ] == [4, 2, 2, 2]
    assert value(found, "streamproc_oldest_pending_age_seconds", stage="s3") < 60
    assert value(found, "streamproc_consumer_max_idle_seconds", stage="s3") < 60
    deliveries = [
        value(found, "streamproc_pending_deliveries_bucket", stage="s3", le=le)
        for le in ("1", "2", "3", "5", "10", "+Inf")
    ]
    assert deliveries == [1, 2, 2, 2, 2, 2]
    assert value(found, "streamproc_dead_letter_messages", stage="s1") == 2
    assert value(found, "streamproc_delayed_messages", stage="s1") == 3
    assert value(found, "streamproc_pending_messages", stage="s1") == 0
    assert value(found, "streamproc_open_batches") == 1
    status = await Client(redis, keys).status("B")
    assert status is not None and sum(status.states.values()) == 9
    by_state = {
        dict(labels)["state"]: v
        for (name, labels), v in found.items()
        if name == "streamproc_open_batch_documents"
    }
    assert by_state == status.states
    assert value(found, "streamproc_messages_total", stage="s1", outcome="dead_lettered") == 2
    assert value(found, "streamproc_messages_total", stage="s2", outcome="done") == 4
    spawned[0].send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(spawned[0].wait, 30) == 0


async def test_supervisor_trims_history_older_than_the_retention(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    keys = Keys(prefix)
    old = now_ms() - 3 * 86_400_000
    for i in range(3):
        await redis.xadd(keys.dead_letters("s2"), {"error": "x"}, id=f"{old + i}-0")
        await redis.xadd(keys.events, {"type": "batch_completed"}, id=f"{old + i}-0")
    await redis.xadd(keys.events, {"type": "batch_completed"})
    env = worker_env | {"STREAMPROC_RETENTION": "2d", "STREAMPROC_TRIM_INTERVAL": "0.2"}
    start_supervisor(spawned, python, env, free_port())

    async def trimmed() -> bool:
        return (await redis.xlen(keys.dead_letters("s2")), await redis.xlen(keys.events)) == (0, 1)

    await until(trimmed, timeout=30)
    spawned[0].send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(spawned[0].wait, 30) == 0
