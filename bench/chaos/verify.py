"""After the run: the guarantees, checked by reading Redis and PostgreSQL directly.

- Every document is accounted for: its state in its batch is ``done``, or
  ``failed:<stage>`` with a dead letter giving the reason; only the documents
  made bad on purpose may be dead-lettered.
- None was forwarded twice. An entry of a stage's stream history is a
  handoff into that stage (or, on the first stage, a submission), or an entry
  the stage re-queued itself (a retry or deferral, addressed to its group in
  field ``g``), or a replay or redrive (marked ``r``). So the entries with
  neither ``g`` nor ``r`` are the handoffs, and each document must have
  exactly one per stage it reached. The batches' ``passed:<stage>`` counters
  must agree.
- Every batch completed exactly once: one ``batch_completed`` event each.
- Nothing is left over: no pending entry, delayed retry or unread entry.

The rows in PostgreSQL are checked by ``bench.chaos.tables``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from streamproc.connections import text
from streamproc.keys import Keys

Fields = dict[bytes, bytes]
PAGE = 1000


@dataclass
class Audit:
    """What the checks found; ``problems`` names every broken guarantee."""

    completed: int = 0
    dead_lettered: int = 0
    lost: int = 0
    duplicated_forwards: int = 0
    batch_completions: int = 0
    leftover: int = 0
    duplicate_rows: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, message: str) -> None:
        """Record a broken guarantee (the first hundred are kept word for word)."""
        if len(self.problems) < 100:
            self.problems.append(message)


@dataclass(frozen=True, slots=True)
class Expected:
    """What was submitted: batch -> document -> template, and the pipeline's stages."""

    batches: dict[str, dict[str, str]]
    stages: list[str]

    def documents(self) -> dict[str, str]:
        """Every submitted document -> its template."""
        return {doc: t for docs in self.batches.values() for doc, t in docs.items()}


async def audit_redis(redis: Redis, keys: Keys, expected: Expected) -> Audit:
    """Accounting, handoffs, batch completions and leftovers, from Redis alone."""
    audit = Audit()
    states = await _states(redis, keys, expected, audit)
    letters = await _letters(redis, keys, expected, audit)
    _account(audit, expected, states, letters)
    reached = _reached(states, expected.stages)
    for i, stage in enumerate(expected.stages):
        await _count_handoffs(redis, keys, stage, reached[i], audit)
    await _check_counters(redis, keys, expected, states, audit)
    await _check_completions(redis, keys, expected, audit)
    await _check_leftovers(redis, keys, expected.stages, audit)
    return audit


async def _states(redis: Redis, keys: Keys, expected: Expected, audit: Audit) -> dict[str, str]:
    states: dict[str, str] = {}
    for batch, docs in expected.batches.items():
        got = await _hash(redis, keys.batch_documents(batch))
        for stray in sorted(set(got) - set(docs))[:10]:
            audit.problem(f"batch {batch} holds {stray}, which was never submitted to it")
        states.update({doc: got.get(doc, "missing") for doc in docs})
    return states


async def _letters(
    redis: Redis, keys: Keys, expected: Expected, audit: Audit
) -> dict[str, list[dict[str, str]]]:
    letters: dict[str, list[dict[str, str]]] = defaultdict(list)
    known = expected.documents()
    for stage in expected.stages:
        async for _, fields in history(redis, keys.dead_letters(stage)):
            entry = {text(k): text(v) for k, v in fields.items() if k != b"traceback"}
            if entry.get("doc") not in known:
                audit.problem(f"dead letter at {stage} for unknown document {entry.get('doc')}")
            letters[entry.get("doc", "")].append(entry)
    return letters


def _account(
    audit: Audit,
    expected: Expected,
    states: dict[str, str],
    letters: dict[str, list[dict[str, str]]],
) -> None:
    for doc, template in expected.documents().items():
        state, mine = states[doc], letters.get(doc, [])
        if len(mine) > 1:
            audit.duplicated_forwards += len(mine) - 1
            audit.problem(f"{doc} was dead-lettered {len(mine)} times")
        if state == "done":
            audit.completed += 1
            if template == "bad":
                audit.problem(f"{doc} was made unreadable but completed")
            if mine:
                audit.problem(f"{doc} completed and was also dead-lettered at {mine[0]['stage']}")
        elif state.startswith("failed:") and any(_explains(e, state) for e in mine):
            audit.dead_lettered += 1
            if template != "bad":
                e = mine[0]
                audit.problem(
                    f"{doc} ({template}) was dead-lettered at {e['stage']}: "
                    f"{e['reason']}: {e['error_class']}: {e['error'][:200]}"
                )
        else:
            audit.lost += 1
            audit.problem(f"{doc} ({template}) is lost: its state is {state!r}, no dead letter")


def _explains(letter: dict[str, str], state: str) -> bool:
    return state == f"failed:{letter.get('stage')}" and bool(letter.get("reason"))


def _reached(states: dict[str, str], stages: list[str]) -> list[set[str]]:
    """For each stage, the documents that must have been handed to it exactly once."""
    reached: list[set[str]] = [set() for _ in stages]
    for doc, state in states.items():
        if state == "done":
            last = len(stages) - 1
        elif state.startswith("failed:") and state[7:] in stages:
            last = stages.index(state[7:])
        else:
            continue
        for i in range(last + 1):
            reached[i].add(doc)
    return reached


async def _count_handoffs(
    redis: Redis, keys: Keys, stage: str, reached: set[str], audit: Audit
) -> None:
    handoffs: Counter[str] = Counter()
    async for _, fields in history(redis, keys.stream(stage)):
        if b"g" not in fields and b"r" not in fields:
            handoffs[fields[b"d"].decode()] += 1
    for doc, n in sorted(handoffs.items()):
        if n > 1:
            audit.duplicated_forwards += n - 1
            audit.problem(f"{doc} was handed to {stage} {n} times")
        if doc not in reached:
            audit.problem(f"{doc} was handed to {stage}, but its state says it never got there")
    for doc in sorted(reached - set(handoffs))[:10]:
        audit.problem(f"{doc} got past {stage} without a handoff into it in the stream history")


async def _check_counters(
    redis: Redis, keys: Keys, expected: Expected, states: dict[str, str], audit: Audit
) -> None:
    stages = expected.stages
    for batch, docs in expected.batches.items():
        counters = await _hash(redis, keys.batch(batch))
        reached = _reached({d: states[d] for d in docs}, stages)
        for i, stage in enumerate(stages):
            passed = len(reached[i + 1]) if i + 1 < len(stages) else _count(states, docs, "done")
            said = int(counters.get(f"passed:{stage}", 0))
            if said != passed:
                audit.problem(f"batch {batch}: passed:{stage} is {said}, {passed} documents did")


def _count(states: dict[str, str], docs: dict[str, str], state: str) -> int:
    return sum(states[d] == state for d in docs)


async def _check_completions(redis: Redis, keys: Keys, expected: Expected, audit: Audit) -> None:
    seen: Counter[str] = Counter()
    async for _, fields in history(redis, keys.events):
        if fields.get(b"type") == b"batch_completed":
            seen[fields[b"batch"].decode()] += 1
    audit.batch_completions = sum(seen.values())
    for batch in expected.batches:
        if seen[batch] != 1:
            audit.problem(f"batch {batch} completed {seen[batch]} times, not once")


async def _check_leftovers(redis: Redis, keys: Keys, stages: list[str], audit: Audit) -> None:
    for stage in stages:
        stream = keys.stream(stage)
        try:
            pending = int((await redis.xpending(stream, stage))["pending"])
            group = next(g for g in await redis.xinfo_groups(stream) if text(g["name"]) == stage)
        except (ResponseError, StopIteration):
            continue  # nothing ever reached this stage
        info = await redis.xinfo_stream(stream)
        unread = text(group["last-delivered-id"]) != text(info["last-generated-id"])
        delayed = int(await redis.zcard(keys.delayed(stage)))
        if pending or delayed or unread:
            audit.leftover += pending + delayed + int(unread)
            audit.problem(
                f"{stage} still has {pending} pending, {delayed} delayed, "
                f"{'some' if unread else 'no'} unread entries"
            )


async def _hash(redis: Redis, key: str) -> dict[str, str]:
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(key)
    [raw] = await pipe.execute()
    return {text(k): text(v) for k, v in raw.items()}


async def history(redis: Redis, stream: str) -> AsyncIterator[tuple[bytes, Fields]]:
    """Every entry of ``stream``, oldest first, read a page at a time."""
    start = "-"
    while True:
        page = cast(
            list[tuple[bytes, Fields]], await redis.xrange(stream, min=start, max="+", count=PAGE)
        )
        for entry in page:
            yield entry
        if len(page) < PAGE:
            return
        start = "(" + page[-1][0].decode()
