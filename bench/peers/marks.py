"""The two instants a peer's rate is measured between, written from inside its tasks.

The first-stage task writes the wall-clock time of its first call once per
process (HSETNX, one round trip per process). The last-stage task counts its
completions in process memory and writes the time of the N-th (SET, one
round trip per run), plus its count every ``PROGRESS_EVERY`` completions so
a stalled run can say how far it got. Per message that is an increment
under a lock and nothing on the wire: next to a peer's few hundred
microseconds per task the marks cost well under 1%, the same for every peer.

Counting in memory is exact because each peer runs one worker process, as
the benchmark requires; were the tasks spread over several processes, no
process would reach N and the run would fail with a timeout naming each
process's count, never report a wrong rate.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import redis
import redis.asyncio

from bench.peers.run import RunSpec

PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class MarkKeys:
    """Every key the marks use, under the run's tag."""

    started: str  # hash: pid -> time of the process's first first-stage call
    finished: str  # time of the N-th last-stage completion
    progress: str  # hash: pid -> completions counted so far

    @classmethod
    def of(cls, tag: str) -> MarkKeys:
        """The keys of run ``tag``."""
        base = f"peerbench:{tag}"
        return cls(f"{base}:started", f"{base}:finished", f"{base}:progress")


class Tally:
    """Per-process state of the marks: whether this process started, how many it finished."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._started = False
        self._done = 0
        self._lock = threading.Lock()  # dramatiq and Celery's thread pools call from threads

    def first_start(self) -> bool:
        """True on this process's first call only."""
        with self._lock:
            first, self._started = not self._started, True
        return first

    def complete(self) -> int:
        """Count one last-stage completion; the count so far."""
        with self._lock:
            self._done += 1
            return self._done

    def reports(self, done: int) -> bool:
        """Whether completion number ``done`` writes the progress count."""
        return done == self.n or done % PROGRESS_EVERY == 0


class SyncMarks:
    """Marks for frameworks whose tasks are plain functions (Celery, dramatiq)."""

    def __init__(self, spec: RunSpec) -> None:
        self._redis = redis.Redis.from_url(spec.url)
        self._keys = MarkKeys.of(spec.tag)
        self._tally = Tally(spec.n)
        self._stages = spec.stages

    def stage(self, position: int, doc: str) -> str | None:
        """A no-op task at ``position`` (1-based): marks the first start and the last
        completion, and returns what the next stage gets (nothing from the last one)."""
        if position == 1:
            self.start()
        if position < self._stages:
            return doc
        self.finish()
        return None

    def start(self) -> None:
        """Call at the top of the first-stage task."""
        if self._tally.first_start():
            self._redis.hsetnx(self._keys.started, str(os.getpid()), repr(time.time()))

    def finish(self) -> None:
        """Call at the end of the last-stage task."""
        now = time.time()
        done = self._tally.complete()
        if done == self._tally.n:
            self._redis.set(self._keys.finished, repr(now))
        if self._tally.reports(done):
            self._redis.hset(self._keys.progress, str(os.getpid()), str(done))


class AsyncMarks:
    """Marks for asyncio frameworks (arq, taskiq, FastStream)."""

    def __init__(self, spec: RunSpec) -> None:
        self._redis = redis.asyncio.Redis.from_url(spec.url)  # connects inside the worker's loop
        self._keys = MarkKeys.of(spec.tag)
        self._tally = Tally(spec.n)

    async def start(self) -> None:
        """Await at the top of the first-stage task."""
        if self._tally.first_start():
            await self._redis.hsetnx(self._keys.started, str(os.getpid()), repr(time.time()))

    async def finish(self) -> None:
        """Await at the end of the last-stage task."""
        now = time.time()
        done = self._tally.complete()
        if done == self._tally.n:
            await self._redis.set(self._keys.finished, repr(now))
        if self._tally.reports(done):
            await self._redis.hset(self._keys.progress, str(os.getpid()), str(done))
