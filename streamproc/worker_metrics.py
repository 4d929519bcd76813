"""The workers' own metrics for the supervisor's /metrics, ended workers' folded into one total.

Workers write their metrics to Prometheus' multiprocess directory, a few files
per process id. prometheus_client keeps the counter and histogram files of an
ended process so that totals never go down, and removes only its live gauges
(``mark_process_dead``); with workers recycled every few thousand messages the
directory grows by a few files per recycle and every scrape reads them all.

Here an ended worker's gauges go with ``mark_process_dead`` and its counters
and histograms are read once with ``MultiProcessCollector.merge`` (the public
way to combine process files), added to an in-memory total of all ended
workers, and deleted. A scrape then reads only the live workers' files and adds
that total: the files read stay a few per live worker, and totals never go
down while the supervisor runs. Cumulative histogram buckets, counts and sums
add up sample by sample, so totals of accumulated samples are exact.
"""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

# The files an ended process leaves whose values count towards totals.
FOLDED_KINDS = ("counter", "histogram", "summary")

_SampleKey = tuple[str, tuple[tuple[str, str], ...]]


class WorkerMetrics(Collector):
    """Collects the live workers' files plus the folded totals of the ended ones."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ended: dict[str, Metric] = {}
        # A scrape runs in a thread; it must not glob a file that a fold then deletes.
        self._lock = threading.Lock()

    def fold(self, pid: int) -> None:
        """Account for a worker that has exited: fold its totals in, delete its files."""
        files = [self.path / f"{kind}_{pid}.db" for kind in FOLDED_KINDS]
        files = [f for f in files if f.exists()]
        with self._lock:
            mark_process_dead(pid, str(self.path))  # type: ignore[no-untyped-call]
            _add(self._ended, _merge([str(f) for f in files]))
            for f in files:
                f.unlink()

    def collect(self) -> Iterator[Metric]:
        """The live workers' metrics with the ended workers' totals added."""
        with self._lock:
            live = glob.glob(os.path.join(self.path, "*.db"))
            merged: dict[str, Metric] = {}
            _add(merged, _merge(live))
            _add(merged, self._ended.values())
        return iter(merged.values())


def _merge(files: list[str]) -> Iterable[Metric]:
    """The metrics of ``files``, accumulated as exposed (cumulative buckets, counts)."""
    merged: Iterable[Metric] = MultiProcessCollector.merge(files)  # type: ignore[no-untyped-call]
    return merged


def _add(into: dict[str, Metric], families: Iterable[Metric]) -> None:
    """Add ``families`` to ``into`` sample by sample (same name and labels: values add)."""
    for family in families:
        target = into.get(family.name)
        if target is None:
            target = into[family.name] = Metric(family.name, family.documentation, family.type)
        index: dict[_SampleKey, int] = {_key(s): i for i, s in enumerate(target.samples)}
        for sample in family.samples:
            at = index.get(_key(sample))
            if at is None:
                index[_key(sample)] = len(target.samples)
                target.samples.append(Sample(sample.name, dict(sample.labels), sample.value))
            else:
                kept = target.samples[at]
                target.samples[at] = kept._replace(value=kept.value + sample.value)


def _key(sample: Sample) -> _SampleKey:
    return sample.name, tuple(sorted(sample.labels.items()))
