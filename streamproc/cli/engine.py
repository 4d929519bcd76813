"""Engine commands: ``worker``, ``run`` and ``streams``."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from typing import NoReturn

import click
from rich.console import Console
from rich.table import Table

from streamproc.backlog import StageBacklog, stage_backlog
from streamproc.cli.common import PIPELINE_HELP, run_async, settings_from
from streamproc.connections import RedisTimeouts, connect_redis, redis_url
from streamproc.errors import ConfigurationError, ExitCode
from streamproc.keys import Keys
from streamproc.stage import load_pipeline
from streamproc.worker import Worker


@click.command()
@click.argument("stages", nargs=-1)
@click.option(
    "--concurrency", type=click.IntRange(1), help="Messages in flight per stage (default 64)."
)
@click.option(
    "--drain", is_flag=True, help="Exit once the streams are empty and nothing is in flight."
)
@click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP)
@click.option(
    "--max-messages",
    type=click.IntRange(1),
    help="Exit gracefully after handling this many messages.",
)
@click.option(
    "--max-rss-mb",
    type=click.FloatRange(1),
    help="Exit gracefully once resident memory exceeds this.",
)
@click.option(
    "--group",
    help="Read as this consumer group instead of each stage's own: a new version of a stage "
    "beside the old one (create it first with `streamproc replay STAGE --group NAME --from T`).",
)
def worker(
    stages: tuple[str, ...],
    concurrency: int | None,
    drain: bool,
    pipeline_spec: str | None,
    max_messages: int | None,
    max_rss_mb: float | None,
    group: str | None,
) -> None:
    """Run one worker process serving STAGES (all stages when none are named).

    The worker reads its stages' streams, runs their handlers, and hands each
    message to the next stage atomically. SIGTERM or Ctrl-C stops it
    gracefully: in-flight messages finish within STREAMPROC_GRACE_PERIOD;
    anything unfinished stays pending and is reclaimed by another worker.
    """
    settings = settings_from(concurrency=concurrency, pipeline=pipeline_spec)
    pipeline = load_pipeline(settings.pipeline)
    selected = pipeline.select(list(stages))
    if group is not None:
        selected = [dataclasses.replace(s, group=group) for s in selected]

    async def main() -> dict[str, dict[str, int]]:
        redis = connect_redis(redis_url(settings), RedisTimeouts.from_settings(settings))
        try:
            w = Worker(pipeline, selected, settings, redis)
            w.install_signal_handlers()
            report = await w.run(drain=drain, max_messages=max_messages, max_rss_mb=max_rss_mb)
        finally:
            await redis.aclose()
        if report.orphans:
            end_process_with_orphans(report.orphans)
        return report.counts

    counts = run_async(main())
    if drain:
        click.echo(json.dumps({"counts": counts}))


def end_process_with_orphans(orphans: int) -> NoReturn:
    """End this process at once: ``orphans`` handlers ignored their cancellation, and
    asyncio would wait for them for ever on the way out. Their entries stay pending and
    are reclaimed; a supervisor starts a new worker."""
    logging.shutdown()
    sys.stderr.flush()
    os._exit(ExitCode.ORPHANS)


@click.command()
@click.option(
    "--procs",
    "procs",
    multiple=True,
    metavar="STAGE=N",
    help="Worker processes for a stage (repeatable; default one per stage).",
)
@click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    help="Serve /metrics, /healthz and /readyz here.",
)
@click.option(
    "--metrics-host", default="127.0.0.1", show_default=True, help="Address to serve metrics on."
)
@click.option(
    "--max-messages", type=click.IntRange(1), help="Recycle a worker after this many messages."
)
@click.option(
    "--max-rss-mb", type=click.FloatRange(1), help="Recycle a worker above this resident memory."
)
@click.option(
    "--concurrency", type=click.IntRange(1), help="Messages in flight per stage per process."
)
def run(
    procs: tuple[str, ...],
    pipeline_spec: str | None,
    metrics_port: int | None,
    metrics_host: str,
    max_messages: int | None,
    max_rss_mb: float | None,
    concurrency: int | None,
) -> None:
    """Supervise worker processes: N per stage, restarted when they die.

    Crashed workers are restarted with backoff; workers that reach
    --max-messages or --max-rss-mb exit gracefully and are replaced at once.
    SIGTERM and SIGINT are forwarded to every worker. With --metrics-port,
    one aggregated Prometheus endpoint covers all workers.
    """
    from streamproc.supervisor import Supervisor, parse_procs

    settings = settings_from(pipeline=pipeline_spec, concurrency=concurrency)
    pipeline = load_pipeline(settings.pipeline)
    plan = parse_procs(procs, [s.name for s in pipeline.stages])
    sup = Supervisor(settings, plan, max_messages=max_messages, max_rss_mb=max_rss_mb)
    raise SystemExit(run_async(sup.run(metrics_port, metrics_host)))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP)
def streams(as_json: bool, pipeline_spec: str | None) -> None:
    """Show each stage's backlog: stream length, group lag, pending entries,
    age of the oldest pending entry, consumers, dead letters, delayed retries and
    the breakers of the dependencies it needs."""
    settings = settings_from(pipeline=pipeline_spec)
    pipeline = load_pipeline(settings.pipeline)

    async def main() -> list[StageBacklog]:
        redis = connect_redis(redis_url(settings), RedisTimeouts.from_settings(settings))
        try:
            keys = Keys(settings.prefix)
            return [
                await stage_backlog(redis, keys, s.name, needs=s.needs) for s in pipeline.stages
            ]
        finally:
            await redis.aclose()

    rows = run_async(main())
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows]))
        return
    _print_backlog(rows)


def _print_backlog(rows: list[StageBacklog]) -> None:
    table = Table(title="streams")
    for col in (
        "stage",
        "length",
        "lag",
        "pending",
        "oldest pending",
        "consumers",
        "dead letters",
        "delayed",
        "breakers",
    ):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for r in rows:
        age = "-" if r.oldest_pending_seconds is None else f"{r.oldest_pending_seconds:.1f}s"
        lag = "?" if r.lag is None else str(r.lag)
        table.add_row(
            r.stage,
            str(r.length),
            lag,
            str(r.pending),
            age,
            str(r.consumers),
            str(r.dead_letters),
            str(r.delayed),
            _breakers(r.breakers),
        )
    Console().print(table)


def _breakers(states: dict[str, str]) -> str:
    """The breakers that are not closed, or "closed" ("-": the stage needs none)."""
    if not states:
        return "-"
    troubled = [f"{name} {state}" for name, state in states.items() if state != "closed"]
    return ", ".join(troubled) or "closed"


__all__ = ["ConfigurationError", "run", "streams", "worker"]
