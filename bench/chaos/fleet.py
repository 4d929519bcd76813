"""The worker processes of a chaos run, and who owns which pending entries.

Each worker is a real ``streamproc worker`` process serving every stage. The
fleet starts them, kills, stops and resumes them, starts a replacement for
each one killed, and notices any that exits on its own (it is replaced too,
and reported). A worker's consumer name is ``host-pid-random``, so Redis'
pending lists say which process holds which entry.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from streamproc.embedded.process import die_with_parent
from streamproc.keys import Keys

STOP_GRACE = 20.0
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


@dataclass
class Member:
    """One worker process and its log."""

    proc: subprocess.Popen[bytes]
    log: Path
    stopped: bool = False


@dataclass(frozen=True, slots=True)
class Exit:
    """A worker that exited without being told to: its pid, exit code and last log line."""

    pid: int
    code: int
    last_line: str


@dataclass
class Fleet:
    """``size`` worker processes started with ``command`` in ``env``; logs under ``logs``."""

    command: list[str]
    env: dict[str, str]
    logs: Path
    size: int
    members: dict[int, Member] = field(default_factory=dict)
    started: int = 0

    def start(self) -> int:
        """Start one more worker; returns its pid."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"worker-{self.started:03d}.log"
        self.started += 1
        with log.open("wb") as err:
            proc = subprocess.Popen(
                self.command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                preexec_fn=die_with_parent(signal.SIGKILL),  # noqa: PLW1509
            )
        self.members[proc.pid] = Member(proc, log)
        return proc.pid

    def fill(self) -> None:
        """Start workers until ``size`` are running (stopped ones count)."""
        while len(self.members) < self.size:
            self.start()

    def running(self) -> list[int]:
        """Pids of the workers that run and are not stopped."""
        return [pid for pid, m in self.members.items() if not m.stopped]

    def kill(self, pid: int) -> None:
        """SIGKILL a worker and reap it (its replacement is started by ``fill``)."""
        member = self.members.pop(pid)
        member.proc.kill()
        member.proc.wait()

    def stop(self, pid: int) -> bool:
        """Freeze a worker (SIGSTOP): it holds its entries but renews no lease.

        Returns False if it is gone already (killed, or exited and not yet reaped).
        """
        member = self.members.get(pid)
        if member is None or member.proc.poll() is not None:
            return False
        member.proc.send_signal(signal.SIGSTOP)
        member.stopped = True
        return True

    def resume(self, pid: int) -> None:
        """Let a frozen worker go on (SIGCONT)."""
        member = self.members.get(pid)
        if member is not None:
            member.proc.send_signal(signal.SIGCONT)
            member.stopped = False

    def reap(self) -> list[Exit]:
        """Workers that exited on their own since the last call (forgotten here)."""
        gone = [pid for pid, m in self.members.items() if m.proc.poll() is not None]
        exits = []
        for pid in gone:
            member = self.members.pop(pid)
            code = member.proc.returncode
            exits.append(Exit(pid, code, _last_line(member.log)))
        return exits

    def shutdown(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM every worker (resuming frozen ones first); SIGKILL those outliving ``grace``."""
        for pid, m in self.members.items():
            if m.stopped:
                self.resume(pid)
            if m.proc.poll() is None:
                m.proc.terminate()
        deadline = time.monotonic() + grace
        for m in self.members.values():
            try:
                m.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                m.proc.kill()
                m.proc.wait()
        self.members.clear()


def _last_line(log: Path) -> str:
    """The last exception a worker's log names (or its last line): why it exited."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    errors = [line for line in lines if _EXCEPTION.match(line)]
    return (errors or lines or [""])[-1][-300:]


def consumer_pid(name: bytes | str) -> int | None:
    """The pid in a worker's consumer name (``host-pid-random``), if it has one."""
    text = name.decode() if isinstance(name, bytes) else name
    parts = text.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


async def pending_by_pid(redis: Redis, keys: Keys, stages: list[str]) -> dict[int, int]:
    """How many pending entries each worker process owns, over every stage."""
    owned: dict[int, int] = {}
    for stage in stages:
        summary = await _summary(redis, keys.stream(stage), stage)
        for consumer in summary.get("consumers") or []:
            pid = consumer_pid(consumer["name"])
            if pid is not None:
                owned[pid] = owned.get(pid, 0) + int(consumer["pending"])
    return owned


async def entries_of(redis: Redis, keys: Keys, stages: list[str], pid: int) -> set[str]:
    """The pending entries (``stage/id``) owned by the worker ``pid``."""
    found: set[str] = set()
    for stage in stages:
        stream = keys.stream(stage)
        summary = await _summary(redis, stream, stage)
        for consumer in summary.get("consumers") or []:
            if consumer_pid(consumer["name"]) != pid:
                continue
            rows = await redis.xpending_range(
                stream, stage, "-", "+", int(consumer["pending"]), consumername=consumer["name"]
            )
            found |= {f"{stage}/{_text(r['message_id'])}" for r in rows}
    return found


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def ready_pids(redis: Redis, keys: Keys) -> set[int]:
    """Pids of the workers that have started serving (they write heartbeats)."""
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(keys.consumers)
    [records] = await pipe.execute()
    return {int(orjson.loads(record)["pid"]) for record in records.values()}


async def _summary(redis: Redis, stream: str, group: str) -> dict[str, Any]:
    try:
        summary: dict[str, Any] = await redis.xpending(stream, group)
    except ResponseError:  # no group yet: no worker has started reading
        return {}
    return summary
