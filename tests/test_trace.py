"""Trace: a document's timeline across stages, from Redis alone."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable

from processes import Procs, spawn
from redis.asyncio import Redis

from streamproc import trace
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.keys import Keys
from streamproc.testing import Probe, chain, read_probe_log
from streamproc.worker import Worker


def cli(python: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [python, "-m", "streamproc", *args, "--pipeline", "streamproc.testing:three"]
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)


async def until(check, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def test_trace_follows_a_killed_and_reclaimed_document_to_its_dead_letter(  # noqa: PLR0917
    make_settings: Callable[..., Settings],
    redis: Redis,
    prefix: str,
    worker_env: dict[str, str],
    python: str,
    spawned: Procs,
) -> None:
    env = worker_env | {
        "STREAMPROC_VISIBILITY_TIMEOUT": "1",
        "STREAMPROC_BLOCK_MS": "100",
        "STREAMPROC_MAX_DELIVERIES": "2",
    }
    keys = Keys(prefix)
    client = Client(redis, keys)
    await client.submit("s1", [("ok", Probe(seq=1))], batch="A")
    async with asyncio.timeout(30):
        await Worker(chain(3), chain(3).stages, make_settings(), redis).run(drain=True)
    await client.submit("s1", [("bomb", Probe(seq=2, action="kill", at_stage="s2"))], batch="B")
    first = spawn(spawned, python, env, "worker", "--pipeline", "streamproc.testing:three")
    assert await asyncio.to_thread(first.wait, 60) == -9

    mid = await trace.trace(redis, keys, ["s1", "s2", "s3"], "bomb")
    assert [(s.kind, s.stage) for s in mid.steps] == [("entry", "s1"), ("entry", "s2")]
    assert mid.steps[0].pending is None
    pending = mid.steps[1].pending
    assert pending is not None and pending.deliveries == 1

    spawn(spawned, python, env, "run", "--pipeline", "streamproc.testing:three", "--procs", "s2=1")

    async def completed() -> bool:
        status = await client.status("B")
        return status is not None and status.completed

    await until(completed, timeout=90)
    out = await asyncio.to_thread(cli, python, env, "trace", "bomb", "--json")
    steps = json.loads(out.stdout)["steps"]
    assert [(s["kind"], s["stage"]) for s in steps] == [
        ("entry", "s1"),
        ("entry", "s2"),
        ("dead_letter", "s2"),
    ]
    assert steps[1]["pending"] is None and steps[1]["id"] != ""
    dead = steps[2]["detail"]
    assert (dead["error_class"], dead["deliveries"]) == ("PoisonMessage", "2")
    calls = [
        r for r in read_probe_log(env["STREAMPROC_PROBE_LOG"]) if r[1] == "bomb" and r[0] == "s2"
    ]
    assert len({pid for *_, pid in calls}) == 2  # two processes died on it

    shown = await asyncio.to_thread(cli, python, env, "trace", "bomb")
    assert "dead letter" in shown.stdout and "PoisonMessage" in shown.stdout
    ok = await asyncio.to_thread(cli, python, env, "trace", "ok", "--json")
    assert [s["stage"] for s in json.loads(ok.stdout)["steps"]] == ["s1", "s2", "s3"]
    none = await asyncio.to_thread(cli, python, env, "trace", "nobody")
    assert none.returncode == 2 and "appears in no stream" in none.stderr


async def test_trace_shows_a_retry_waiting_in_the_delayed_set(
    make_settings: Callable[..., Settings], redis: Redis
) -> None:
    settings: Settings = make_settings(backoff_base=86_400.0, backoff_max=86_400.0)
    keys = Keys(settings.prefix)
    await Client(redis, keys).submit(
        "s1", [("flaky", Probe(seq=1, action="retryable", until_attempt=5))], batch="B"
    )
    pipeline = chain(1)
    async with asyncio.timeout(30):
        await Worker(pipeline, pipeline.stages, settings, redis).run(max_messages=1)
    found = await trace.trace(redis, keys, ["s1"], "flaky")
    assert [(s.kind, s.attempt, s.batch) for s in found.steps] == [
        ("entry", 0, "B"),
        ("delayed", 1, "B"),
    ]
    assert (
        found.steps[1].at_ms > found.steps[0].at_ms + 1_000
    )  # full jitter over a day: due well after the failure
