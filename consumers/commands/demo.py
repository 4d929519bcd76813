"""``streamproc demo``: the whole pipeline on sample documents, on embedded servers.

Generates the sample documents (or takes a folder), starts a supervisor
with workers for every stage, submits the documents as one batch, draws
progress until the batch completes, prints a summary, and stops the
workers again. Worker logs go to ``<data dir>/logs/demo.log``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from consumers.commands.batch import follow, print_progress
from consumers.commands.session import open_session
from consumers.commands.summary import BatchSummary, batch_summary
from consumers.intake import submit_paths
from consumers.samples import write_examples
from streamproc.cli.common import run_async, settings_from
from streamproc.config import Settings
from streamproc.connections import database_url, redis_url

DEMO_PROCS = ("ocr=2",)


@click.command()
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=True))
@click.option(
    "--timeout", type=float, default=900, show_default=True, help="Give up after this many seconds."
)
def demo(path: str | None, timeout: float) -> None:
    """Run the pipeline end to end on sample documents (or the files under PATH).

    Uses the embedded Redis and PostgreSQL unless REDIS_URL / DATABASE_URL are
    set, starts workers for every stage, shows progress, and prints a summary:
    documents, pages, entities by type, failures with their reasons, and time.
    """
    engine = settings_from()
    console = Console(stderr=True)
    target = Path(path) if path else _samples(engine, console)
    started = time.monotonic()
    summary = run_async(_run(engine, target, console, timeout))
    print_summary(Console(), summary, time.monotonic() - started)
    sys.exit(0 if summary.completed else 1)


def _samples(engine: Settings, console: Console) -> Path:
    folder = engine.data_dir / "examples"
    written = write_examples(folder)
    console.print(f"generated {len(written)} sample documents in {folder}")
    return folder


async def _run(engine: Settings, target: Path, console: Console, timeout: float) -> BatchSummary:
    env = await asyncio.to_thread(_worker_environment, engine)
    log = engine.data_dir / "logs" / "demo.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"starting workers (logs: {log})")
    workers = await _start_workers(env, log)
    try:
        async with open_session(engine) as s:
            result = await submit_paths([target], resources=s.resources, client=s.client)
            console.print(f"submitted {len(result.files)} documents as batch {result.batch}")
            async with asyncio.timeout(timeout):
                progress = await follow(s.client, result.batch, console)
            print_progress(console, progress)
            return await batch_summary(s.resources.pool, result.batch, progress)
    finally:
        await _stop(workers)


def _worker_environment(engine: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis_url(engine),
        DATABASE_URL=database_url(engine),
        STREAMPROC_DATA_DIR=str(engine.data_dir),
        STREAMPROC_PREFIX=engine.prefix,
        STREAMPROC_LOG_FORMAT="json",
    )
    return env


async def _start_workers(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    args = [sys.executable, "-m", "streamproc", "run"]
    for spec in DEMO_PROCS:
        args += ["--procs", spec]
    out = await asyncio.to_thread(open, log, "ab")
    try:
        return await asyncio.create_subprocess_exec(*args, env=env, stdout=out, stderr=out)
    finally:
        out.close()


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def print_summary(console: Console, s: BatchSummary, seconds: float) -> None:
    """The demo's closing table."""
    table = Table(title=f"batch {s.batch}")
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("documents", f"{s.documents} ({s.done} done, {s.failed} failed)")
    table.add_row("pages", f"{s.pages} ({s.ocr_pages} by OCR)")
    table.add_row("chunks", str(s.chunks))
    for entity_type, n in s.entities_by_type.items():
        table.add_row(f"  {entity_type}", str(n))
    table.add_row("entities", f"{s.mentions} mentions, {s.canonical} canonical")
    table.add_row("relationships", str(s.relationships))
    table.add_row("time", f"{seconds:.1f} s")
    console.print(table)
    for f in s.failures:
        console.print(f"[red]failed[/red] {f}")
