"""Chaos runs: the pipeline under SIGKILL, SIGSTOP and server restarts, then audited.

    python -m bench.chaos [--documents N] [--workers K] [--duration S] [--seed X]
                          [--noop] [--json bench/results/chaos.json]

Documents (copies of the sample legal documents) or probe messages go
through real ``streamproc worker`` processes while a seeded timeline kills
workers with SIGKILL (each is replaced), freezes one with SIGSTOP past the
visibility timeout and resumes it once its entries were taken over, crashes
or restarts Redis (AOF, ``appendfsync always``) and PostgreSQL. Then the
guarantees are checked by reading Redis and PostgreSQL directly (see
``bench.chaos.verify``) and the figures are printed.
"""

from bench.chaos.plan import ChaosConfig, Event, timeline
from bench.chaos.report import Report
from bench.chaos.run import run_chaos

__all__ = ["ChaosConfig", "Event", "Report", "run_chaos", "timeline"]
