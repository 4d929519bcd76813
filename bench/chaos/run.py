"""Playing a chaos run: servers, workers, the timeline, waiting for the batches, the audit."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bench.chaos.fleet import Fleet, entries_of, pending_by_pid, ready_pids
from bench.chaos.plan import PREFIX, STAGES, ChaosConfig, Event, timeline, worker_env
from bench.chaos.report import Disruptions, Report
from bench.chaos.servers import Servers, private_servers
from bench.chaos.stuck import describe_stuck
from bench.chaos.tables import audit_postgres
from bench.chaos.verify import Audit, Expected, audit_redis
from bench.chaos.workload import documents, submit_folder, submit_probes, write_batches
from streamproc.client import Client
from streamproc.config import load_settings
from streamproc.connections import connect_redis
from streamproc.errors import RetryableError
from streamproc.keys import Keys

TICK = 0.2
#: How long a kill waits for a worker that holds pending entries, and how long a stop
#: waits for one while another worker is up (replacements take a while to start).
BUSY_WAIT = 5.0
SPARE_WAIT = 60.0
#: Seconds between progress lines while the run waits for its batches.
PROGRESS_EVERY = 5.0
#: While servers restart, the harness's own calls wait for them this long.
PATIENCE = 60.0
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
T = TypeVar("T")
Say = Callable[[str], None]


class Chaos:
    """One run in progress: the fleet, the servers, and what has been done to them."""

    def __init__(self, config: ChaosConfig, servers: Servers, root: Path, say: Say) -> None:
        self.config, self.servers, self.root, self.say = config, servers, root, say
        self.mode = config.mode
        self.stages = STAGES[self.mode]
        self.keys = Keys(PREFIX)
        self.redis: Redis = connect_redis(servers.redis.url)
        command = [sys.executable, "-m", "streamproc", "worker"]
        env = worker_env(config, servers.redis.url, servers.database_url, root / "data")
        self.fleet = Fleet(command, env, root / "logs", config.workers)
        self.done = Disruptions()
        self.expected: dict[str, dict[str, str]] = {}
        self.rng = random.Random(config.seed + 1)
        self.folders: list[Path] = []
        # Kills and stops wait for a worker holding work without holding up the timeline.
        self.strikes: list[asyncio.Task[None]] = []
        self.started = time.monotonic()

    def note(self, message: str) -> None:
        """Say what just happened, with the seconds since the start."""
        self.say(f"{time.monotonic() - self.started:7.1f}s  {message}")

    async def play(self) -> None:
        """Start the workers and play the timeline (workers that exit are replaced)."""
        if self.mode == "pipeline":
            docs = documents(
                self.config.documents,
                bad=self.config.bad,
                scanned=self.config.scanned,
                seed=self.config.seed,
            )
            self.folders = write_batches(self.root / "inbox", docs, self.config.batches)
        self.fleet.fill()
        self.started = time.monotonic()
        for event in timeline(self.config):
            await self._until(event.at)
            await self._do(event)

    async def _until(self, at: float) -> None:
        while (left := self.started + at - time.monotonic()) > 0:
            self.tick()
            await asyncio.sleep(min(TICK, left))

    def tick(self) -> None:
        """Notice workers that exited on their own and start replacements."""
        for gone in self.fleet.reap():
            self.done.worker_exits += 1
            self.done.exits.append(f"pid {gone.pid} exit {gone.code}: {gone.last_line}")
            self.note(f"worker {gone.pid} exited on its own (code {gone.code}); replacing it")
        self.fleet.fill()

    async def _do(self, event: Event) -> None:
        if event.action == "kill":
            self.strikes.append(asyncio.create_task(self._kill()))
        elif event.action == "stop":
            self.strikes.append(asyncio.create_task(self._stop()))
        elif event.action == "submit":
            await self._submit(event.arg)
        elif event.action == "redis":
            self._restart_redis(crash=bool(event.arg))
        else:
            self._restart_postgres(crash=bool(event.arg))

    async def _submit(self, b: int) -> None:
        batch = f"{PREFIX}-{b}"
        if self.mode == "pipeline":
            engine = load_settings(
                redis_url=self.servers.redis.url,
                database_url=self.servers.database_url,
                prefix=PREFIX,
                data_dir=self.root / "data",
            )
            docs = await self._patiently(
                lambda: submit_folder(engine, self.redis, self.folders[b], batch)
            )
        else:
            n, parts = self.config.documents, self.config.batches
            ids = range(b * n // parts, (b + 1) * n // parts)
            docs = await self._patiently(lambda: submit_probes(self.redis, PREFIX, batch, ids))
        self.expected[batch] = docs
        self.note(f"submitted batch {batch}: {len(docs)} documents")

    async def _patiently(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, again while a server is unreachable (submitting twice is safe)."""
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                return await call()
            except (*REDIS_DOWN, RetryableError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(TICK)

    async def _victim(self, *, spare: bool) -> tuple[int, int] | None:
        """A running worker holding pending entries (waiting a moment for one) and how many.

        With ``spare``, another worker that is up (it heartbeats) must remain to take
        the victim's entries over: one still starting cannot.
        """
        # A stop is worth something only if it freezes work in flight: it waits for that as
        # long as for a spare worker (a crowded machine starts workers late).
        patience = time.monotonic() + (SPARE_WAIT if spare else BUSY_WAIT)
        deadline = patience if spare else time.monotonic() + BUSY_WAIT
        while True:
            held = await self._patiently(lambda: pending_by_pid(self.redis, self.keys, self.stages))
            up = await self._patiently(lambda: ready_pids(self.redis, self.keys))
            running = self.fleet.running()
            eligible = [pid for pid in running if not spare or (up & set(running)) - {pid}]
            busy = [pid for pid in eligible if held.get(pid)]
            now = time.monotonic()
            if busy or (eligible and now > deadline):
                pid = self.rng.choice(busy or eligible)
                return pid, held.get(pid, 0)
            if now > patience:
                return None
            await asyncio.sleep(0.05)

    async def _kill(self) -> None:
        victim = await self._victim(spare=False)
        if victim is None:
            return
        pid, held = victim
        self.fleet.kill(pid)
        self.done.kills += 1
        self.done.held_by_killed += held
        self.note(f"SIGKILL worker {pid} holding {held} pending entries")
        self.fleet.fill()

    async def _stop(self) -> None:
        # The victim's entries are read right before the SIGSTOP: one chosen as busy may have
        # finished them meanwhile, and a stop of a worker holding nothing proves nothing.
        deadline = time.monotonic() + SPARE_WAIT
        while True:
            victim = await self._victim(spare=True)
            if victim is None:
                self.note("no stop: no second worker is up to take entries over")
                return
            pid, _held = victim
            entries = await self._patiently(partial(self._entries_of, pid))
            if entries or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        if not self.fleet.stop(pid):
            self.note(f"no stop: worker {pid} is gone")
            return
        self.done.stops += 1
        self.done.held_by_stopped += len(entries)
        held = f"{len(entries)} pending entries{_by_stage(entries)}"
        self.note(f"SIGSTOP worker {pid} holding {held}")
        await self._resume_later(pid, entries)

    async def _entries_of(self, pid: int) -> set[str]:
        return await entries_of(self.redis, self.keys, self.stages, pid)

    async def _resume_later(self, pid: int, entries: set[str]) -> None:
        """SIGCONT after ``stop_seconds`` once the others took its entries over (or gave up)."""
        stopped = time.monotonic()
        config = self.config
        # Normally a reclaimer takes them a moment after the visibility timeout; on a
        # crowded machine, only once a replacement worker has started.
        give_up = stopped + config.stop_seconds + max(45.0, 10 * config.visibility_timeout)
        await asyncio.sleep(config.stop_seconds)
        still = entries
        while still and time.monotonic() < give_up:
            with contextlib.suppress(*REDIS_DOWN):
                still = entries & await entries_of(self.redis, self.keys, self.stages, pid)
            await asyncio.sleep(TICK)
        self.fleet.resume(pid)
        self.done.taken_over += len(entries - still)
        self.done.stopped_seconds += time.monotonic() - stopped
        taken = len(entries - still)
        self.note(f"SIGCONT worker {pid}: {taken} of its entries were taken over{_by_stage(still)}")

    def _restart_redis(self, *, crash: bool) -> None:
        how = "crash (SIGKILL)" if crash else "clean stop"
        down = self.servers.restart_redis(crash=crash)
        self.done.redis_restarts += 1
        self.note(f"Redis restarted after a {how}: down {down:.1f} s")

    def _restart_postgres(self, *, crash: bool) -> None:
        how = "crash (SIGKILL)" if crash else "fast stop"
        down = self.servers.restart_postgres(crash=crash)
        self.done.postgres_restarts += 1
        self.note(f"PostgreSQL restarted after a {how}: down {down:.1f} s")

    async def finish(self, timeout: float) -> str | None:
        """Wait for every batch to complete; returns what is stuck if they do not in time."""
        await asyncio.gather(*self.strikes)
        client = Client(self.redis, self.keys)
        deadline = time.monotonic() + timeout
        said = 0.0
        while time.monotonic() < deadline:
            self.tick()
            try:
                statuses = [await client.status(b, with_states=False) for b in self.expected]
            except REDIS_DOWN:
                statuses = []
            if statuses and all(s is not None and s.completed for s in statuses):
                self.note("every batch completed")
                return None
            if statuses and time.monotonic() - said > PROGRESS_EVERY:
                said = time.monotonic()
                finished = sum(s.done + s.failed for s in statuses if s is not None)
                total = sum(len(docs) for docs in self.expected.values())
                self.note(f"waiting for the batches: {finished} of {total} documents finished")
            await asyncio.sleep(TICK)
        return await describe_stuck(
            self.redis, self.keys, self.stages, list(self.expected), set(self.fleet.members)
        )

    async def audit(self) -> Audit:
        """Check the guarantees (after the workers stopped)."""
        expected = Expected(self.expected, self.stages)
        audit = await audit_redis(self.redis, self.keys, expected)
        if self.servers.database_url is not None:
            await audit_postgres(self.servers.database_url, expected, audit)
        return audit


def _by_stage(entries: set[str]) -> str:
    """`` (ocr 2, chunk 1)`` for entries named ``stage/id``; '' for none."""
    counts = Counter(entry.split("/", 1)[0] for entry in entries)
    return f" ({', '.join(f'{s} {n}' for s, n in counts.items())})" if counts else ""


async def run_chaos(config: ChaosConfig, root: Path, say: Say = print) -> Report:
    """Run ``config`` with its files under ``root``; returns the figures and problems."""
    begun = time.monotonic()
    with private_servers(root / "servers", postgres=config.postgres) as servers:
        chaos = Chaos(config, servers, root, say)
        try:
            await chaos.play()
            stuck = await chaos.finish(config.timeout)
        finally:
            chaos.fleet.shutdown()
        audit = await chaos.audit()
        await chaos.redis.aclose()
    if stuck is not None:
        audit.problems.insert(0, f"batches did not complete within {config.timeout:g} s: {stuck}")
    report = Report(
        chaos.mode,
        config.documents,
        config.batches,
        config.workers,
        config.seed,
        chaos.done,
        audit,
    )
    report.elapsed = time.monotonic() - begun
    return report
