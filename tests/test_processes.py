"""Worker and supervisor processes, killed and stopped for real."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from collections import Counter

from processes import Procs, free_port, http_get, spawn
from redis.asyncio import Redis

from streamproc.client import Client
from streamproc.errors import ExitCode
from streamproc.keys import Keys
from streamproc.scripts import Scripts
from streamproc.testing import Probe, read_probe_log


async def until(check, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def stream_docs(redis: Redis, prefix: str, stage: str) -> list[str]:
    return [f[b"d"].decode() for _, f in await redis.xrange(Keys(prefix).stream(stage))]


def probe_rows(env: dict[str, str]) -> list[tuple[str, str, int, int]]:
    path = env["STREAMPROC_PROBE_LOG"]
    return read_probe_log(path) if os.path.exists(path) else []


async def completed(client: Client, batch: str) -> bool:
    status = await client.status(batch)
    return status is not None and status.completed


async def test_worker_killed_mid_batch_loses_nothing_and_forwards_each_message_once(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    env = worker_env | {
        "STREAMPROC_VISIBILITY_TIMEOUT": "1",
        "STREAMPROC_CONCURRENCY": "16",
        "STREAMPROC_BLOCK_MS": "100",
    }
    client = Client(redis, Keys(prefix))
    probes = [
        (f"doc{i}", Probe(seq=i, action="sleep", seconds=0.1, at_stage="s2")) for i in range(600)
    ]
    await client.submit("s1", probes, batch="B")
    # The victim runs alone until it is well into stage s2, so it is the one
    # holding work when it dies (with all three started at once, the other two
    # could drain the batch before a slow-starting victim read anything).
    victim = spawn(spawned, python, env, "worker", "--pipeline", "streamproc.testing:three")

    async def victim_busy() -> bool:
        started = sum(1 for stage, _, _, _ in probe_rows(env) if stage == "s2")
        if started < 30:
            return False  # (the group exists once the victim ran something in s2)
        return (await redis.xpending(Keys(prefix).stream("s2"), "s2"))["pending"] > 0

    await until(victim_busy)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    held = (await redis.xpending(Keys(prefix).stream("s2"), "s2"))["pending"]
    assert held > 0, "the victim must die holding unacknowledged entries"
    for _ in range(2):
        spawn(spawned, python, env, "worker", "--pipeline", "streamproc.testing:three")
    await until(lambda: completed(client, "B"))
    status = await client.status("B")
    assert status is not None and (status.done, status.failed) == (600, 0)
    for stage in ("s2", "s3"):
        docs = await stream_docs(redis, prefix, stage)
        assert len(docs) == 600 and len(set(docs)) == 600, f"{stage} forwarded a message twice"
    events = await redis.xrange(Keys(prefix).events)
    assert [f[b"batch"] for _, f in events if f[b"type"] == b"batch_completed"] == [b"B"]


async def test_slow_but_alive_worker_keeps_its_lease(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    env = worker_env | {"STREAMPROC_VISIBILITY_TIMEOUT": "1", "STREAMPROC_BLOCK_MS": "100"}
    client = Client(redis, Keys(prefix))
    await client.submit(
        "s1", [(f"doc{i}", Probe(seq=i, action="sleep", seconds=2.5)) for i in range(6)], batch="B"
    )
    for _ in range(2):
        spawn(spawned, python, env, "worker", "--pipeline", "streamproc.testing:one")
    await until(lambda: completed(client, "B"))
    calls = Counter(doc for _, doc, _, _ in probe_rows(env))
    assert calls == {f"doc{i}": 1 for i in range(6)}, "an entry was taken from a live worker"
    status = await client.status("B")
    assert status is not None and status.done == 6


async def test_sigterm_during_work_loses_nothing(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    env = worker_env | {
        "STREAMPROC_VISIBILITY_TIMEOUT": "1",
        "STREAMPROC_BLOCK_MS": "100",
        "STREAMPROC_GRACE_PERIOD": "0.3",
        "STREAMPROC_CONCURRENCY": "4",
    }
    client = Client(redis, Keys(prefix))
    await client.submit(
        "s1", [(f"doc{i}", Probe(seq=i, action="sleep", seconds=1.5)) for i in range(10)], batch="B"
    )
    first = spawn(spawned, python, env, "worker", "--pipeline", "streamproc.testing:one")

    async def four_in_flight() -> bool:
        return len(probe_rows(env)) >= 4

    await until(four_in_flight)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=10) == 0
    pending = await redis.xpending(Keys(prefix).stream("s1"), "s1")
    assert pending["pending"] == 4, "unfinished work must stay pending for others"
    second = spawn(
        spawned, python, env, "worker", "--pipeline", "streamproc.testing:one", "--drain"
    )
    assert second.wait(timeout=60) == 0
    status = await client.status("B")
    assert status is not None and (status.done, status.failed, status.completed) == (10, 0, True)
    assert sorted(await stream_docs(redis, prefix, "s1")) == sorted(f"doc{i}" for i in range(10))


async def test_poison_message_is_dead_lettered_after_max_deliveries_while_others_flow(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    env = worker_env | {
        "STREAMPROC_VISIBILITY_TIMEOUT": "1",
        "STREAMPROC_BLOCK_MS": "100",
        "STREAMPROC_MAX_DELIVERIES": "3",
        "STREAMPROC_CONCURRENCY": "4",
    }
    client = Client(redis, Keys(prefix))
    probes = [(f"doc{i}", Probe(seq=i, action="kill" if i == 5 else "ok")) for i in range(12)]
    await client.submit("s1", probes, batch="B")
    sup = spawn(
        spawned, python, env, "run", "--pipeline", "streamproc.testing:one", "--procs", "s1=2"
    )
    await until(lambda: completed(client, "B"), timeout=90)
    entries = await redis.xrange(Keys(prefix).dead_letters("s1"))
    assert len(entries) == 1
    entry = {k.decode(): v.decode() for k, v in entries[0][1].items()}
    assert (entry["doc"], entry["error_class"], entry["deliveries"]) == (
        "doc5",
        "PoisonMessage",
        "3",
    )
    assert entry["reason"] == "delivery limit exceeded"
    status = await client.status("B")
    assert status is not None and (status.done, status.failed) == (11, 1)
    sup.send_signal(signal.SIGTERM)
    assert sup.wait(timeout=30) == 0


async def test_supervisor_recycles_workers_and_serves_aggregated_metrics(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    port = free_port()
    client = Client(redis, Keys(prefix))
    probes = [(f"doc{i}", Probe(seq=i, action="sleep", seconds=0.01)) for i in range(300)]
    await client.submit("s1", probes, batch="B")
    env = worker_env | {"STREAMPROC_CONCURRENCY": "2"}
    sup = spawn(
        spawned,
        python,
        env,
        "run",
        "--pipeline",
        "streamproc.testing:one",
        "--max-messages",
        "100",
        "--metrics-port",
        str(port),
    )
    await until(lambda: completed(client, "B"))
    pids = {pid for _, _, _, pid in probe_rows(env)}
    assert len(pids) >= 2, "the worker should have been recycled after 100 messages"

    async def counted_done() -> float:
        body = await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/metrics")
        done = [
            line
            for line in body.splitlines()
            if line.startswith("streamproc_messages_total{") and 'outcome="done"' in line
        ]
        return sum(float(line.rsplit(" ", 1)[1]) for line in done)

    # A worker counts a message once Redis confirmed its handoff, a moment after the batch
    # completed: wait for the counters to catch up, then they must add up exactly.
    async def all_counted() -> bool:
        return await counted_done() >= 300

    await until(all_counted, timeout=30)
    assert await counted_done() == 300
    assert await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/healthz") == "ok\n"
    sup.send_signal(signal.SIGTERM)
    assert sup.wait(timeout=30) == 0


def test_help_documents_every_command(python: str) -> None:
    out = subprocess.run(
        [python, "-m", "streamproc", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("worker", "run", "streams"):
        assert command in out.stdout
        sub = subprocess.run(
            [python, "-m", "streamproc", command, "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "Usage:" in sub.stdout and len(sub.stdout.splitlines()) > 5


def test_bad_configuration_is_refused_with_the_setting_named(
    python: str, worker_env: dict[str, str]
) -> None:
    def refused(command: str, code: int = ExitCode.CONFIGURATION, **env: str) -> str:
        out = subprocess.run(
            [python, "-m", "streamproc", command, "--pipeline", "streamproc.testing:one"],
            check=False,
            env=worker_env | env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == code and "Traceback" not in out.stderr, out.stderr[-2000:]
        return out.stderr

    assert "STREAMPROC_VISIBILITY_TIMEOUT" in refused(
        "worker", STREAMPROC_VISIBILITY_TIMEOUT="soon"
    )
    # Redis may come back: not a configuration error, so a supervisor restarts such a worker.
    unreachable = refused(
        "streams", ExitCode.UNAVAILABLE, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"
    )
    assert "cannot reach Redis" in unreachable and "REDIS_URL" in unreachable


async def test_streams_command_reports_backlog_pending_and_dead_letters(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str
) -> None:
    keys = Keys(prefix)
    client = Client(redis, keys)
    await client.submit("s1", [(f"doc{i}", Probe(seq=i)) for i in range(5)], batch="B")
    await redis.xgroup_create(keys.stream("s1"), "s1", id="0")
    await redis.xreadgroup("s1", "someone", {keys.stream("s1"): ">"}, count=2)
    await redis.xadd(keys.dead_letters("s1"), {"error": "x"})
    out = await asyncio.to_thread(
        subprocess.run,
        [python, "-m", "streamproc", "streams", "--json", "--pipeline", "streamproc.testing:three"],
        env=worker_env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {r["stage"]: r for r in json.loads(out.stdout)}
    s1 = rows["s1"]
    assert (s1["length"], s1["lag"], s1["pending"], s1["consumers"], s1["dead_letters"]) == (
        5,
        3,
        2,
        1,
        1,
    )
    assert s1["oldest_pending_seconds"] is not None and s1["oldest_pending_seconds"] >= 0
    assert rows["s2"]["length"] == 0 and rows["s3"]["lag"] == 0


async def test_streams_command_reports_the_breakers_each_stage_needs(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str
) -> None:
    scripts = Scripts(redis, Keys(prefix))
    await scripts.load()
    fail = scripts.breaker(
        dependency="postgres", event="fail", threshold=1, open_ms=60_000, failures=1
    )
    await scripts.call(fail)

    def streams(*flags: str) -> str:
        command = [python, "-m", "streamproc", "streams", *flags]
        command += ["--pipeline", "consumers.pipeline:PIPELINE"]
        env = {**worker_env, "COLUMNS": "200"}  # the whole table on one line per stage
        run = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        return run.stdout

    rows = {
        r["stage"]: r["breakers"] for r in json.loads(await asyncio.to_thread(streams, "--json"))
    }
    assert rows["ocr"] == {"postgres": "open", "objects": "closed", "textract": "closed"}
    assert rows["relationships"] == {"postgres": "open"}
    table = await asyncio.to_thread(streams)
    assert "breakers" in table and "postgres open" in table


async def test_a_worker_whose_handler_ignores_cancellation_ends_its_process_and_loses_nothing(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    env = worker_env | {"STREAMPROC_HANDLER_TIMEOUT": "0.3", "STREAMPROC_MAX_ATTEMPTS": "1"}
    client = Client(redis, Keys(prefix))
    stubborn = Probe(seq=0, action="stubborn", seconds=30.0)
    await client.submit("s1", [("doc0", stubborn), ("doc1", Probe(seq=1))], batch="B")
    worker = spawn(
        spawned, python, env, "worker", "--drain", "--pipeline", "streamproc.testing:one"
    )
    # asyncio waits on the way out for every task: a handler that swallows its cancellation
    # would hold the process for its whole 30 s sleep, and one that loops, for ever.
    assert await asyncio.to_thread(worker.wait, 20) == 3
    status = await client.status("B")
    assert status is not None and (status.done, status.failed, status.completed) == (1, 1, True)
    [(_, letter)] = await redis.xrange(Keys(prefix).dead_letters("s1"))
    assert letter[b"doc"] == b"doc0" and letter[b"error_class"] == b"HandlerTimeout"
