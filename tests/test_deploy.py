"""The compose stack's configuration, checked by Prometheus' own tools and run for real.

Docker is not needed: the topology test starts the same servers as processes
(a private Redis, the supervisor, Prometheus with the project's alert rules)
and asks Prometheus what it scraped.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from processes import Procs, free_port
from prometheus_client import REGISTRY
from prometheus_client.core import Metric
from redis.asyncio import Redis

import streamproc.metrics  # noqa: F401  (registers the workers' metrics)
from streamproc.backlog import StageBacklog
from streamproc.backlog_metrics import Snapshot, StageSnapshot, batch_families, stage_families
from streamproc.client import Client
from streamproc.keys import Keys
from streamproc.testing import Probe

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "streamproc.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
METRIC_NAME = re.compile(r"\b(streamproc_[a-z0-9_]+)\b")
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "gauge": ("",),
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, check=False, cwd=REPO)


def test_prometheus_config_and_alert_rules_pass_promtool() -> None:
    for args in (
        ("check", "config", "deploy/prometheus/prometheus.yml"),
        ("check", "rules", "deploy/prometheus/alerts.yml"),
        ("test", "rules", "deploy/prometheus/alerts_test.yml"),
    ):
        out = promtool(*args)
        assert out.returncode == 0, f"promtool {' '.join(args)}: {out.stdout}{out.stderr}"


def family_names(family: Metric) -> set[str]:
    return {family.name + suffix for suffix in SUFFIXES[family.type]}


def exported_metric_names() -> set[str]:
    """Every sample name the project exports, from the metric definitions."""
    names = {"streamproc_backlog_up"}
    for family in REGISTRY.collect():
        if family.name.startswith("streamproc_"):
            names |= family_names(family)
    backlog = StageBacklog("s1", 1, 1, 1, 1.0, 1, 1, 1)
    snapshot = Snapshot((StageSnapshot(backlog, (1,) * 6, 1.0),), 1, {"done": 1})
    for family in [*stage_families(snapshot), *batch_families(snapshot)]:
        names |= family_names(family)
    return names


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queries += [v["definition"] for v in dashboard["templating"]["list"]]
    return queries


def alert_queries() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def referenced(queries: list[str]) -> set[str]:
    return {name for q in queries for name in METRIC_NAME.findall(q)}


def test_dashboard_and_alerts_query_only_metrics_the_project_exports() -> None:
    exported = exported_metric_names()
    assert referenced(dashboard_queries()) <= exported
    assert referenced(alert_queries()) <= exported
    assert {
        "streamproc_messages_total",
        "streamproc_handler_seconds_bucket",
        "streamproc_end_to_end_seconds_bucket",
        "streamproc_group_lag",
        "streamproc_pending_messages",
        "streamproc_dead_letter_messages",
        "streamproc_open_batches",
    } <= referenced(dashboard_queries())


def test_dashboard_has_unique_panel_ids_on_one_data_source_and_both_latency_quantiles() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {"prometheus"}
    joined = "\n".join(dashboard_queries())
    for quantile in ("0.5", "0.99"):
        for histogram in ("streamproc_handler_seconds", "streamproc_end_to_end_seconds"):
            assert f"histogram_quantile({quantile}, sum by (le, stage) (rate({histogram}" in joined
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert datasource["datasources"][0]["uid"] == "prometheus"


def test_compose_stack_wires_redis_postgres_minio_supervisor_prometheus_and_grafana() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert {"redis", "postgres", "minio", "minio-init", "streamproc", "prometheus", "grafana"} <= (
        services.keys()
    )
    redis_args = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_args and "--maxmemory-policy noeviction" in redis_args
    sup = services["streamproc"]
    assert sup["command"] == ["run", "--metrics-port", "9100", "--metrics-host", "0.0.0.0"]
    bucket = sup["environment"]["STREAMPROC_STORE"].removeprefix("s3://").split("/")[0]
    assert f"local/{bucket}" in services["minio-init"]["command"][0]
    targets = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    assert targets["scrape_configs"][0]["static_configs"][0]["targets"] == ["streamproc:9100"]
    for service in ("prometheus", "grafana"):
        for volume in services[service]["volumes"]:
            source = volume.split(":")[0]
            assert not source.startswith("./") or (REPO / source).is_dir(), volume
    dockerfile = (REPO / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11-slim" in dockerfile
    assert "tesseract-ocr" in dockerfile and "uv sync --locked" in dockerfile


def start(procs: Procs, log: Path, *args: str, env: dict[str, str] | None = None) -> None:
    with open(log, "wb") as out:
        procs.append(subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT))


def prometheus_config(tmp_path: Path, target_port: int) -> Path:
    """The compose stack's Prometheus config, aimed at a local supervisor and scraping fast."""
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(ALERTS)]
    config["scrape_configs"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{target_port}"]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def api(port: int, path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())["data"]


async def query_until(port: int, promql: str, timeout: float = 20) -> list[dict[str, Any]]:
    """Results of ``promql`` once Prometheus has any (it may still be starting)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                result: list[dict[str, Any]] = (
                    await asyncio.to_thread(api, port, "query", query=promql)
                )["result"]
            except OSError:
                result = []
            if result:
                return result
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("redis_server", ["system"], indirect=True)
async def test_prometheus_scrapes_the_supervisor_and_loads_the_alert_rules(
    redis: Redis, prefix: str, worker_env: dict[str, str], python: str, spawned: Procs
) -> None:
    tmp_path = Path(worker_env["STREAMPROC_DATA_DIR"]).parent
    keys = Keys(prefix)
    probes = [(f"doc{i}", Probe(seq=i)) for i in range(5)]
    probes += [("bad", Probe(seq=9, action="permanent", at_stage="s2"))]
    probes += [("later", Probe(seq=10, action="poll", seconds=3600, polls=1))]
    await Client(redis, keys).submit("s1", probes, batch="B")
    sup_port, prom_port = free_port(), free_port()
    start(
        spawned,
        tmp_path / "supervisor.log",
        *(python, "-m", "streamproc", "run", "--pipeline", "streamproc.testing:three"),
        *("--metrics-port", str(sup_port)),
        env=worker_env,
    )
    start(
        spawned,
        tmp_path / "prometheus.log",
        PROMETHEUS,
        f"--config.file={prometheus_config(tmp_path, sup_port)}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    )
    done = await query_until(prom_port, 'streamproc_messages_total{stage="s3",outcome="done"} == 5')
    assert done[0]["metric"]["job"] == "streamproc"
    up = await query_until(prom_port, 'up{job="streamproc"}')
    assert up[0]["value"][1] == "1"
    dead = await query_until(prom_port, 'streamproc_dead_letter_messages{stage="s2"} == 1')
    assert len(dead) == 1
    lengths = await query_until(prom_port, "streamproc_stream_length")
    assert {r["metric"]["stage"]: r["value"][1] for r in lengths} == {
        "s1": "7",
        "s2": "6",
        "s3": "5",
    }
    for name in sorted(referenced(dashboard_queries())):
        assert await query_until(prom_port, f"count({name})"), f"Prometheus has no {name}"
    groups = (await asyncio.to_thread(api, prom_port, "rules"))["groups"]
    loaded = {r["name"] for g in groups for r in g["rules"]}
    expected = {
        r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]
    }
    assert loaded == expected
