"""``submit``, ``status`` and ``watch``: putting documents in and following a batch."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict

import click
from redis.asyncio import Redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from consumers.commands.progress import (
    BatchProgress,
    ProgressEvents,
    batch_failures,
    progress_of,
)
from consumers.commands.session import STAGES, open_redis, open_session
from consumers.intake import SubmitResult, submit_paths
from streamproc.cli.common import batch_id, run_async, settings_from
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.errors import PermanentError


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--batch",
    callback=batch_id,
    help="Name of the batch: 1 to 128 letters, digits, '.', '_' or '-' (default: a new, "
    "time-based id). A completed batch that gets new documents reopens.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def submit(paths: tuple[str, ...], batch: str | None, as_json: bool) -> None:
    """Submit files, directories (recursively) or s3:// URIs as one batch.

    Each file is stored by its sha256 (the same file is never processed twice
    in a batch), its type is sniffed from its bytes, and it is queued for the
    pipeline. Follow the batch with `streamproc watch BATCH`.
    """
    engine = settings_from()

    async def main() -> SubmitResult:
        async with open_session(engine) as s:
            with Console(stderr=True).status(f"submitting {len(paths)} path(s)…"):
                return await submit_paths(
                    list(paths), resources=s.resources, client=s.client, batch=batch
                )

    result = run_async(main())
    if as_json:
        click.echo(
            json.dumps(
                {
                    "batch": result.batch,
                    "total": result.total,
                    "files": [asdict(f) for f in result.files],
                }
            )
        )
        return
    _print_submit(result)


def _print_submit(result: SubmitResult) -> None:
    console = Console()
    table = Table(title=f"batch {result.batch}")
    for col in ("source", "document", "kind", "bytes", "outcome"):
        table.add_column(col)
    for f in result.files:
        outcome = f"rejected: {f.rejected}" if f.rejected else f.outcome
        table.add_row(f.source, f.document_id, f.kind, f"{f.size:,}", outcome)
    console.print(table)
    console.print(
        f"{result.queued} queued, {result.duplicates} already in the batch; "
        f"follow it with: streamproc watch {result.batch}"
    )


@click.command()
@click.argument("batch", callback=batch_id)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(batch: str, as_json: bool) -> None:
    """Show a batch's documents counted by state and by stage, and its failures."""
    engine = settings_from()
    progress = run_async(_progress(engine, batch, with_failures=True))
    if as_json:
        click.echo(json.dumps(progress.as_dict()))
        return
    print_progress(Console(), progress)


async def _progress(engine: Settings, batch: str, *, with_failures: bool) -> BatchProgress:
    async with open_redis(engine) as (redis, client):
        return await read_progress(redis, client, batch, with_failures=with_failures)


async def read_progress(
    redis: Redis, client: Client, batch: str, *, with_failures: bool, with_states: bool = True
) -> BatchProgress:
    """The batch's progress; raises PermanentError when no such batch exists."""
    st = await client.status(batch, with_states=with_states)
    if st is None:
        raise PermanentError(f"no batch {batch!r}: check the id printed by `streamproc submit`")
    progress = progress_of(st, STAGES)
    if with_failures and st.failed:
        failures = await batch_failures(client.redis, client.keys, batch, STAGES)
        progress = BatchProgress(**{**progress.__dict__, "failures": failures})
    return progress


def print_progress(console: Console, p: BatchProgress) -> None:
    """A table of the batch's state, stages and failures."""
    state = "completed" if p.completed else "in progress"
    total = "? (documents are still being submitted)" if p.total is None else p.total
    console.print(f"batch {p.batch}: {state}; {p.done} done, {p.failed} failed of {total}")
    table = Table()
    for col in ("stage", "passed", "failed", "retries"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for s in p.stages:
        table.add_row(s.stage, str(s.passed), str(s.failed), str(s.retried))
    console.print(table)
    for f in p.failures:
        console.print(f"[red]failed[/red] {f.doc} at {f.stage}: {f.error_class}: {f.error}")


@click.command()
@click.argument("batch", callback=batch_id)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON line per change instead of bars."
)
@click.option("--timeout", type=float, help="Give up (exit 3) after this many seconds.")
def watch(batch: str, as_json: bool, timeout: float | None) -> None:
    """Follow a batch live, one progress bar per stage, until it completes (exit 0).

    Failures are listed at the end with their reasons.
    """
    engine = settings_from()
    try:
        final = run_async(_watch(engine, batch, as_json, timeout))
    except TimeoutError:
        click.echo(f"batch {batch} did not complete within {timeout:g} s", err=True)
        sys.exit(3)
    if as_json:
        click.echo(json.dumps({"event": "completed", **final.as_dict()}))
    else:
        print_progress(Console(), final)


async def _watch(
    engine: Settings, batch: str, as_json: bool, timeout: float | None
) -> BatchProgress:
    async with open_redis(engine) as (redis, client):
        async with asyncio.timeout(timeout):
            if as_json:
                return await _watch_lines(redis, client, batch)
            return await follow(client, batch, Console(stderr=True))


async def _watch_lines(redis: Redis, client: Client, batch: str) -> BatchProgress:
    last = None
    async with ProgressEvents(redis, client.keys, batch) as events:
        while True:
            p = await read_progress(redis, client, batch, with_failures=False)
            snapshot = p.as_dict()
            if snapshot != last:
                click.echo(json.dumps({"event": "progress", **snapshot}))
                last = snapshot
            if p.completed:
                return await read_progress(redis, client, batch, with_failures=True)
            await events.next()


async def follow(client: Client, batch: str, console: Console) -> BatchProgress:
    """Draw one bar per stage until the batch completes; returns its final progress."""
    columns = (
        TextColumn("{task.description:>14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    events = ProgressEvents(client.redis, client.keys, batch)
    with Progress(*columns, console=console, transient=False) as bars:
        tasks = {s: bars.add_task(s, total=None) for s in STAGES}
        async with events:
            while True:
                # The bars show per-stage counters only: skip reading every document's state.
                p = await read_progress(
                    client.redis, client, batch, with_failures=False, with_states=False
                )
                for s in p.stages:
                    bars.update(tasks[s.stage], total=p.total, completed=s.passed + s.failed)
                if p.completed:
                    break
                await events.next()
    return await read_progress(client.redis, client, batch, with_failures=True)


__all__ = ["follow", "print_progress", "read_progress", "status", "submit", "watch"]
