"""Pipelines and helpers for testing and benchmarking the engine itself.

``chain(n)`` builds a pipeline of ``n`` stages whose handler does what each
message's :class:`Probe` payload asks: nothing, sleep, fail permanently, fail
until an attempt, kill its own process, or ignore its cancellation. With
``STREAMPROC_PROBE_LOG`` set, every handler call appends one line (stage,
document, attempt, pid) to that file, so tests can count calls across processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Literal

from pydantic import BaseModel

from streamproc.errors import PermanentError, RetryableError
from streamproc.stage import Context, Defer, Handler, Pipeline, Stage

Action = Literal["ok", "sleep", "permanent", "retryable", "kill", "poll", "stubborn"]


class Probe(BaseModel):
    """What the probe handler should do with this message."""

    seq: int = 0
    action: Action = "ok"
    seconds: float = 0.0
    until_attempt: int = 0
    at_stage: str | None = None
    polls: int = 0
    pad: str = ""


async def probe(msg: Probe, ctx: Context) -> Defer | None:
    """Do what ``msg`` asks; pass it on unchanged (or ask to be called again)."""
    _record(ctx)
    if msg.action == "ok" or (msg.at_stage is not None and msg.at_stage != ctx.stage):
        return None
    if msg.action == "sleep":
        await asyncio.sleep(msg.seconds)
    elif msg.action == "permanent":
        raise PermanentError(f"probe {msg.seq} refuses permanently")
    elif msg.action == "retryable" and ctx.attempt < msg.until_attempt:
        raise RetryableError(f"probe {msg.seq} fails on attempt {ctx.attempt}")
    elif msg.action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif msg.action == "poll" and msg.polls > 0:
        return Defer(msg.seconds, msg.model_copy(update={"polls": msg.polls - 1}))
    elif msg.action == "stubborn":
        await _ignore_one_cancellation(msg.seconds)
    return None


async def _ignore_one_cancellation(seconds: float) -> None:
    """Sleep ``seconds``; if cancelled, swallow it and sleep ``seconds`` more (a badly
    written handler: a second cancellation ends it)."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        await asyncio.sleep(seconds)


def _record(ctx: Context) -> None:
    path = os.environ.get("STREAMPROC_PROBE_LOG")
    if path:
        line = f"{ctx.stage} {ctx.doc} {ctx.attempt} {os.getpid()}\n".encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def _linear(n: int, handler: Handler[Probe]) -> Pipeline:
    names = [f"s{i}" for i in range(1, n + 1)]
    nexts: list[str | None] = [*names[1:], None]
    return Pipeline(
        tuple(
            Stage(name, Probe, handler, next=nxt, eager=True)
            for name, nxt in zip(names, nexts, strict=True)
        )
    )


def chain(n: int) -> Pipeline:
    """``n`` probe stages named s1..sn, each handing off to the next."""
    return _linear(n, probe)


async def noop(msg: Probe, ctx: Context) -> None:
    """Do nothing at all: the handler of the engine benchmarks."""


def noop_chain(n: int) -> Pipeline:
    """``n`` no-op stages named s1..sn."""
    return _linear(n, noop)


def one() -> Pipeline:
    """A one-stage probe pipeline."""
    return chain(1)


def three() -> Pipeline:
    """A three-stage probe pipeline."""
    return chain(3)


def read_probe_log(path: str) -> list[tuple[str, str, int, int]]:
    """The (stage, document, attempt, pid) lines the probe handler wrote."""
    rows = []
    with open(path) as fh:
        for line in fh:
            stage, doc, attempt, pid = line.split()
            rows.append((stage, doc, int(attempt), int(pid)))
    return rows
