"""Sampled stacks of a worker process: whose code each sample was in, and profiles to read.

py-spy's raw output has one line per distinct stack, root first, frames
joined by ``;`` and the sample count last: ``f (/path/a.py:3);g (/path/b.py:9) 42``.
A sample is *handler* work when any frame lies in the ``consumers`` package,
*engine* work when none does but a frame of ``streamproc`` beyond the
process's start-up frames (``streamproc/__main__.py``, ``streamproc/cli/``)
does, and *loop* otherwise: the event loop and library callbacks reached
from it with no Python caller of ours (uvloop, asyncio's stream protocols,
asyncpg's pool), which serve the engine's Redis and the handlers' database
I/O alike.

A sample whose innermost frame is where a thread waits -- the event loop's
entry (uvloop runs the loop in C, so its wait for events shows as
``Runner.run``), an idle thread pool, a pipe to a child process -- is
*waiting*: py-spy counts a thread as on CPU when it is runnable, and a
thread just woken from ``epoll_wait`` is runnable until it gets a core,
which on a busy machine is often longer than its actual work. Waiting
samples are left out of the CPU split; the native work of the loop itself
(libuv, asyncpg's Cython protocol) is among them and is thereby spread over
the other kinds in proportion.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import consumers
import streamproc

Stack = tuple[str, ...]
KINDS = ("handler", "engine", "loop")
"""The kinds of on-CPU samples; ``waiting`` samples are counted apart."""
WAITING = "waiting"
_WAIT_LEAVES = {
    ("asyncio/runners.py", "Runner.run"),
    ("asyncio/base_events.py", "BaseEventLoop.run_forever"),
    ("asyncio/base_events.py", "BaseEventLoop._run_once"),
    ("selectors.py", "EpollSelector.select"),
    ("selectors.py", "_PollLikeSelector.select"),
    ("concurrent/futures/thread.py", "_worker"),
    ("threading.py", "Condition.wait"),
    ("queue.py", "Queue.get"),
    # A handler's thread blocked on a pipe to a child process (a reader, tesseract).
    ("multiprocessing/connection.py", "Connection._recv"),
    ("multiprocessing/forkserver.py", "read_signed"),
    ("subprocess.py", "Popen._try_wait"),
}
_PROCESS = re.compile(r"process \d+$")
# A process frame's command line may hold ";": it ends at the quote before the next frame.
_PROCESS_FRAME = re.compile(r'process (\d+):".*?"(?:;|$)(?=process \d+:"|[^;]* \(|$)')
_LIBRARY = re.compile(r"/(?:site-packages|lib/python3\.\d+)/")

_HANDLER_DIR = str(Path(consumers.__file__).resolve().parent) + "/"
_ENGINE_DIR = str(Path(streamproc.__file__).resolve().parent) + "/"
_START_UP = (_ENGINE_DIR + "__main__.py", _ENGINE_DIR + "cli/")


def frame_file(frame: str) -> str:
    """The file of a py-spy frame ``name (file:line)``."""
    inner = frame.rpartition(" (")[2].rstrip(")")
    return inner.rpartition(":")[0] or inner


def frame_function(frame: str) -> str:
    """The function of a py-spy frame ``name (file:line)``."""
    return frame.rpartition(" (")[0] or frame


def kind_of(stack: Stack) -> str:
    """``handler``, ``engine``, ``loop`` or ``waiting`` for one sampled stack."""
    leaf_file = _LIBRARY.split(frame_file(stack[-1]))[-1]
    if (leaf_file, frame_function(stack[-1])) in _WAIT_LEAVES:
        return WAITING
    files = [frame_file(f) for f in stack]
    if any(f.startswith(_HANDLER_DIR) for f in files):
        return "handler"
    if any(_is_engine(f) for f in files):
        return "engine"
    return "loop"


def read_raw(path: Path) -> Counter[Stack]:
    """Sample counts per stack from a py-spy ``--format raw`` file (empty if there is none)."""
    stacks: Counter[Stack] = Counter()
    if not path.is_file():
        return stacks
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[_frames(stack)] += int(count)
    return stacks


def _frames(stack: str) -> Stack:
    processes: list[str] = []
    while (match := _PROCESS_FRAME.match(stack)) is not None:
        processes.append(f"process {match[1]}")
        stack = stack[match.end() :]
    return (*processes, *(stack.split(";") if stack else ()))


def by_process(stacks: Counter[Stack]) -> tuple[Counter[Stack], Counter[Stack]]:
    """Split ``py-spy --subprocesses`` stacks: the sampled process's own, its descendants'.

    Such stacks start with one ``process PID`` frame per process from the sampled
    one down; the frames are dropped. Stacks without them are the process's own.
    """
    own: Counter[Stack] = Counter()
    below: Counter[Stack] = Counter()
    for stack, n in stacks.items():
        processes = sum(1 for f in stack if _PROCESS.match(f))
        frames = tuple(f for f in stack if not _PROCESS.match(f))
        if frames:
            (below if processes > 1 else own)[frames] += n
    return own, below


def samples_by_kind(stacks: Counter[Stack]) -> dict[str, int]:
    """Samples per kind, ``waiting`` included (every kind present, zero where none)."""
    counts = dict.fromkeys((*KINDS, WAITING), 0)
    for stack, n in stacks.items():
        counts[kind_of(stack)] += n
    return counts


@dataclass(frozen=True)
class Hotspot:
    """A function and the share of all samples whose stack passes through it."""

    function: str
    share: float


def engine_hotspots(stacks: Counter[Stack], top: int = 12) -> list[Hotspot]:
    """Functions of ``streamproc`` in engine samples, by share of on-CPU samples (inclusive)."""
    total = sum(n for s, n in stacks.items() if kind_of(s) != WAITING) or 1
    inclusive: Counter[str] = Counter()
    for stack, n in stacks.items():
        if kind_of(stack) != "engine":
            continue
        for frame in set(stack):
            if _is_engine(frame_file(frame)):
                inclusive[_short(frame)] += n
    return [Hotspot(f, n / total) for f, n in inclusive.most_common(top)]


def engine_tasks(stacks: Counter[Stack], top: int = 8) -> list[Hotspot]:
    """Engine samples by the outermost engine frame (the task's loop: reader, flusher,
    promoter...), by share of on-CPU samples."""
    total = sum(n for s, n in stacks.items() if kind_of(s) != WAITING) or 1
    outermost: Counter[str] = Counter()
    for stack, n in stacks.items():
        if kind_of(stack) == "engine":
            outermost[_short(next(f for f in stack if _is_engine(frame_file(f))))] += n
    return [Hotspot(f, n / total) for f, n in outermost.most_common(top)]


def _is_engine(path: str) -> bool:
    return path.startswith(_ENGINE_DIR) and not path.startswith(_START_UP)


def leaf_hotspots(stacks: Counter[Stack], top: int = 12) -> list[Hotspot]:
    """Functions by share of on-CPU samples spent in their own code (the stack's last frame)."""
    on_cpu = {s: n for s, n in stacks.items() if kind_of(s) != WAITING}
    total = sum(on_cpu.values()) or 1
    own: Counter[str] = Counter()
    for stack, n in on_cpu.items():
        own[_short(stack[-1])] += n
    return [Hotspot(f, n / total) for f, n in own.most_common(top)]


def _short(frame: str) -> str:
    """``name (path/to/pkg/mod.py:12)`` as ``pkg/mod.py:name``, the repository or library path."""
    path = _LIBRARY.split(frame_file(frame))[-1]
    path = path.removeprefix(str(Path(_ENGINE_DIR).parent) + "/")
    return f"{path}:{frame_function(frame)}"


def write_speedscope(stacks: Counter[Stack], out: Path, name: str) -> None:
    """Write ``stacks`` as a speedscope profile (https://www.speedscope.app)."""
    frames: dict[str, int] = {}
    samples: list[list[int]] = []
    weights: list[int] = []
    for stack, n in stacks.items():
        samples.append([frames.setdefault(f, len(frames)) for f in stack])
        weights.append(n)
    document = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": [_speedscope_frame(f) for f in frames]},
        "profiles": [
            {
                "type": "sampled",
                "name": name,
                "unit": "none",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        ],
        "name": name,
        "exporter": "bench.pipeline",
    }
    out.write_text(json.dumps(document), encoding="utf-8")


def _speedscope_frame(frame: str) -> dict[str, object]:
    entry: dict[str, object] = {"name": frame_function(frame), "file": frame_file(frame)}
    line = frame.rpartition(":")[2].rstrip(")")
    if line.isdigit():
        entry["line"] = int(line)
    return entry


def merge(counters: Iterable[Counter[Stack]]) -> Counter[Stack]:
    """Several workers' stacks as one."""
    total: Counter[Stack] = Counter()
    for c in counters:
        total.update(c)
    return total
