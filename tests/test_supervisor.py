"""`streamproc run` against real worker processes: what it restarts and what it refuses to."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

from processes import Procs, free_port, http_get, spawn
from redis.asyncio import Redis

from streamproc.client import Client
from streamproc.embedded import PrivatePostgres
from streamproc.keys import Keys
from streamproc.testing import Probe, read_probe_log


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
