"""`streamproc run` against real worker processes: what it restarts and what it refuses to."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from processes import Procs, free_port, http_get, spawn
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamproc.client import Client
from streamproc.connections import connect_redis
from streamproc.embedded import (
    PrivatePostgres,
    PrivateRedis,
    ensure_postgres,
    ensure_redis,
    find_redis_server,
    stop_postgres,
    stop_redis,
)
from streamproc.embedded.postgres import read_postmaster
from streamproc.embedded.postgres_cluster import PostgresLayout
from streamproc.embedded.redis import answers_ping, running_pid
from streamproc.embedded.redis_config import RedisLayout
from streamproc.errors import ExitCode
from streamproc.keys import Keys
from streamproc.testing import Probe, read_probe_log

REPO = Path(__file__).resolve().parents[1]


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON log, each parsed (a line that is not JSON fails the test)."""
    lines = path.read_text().splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line in the log: {line!r}") from None
    return parsed


def test_a_worker_refusing_its_configuration_stops_the_supervisor_with_one_clear_line(
    postgres_server: PrivatePostgres, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    missing = "nosuch" + uuid.uuid4().hex[:8]
    env = worker_env | {"DATABASE_URL": postgres_server.dsn_for(missing)}
    idle = ["--procs", "entities=0", "--procs", "resolve=0", "--procs", "relationships=0"]
    sup = spawn(spawned, python, env, "run", *idle)  # the legal pipeline: ocr and chunk
    log = Path(env["STREAMPROC_PROBE_LOG"]).with_name("process-0.log")
    try:
        code = sup.wait(timeout=90)
    except subprocess.TimeoutExpired:
        code = None
    events = json_lines(log)
    started = [e for e in events if e["event"] == "worker_started" and "slot" in e]
    assert code == 2, f"the supervisor kept restarting: {len(started)} workers started"
    assert len(started) == 2, "a worker refusing its configuration must not be restarted"
    refusals = [e for e in events if e.get("component") == "supervisor" and e["level"] == "error"]
    assert len(refusals) == 1, refusals
    (refusal,) = refusals
    assert refusal["event"] == "worker_refused_configuration"
    assert "DATABASE_URL" in refusal["error"] and missing in refusal["error"]
    assert "fix" in refusal["action"]


async def test_a_worker_that_cannot_reach_postgresql_is_restarted_not_given_up_on(
    worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    env = worker_env | {"DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/db"}
    idle = [f"--procs={stage}=0" for stage in ("chunk", "entities", "resolve", "relationships")]
    sup = spawn(spawned, python, env, "run", *idle)  # the legal pipeline's ocr stage alone
    log = Path(env["STREAMPROC_PROBE_LOG"]).with_name("process-0.log")

    def starts() -> int:
        return sum(1 for e in json_lines(log) if e["event"] == "worker_started" and "slot" in e)

    async with asyncio.timeout(90):  # a server that is down may come back: keep trying
        while starts() < 3:
            assert sup.poll() is None, "the supervisor gave up on a server that may come back"
            await asyncio.sleep(0.2)
    exits = [e for e in json_lines(log) if e["event"] == "worker_exited"]
    assert exits and {e["code"] for e in exits} == {ExitCode.UNAVAILABLE}
    unreachable = [e for e in json_lines(log) if e["event"] == "unavailable"]
    assert unreachable and "DATABASE_URL" in unreachable[0]["error"]


def scrape(port: int, family: str, **labels: str) -> float:
    """The sum of the samples of ``family`` matching ``labels`` on the supervisor's /metrics."""
    total = 0.0
    for line in http_get(f"http://127.0.0.1:{port}/metrics").splitlines():
        name, _, rest = line.partition("{")
        if name == family and all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_recycled_workers_leave_their_totals_but_not_their_metric_files(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    port = free_port()
    client = Client(redis, Keys(prefix))
    probes = [(f"doc{i}", Probe(seq=i, action="sleep", seconds=0.02)) for i in range(160)]
    await client.submit("s1", probes, batch="B")
    env = worker_env | {"STREAMPROC_CONCURRENCY": "2"}
    args = ["--pipeline", "streamproc.testing:one", "--max-messages", "10"]
    spawn(spawned, python, env, "run", *args, "--metrics-port", str(port))
    metrics_dir = Path(env["STREAMPROC_DATA_DIR"]) / "metrics"
    most_files = 0
    async with asyncio.timeout(180):
        while (status := await client.status("B")) is None or not status.completed:
            most_files = max(most_files, len(list(metrics_dir.glob("*/*.db"))))
            await asyncio.sleep(0.1)
    workers = {pid for _, _, _, pid in read_probe_log(env["STREAMPROC_PROBE_LOG"])}
    assert len(workers) >= 8, "each worker should have been recycled after about 10 messages"

    async def counted(family: str, **labels: str) -> float:
        return await asyncio.to_thread(scrape, port, family, **labels)

    async with asyncio.timeout(30):  # the last worker counts its last handoff a moment later
        while await counted("streamproc_messages_total", outcome="done") < 160:
            await asyncio.sleep(0.1)
    assert await counted("streamproc_messages_total", outcome="done") == 160
    assert await counted("streamproc_handler_seconds_count", stage="s1") == 160
    assert await counted("streamproc_handler_seconds_bucket", stage="s1", le="+Inf") == 160
    # One live worker's counter, histogram and gauge files (and, for a moment, those of the
    # one it replaced): the files of the workers before are folded into one total.
    assert most_files <= 6, f"{most_files} metric files after {len(workers)} workers"


@pytest.fixture
def far_data_dir() -> Iterator[Path]:
    """A data directory too deep for Unix sockets, so embedded servers listen on loopback
    ports (the address a restart must keep); its shared servers are stopped afterwards.

    Made with mkdtemp, outside pytest's base temp, which PostgreSQL's account (root runs
    it as another one) could not traverse."""
    root = Path(tempfile.mkdtemp(prefix="streamproc-keeper-"))
    path = root / ("deep" * 20) / "data"
    yield path
    stop_redis(path)
    stop_postgres(path)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def embedded_env(far_data_dir: Path, prefix: str, tmp_path: Path) -> dict[str, str]:
    """Environment for `streamproc run` with embedded servers under ``far_data_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROC_")}
    env = {k: v for k, v in env.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    return env | {
        "STREAMPROC_PREFIX": prefix,
        "STREAMPROC_DATA_DIR": str(far_data_dir),
        "STREAMPROC_LOG_FORMAT": "json",
        "STREAMPROC_PROBE_LOG": str(tmp_path / "probe.log"),
        "STREAMPROC_BLOCK_MS": "100",
        "PYTHONPATH": str(REPO),
    }


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def finish(client: Client, batch: str, n: int) -> None:
    """Submit ``n`` documents as ``batch`` and wait until the workers have done them all."""
    await client.submit("s1", [(f"{batch}-{i}", Probe(seq=i)) for i in range(n)], batch=batch)

    async def done() -> bool:
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError):
            status = await client.status(batch)
            return status is not None and status.completed and status.done == n
        return False

    await until(done)


@pytest.mark.parametrize("flavour", ["bundled", "system"])
async def test_an_embedded_redis_killed_under_the_supervisor_comes_back_and_work_goes_on(
    flavour: str, far_data_dir: Path, embedded_env: dict[str, str], python: str, spawned: Procs
) -> None:
    url = ensure_redis(far_data_dir, binary=find_redis_server(prefer=flavour))  # type: ignore[arg-type]
    assert url.startswith("redis://127.0.0.1:")
    layout = RedisLayout(far_data_dir / "redis")
    spawn(spawned, python, embedded_env, "run", "--pipeline", "streamproc.testing:one")
    redis = connect_redis(url)
    client = Client(redis, Keys(embedded_env["STREAMPROC_PREFIX"]))
    await finish(client, "before", 20)
    await asyncio.sleep(1.5)  # past the AOF's once-a-second fsync
    killed = running_pid(layout)
    assert killed is not None
    os.kill(killed, signal.SIGKILL)

    async def back() -> bool:
        pid = running_pid(layout)
        return pid not in (None, killed) and await asyncio.to_thread(answers_ping, url)

    await until(back)
    assert layout.url_file.read_text().strip() == url, "the restarted Redis moved"
    await finish(client, "after", 20)  # the same workers, or their replacements, go on
    status = await client.status("before")
    assert status is not None and status.done == 20, "the data did not survive the restart"
    await redis.aclose()


async def test_an_embedded_postgres_killed_under_the_supervisor_comes_back_with_its_data(
    far_data_dir: Path,
    redis_server: PrivateRedis,
    embedded_env: dict[str, str],
    python: str,
    spawned: Procs,
) -> None:
    dsn = ensure_postgres(far_data_dir)  # as the pipeline's workers do on their first start
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    await conn.close()
    env = embedded_env | {"REDIS_URL": redis_server.url}
    spawn(spawned, python, env, "run", "--pipeline", "streamproc.testing:one")
    layout = PostgresLayout(far_data_dir / "postgres")
    redis = connect_redis(redis_server.url)

    async def workers_up() -> bool:
        return bool(await redis.hlen(Keys(env["STREAMPROC_PREFIX"]).consumers))

    await until(workers_up)
    await redis.aclose()
    await asyncio.sleep(2)  # the supervisor has looked at its servers since
    before = read_postmaster(layout)
    assert before is not None
    os.kill(before.pid, signal.SIGKILL)

    async def back() -> bool:
        now = read_postmaster(layout)
        return now is not None and now.pid != before.pid and now.status == "ready"

    await until(back)
    assert ensure_postgres(far_data_dir) == dsn, "the restarted PostgreSQL moved"
    conn = await asyncpg.connect(dsn)
    assert await conn.fetchval("SELECT n FROM kept") == 7
    await conn.close()
