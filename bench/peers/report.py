"""The comparison's one table, and the shape of its JSON: every system's runs, median and ratio."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

RAW = "raw loop"


def combine(
    baseline: Mapping[str, Mapping[str, list[float]]], peers: Mapping[str, Any]
) -> dict[str, Any]:
    """One entry per workload: each system's runs, median and median's ratio to the raw loop.

    ``baseline`` maps workload -> system ("raw loop", "streamproc") -> rates;
    ``peers`` is what ``measure_peers`` returns.
    """
    workloads: dict[str, Any] = {}
    for name, peer_workload in peers["workloads"].items():
        systems = {s: _summary(runs) for s, runs in baseline[name].items()}
        systems |= peer_workload["peers"]
        raw = systems[RAW]["median"]
        for summary in systems.values():
            median = summary["median"]
            summary["ratio"] = None if median is None else median / raw
        workloads[name] = {k: peer_workload[k] for k in ("messages", "stages")} | {
            "systems": systems
        }
    return workloads


def _summary(runs: list[float]) -> dict[str, Any]:
    return {"runs": runs, "median": statistics.median(runs)}


def print_table(workloads: Mapping[str, Any], redis_version: str) -> None:
    """Rows: systems; columns: A msgs/s and its ratio to the raw loop, then B's."""
    from rich.console import Console
    from rich.table import Table

    a, b = workloads["A"], workloads["B"]
    table = Table(
        title=f"Peers on one worker process (Redis {redis_version}; medians;"
        f" A: {a['messages']:,} messages, 1 stage; B: {b['messages']:,} through 3 stages)"
    )
    table.add_column("system")
    for column in ("A msgs/s", "A / raw", "B completions/s", "B / raw"):
        table.add_column(column, justify="right")
    for system in a["systems"]:
        table.add_row(system, *_cells(a["systems"][system]), *_cells(b["systems"][system]))
    Console().print(table)


def _cells(summary: Mapping[str, Any]) -> tuple[str, str]:
    if summary["median"] is None:
        return "failed", "-"
    return f"{summary['median']:,.0f}", f"{summary['ratio']:.3f}x"
