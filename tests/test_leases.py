"""A worker stalled past the visibility timeout does not write over its successor's results."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import pytest
from redis.asyncio import Redis

from consumers.model import EntityType, Mention
from consumers.storage.db import Pool, transaction
from consumers.storage.documents import get_document, register_document
from consumers.storage.entities import insert_entities
from consumers.storage.mentions import assign_entities, load_mentions, save_mentions
from consumers.storage.records import NewDocument, NewEntity, StoredMention, document_id, mention_id
from consumers.storage.relationships import save_relationships
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.errors import LeaseLost
from streamproc.keys import Keys
from streamproc.stage import Context, Pipeline, Stage
from streamproc.testing import Probe, noop
from streamproc.worker import Worker

SHA = "ef" * 32
DOC = document_id(SHA)


async def held() -> bool:
    return True


async def taken() -> bool:
    return False


async def test_handler_whose_message_was_taken_over_is_let_go_without_any_outcome(
    make_settings: Callable[..., Settings], redis: Redis
) -> None:
    settings = make_settings(visibility_timeout=60.0)
    keys = Keys(settings.prefix)
    entered, release = asyncio.Event(), asyncio.Event()
    answers: list[bool] = []

    async def stalled(msg: Probe, ctx: Context) -> None:
        answers.append(await ctx.holds())
        entered.set()
        await release.wait()
        answers.append(await ctx.holds())
        if not answers[-1]:
            raise LeaseLost("taken over while stalled")

    pipeline = Pipeline((Stage("s1", Probe, stalled, next="s2"), Stage("s2", Probe, noop)))
    await Client(redis, keys).submit("s1", [("doc1", Probe(seq=1))], batch="B")
    worker = Worker(pipeline, pipeline.select(["s1"]), settings, redis)
    running = asyncio.create_task(worker.run())
    async with asyncio.timeout(30):
        await entered.wait()
        entries = await redis.xrange(keys.stream("s1"))
        [entry] = cast(list[tuple[bytes, dict[bytes, bytes]]], entries)
        # What a live worker's reclaimer does once the stalled one's lease expired.
        await redis.xclaim(keys.stream("s1"), "s1", "successor", 0, [entry[0]], justid=True)
        release.set()
        while worker.runners[0].inflight:
            await asyncio.sleep(0.01)
        worker.stop()
        report = await running

    assert answers == [True, False]
    assert report.counts == {"s1": {"duplicate": 1}}
    [pending] = await redis.xpending_range(keys.stream("s1"), "s1", "-", "+", 10)
    assert (pending["message_id"], pending["consumer"]) == (entry[0], b"successor")
    assert await redis.xlen(keys.stream("s2")) == 0
    assert await redis.zcard(keys.delayed("s1")) == 0
    assert await redis.exists(keys.dead_letters("s1")) == 0
    status = await Client(redis, keys).status("B")
    assert status is not None and status.states == {"queued:s1": 1}


async def test_stage_write_of_a_message_taken_over_changes_nothing(pg_pool: Pool) -> None:
    await register_document(
        pg_pool, "B", NewDocument(DOC, SHA, "order.pdf", "pdf", 10, f"originals/{SHA}")
    )
    court = Mention(EntityType.COURT, "Supreme Court", 0, 13)
    found = StoredMention(mention_id(DOC, "COURT", 0, 13), court, 1, "test-1")
    await save_mentions(pg_pool, DOC, [found], holds=held)
    async with transaction(pg_pool) as conn:
        await insert_entities(conn, [NewEntity("e1", "COURT", "supreme court", court.text, "C:s")])
    await assign_entities(pg_pool, DOC, {found.id: "e1"}, holds=held)
    await save_relationships(pg_pool, DOC, [], holds=held)

    with pytest.raises(LeaseLost, match=DOC):
        await save_mentions(pg_pool, DOC, [found], holds=taken)

    assert await load_mentions(pg_pool, DOC) == [(found.id, court, "e1")]
    record = await get_document(pg_pool, DOC)
    assert record is not None and (record.status, record.stage) == ("done", "relationships")
