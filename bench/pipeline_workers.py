"""Worker processes of the pipeline benchmark: started, measured, sampled and reaped.

CPU comes from ``/proc/<pid>/stat``: the process's own user+system time (all
its threads) and, separately, that of its descendants: the live ones (a
forkserver that reads documents) and, through each process's ``cutime``, the
ones already waited for (tesseract, a document's reader). A descendant that
exits between two readings moves from the first sum into its parent's
``cutime``, so differences of readings count it exactly once. Peak memory is
``VmHWM`` from ``/proc/<pid>/status``; the memory of a worker with its live
descendants is their PSS summed, sampled; and after the process exits,
``ru_maxrss`` from ``os.wait4`` is the largest of it and every descendant it
(or they) reaped -- a forkserver outlives its worker and is not among them.
Linux only.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import orjson
from redis.asyncio import Redis

from streamproc.embedded.process import die_with_parent, log_tail
from streamproc.keys import Keys

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Cpu:
    """CPU seconds of a process: its own (user+system, all threads) and its descendants'."""

    own: float = 0.0
    children: float = 0.0

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.own - other.own, self.children - other.children)

    def __add__(self, other: Cpu) -> Cpu:
        return Cpu(self.own + other.own, self.children + other.children)

    @property
    def total(self) -> float:
        """Own and children's seconds together."""
        return self.own + self.children


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces): state is field 3.
    return text.rsplit(")", 1)[1].split()


def _processes() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (f := _stat_fields(int(entry.name))) is not None:
            found[int(entry.name)] = f
    return found


def _cpu(f: list[str]) -> Cpu:
    return Cpu((int(f[11]) + int(f[12])) / _TICK, (int(f[13]) + int(f[14])) / _TICK)


def _descendants(pid: int, procs: dict[int, list[str]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for p, f in procs.items():
        children.setdefault(int(f[1]), []).append(p)
    found, todo = [], list(children.get(pid, ()))
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, ())
    return found


def read_cpu(pid: int) -> Cpu:
    """CPU seconds of ``pid`` so far: its own, and all its descendants' (zero once it is gone)."""
    procs = _processes()
    if pid not in procs:
        return Cpu()
    root = _cpu(procs[pid])
    below = sum((_cpu(procs[p]).total for p in _descendants(pid, procs)), root.children)
    return Cpu(root.own, below)


def tree_rss_mib(pid: int) -> float:
    """Memory of ``pid`` and its live descendants together, now, in MiB: their proportional
    set sizes (pages shared after a fork counted once), else their resident sets."""
    procs = _processes()
    return sum(_pss_mib(p) for p in [pid, *_descendants(pid, procs)])


def _pss_mib(pid: int) -> float:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return _status_mib(pid, "VmRSS:")
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    # guest time is already counted in user time
    return (sum(fields[:8]) - idle) / _TICK


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MiB."""
    return _status_mib(pid, "VmHWM:")


def _status_mib(pid: int, field: str) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class WorkerProcess:
    """One ``streamproc worker STAGE`` process and what was measured of it."""

    stage: str
    index: int
    proc: subprocess.Popen[bytes]
    log: Path
    profiler: subprocess.Popen[bytes] | None = None
    stacks_file: Path | None = None
    cpu_at_start: Cpu = field(default_factory=Cpu)
    profiler_cpu_seconds: float = 0.0
    exit_code: int | None = None
    exit_maxrss_mib: float = 0.0
    exit_cpu_seconds: float = 0.0

    @property
    def name(self) -> str:
        """``stage`` or ``stage-i`` when a stage has several workers."""
        return self.stage if self.index == 0 else f"{self.stage}-{self.index}"


def start_worker(stage: str, index: int, env: dict[str, str], logs: Path) -> WorkerProcess:
    """Start ``python -m streamproc worker STAGE``, its output in ``logs/<name>.log``."""
    log = logs / (f"{stage}-{index}.log")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamproc", "worker", stage],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),  # noqa: PLW1509
        )
    return WorkerProcess(stage, index, proc, log)


async def wait_ready(
    redis: Redis, keys: Keys, workers: list[WorkerProcess], timeout: float
) -> None:
    """Wait until every worker has sent its first heartbeat (its stages are being served)."""
    want = {w.proc.pid for w in workers}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for w in workers:
            if w.proc.poll() is not None:
                raise RuntimeError(f"worker {w.name} exited at start:\n{log_tail(w.log)}")
        beats = await cast(Awaitable[list[bytes]], redis.hvals(keys.consumers))
        if want <= {int(orjson.loads(b)["pid"]) for b in beats}:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"workers not ready after {timeout:g} s:\n{log_tail(workers[0].log)}")


def py_spy() -> str:
    """The py-spy program beside this interpreter, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy not found: run `make install` (it is in the dev group)")
    return found


def start_sampling(
    worker: WorkerProcess, out: Path, rate: int, *, subprocesses: bool = False
) -> None:
    """Attach py-spy to ``worker``: on-CPU samples of every thread, raw stacks into ``out``.

    With ``subprocesses`` its Python descendants (document readers) are sampled too.
    """
    worker.stacks_file = out
    args = [py_spy(), "record", "--pid", str(worker.proc.pid), "--rate", str(rate)]
    args += ["--format", "raw", "--full-filenames", "--function", "--nonblocking"]
    args += ["--output", str(out), *(["--subprocesses"] if subprocesses else [])]
    worker.profiler = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=die_with_parent(signal.SIGKILL),  # noqa: PLW1509
    )


def stop_sampling(worker: WorkerProcess, timeout: float = 15.0) -> None:
    """Stop py-spy (it writes its file on SIGINT) and keep the CPU seconds it used."""
    p, worker.profiler = worker.profiler, None
    if p is None:
        return
    p.send_signal(signal.SIGINT)
    status, usage = _wait(p, time.monotonic() + timeout)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.stderr is not None:
        p.stderr.close()
    worker.profiler_cpu_seconds = usage.ru_utime + usage.ru_stime


def stop_workers(workers: list[WorkerProcess], timeout: float) -> None:
    """SIGTERM every worker, then reap each with ``wait4`` (killed after ``timeout``)."""
    for w in workers:
        if w.exit_code is None:
            w.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for w in workers:
        if w.exit_code is None:
            _reap(w, deadline)


def _reap(worker: WorkerProcess, deadline: float) -> None:
    status, usage = _wait(worker.proc, deadline)
    worker.exit_code = worker.proc.returncode = os.waitstatus_to_exitcode(status)
    # For an exited child, wait4 reports its own usage together with its reaped children's.
    worker.exit_maxrss_mib = usage.ru_maxrss / 1024
    worker.exit_cpu_seconds = usage.ru_utime + usage.ru_stime


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> tuple[int, resource.struct_rusage]:
    """Reap ``proc`` with ``wait4``, killing it at ``deadline``; its status and usage."""
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage
        if time.monotonic() > deadline:
            proc.kill()
            deadline = float("inf")
        time.sleep(0.05)


def tesseract_shim(folder: Path, log: Path) -> bool:
    """Put a ``tesseract`` in ``folder`` that runs the real one under ``/usr/bin/time``.

    Each run appends its user and system seconds, peak RSS (KiB) and command line
    to ``log``. False (and nothing written) without both programs.
    """
    real, timer = shutil.which("tesseract"), Path("/usr/bin/time")
    if real is None or not timer.exists():
        return False
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "tesseract"
    shim.write_text(f'#!/bin/sh\nexec {timer} -a -o "{log}" -f "%U %S %M %C" "{real}" "$@"\n')
    shim.chmod(0o755)
    return True


@dataclass(frozen=True)
class TesseractRuns:
    """What the OCR runs of tesseract (reading from stdin) used."""

    runs: int
    cpu_seconds: float
    peak_rss_mib: float


def tesseract_runs(log: Path) -> TesseractRuns:
    """Sum the OCR runs a :func:`tesseract_shim` logged."""
    runs, cpu, peak = 0, 0.0, 0.0
    lines = log.read_text().splitlines() if log.is_file() else []
    for line in lines:
        fields = line.split(maxsplit=3)
        if len(fields) == 4 and " stdin stdout" in fields[3]:
            runs += 1
            cpu += float(fields[0]) + float(fields[1])
            peak = max(peak, int(fields[2]) / 1024)
    return TesseractRuns(runs, cpu, peak)
