"""``streamproc dlq``: list, show, count, redrive and purge dead letters."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table

from streamproc import deadletters, history
from streamproc.cli.common import PIPELINE_HELP, batch_id, run_async, settings_from
from streamproc.connections import RedisTimeouts, connect_redis, redis_url
from streamproc.deadletters import DeadLetter, Filter
from streamproc.envelope import now_ms
from streamproc.errors import ConfigurationError
from streamproc.keys import Keys
from streamproc.pacing import parse_rate
from streamproc.stage import load_pipeline
from streamproc.timespec import to_entry_id

T = TypeVar("T")
TIME_HELP = "ISO time, age (30m, 2h, 7d) or stream id."


def with_redis(
    pipeline_spec: str | None, work: Callable[[Redis, Keys, list[str]], Awaitable[T]]
) -> T:
    """Run ``work(redis, keys, stage names)`` against the configured Redis."""
    settings = settings_from(pipeline=pipeline_spec)
    stages = [s.name for s in load_pipeline(settings.pipeline).stages]

    async def main() -> T:
        redis = connect_redis(redis_url(settings), RedisTimeouts.from_settings(settings))
        try:
            return await work(redis, Keys(settings.prefix), stages)
        finally:
            await redis.aclose()

    return run_async(main())


def check_stage(stage: str, stages: list[str]) -> None:
    """Refuse a stage the pipeline does not have."""
    if stage not in stages:
        raise ConfigurationError(f"unknown stage {stage!r}; this pipeline has: {', '.join(stages)}")


def rate_option(text: str | None) -> float | None:
    """The --rate value as items per second."""
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise ConfigurationError(f"--rate {text!r}: give a positive number like 50/s") from exc


def filters(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that select dead letters, shared by list, redrive and purge."""
    for option in reversed(
        [
            click.option("--error", "error_class", help="Only this error class."),
            click.option("--since", help=f"Only dead letters since then ({TIME_HELP})."),
            click.option("--batch", help="Only this batch.", callback=batch_id),
            click.option("--doc", help="Only this document."),
            click.option("--group", help="Only those given up by this consumer group."),
            click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP),
        ]
    ):
        fn = option(fn)
    return fn


def make_filter(
    error_class: str | None,
    since: str | None,
    batch: str | None,
    doc: str | None,
    group: str | None,
) -> Filter:
    """A :class:`Filter` from the command's options."""
    start = to_entry_id(since, now_ms()) if since else None
    return Filter(error_class=error_class, since=start, batch=batch, doc=doc, group=group)


@click.group()
def dlq() -> None:
    """Inspect and act on the dead-letter streams of the pipeline's stages."""


@dlq.command("list")
@click.argument("stage")
@filters
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def list_(stage: str, as_json: bool, pipeline_spec: str | None, **options: str | None) -> None:
    """List the dead letters of STAGE, oldest first."""
    flt = make_filter(**options)

    async def work(redis: Redis, keys: Keys, stages: list[str]) -> list[DeadLetter]:
        check_stage(stage, stages)
        return [dl async for dl in deadletters.read(redis, keys, stage, flt)]

    found = with_redis(pipeline_spec, work)
    if as_json:
        for dl in found:
            click.echo(json.dumps(dl.as_dict()))
        return
    table = Table(title=f"dead letters of {stage} ({len(found)})")
    for col in ("id", "at", "doc", "batch", "error class", "error", "deliveries"):
        table.add_column(col)
    for dl in found:
        row = dl.as_dict()
        table.add_row(
            dl.id,
            row["at"],
            dl.doc,
            dl.batch,
            dl.error_class,
            row.get("error", "")[:80],
            row.get("deliveries", ""),
        )
    Console().print(table)


@dlq.command()
@click.argument("ref")
@click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP)
def show(ref: str, pipeline_spec: str | None) -> None:
    """Show one dead letter as JSON: REF is an entry id or STAGE:ID."""

    async def work(redis: Redis, keys: Keys, stages: list[str]) -> DeadLetter | None:
        return await deadletters.find(redis, keys, stages, ref)

    found = with_redis(pipeline_spec, work)
    if found is None:
        raise ConfigurationError(f"no dead letter {ref!r} (give an entry id or STAGE:ID)")
    row = found.as_dict()
    row["message"] = found.message()
    click.echo(json.dumps(row, indent=2))


@dlq.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP)
def stats(as_json: bool, pipeline_spec: str | None) -> None:
    """Count dead letters per stage and error class, with the first and last time."""

    async def work(redis: Redis, keys: Keys, stages: list[str]) -> list[dict[str, Any]]:
        return [r.as_dict() for r in await deadletters.stats(redis, keys, stages)]

    rows = with_redis(pipeline_spec, work)
    if as_json:
        click.echo(json.dumps(rows))
        return
    table = Table(title="dead letters")
    for col in ("stage", "error_class", "count", "first", "last"):
        table.add_column(col, justify="right" if col == "count" else "left")
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("stage", "error_class", "count", "first", "last")))
    Console().print(table)


@dlq.command("redrive")
@click.argument("stage")
@filters
@click.option("--dry-run", is_flag=True, help="Only say what would be redriven.")
@click.option("--rate", help="At most this many messages a second (e.g. 50/s).")
def redrive_(
    stage: str, dry_run: bool, rate: str | None, pipeline_spec: str | None, **options: str | None
) -> None:
    """Send matching dead letters of STAGE back into its stream (attempt 0, marked replayed).

    Each entry is deleted from the dead-letter stream in the same atomic call
    that re-injects it, so redriving twice processes a message once. Documents
    still counted failed in their batch are counted back in (the batch reopens).
    """
    flt, per_second = make_filter(**options), rate_option(rate)

    async def work(redis: Redis, keys: Keys, stages: list[str]) -> deadletters.RedriveReport:
        check_stage(stage, stages)
        return await deadletters.redrive(redis, keys, stage, flt, dry_run=dry_run, rate=per_second)

    report = with_redis(pipeline_spec, work)
    click.echo(
        json.dumps(
            {
                "stage": stage,
                "dry_run": dry_run,
                "matched": report.matched,
                "redriven": report.redriven,
                "outside_batch": report.outside_batch,
            }
        )
    )


@dlq.command()
@click.argument("stage")
@filters
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(stage: str, yes: bool, pipeline_spec: str | None, **options: str | None) -> None:
    """Delete matching dead letters of STAGE for good (asks first unless --yes)."""
    flt = make_filter(**options)

    async def count(redis: Redis, keys: Keys, stages: list[str]) -> tuple[int, str]:
        check_stage(stage, stages)
        upto = await history.last_id(redis, keys.dead_letters(stage))
        return len([dl async for dl in deadletters.read(redis, keys, stage, flt, upto=upto)]), upto

    upto: str | None = None
    if not yes:
        matched, upto = with_redis(pipeline_spec, count)
        click.confirm(f"Delete {matched} dead letter(s) of {stage}?", abort=True)

    async def work(redis: Redis, keys: Keys, stages: list[str]) -> int:
        check_stage(stage, stages)
        # Only what was shown: dead letters arriving while the user read the prompt stay.
        return await deadletters.purge(redis, keys, stage, flt, upto=upto)

    click.echo(json.dumps({"stage": stage, "purged": with_redis(pipeline_spec, work)}))
