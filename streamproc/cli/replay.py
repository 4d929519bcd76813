"""``streamproc replay``, ``reprocess`` and ``trace``: history, re-injected or followed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
from redis.asyncio import Redis
from rich.console import Console

from streamproc import replay as replaying
from streamproc.cli.common import PIPELINE_HELP, batch_id, run_async, settings_from
from streamproc.cli.dlq import TIME_HELP, check_stage, rate_option, with_redis
from streamproc.connections import RedisTimeouts, connect_redis, redis_url
from streamproc.envelope import now_ms
from streamproc.errors import ConfigurationError
from streamproc.keys import Keys
from streamproc.replay import Selection
from streamproc.stage import load_pipeline
from streamproc.timespec import to_entry_id
from streamproc.trace import Step, Trace
from streamproc.trace import trace as read_trace


@click.command()
@click.argument("stage")
@click.option("--from", "start", required=True, help=f"Replay from here ({TIME_HELP}).")
@click.option("--to", "end", help=f"Replay up to here, inclusive ({TIME_HELP}).")
@click.option("--doc", help="Only this document.")
@click.option("--batch", help="Only entries of this batch.", callback=batch_id)
@click.option("--group", help="Instead: create this consumer group positioned at --from.")
@click.option("--dry-run", is_flag=True, help="Only count what would be replayed.")
@click.option("--rate", help="At most this many messages a second (e.g. 50/s).")
@click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP)
def replay(
    stage: str,
    start: str,
    end: str | None,
    doc: str | None,
    batch: str | None,
    group: str | None,
    dry_run: bool,
    rate: str | None,
    pipeline_spec: str | None,
) -> None:
    """Re-inject STAGE's history from --from as new messages (marked replayed) in a
    new replay batch that `streamproc status` follows; one message per document.

    With --group, nothing is re-injected: a new consumer group is created that
    reads STAGE's stream from --from on, for a new version of the stage to run
    beside the old one.
    """
    now = now_ms()
    first = to_entry_id(start, now)
    selection = Selection(first, to_entry_id(end, now) if end else "+", doc, batch)
    per_second = rate_option(rate)
    if group and (end or doc or batch or dry_run or rate):
        raise ConfigurationError("--group takes only --from: a group reads everything after it")
    retention = settings_from(pipeline=pipeline_spec).batch_retention

    async def work(redis: Redis, keys: Keys, stages: list[str]) -> dict[str, Any]:
        check_stage(stage, stages)
        if group:
            lag = await replaying.create_group(redis, keys, stage, group, first)
            return {"stage": stage, "group": group, "from": first, "lag": lag}
        report = await replaying.replay(
            redis,
            keys,
            stage,
            selection,
            dry_run=dry_run,
            rate=per_second,
            batch_retention=retention,
        )
        return _report(report, dry_run)

    click.echo(json.dumps(with_redis(pipeline_spec, work)))


@click.command()
@click.argument("doc")
@click.option("--from-stage", "stage", required=True, help="The stage to run the document from.")
@click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP)
def reprocess(doc: str, stage: str, pipeline_spec: str | None) -> None:
    """Run DOC again from --from-stage: its latest entry there is re-injected in a replay batch."""
    retention = settings_from(pipeline=pipeline_spec).batch_retention

    async def work(redis: Redis, keys: Keys, stages: list[str]) -> dict[str, Any]:
        check_stage(stage, stages)
        report = await replaying.reprocess(redis, keys, doc, stage, batch_retention=retention)
        return _report(report, False)

    click.echo(json.dumps(with_redis(pipeline_spec, work)))


def _report(report: replaying.ReplayReport, dry_run: bool) -> dict[str, Any]:
    return {
        "stage": report.stage,
        "batch": None if dry_run or not report.queued else report.batch,
        "dry_run": dry_run,
        "matched": report.matched,
        "documents": len(report.docs),
        "queued": report.queued,
    }


@click.command()
@click.argument("doc")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a timeline.")
@click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP)
def trace(doc: str, as_json: bool, pipeline_spec: str | None) -> None:
    """Show DOC's path through every stage: entries, pending deliveries, retries, dead letters,
    and what the pipeline stored about it (database rows, where the pipeline reports them)."""
    settings = settings_from(pipeline=pipeline_spec)
    pipeline = load_pipeline(settings.pipeline)

    async def main() -> Trace:
        redis = connect_redis(
            await asyncio.to_thread(redis_url, settings), RedisTimeouts.from_settings(settings)
        )
        try:
            found = await read_trace(
                redis, Keys(settings.prefix), [s.name for s in pipeline.stages], doc
            )
        finally:
            await redis.aclose()
        if pipeline.facts is not None:
            found.extra.update(await pipeline.facts(settings, doc))
        return found

    found = run_async(main())
    if as_json:
        click.echo(json.dumps(found.as_dict(), default=str))
        return
    if not found.steps and not any(found.extra.values()):
        raise ConfigurationError(
            f"document {doc!r} appears in no stream, dead letter, retry or stored record"
        )
    console = Console()
    console.print(f"[bold]trace of {doc}[/bold]")
    for step in found.steps:
        console.print(_line(step), soft_wrap=True, highlight=False)
    for name, facts in found.extra.items():
        console.print(f"[bold]{name}[/bold]: {_facts(facts)}", soft_wrap=True, highlight=False)


def _facts(facts: Any) -> str:
    """A pipeline's facts about the document as one line of ``key value`` pairs."""
    if not facts:
        return "no record"
    if not isinstance(facts, dict):
        return str(facts)
    return ", ".join(f"{k} {v}" for k, v in facts.items() if v not in (None, "", [], {}))


_STYLE = {"entry": "cyan", "dead_letter": "bold red", "delayed": "yellow"}


def _line(step: Step) -> str:
    """One timeline line: time, stage, what happened, where, and its state now."""
    what = step.kind.replace("_", " ") + (" (replay)" if step.replay else "")
    attempt = "" if step.attempt is None else f" attempt {step.attempt}"
    batch = f" batch {step.batch}" if step.batch else ""
    where = f" {step.id}" if step.id else ""
    style = _STYLE[step.kind]
    return (
        f"{step.as_dict()['at']}  {step.stage:<10} [{style}]{what:<20}[/{style}]"
        f"{where}{batch}{attempt}  {_state(step)}"
    )


def _state(step: Step) -> str:
    if step.kind == "dead_letter":
        d = step.detail
        return f"{d['error_class']}: {d['reason']} after {d['deliveries'] or '?'} deliveries"
    if step.kind == "delayed":
        return f"due {step.detail['due']}"
    if step.pending:
        p = step.pending
        return f"pending on {p.consumer}, {p.deliveries} deliveries, idle {p.idle_ms} ms"
    return "acknowledged"
