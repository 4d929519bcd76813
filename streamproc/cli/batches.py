"""``streamproc batches``: list open and recently completed batches; delete one's keys."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from streamproc.batches import (
    BatchInfo,
    batch_info,
    busy,
    delete_batch,
    list_batches,
    no_such_batch,
)
from streamproc.cli.common import PIPELINE_HELP, batch_id, run_async, settings_from
from streamproc.config import Settings
from streamproc.connections import connect_redis, redis_url
from streamproc.envelope import now_ms
from streamproc.errors import BatchBusy, NoSuchBatch
from streamproc.keys import Keys
from streamproc.stage import load_pipeline


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP)
@click.pass_context
def batches(ctx: click.Context, as_json: bool, pipeline_spec: str | None) -> None:
    """List batches: open ones, and completed ones until their Redis keys expire.

    For each: id, when it was created, total (unset while a submitter is still
    adding documents), done, failed, and when it completed. Completed batches'
    keys expire STREAMPROC_BATCH_RETENTION (default 7d) after they complete;
    where the pipeline reports it, what PostgreSQL knows of each batch is
    shown beside (the `database` key in --json).

    `streamproc batches delete BATCH` removes a batch's Redis keys.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_from(pipeline=pipeline_spec)
    found, facts = run_async(_listing(settings))
    if as_json:
        click.echo(json.dumps([_row(b, facts) for b in found], default=str))
        return
    _print(found, facts)


async def _listing(settings: Settings) -> tuple[list[BatchInfo], dict[str, Any] | None]:
    redis = connect_redis(await asyncio.to_thread(redis_url, settings))
    try:
        found = await list_batches(redis, Keys(settings.prefix), now=now_ms())
    finally:
        await redis.aclose()
    hook = load_pipeline(settings.pipeline).batch_facts
    facts = await hook(settings, [b.batch for b in found]) if hook and found else None
    return found, facts


def _row(b: BatchInfo, facts: dict[str, Any] | None) -> dict[str, Any]:
    row = b.as_dict()
    if facts is not None:
        row["database"] = facts.get(b.batch)
    return row


def _print(found: list[BatchInfo], facts: dict[str, Any] | None) -> None:
    table = Table(title="batches")
    columns = ["batch", "created", "total", "done", "failed", "completed"]
    columns += ["database"] if facts is not None else []
    for col in columns:
        table.add_column(col, justify="right" if col in ("total", "done", "failed") else "left")
    for b in found:
        row = _row(b, facts)
        total = "?" if b.total is None else str(b.total)
        cells = [b.batch, row["created"] or "", total, str(b.done), str(b.failed)]
        cells.append(row["completed"] or "open")
        if facts is not None:
            cells.append(_facts(row["database"]))
        table.add_row(*cells)
    Console().print(table)


def _facts(facts: Any) -> str:
    if not facts:
        return "no record"
    return ", ".join(f"{k} {v}" for k, v in facts.items() if v not in (None, "", [], {}))


@batches.command()
@click.argument("batch", callback=batch_id)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--force",
    is_flag=True,
    help="Delete an open batch even while its documents are still being processed "
    "(they still run, counted in no batch).",
)
@click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP)
def delete(batch: str, yes: bool, force: bool, pipeline_spec: str | None) -> None:
    """Remove BATCH's Redis keys: its counters, document states and listing.

    Asks first (--yes to skip). An open batch whose documents are still being
    processed is refused unless --force. The documents' messages, results and
    dead letters, and PostgreSQL's record of the batch, are kept. Deleting a
    batch frees its name: submitting into it again starts a new batch.
    """
    settings = settings_from(pipeline=pipeline_spec)
    info = run_async(_check(settings, batch, force))
    if not yes:
        state = "completed" if info.completed_ms else "open"
        click.confirm(
            f"delete the Redis keys of batch {batch} ({state}, {info.done} done, "
            f"{info.failed} failed of {info.submitted})?",
            abort=True,
            err=True,
        )
    run_async(_delete(settings, batch, force))
    click.echo(f"deleted batch {batch}", err=True)


async def _check(settings: Settings, batch: str, force: bool) -> BatchInfo:
    """What the batch holds; refuses early (before asking) what the delete would refuse."""
    redis = connect_redis(await asyncio.to_thread(redis_url, settings))
    try:
        info = await batch_info(redis, Keys(settings.prefix), batch)
    finally:
        await redis.aclose()
    if info is None:
        raise NoSuchBatch(no_such_batch(batch))
    if not force and info.completed_ms is None and info.unfinished:
        raise BatchBusy(busy(batch, info.unfinished))
    return info


async def _delete(settings: Settings, batch: str, force: bool) -> None:
    redis = connect_redis(await asyncio.to_thread(redis_url, settings))
    try:
        await delete_batch(redis, Keys(settings.prefix), batch, force=force)
    finally:
        await redis.aclose()
