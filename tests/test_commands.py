"""The pipeline's commands, run as a user runs them: real processes, real servers."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamproc.embedded import stop_postgres, stop_redis

pytestmark = pytest.mark.parametrize("redis_server", ["system"], indirect=True)

PDF = "doctor__ca10_in_re_liebowitz_21-800_order.pdf"
HTML = "courtlistener__scotus_reagan_v_aiken_138us109.html"
WPD = "doctor__ind_supreme_court_johnson_v_state.wpd"


@pytest.fixture
def cli_env(worker_env: dict[str, str], database_url: str) -> dict[str, str]:
    return worker_env | {"DATABASE_URL": database_url}


def cli(
    python: str, env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-m", "streamproc", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def inbox(corpus_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "inbox"
    root.mkdir()
    for name in (PDF, HTML, WPD):
        shutil.copy(corpus_dir / name, root / name)
    return root


def test_submit_watch_status_export_and_show_a_batch(
    cli_env: dict[str, str], python: str, inbox: Path, tmp_path: Path
) -> None:
    submitted = json.loads(
        ok(cli(python, cli_env, "submit", str(inbox), "--batch", "CLI", "--json"))
    )
    assert (submitted["batch"], submitted["total"]) == ("CLI", 3)
    by_name = {Path(f["source"]).name: f["document_id"] for f in submitted["files"]}
    ok(cli(python, cli_env, "worker", "--drain"))

    lines = [
        json.loads(line)
        for line in ok(
            cli(python, cli_env, "watch", "CLI", "--json", "--timeout", "60")
        ).splitlines()
    ]
    final = lines[-1]
    assert (final["event"], final["completed"], final["done"], final["failed"]) == (
        "completed",
        True,
        2,
        1,
    )
    [failure] = final["failures"]
    assert (failure["doc"], failure["stage"]) == (by_name[WPD], "ocr")
    assert "WordPerfect" in failure["error"]

    status = json.loads(ok(cli(python, cli_env, "status", "CLI", "--json")))
    ocr = next(s for s in status["stages"] if s["stage"] == "ocr")
    assert (ocr["passed"], ocr["failed"]) == (2, 1)

    exported = [
        json.loads(line)
        for line in ok(cli(python, cli_env, "export", "--batch", "CLI")).splitlines()
    ]
    docs = {d["document_id"]: d for d in exported}
    assert set(docs) == set(by_name.values())
    pdf = docs[by_name[PDF]]
    assert pdf["status"] == "done" and pdf["pages"] == 1 and pdf["entities"]
    assert all(
        {"type", "text", "canonical", "page", "start", "end"} <= set(e) for e in pdf["entities"]
    )
    assert docs[by_name[WPD]]["status"] == "failed" and "WordPerfect" in docs[by_name[WPD]]["error"]

    graph_file = tmp_path / "graph.graphml"
    ok(
        cli(
            python,
            cli_env,
            "export",
            "--batch",
            "CLI",
            "--format",
            "graphml",
            "-o",
            str(graph_file),
        )
    )
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    graph = ET.parse(graph_file).getroot().find("g:graph", ns)
    assert graph is not None
    edges = graph.findall("g:edge", ns)
    assert len(edges) == sum(len(d["relationships"]) for d in exported) > 0
    node_ids = {n.get("id") for n in graph.findall("g:node", ns)}
    assert all(e.get("source") in node_ids and e.get("target") in node_ids for e in edges)

    shown = json.loads(ok(cli(python, cli_env, "show", by_name[PDF], "--json")))
    assert shown["document_id"] == by_name[PDF] and shown["entities"] == pdf["entities"]

    traced = json.loads(ok(cli(python, cli_env, "trace", by_name[PDF], "--json")))
    stages = ["ocr", "chunk", "entities", "resolve", "relationships"]
    assert [s["stage"] for s in traced["steps"]] == stages
    assert all(s["kind"] == "entry" and s["pending"] is None for s in traced["steps"])
    row = traced["database"]
    assert (row["status"], row["page_count"], row["batches"]) == ("done", 1, ["CLI"])
    assert row["mentions"] == len(pdf["entities"]) and row["relationships"] == len(
        pdf["relationships"]
    )
    failed = ok(cli(python, cli_env, "trace", by_name[WPD]))
    assert "dead letter" in failed and "WordPerfect" in failed
    assert "database: " in failed and "status failed" in failed


def test_unknown_batch_and_document_are_refused_with_a_clear_line(
    cli_env: dict[str, str], python: str
) -> None:
    status = cli(python, cli_env, "status", "no-such-batch")
    assert status.returncode == 2 and "no batch 'no-such-batch'" in status.stderr
    show = cli(python, cli_env, "show", "dnope")
    assert show.returncode == 2 and "no document 'dnope'" in show.stderr
    trace = cli(python, cli_env, "trace", "dnope")
    assert trace.returncode == 2 and "'dnope' appears in no stream" in trace.stderr
    assert "Traceback" not in status.stderr + show.stderr + trace.stderr


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory for embedded servers (outside pytest's private temp), stopped afterwards."""
    root = Path(tempfile.mkdtemp(prefix="streamproc-demo-"))
    yield root
    stop_redis(root)
    stop_postgres(root)
    shutil.rmtree(root, ignore_errors=True)


def test_demo_runs_the_samples_on_embedded_servers_and_prints_a_summary(
    worker_env: dict[str, str], python: str, data_dir: Path
) -> None:
    env = {k: v for k, v in worker_env.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["STREAMPROC_DATA_DIR"] = str(data_dir)
    out = ok(cli(python, env, "demo", timeout=600))
    assert "4 (4 done, 0 failed)" in out
    assert "by OCR" in out and "CASE_CITATION" in out and "relationships" in out
    assert (data_dir / "redis" / "redis.sock").exists()
