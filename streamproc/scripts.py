"""Typed wrappers around the Lua scripts in ``lua/``, one per atomic operation.

Scripts are loaded once (SCRIPT LOAD) and called by EVALSHA; a server that
lost its script cache (a restart) answers NOSCRIPT, and the calls it refused
(only those) are loaded and sent again. Each script's header documents its
KEYS, ARGV and return value; a test checks that every file has a wrapper.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, partial
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from streamproc.config import DEFAULT_BATCH_RETENTION
from streamproc.keys import Keys
from streamproc.lane import Lane

SCRIPT_NAMES = (
    "handoff",
    "retry",
    "dead_letter",
    "promote",
    "renew",
    "claim",
    "enqueue",
    "seal",
    "token_bucket",
    "redrive",
    "reap",
    "drop_batch",
    "breaker",
)
_INCLUDE = re.compile(r"^--!include (\S+)$", re.MULTILINE)
Arg = str | bytes | int
DEFAULT_BATCH_RETENTION_MS = int(DEFAULT_BATCH_RETENTION.total_seconds() * 1000)


def script_dir() -> Traversable:
    """The ``lua`` folder: inside the installed package, or beside it in a checkout."""
    packaged = resources.files("streamproc").joinpath("lua")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "lua"


@cache
def script_source(name: str) -> str:
    """The text of script ``name`` with its ``--!include`` lines expanded."""
    folder = script_dir()
    text = folder.joinpath(f"{name}.lua").read_text("utf-8")
    return _INCLUDE.sub(lambda m: folder.joinpath("lib", m.group(1)).read_text("utf-8"), text)


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One prepared EVALSHA: which script, its KEYS and its ARGV."""

    name: str
    keys: list[str]
    args: list[Arg]


@dataclass(frozen=True, slots=True)
class Finished:
    """A message to hand off: its id, document, batch and the next stage's fields."""

    id: str
    doc: str
    batch: str
    fields: Sequence[str | bytes]


class Scripts:
    """Prepares and runs the scripts against one Redis connection pool."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._sha = {name: _sha1(script_source(name)) for name in SCRIPT_NAMES}

    async def load(self) -> None:
        """Load every script into the server's cache."""
        pipe = self.redis.pipeline(transaction=False)
        for name in SCRIPT_NAMES:
            pipe.script_load(script_source(name))
        await pipe.execute()

    async def call(self, call: ScriptCall) -> Any:
        """Run one script call."""
        return (await self.run([call]))[0]

    async def run(self, calls: Sequence[ScriptCall], *, lane: Lane | None = None) -> list[Any]:
        """Run many calls in one round trip (on ``lane`` when given); returns their results
        in order, raising the first error reply."""
        results = await self.run_each(calls, lane=lane)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    async def run_each(self, calls: Sequence[ScriptCall], *, lane: Lane | None = None) -> list[Any]:
        """Like :meth:`run`, but an error reply comes back in its call's place, so the
        caller can tell the calls that ran from those that did not. A call the server
        answered NOSCRIPT (it lost its script cache) is loaded and sent again; calls that
        ran are not, since running some of them twice is not harmless (a token taken
        twice)."""
        send = self._send if lane is None else partial(self._send_on, lane)
        results = await send(calls)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            await self.load()
            again = await send([calls[i] for i in missing])
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        return results

    async def _send(self, calls: Sequence[ScriptCall]) -> list[Any]:
        if len(calls) == 1:  # most flushes at low rates: no pipeline to build
            c = calls[0]
            try:
                return [await self.redis.evalsha(self._sha[c.name], len(c.keys), *c.keys, *c.args)]
            except ResponseError as exc:  # NoScriptError included: run() reloads and resends
                return [exc]
        pipe = self.redis.pipeline(transaction=False)
        for c in calls:
            pipe.evalsha(self._sha[c.name], len(c.keys), *c.keys, *c.args)
        return list(await pipe.execute(raise_on_error=False))

    async def _send_on(self, lane: Lane, calls: Sequence[ScriptCall]) -> list[Any]:
        sha = self._sha
        return await lane.call_many(
            [("EVALSHA", sha[c.name], len(c.keys), *c.keys, *c.args) for c in calls]
        )

    def handoff(
        self, *, stage: str, next_stage: str | None, group: str, items: Sequence[Finished], now: int
    ) -> ScriptCall:
        """XACK each item; forward it (or count it done) only where XACK removed it."""
        k = self.keys
        out = k.stream(next_stage) if next_stage else k.events
        keys = [k.stream(stage), out, k.events, k.open_batches, k.completed_batches]
        slots: dict[str, int] = {}
        body: list[Arg] = []
        for item in items:
            slot = slots.setdefault(item.batch, len(slots) + 1) if item.batch else 0
            body.append(f"{item.id}\x1f{slot}\x1f{len(item.fields)}\x1f{item.doc}")
            body += item.fields
        for batch in slots:
            keys += [k.batch(batch), k.batch_documents(batch)]
        args: list[Arg] = [group, stage, next_stage or "", now, len(slots), *slots]
        return ScriptCall("handoff", keys, [*args, len(items), *body])

    def retry(
        self,
        *,
        stage: str,
        group: str,
        id: str,
        doc: str,
        batch: str,
        fields: Sequence[str | bytes],
        delay_ms: int,
        counter: str,
        state: str,
        now: int | None = None,
    ) -> ScriptCall:
        """XACK the message and schedule ``fields`` to re-enter the stage ``delay_ms`` after
        ``now`` (default: the server's clock)."""
        k = self.keys
        member = orjson.dumps([f.decode() if isinstance(f, bytes) else f for f in fields])
        keys = [k.stream(stage), k.delayed(stage), k.batch(batch), k.batch_documents(batch)]
        args: list[Arg] = [
            group,
            id,
            delay_ms,
            member,
            batch,
            doc,
            counter,
            state,
            stage,
            _when(now),
        ]
        return ScriptCall("retry", keys, args)

    def dead_letter(
        self,
        *,
        stage: str,
        group: str,
        id: str,
        doc: str,
        batch: str,
        entry: Sequence[str | bytes],
        now: int,
    ) -> ScriptCall:
        """XACK the message and write ``entry`` to the stage's dead-letter stream."""
        k = self.keys
        keys = [
            k.stream(stage),
            k.dead_letters(stage),
            k.events,
            k.open_batches,
            k.batch(batch),
            k.batch_documents(batch),
            k.completed_batches,
        ]
        return ScriptCall("dead_letter", keys, [group, id, batch, doc, stage, now, *entry])

    def promote(self, *, stage: str, now: int | None = None, limit: int = 500) -> ScriptCall:
        """Move the stage's entries due at ``now`` (default: the server's clock) back into its
        stream; returns how many moved and the milliseconds until the next is due (-1: none)."""
        return ScriptCall(
            "promote", [self.keys.delayed(stage), self.keys.stream(stage)], [_when(now), limit]
        )

    def renew(self, *, stage: str, group: str, consumer: str, ids: Sequence[str]) -> ScriptCall:
        """Reset the idle time of those ``ids`` still pending for ``consumer``."""
        args: list[Arg] = [group, consumer, *ids]
        return ScriptCall("renew", [self.keys.stream(stage)], args)

    def claim(
        self,
        *,
        stage: str,
        group: str,
        consumer: str,
        min_idle_ms: int,
        cursor: str,
        count: int,
        now: int,
    ) -> ScriptCall:
        """Take over idle entries (JUSTID: no delivery counted); returns their counts, and
        dead-letters entries deleted from the stream while pending."""
        args: list[Arg] = [group, consumer, min_idle_ms, cursor, count, stage, now]
        keys = [self.keys.stream(stage), self.keys.dead_letters(stage)]
        return ScriptCall("claim", keys, args)

    def reap(self, *, stream: str, group: str, consumer: str, min_idle_ms: int) -> ScriptCall:
        """Delete ``consumer`` from ``group`` only if it holds nothing and is idle enough."""
        return ScriptCall("reap", [stream], [group, consumer, min_idle_ms])

    def enqueue(
        self,
        *,
        stage: str,
        batch: str,
        docs: Sequence[tuple[str, Sequence[str | bytes]]],
        now: int,
        retention_ms: int = DEFAULT_BATCH_RETENTION_MS,
    ) -> ScriptCall:
        """Queue documents of ``batch`` on ``stage``, skipping ones already in the batch;
        returns a 1 (queued) or 0 (already there) per document."""
        k = self.keys
        keys = [k.stream(stage), *self._batch_keys(batch)]
        body: list[Arg] = []
        for doc, fields in docs:
            body += [doc, len(fields), *fields]
        args: list[Arg] = [batch, now, f"queued:{stage}", retention_ms, len(docs), *body]
        return ScriptCall("enqueue", keys, args)

    def seal(
        self,
        *,
        batch: str,
        docs: Sequence[str],
        now: int,
        retention_ms: int = DEFAULT_BATCH_RETENTION_MS,
    ) -> ScriptCall:
        """Seal the submitter's ``docs``; once none of the batch's are unsealed, fix its total
        and complete it if already finished. Returns {submitted, unsealed left, completed}."""
        k = self.keys
        keys = [k.batch(batch), k.batch_documents(batch), k.events, *self._batch_keys(batch)[2:]]
        return ScriptCall("seal", keys, [batch, now, retention_ms, *docs])

    def _batch_keys(self, batch: str) -> list[str]:
        k = self.keys
        return [
            k.batch(batch),
            k.batch_documents(batch),
            k.open_batches,
            k.completed_batches,
            k.batch_unsealed(batch),
        ]

    def redrive(
        self,
        *,
        stage: str,
        entry_id: str,
        doc: str,
        batch: str,
        fields: Sequence[str | bytes],
        now: int,
    ) -> ScriptCall:
        """Delete dead letter ``entry_id`` and, only if it was there, re-inject ``fields``."""
        k = self.keys
        keys = [
            k.dead_letters(stage),
            k.stream(stage),
            k.batch(batch),
            k.batch_documents(batch),
            k.open_batches,
            k.completed_batches,
        ]
        return ScriptCall("redrive", keys, [entry_id, batch, doc, stage, now, *fields])

    def drop_batch(self, *, batch: str, force: bool) -> ScriptCall:
        """Delete the batch's keys unless it is open with documents in progress (or forced)."""
        k = self.keys
        keys = [
            k.batch(batch),
            k.batch_documents(batch),
            k.batch_unsealed(batch),
            k.open_batches,
            k.completed_batches,
        ]
        return ScriptCall("drop_batch", keys, [batch, "1" if force else "0"])

    def token_bucket(
        self,
        *,
        name: str,
        request_capacity: float,
        requests_per_minute: float,
        token_capacity: float,
        tokens_per_minute: float,
        requests: float,
        tokens: float,
        mode: str = "take",
        now: int | None = None,
    ) -> ScriptCall:
        """Take (or force, or hold) requests and tokens from the rate limit ``name``."""
        rates = (request_capacity, requests_per_minute, token_capacity, tokens_per_minute)
        args: list[Arg] = [*map(repr, map(float, rates)), repr(float(requests))]
        args += [repr(float(tokens)), mode, "" if now is None else now]
        return ScriptCall("token_bucket", [self.keys.rate_limit(name)], args)

    def breaker(
        self,
        *,
        dependency: str,
        event: str,
        threshold: int,
        open_ms: int,
        failures: int = 0,
        error: str = "",
    ) -> ScriptCall:
        """One step of ``dependency``'s breaker: ``event`` is 'check', 'fail' (``failures``
        more, the last with ``error``) or 'succeed'; returns its state, failures, ms until
        it half-opens, the transition made ('' for none) and whether the caller holds the
        probe."""
        args: list[Arg] = [event, threshold, open_ms, failures, error[:500]]
        return ScriptCall("breaker", [self.keys.breaker(dependency)], args)


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _when(now: int | None) -> Arg:
    """A script's ``now`` argument: the caller's clock, or '' for the server's TIME."""
    return "" if now is None else now
