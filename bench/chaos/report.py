"""A chaos run's figures: what was done to the pipeline, what came out, what broke."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.chaos.verify import Audit


@dataclass
class Disruptions:
    """What the harness did to the pipeline while it ran."""

    kills: int = 0
    held_by_killed: int = 0
    stops: int = 0
    held_by_stopped: int = 0
    taken_over: int = 0
    stopped_seconds: float = 0.0
    redis_restarts: int = 0
    postgres_restarts: int = 0
    worker_exits: int = 0
    exits: list[str] = field(default_factory=list)


@dataclass
class Report:
    """Everything a run prints and saves."""

    mode: str
    documents: int
    batches: int
    workers: int
    seed: int
    disruptions: Disruptions
    audit: Audit
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every guarantee held."""
        return not self.audit.problems

    def rows(self) -> list[tuple[str, str]]:
        """The table, as label and value."""
        d, a = self.disruptions, self.audit
        return [
            ("mode", self.mode),
            ("documents" if self.mode == "pipeline" else "messages", str(self.documents)),
            ("batches", str(self.batches)),
            ("workers", f"{self.workers} (seed {self.seed})"),
            ("kills", f"{d.kills} (holding {d.held_by_killed} pending entries)"),
            (
                "stops",
                f"{d.stops} (holding {d.held_by_stopped}, {d.taken_over} taken over, "
                f"{d.stopped_seconds:.1f} s stopped)",
            ),
            ("Redis restarts", str(d.redis_restarts)),
            ("PostgreSQL restarts", str(d.postgres_restarts)),
            ("unplanned worker exits", str(d.worker_exits)),
            ("completed", str(a.completed)),
            ("dead-lettered", str(a.dead_lettered)),
            ("lost", str(a.lost)),
            ("duplicated forwards", str(a.duplicated_forwards)),
            ("duplicate rows", str(a.duplicate_rows)),
            ("batch completions", f"{a.batch_completions} of {self.batches} batches"),
            ("left over in Redis", str(a.leftover)),
            ("elapsed", f"{self.elapsed:.1f} s"),
            ("verdict", "every guarantee held" if self.ok else f"{len(a.problems)} problems"),
        ]

    def table(self) -> str:
        """The figures as an aligned text table, then the problems, if any."""
        rows = self.rows()
        width = max(len(label) for label, _ in rows)
        lines = [f"{label:<{width}}  {value}" for label, value in rows]
        lines += [f"  unplanned exit: {e}" for e in self.disruptions.exits[:10]]
        lines += [f"  PROBLEM: {p}" for p in self.audit.problems]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values."""
        return asdict(self) | {"ok": self.ok}
