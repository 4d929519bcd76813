"""`streamproc run` against real worker processes: what it restarts and what it refuses to."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

from processes import Procs, spawn

from streamproc.embedded import PrivatePostgres


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
