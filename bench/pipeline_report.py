"""The pipeline benchmark's figures: per stage and in total, as a table and as JSON."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.pipeline_stacks import (
    KINDS,
    Stack,
    by_process,
    engine_hotspots,
    engine_tasks,
    leaf_hotspots,
    samples_by_kind,
    write_speedscope,
)
from bench.pipeline_workers import Cpu, WorkerProcess
from consumers.commands.summary import BatchSummary


@dataclass
class StageFigures:
    """What the workers of one stage used while the batch ran."""

    stage: str
    cpu: Cpu = field(default_factory=Cpu)
    stacks: Counter[Stack] = field(default_factory=Counter)
    descendant_stacks: Counter[Stack] = field(default_factory=Counter)
    peak_rss_mib: list[float] = field(default_factory=list)
    peak_rss_with_children_mib: list[float] = field(default_factory=list)
    peak_tree_rss_mib: list[float] = field(default_factory=list)
    lifetime_cpu_seconds: float = 0.0

    @property
    def workers(self) -> int:
        """How many worker processes served the stage."""
        return len(self.peak_rss_mib)

    def shares(self) -> dict[str, float]:
        """Fractions of the stage's CPU (own and children's) by kind of code.

        The samples split the process's own CPU; the children's CPU (tesseract)
        is handler work.
        """
        samples = samples_by_kind(self.stacks)
        n, total = sum(samples[k] for k in KINDS), self.cpu.total
        if not total:
            return dict.fromkeys(KINDS, 0.0)
        if not n:  # nothing sampled: only the children's CPU is known to be handler work
            return {"handler": self.cpu.children / total, "engine": 0.0, "loop": 0.0}
        own = {k: samples[k] / n * self.cpu.own for k in KINDS}
        own["handler"] += self.cpu.children
        return {k: v / total for k, v in own.items()}

    def as_dict(self, pages: int, rate: int) -> dict[str, Any]:
        """Plain data for the JSON report."""
        samples = samples_by_kind(self.stacks)
        shares = self.shares() if rate else None
        return {
            "workers": self.workers,
            "cpu_seconds": self.cpu.total,
            "own_cpu_seconds": self.cpu.own,
            "children_cpu_seconds": self.cpu.children,
            "cpu_seconds_per_page": self.cpu.total / pages if pages else None,
            "share": shares,
            "engine_cpu_seconds": shares["engine"] * self.cpu.total if shares else None,
            "samples": samples,
            # Sampled on-CPU seconds over measured own CPU: near 1 when sampling saw it all,
            # above 1 when threads waited for a core (runnable counts as sampled).
            "sample_coverage": _coverage(samples, rate, self.cpu.own),
            "peak_rss_mib": self.peak_rss_mib,
            "peak_rss_with_children_mib": self.peak_rss_with_children_mib,
            # Sampled every 0.5 s: PSS of the worker and its live descendants (readers, tesseract).
            "peak_tree_rss_mib": self.peak_tree_rss_mib,
            "lifetime_cpu_seconds": self.lifetime_cpu_seconds,
            "engine_tasks": [vars(h) for h in engine_tasks(self.stacks)],
            "engine_hotspots": [vars(h) for h in engine_hotspots(self.stacks)],
            "leaf_hotspots": [vars(h) for h in leaf_hotspots(self.stacks)],
            "descendant_leaf_hotspots": [vars(h) for h in leaf_hotspots(self.descendant_stacks)],
        }


def _coverage(samples: dict[str, int], rate: int, own_cpu: float) -> float | None:
    return sum(samples[k] for k in KINDS) / rate / own_cpu if own_cpu and rate else None


def stage_figures(
    stages: list[str], workers: list[WorkerProcess], window: dict[str, Any]
) -> dict[str, StageFigures]:
    """Figures per stage from the workers and what was measured in the batch's window."""
    figures = {s: StageFigures(s) for s in stages}
    for w in workers:
        f = figures[w.stage]
        f.cpu += window["cpu"][w.name]
        own, below = by_process(window["stacks"][w.name])
        f.stacks.update(own)
        f.descendant_stacks.update(below)
        f.peak_rss_mib.append(window["peak_rss_mib"][w.name])
        f.peak_rss_with_children_mib.append(w.exit_maxrss_mib)
        f.peak_tree_rss_mib.append(window["peak_tree_rss_mib"].get(w.name, 0.0))
        f.lifetime_cpu_seconds += w.exit_cpu_seconds
    return figures


def totals(figures: dict[str, StageFigures], pages: int, rate: int) -> dict[str, Any]:
    """All workers together."""
    cpu = sum((f.cpu for f in figures.values()), Cpu())
    by_kind = {k: sum(f.shares()[k] * f.cpu.total for f in figures.values()) for k in KINDS}
    share = {k: v / cpu.total if cpu.total else 0.0 for k, v in by_kind.items()}
    return {
        "cpu_seconds": cpu.total,
        "own_cpu_seconds": cpu.own,
        "children_cpu_seconds": cpu.children,
        "cpu_seconds_per_page": cpu.total / pages if pages else None,
        "share": share if rate else None,
        "engine_cpu_seconds": by_kind["engine"] if rate else None,
    }


def build_report(
    stages: list[str], workers: list[WorkerProcess], window: dict[str, Any], rate: int
) -> dict[str, Any]:
    """The JSON report from a run's measurements."""
    s: BatchSummary = window["summary"]
    figures = stage_figures(stages, workers, window)
    wall = window["wall_seconds"]
    return {
        "machine": machine_info(window["redis"], window["postgresql"]),
        "files": window["files"],
        "submitted": window["submitted"],
        "documents": s.documents,
        "done": s.done,
        "failed": s.failed,
        "failures": s.failures,
        "pages": s.pages,
        "ocr_pages": s.ocr_pages,
        "chunks": s.chunks,
        "mentions": s.mentions,
        "relationships": s.relationships,
        "wall_seconds": wall,
        "stage_finished_seconds": window["stage_finished_seconds"],
        "documents_per_second": s.documents / wall,
        "pages_per_second": s.pages / wall,
        "intake_cpu_seconds": window["intake_cpu_seconds"],
        "servers_cpu_seconds": window["servers_cpu_seconds"],
        # Every core's busy time in the window: what is not ours was other processes'.
        "machine_busy_seconds": window["machine_busy_seconds"],
        "load_average": window["load_average"],
        "sampling": {
            "rate": rate,
            "profiler_cpu_seconds": sum(w.profiler_cpu_seconds for w in workers),
            "profiler_cpu_seconds_by_worker": {w.name: w.profiler_cpu_seconds for w in workers},
        },
        "stages": {n: f.as_dict(s.pages, rate) for n, f in figures.items()},
        "totals": totals(figures, s.pages, rate),
        "tesseract": window.get("tesseract"),
    }


def write_profiles(
    workers: list[WorkerProcess], stacks: dict[str, Counter[Stack]], folder: Path
) -> None:
    """Each worker's stacks as speedscope JSON and as collapsed stacks."""
    folder.mkdir(parents=True, exist_ok=True)
    for w in workers:
        write_speedscope(stacks[w.name], folder / f"{w.name}.speedscope.json", w.name)
        if w.stacks_file is not None and w.stacks_file.is_file():
            shutil.copyfile(w.stacks_file, folder / f"{w.name}.collapsed.txt")


def machine_info(redis_version: str, postgres_version: str) -> dict[str, Any]:
    """Where the figures were taken."""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "redis": redis_version,
        "postgresql": postgres_version,
        "tesseract": _first_line(["tesseract", "--version"]),
        "commit": _first_line(["git", "rev-parse", "--short", "HEAD"]),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _first_line(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or done.stderr).splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    """The report as tables: throughput, then CPU and memory per stage."""
    console = console or Console(width=max(Console().width, 100))
    r = report
    console.print(
        f"[bold]{r['documents']} documents ({r['failed']} failed), {r['pages']} pages "
        f"({r['ocr_pages']} by OCR) in {r['wall_seconds']:.1f} s: "
        f"{r['documents_per_second']:.2f} documents/s, {r['pages_per_second']:.2f} pages/s[/bold]"
    )
    table = Table(title=f"CPU per stage while the batch ran ({_machine_line(r['machine'])})")
    for col in ("stage", "procs", "CPU s", "child s", "s/page", *KINDS, "RSS MiB", "tree PSS"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for name, s in [*r["stages"].items(), ("all", r["totals"])]:
        rss, tree = s.get("peak_rss_mib"), s.get("peak_tree_rss_mib")
        table.add_row(
            name,
            str(s.get("workers", sum(x["workers"] for x in r["stages"].values()))),
            f"{s['cpu_seconds']:.2f}",
            f"{s['children_cpu_seconds']:.2f}",
            f"{s['cpu_seconds_per_page']:.4f}" if s["cpu_seconds_per_page"] else "-",
            *(f"{s['share'][k]:.1%}" if s["share"] else "-" for k in KINDS),
            " / ".join(f"{m:.0f}" for m in rss) if rss else "-",
            " / ".join(f"{m:.0f}" for m in tree) if tree else "-",
        )
    console.print(table)
    console.print(_others_line(r))
    done = ", ".join(f"{k} {v:.1f} s" for k, v in r["stage_finished_seconds"].items())
    console.print(f"each stage done with the batch after: {done}")
    t = r.get("tesseract")
    if t and t["runs"]:
        console.print(
            f"tesseract: {t['runs']} OCR runs, {t['cpu_seconds']:.2f} CPU s "
            f"({t['cpu_seconds'] / t['runs']:.2f} s a run), peak RSS {t['peak_rss_mib']:.0f} MiB"
        )


def _machine_line(m: dict[str, Any]) -> str:
    return (
        f"{m['cpus']} CPUs, Python {m['python']}, Redis {m['redis']}, PostgreSQL {m['postgresql']}"
    )


def _others_line(r: dict[str, Any]) -> str:
    servers = r["servers_cpu_seconds"]
    profiler = r["sampling"]["profiler_cpu_seconds"]
    ours = r["totals"]["cpu_seconds"] + sum(servers.values()) + r["intake_cpu_seconds"] + profiler
    cores = r["machine"]["cpus"] or 1
    return (
        f"outside the workers: intake {r['intake_cpu_seconds']:.2f} CPU s, "
        f"Redis {servers['redis']:.2f} s, PostgreSQL {servers['postgresql']:.2f} s, "
        f"py-spy {profiler:.2f} s (sampling at {r['sampling']['rate']} Hz); "
        f"the machine's {cores} cores were busy {r['machine_busy_seconds']:.1f} s of "
        f"{cores * r['wall_seconds']:.1f}, {max(0.0, r['machine_busy_seconds'] - ours):.1f} s "
        f"of it not this benchmark's (load average {r['load_average'][1]:.1f})"
    )


def print_hotspots(report: dict[str, Any], console: Console | None = None) -> None:
    """Per stage: where the engine's samples started (its tasks), and the hottest leaves."""
    console = console or Console(width=max(Console().width, 100))
    for stage, s in report["stages"].items():
        table = Table(title=f"{stage}: engine tasks and leaf functions, share of on-CPU samples")
        for col in ("engine task", "share", "leaf function", "share"):
            table.add_column(col, justify="right" if col == "share" else "left")
        tasks, leaves = s["engine_tasks"], s["leaf_hotspots"]
        for i in range(min(max(len(tasks), len(leaves)), 8)):
            table.add_row(*_cells(tasks, i), *_cells(leaves, i))
        console.print(table)
        below = s["descendant_leaf_hotspots"]
        if below:
            console.print(
                f"{stage}, its Python descendants' leaf functions: "
                + ", ".join(f"{h['function']} {h['share']:.1%}" for h in below[:8])
            )


def _cells(hotspots: list[dict[str, Any]], i: int) -> tuple[str, str]:
    if i >= len(hotspots):
        return "", ""
    return hotspots[i]["function"], f"{hotspots[i]['share']:.1%}"
