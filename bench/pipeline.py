"""Documents through every stage of the legal-document pipeline: throughput and CPU by stage.

    python -m bench.pipeline [PATH] [--workers-per-stage 1] [--json bench/results/pipeline.json]
                             [--profile] [--limit N] [--rate 50] [--redis system|bundled]

PATH is a folder or a file; by default the corpus (``STREAMPROC_CORPUS``, or
``shared/corpus`` beside the repository) when there is one, else the
generated sample documents. A folder with a ``MANIFEST.json`` contributes
the files it lists, any other folder every file but ``*.expected.json``.

A private Redis and a private PostgreSQL are started in a temporary
directory, with a local object store beside them; the schema is migrated,
and one ``streamproc worker STAGE`` process per stage (N with
``--workers-per-stage``) is started and waited for (its first heartbeat).
The documents are then submitted as one batch, with the offline entity
extractor, and followed until the batch completes; then the workers are
stopped with SIGTERM and reaped.

Throughput. The *window* runs from the submit to the batch's completion;
wall time, documents/s and pages/s (pages as the database counts them) are
over it, and so is every CPU figure. Intake (hashing, storing originals,
registering documents) runs in this process and is reported apart, as is
the CPU of Redis and of PostgreSQL (the server and every backend).

CPU per stage: ``/proc/<pid>/stat`` of each worker at both ends of the
window -- its own user+system time (every thread), and that of its
descendants, alive (the forkserver that reads documents) or already reaped
(document readers, tesseract). Peak RSS is the worker's ``VmHWM``; the JSON
also has ``ru_maxrss`` from ``wait4``, the largest of the worker and any
descendant.

The engine's share: ``py-spy record --nonblocking`` samples each worker at
``--rate`` Hz through the window, and ``bench.pipeline_stacks`` sorts the
samples: *handler* (a frame of ``consumers/``), *engine* (a frame of
``streamproc/`` beyond start-up), *loop* (asyncio and library callbacks with
no caller of ours), and *waiting* (a thread runnable but still inside
``epoll_wait`` or a pipe read), which is left out. The process's own CPU is
split in the proportions of the other three; its descendants' CPU is
handler work. The engine's share of a worker's CPU lies between ``engine``
and ``engine + loop``. Limits: py-spy sees Python frames only, so native
code is charged to its Python caller (pdfium and regex in a handler are
handler work, hiredis and orjson in the engine engine work); a thread
preempted while runnable counts as on CPU, which on a busy machine favours
code that wakes another process (a socket write to Redis) -- the JSON's
``sample_coverage`` (sampled seconds over measured CPU) shows how far off
the absolute figures are; stages that use a fraction of a CPU second get
few samples and a coarse split. py-spy costs about 4 % of a core per worker
at 100 Hz (mostly system time reading the worker's memory); its CPU is
reported, and ``--rate 0`` measures throughput without it.

``--profile`` also samples the workers' Python descendants (py-spy
``--subprocesses``, several times the cost), counts tesseract's CPU per run
through a ``tesseract`` on the workers' PATH that runs the real one under
``/usr/bin/time``, writes each worker's stacks under
``bench/results/profiles/`` (``<worker>.speedscope.json`` for speedscope,
``<worker>.collapsed.txt`` for flamegraph.pl or inferno), and prints per
stage the engine's tasks and the hottest leaf functions by share of samples.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import uvloop
from redis.asyncio import Redis

from bench.pipeline_report import build_report, print_hotspots, print_report, write_profiles
from bench.pipeline_stacks import read_raw
from bench.pipeline_workers import (
    Cpu,
    WorkerProcess,
    machine_busy_seconds,
    peak_rss_mib,
    read_cpu,
    start_sampling,
    start_worker,
    stop_sampling,
    stop_workers,
    tesseract_runs,
    tesseract_shim,
    tree_rss_mib,
    wait_ready,
)
from consumers.commands.batch import read_progress
from consumers.commands.summary import batch_summary
from consumers.intake import submit_paths
from consumers.pipeline import PIPELINE
from consumers.resources import Resources, open_resources
from consumers.samples import write_examples
from consumers.settings import load_pipeline_settings
from streamproc.client import Client
from streamproc.config import Settings, load_settings
from streamproc.connections import connect_redis
from streamproc.embedded import (
    PrivatePostgres,
    PrivateRedis,
    find_redis_server,
    start_private_postgres,
    start_private_redis,
)
from streamproc.keys import Keys

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "bench" / "results" / "profiles"
PREFIX = "bench"
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
BATCH_TIMEOUT = 3600.0


def default_path() -> Path | None:
    """The corpus, if there is one."""
    corpus = Path(os.environ.get("STREAMPROC_CORPUS") or REPO.parent / "shared" / "corpus")
    return corpus if corpus.is_dir() else None


def documents_in(path: Path) -> list[Path]:
    """The documents to submit for ``path`` (see the module's docstring)."""
    if path.is_file():
        return [path]
    manifest = path / "MANIFEST.json"
    if manifest.is_file():
        return [path / entry["name"] for entry in json.loads(manifest.read_text("utf-8"))]
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".expected.json")
    )


class Bench:
    """One benchmark run: its servers, its workers and what it measured."""

    def __init__(self, root: Path, redis: PrivateRedis, postgres: PrivatePostgres) -> None:
        self.root, self.redis_server, self.postgres = root, redis, postgres
        self.engine: Settings = load_settings(
            redis_url=redis.url, database_url=postgres.dsn, data_dir=root / "data", prefix=PREFIX
        )
        self.keys = Keys(PREFIX)
        self.stages = [s.name for s in PIPELINE.stages]
        self.workers: list[WorkerProcess] = []
        self.timeout = BATCH_TIMEOUT
        self.profile = False
        self.tesseract_log = root / "tesseract.log"

    def worker_env(self) -> dict[str, str]:
        """The environment of the worker processes: these servers, the offline extractor."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROC_")}
        env.update(
            REDIS_URL=self.redis_server.url,
            DATABASE_URL=self.postgres.dsn,
            STREAMPROC_DATA_DIR=str(self.engine.data_dir),
            STREAMPROC_PREFIX=PREFIX,
            STREAMPROC_LOG_FORMAT="json",
            STREAMPROC_EXTRACTOR="offline",
            STREAMPROC_STORE="local",
        )
        if self.profile and tesseract_shim(self.root / "bin", self.tesseract_log):
            env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    async def run(self, paths: Sequence[Path], per_stage: int, rate: int) -> dict[str, Any]:
        """Start the workers, run the batch, stop the workers; the raw measurements."""
        redis = connect_redis(self.redis_server.url)
        pipeline = load_pipeline_settings(extractor="offline", store="local")
        try:
            async with open_resources(self.engine, pipeline) as resources:
                self.workers = self._start_workers(per_stage)
                try:
                    await wait_ready(redis, self.keys, self.workers, READY_TIMEOUT)
                    window = await self._window(redis, resources, paths, rate)
                finally:
                    for w in self.workers:
                        stop_sampling(w)
                    await asyncio.to_thread(stop_workers, self.workers, STOP_TIMEOUT)
                window["postgresql"] = await resources.pool.fetchval("SHOW server_version")
        finally:
            await redis.aclose()
        return window

    def _start_workers(self, per_stage: int) -> list[WorkerProcess]:
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = self.worker_env()
        return [start_worker(s, i, env, logs) for s in self.stages for i in range(per_stage)]

    async def _window(
        self, redis: Redis, resources: Resources, paths: Sequence[Path], rate: int
    ) -> dict[str, Any]:
        if rate:
            self._start_sampling(rate)
            await asyncio.sleep(1.0)  # py-spy attaches; idle workers give no samples meanwhile
        before = {name: read_cpu(pid) for name, pid in self._pids().items()}
        busy, load = machine_busy_seconds(), os.getloadavg()[0]
        client = Client(redis, self.keys)
        own, started = _own_cpu(), time.perf_counter()
        submitted = await submit_paths(list(paths), resources=resources, client=client)
        intake = _own_cpu() - own
        peaks: dict[str, float] = {}
        sampler = asyncio.create_task(_sample_memory(self.workers, peaks))
        try:
            async with asyncio.timeout(self.timeout):
                finished = await _completion(client, submitted.batch, self.stages, started)
        finally:
            sampler.cancel()
        window: dict[str, Any] = {
            "batch": submitted.batch,
            "files": len(submitted.files),
            "submitted": submitted.queued,
            "wall_seconds": time.perf_counter() - started,
            "intake_cpu_seconds": intake,
            "stage_finished_seconds": finished,
            "peak_tree_rss_mib": peaks,
            "machine_busy_seconds": machine_busy_seconds() - busy,
            "load_average": [load, os.getloadavg()[0]],
            **self._since(before),
        }
        for w in self.workers:
            stop_sampling(w)
        window["stacks"] = {
            w.name: read_raw(self.root / "stacks" / f"{w.name}.txt") for w in self.workers
        }
        progress = await read_progress(redis, client, submitted.batch, with_failures=True)
        window["summary"] = await batch_summary(resources.pool, submitted.batch, progress)
        return window

    def _start_sampling(self, rate: int) -> None:
        (self.root / "stacks").mkdir(exist_ok=True)
        for w in self.workers:
            out = self.root / "stacks" / f"{w.name}.txt"
            start_sampling(w, out, rate, subprocesses=self.profile)

    def _pids(self) -> dict[str, int]:
        """Every measured process by name: the workers, and the servers."""
        pids = {w.name: w.proc.pid for w in self.workers}
        servers = {"redis": self.redis_server.pid, "postgresql": self.postgres.pid}
        return pids | {name: pid for name, pid in servers.items() if pid is not None}

    def _since(self, before: dict[str, Cpu]) -> dict[str, Any]:
        """CPU of every process since ``before``; the workers' peak memory."""
        cpu = {name: read_cpu(pid) - before[name] for name, pid in self._pids().items()}
        return {
            "cpu": {w.name: cpu[w.name] for w in self.workers},
            "peak_rss_mib": {w.name: peak_rss_mib(w.proc.pid) for w in self.workers},
            "servers_cpu_seconds": {
                name: cpu[name].total for name in ("redis", "postgresql") if name in cpu
            },
        }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _completion(
    client: Client, batch: str, stages: Sequence[str], started: float, poll: float = 0.1
) -> dict[str, float]:
    """Wait until the batch completes; seconds until each stage was done with all of it."""
    finished: dict[str, float] = {}
    while True:
        status = await client.status(batch, with_states=False)
        if status is not None and status.total is not None:
            c, failed = status.counters, 0
            for s in stages:  # a document that failed upstream never reaches this stage
                failed += c.get(f"failed:{s}", 0)
                if c.get(f"passed:{s}", 0) + failed >= status.total and s not in finished:
                    finished[s] = time.perf_counter() - started
            if status.completed:
                return finished
        await asyncio.sleep(poll)


async def _sample_memory(workers: list[WorkerProcess], peaks: dict[str, float]) -> None:
    """Keep the largest resident memory of each worker with its descendants, every 0.5 s."""
    while True:
        for w in workers:
            rss = await asyncio.to_thread(tree_rss_mib, w.proc.pid)
            peaks[w.name] = max(peaks.get(w.name, 0.0), rss)
        await asyncio.sleep(0.5)


def measure(
    paths: Sequence[Path],
    *,
    workers_per_stage: int = 1,
    rate: int = 50,
    profiles: Path | None = None,
    redis_binary: Literal["system", "bundled"] = "system",
    timeout: float = BATCH_TIMEOUT,
) -> dict[str, Any]:
    """Run the benchmark over ``paths``; returns the report (``profiles``: write them there)."""
    with tempfile.TemporaryDirectory(prefix="streamproc-bench-") as tmp:
        root = Path(tmp)
        redis = start_private_redis(root / "redis", binary=find_redis_server(prefer=redis_binary))
        try:
            postgres = start_private_postgres(root / "postgres")
            try:
                bench = Bench(root, redis, postgres)
                bench.timeout, bench.profile = timeout, profiles is not None
                window = uvloop.run(bench.run(paths, workers_per_stage, rate))
                if profiles is not None:
                    write_profiles(bench.workers, window["stacks"], profiles)
            finally:
                postgres.stop()
        finally:
            redis.stop()
        window["redis"] = redis.version
        if bench.profile:
            window["tesseract"] = vars(tesseract_runs(bench.tesseract_log))
        return build_report(bench.stages, bench.workers, window, rate)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", nargs="?", type=Path, help="folder or file (default: the corpus)")
    parser.add_argument("--workers-per-stage", type=int, default=1, metavar="N")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "pipeline.json")
    parser.add_argument("--profile", action="store_true", help="write per-worker profiles")
    parser.add_argument("--limit", type=int, help="only the first N documents")
    parser.add_argument(
        "--rate", type=int, default=50, help="py-spy samples per second (0: no sampling)"
    )
    parser.add_argument("--redis", choices=("system", "bundled"), default="system")
    parser.add_argument(
        "--timeout", type=float, default=BATCH_TIMEOUT, help="give up on the batch after this"
    )
    args = parser.parse_args(argv)
    if args.rate < 0 or args.workers_per_stage < 1:
        parser.error("--rate must be 0 or more, --workers-per-stage 1 or more")
    if args.profile and not args.rate:
        parser.error("--profile needs sampling: a --rate above 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="streamproc-samples-") as samples:
        path = args.path or default_path()
        paths = documents_in(path) if path else write_examples(Path(samples))
        paths = paths[: args.limit] if args.limit else paths
        if not paths:
            print(f"no documents in {path}", file=sys.stderr)
            return 2
        print(f"{len(paths)} documents from {path or 'the generated samples'}", file=sys.stderr)
        report = measure(
            paths,
            workers_per_stage=args.workers_per_stage,
            rate=args.rate,
            profiles=PROFILES if args.profile else None,
            redis_binary=args.redis,
            timeout=args.timeout,
        )
    report["input"] = str(path) if path else "generated samples"
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print_report(report)
    if args.profile:
        print_hotspots(report)
    # Documents the pipeline cannot read fail by design; a lost or extra document is an error.
    return 0 if report["documents"] == report["submitted"] else 1


if __name__ == "__main__":
    sys.exit(main())
