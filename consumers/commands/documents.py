"""``show``, ``export`` and ``migrate``: reading results out of PostgreSQL."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import IO, Any

import click
from rich.console import Console
from rich.table import Table

from consumers.commands.graphml import graphml_lines
from consumers.commands.session import open_session
from consumers.storage.db import migrate as apply_migrations
from consumers.storage.export import document_summary, export_document, export_documents
from streamproc.cli.common import batch_id, run_async, settings_from
from streamproc.errors import PermanentError


@click.command()
@click.argument("doc")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def show(doc: str, as_json: bool) -> None:
    """Show a document: its pages, entities and relationships."""
    engine = settings_from()

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        async with open_session(engine) as s:
            summary = await document_summary(s.resources.pool, doc)
            if summary is None:
                raise PermanentError(f"no document {doc!r}: ids are printed by `streamproc submit`")
            exported = await export_document(s.resources.pool, doc)
            if exported is None:
                raise PermanentError(f"no document {doc!r}")
            return summary, exported

    summary, exported = run_async(main())
    if as_json:
        click.echo(json.dumps({**exported, "summary": summary}, default=str))
        return
    _print_document(summary, exported)


def _print_document(summary: dict[str, Any], doc: dict[str, Any]) -> None:
    console = Console()
    console.print(f"[bold]{doc['document_id']}[/bold]  {doc['source']}")
    console.print(
        f"{summary['kind']}, {summary['page_count'] or 0} pages, status {doc['status']}"
        + (f": {doc['error']}" if doc["error"] else "")
    )
    by_type = Counter(e["type"] for e in doc["entities"])
    console.print(
        "entities: " + (", ".join(f"{t} {n}" for t, n in sorted(by_type.items())) or "none")
    )
    table = Table(title="entities")
    for col in ("type", "text", "canonical", "page", "role"):
        table.add_column(col)
    for e in doc["entities"]:
        table.add_row(
            e["type"],
            e["text"],
            e.get("canonical") or "",
            str(e.get("page") or ""),
            e.get("role") or "",
        )
    console.print(table)
    edges = Table(title="relationships")
    for col in ("type", "source", "target"):
        edges.add_column(col)
    for r in doc["relationships"]:
        edges.add_row(r["type"], r["source"], r["target"])
    console.print(edges)


@click.command()
@click.option(
    "--batch", callback=batch_id, help="Only the documents of this batch (default: every document)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "graphml"]), default="jsonl", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="File to write (default: stdout).",
)
def export(batch: str | None, fmt: str, output: str | None) -> None:
    """Export documents with their entities and relationships as JSONL or GraphML."""
    engine = settings_from()

    async def main(out: IO[str]) -> int:
        count = 0
        async with open_session(engine) as s:
            docs = export_documents(s.resources.pool, batch)
            if fmt == "jsonl":
                async for d in docs:
                    out.write(json.dumps(d, default=str) + "\n")
                    count += 1
                return count
            collected = [d async for d in docs]
            out.writelines(graphml_lines(collected))
            return len(collected)

    if output is None:
        run_async(main(sys.stdout))
        return
    with open(output, "w", encoding="utf-8") as fh:
        n = run_async(main(fh))
    click.echo(f"{n} documents written to {output}", err=True)


@click.command()
def migrate() -> None:
    """Apply the PostgreSQL schema migrations (workers also do this at start)."""
    engine = settings_from()

    async def main() -> list[int]:
        async with open_session(engine) as s:
            return await apply_migrations(s.resources.pool)

    applied = run_async(main())
    click.echo(f"applied migrations: {applied}" if applied else "schema is up to date")
