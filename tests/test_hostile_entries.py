"""Random and malformed stream entries fed to a live stage never crash its reader."""

from __future__ import annotations

import asyncio
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from streamproc.config import Settings
from streamproc.keys import Keys
from streamproc.testing import chain
from streamproc.worker import Worker

FIELD_NAMES = st.one_of(
    st.sampled_from([b"d", b"b", b"a", b"t", b"e", b"p", b"r"]), st.binary(max_size=8)
)
FIELD_VALUES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [b"{}", b'{"seq": 1}', b"{not json", b"-1", b"99999999999999999999", b"\xff\xfe"]
    ),
)
ENTRIES = st.lists(
    st.dictionaries(FIELD_NAMES, FIELD_VALUES, min_size=1, max_size=8), min_size=1, max_size=25
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(entries=ENTRIES)
async def test_random_field_maps_end_acknowledged_processed_or_dead_lettered(
    make_settings, redis: Redis, entries: list[dict[bytes, bytes]]
) -> None:  # type: ignore[no-untyped-def]
    engine: Settings = make_settings(prefix="h" + uuid.uuid4().hex[:12], max_attempts=1)
    keys = Keys(engine.prefix)
    for fields in entries:
        await redis.xadd(keys.stream("s1"), fields)  # type: ignore[arg-type]
    pipeline = chain(1)
    async with asyncio.timeout(60):
        report = await Worker(pipeline, pipeline.stages, engine, redis).run(drain=True)
    counts = report.counts["s1"]
    assert sum(counts.values()) == len(entries)
    # "skipped": a "g" field addressed it to another consumer group, which runs it
    assert set(counts) <= {"done", "dead_lettered", "skipped"}
    assert (await redis.xpending(keys.stream("s1"), "s1"))["pending"] == 0
    assert await redis.xlen(keys.dead_letters("s1")) == counts.get("dead_lettered", 0)
