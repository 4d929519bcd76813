"""The whole pipeline: corpus documents submitted, a worker drained over every stage."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from consumers.intake import SubmitResult, submit_paths
from consumers.pipeline import PIPELINE
from consumers.resources import Resources, lifespan
from consumers.stages.common import DocumentRef
from consumers.stages.ocr import OcrInput
from consumers.storage.db import transaction
from consumers.storage.export import export_documents
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.keys import Keys
from streamproc.stage import Context
from streamproc.worker import Report, Worker

# The engine's own tests cover both Redis versions; this one is about the stages.
pytestmark = pytest.mark.parametrize("redis_server", ["system"], indirect=True)

GOOD = [
    "doctor__ca10_in_re_liebowitz_21-800_order.pdf",
    "courtlistener__ca2_bainbridge_fund_v_argentina_25-1689_order.pdf",
    "xray__cod_berkshire_life_v_schubert_complaint_p1.pdf",
    "doctor__tn_wc_appeals_board_goodwin_v_morristown_SCANNED.pdf",
    "courtlistener__scotus_reagan_v_aiken_138us109.html",
    "courtlistener-cap__bankr_ndga_goger_v_us_in_re_eady_4br1.xml",
    "doctor__navy_discharge_review_board_decision.docx",
    "lexnlp__edgar_firstenergy_employment_letter_2004.txt",
]
BAD = {
    "doctor__ind_supreme_court_opinion_legacy.doc": "legacy Word 97-2003 .doc",
    "doctor__ind_supreme_court_johnson_v_state.wpd": "WordPerfect document (.wpd) is not supported",
    "corrupt.pdf": "PDF is truncated",
}
TABLES = ("documents", "batch_documents", "pages", "chunks", "mentions", "entities")


@pytest.fixture
def engine(make_settings, database_url: str) -> Settings:  # type: ignore[no-untyped-def]
    """Engine settings on this test's Redis prefix and database; the default local store."""
    return make_settings(database_url=database_url)  # type: ignore[no-any-return]


@pytest.fixture
async def resources(engine: Settings) -> AsyncIterator[Resources]:
    """The resources the pipeline's own lifespan builds, as intake and a worker share them."""
    async with lifespan(engine) as res:
        yield res


@pytest.fixture
def inbox(corpus_dir: Path, tmp_path: Path) -> Path:
    """The selected corpus files and a PDF cut short, in one directory."""
    root = tmp_path / "inbox"
    root.mkdir()
    for name in [*GOOD, *BAD]:
        if name != "corrupt.pdf":
            shutil.copy(corpus_dir / name, root / name)
    whole = (
        corpus_dir / "doctor__ca1_calvary_chapel_of_bangor_v_mills_20-1507_opinion.pdf"
    ).read_bytes()
    (root / "corrupt.pdf").write_bytes(whole[: len(whole) // 2])
    return root


async def drain(engine: Settings, redis: Redis) -> Report:
    worker = Worker(PIPELINE, PIPELINE.stages, engine, redis)
    async with asyncio.timeout(120):
        return await worker.run(drain=True)


async def snapshot(res: Resources) -> dict[str, list[tuple[str, ...]]]:
    found = {}
    async with transaction(res.pool) as conn:
        for table in (*TABLES, "relationships"):
            rows = await conn.fetch(f"SELECT * FROM {table}")
            found[table] = sorted(
                tuple(str(v) for k, v in r.items() if not k.endswith("_at")) for r in rows
            )
    return found


async def entries(redis: Redis, stream: str) -> list[dict[str, str]]:
    """A stream's entries as text fields."""
    found: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(stream)  # type: ignore[assignment]
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in found]


def ids(result: SubmitResult, names: Any) -> set[str]:
    return {f.document_id for f in result.files if Path(f.source).name in names}


async def test_a_mixed_batch_flows_through_every_stage_and_replays_without_new_rows(
    engine: Settings, redis: Redis, resources: Resources, inbox: Path
) -> None:
    keys = Keys(engine.prefix)
    client = Client(redis, keys)
    result = await submit_paths([inbox], resources=resources, client=client, batch="E2E")
    assert (result.total, result.queued, result.duplicates) == (11, 11, 0)

    report = await drain(engine, redis)

    good, bad = len(GOOD), len(BAD)
    assert report.counts["ocr"] == {"done": good, "dead_lettered": bad}
    for stage in ("chunk", "entities", "resolve", "relationships"):
        assert report.counts[stage] == {"done": good}
    status = await client.status("E2E")
    assert status is not None
    assert (status.total, status.done, status.failed, status.completed) == (11, good, bad, True)
    events = [f for f in await entries(redis, keys.events) if f["type"] == "batch_completed"]
    assert [f["batch"] for f in events] == ["E2E"]

    dead = {f["doc"]: f["error"] for f in await entries(redis, keys.dead_letters("ocr"))}
    by_name = {Path(f.source).name: f.document_id for f in result.files}
    assert set(dead) == ids(result, BAD)
    for name, reason in BAD.items():
        assert reason in dead[by_name[name]] and name in dead[by_name[name]]

    exported = {d["document_id"]: d async for d in export_documents(resources.pool, "E2E")}
    assert {i for i, d in exported.items() if d["status"] == "done"} == ids(result, GOOD)
    assert {i for i, d in exported.items() if d["status"] == "failed"} == ids(result, BAD)
    for i in ids(result, BAD):
        assert exported[i]["error"] == f"ocr: {dead[i]}"
    assert all(exported[i]["pages"] >= 1 and exported[i]["entities"] for i in ids(result, GOOD))

    await replay_leaves_every_row_unchanged(engine, redis, resources, inbox, result)


async def replay_leaves_every_row_unchanged(
    engine: Settings, redis: Redis, resources: Resources, inbox: Path, result: SubmitResult
) -> None:
    keys = Keys(engine.prefix)
    before = await snapshot(resources)
    stream_lengths = [await redis.xlen(keys.stream(s.name)) for s in PIPELINE.stages]

    again = await submit_paths(
        [inbox], resources=resources, client=Client(redis, keys), batch="E2E"
    )
    assert [f.outcome for f in again.files] == ["duplicate"] * 11
    assert [await redis.xlen(keys.stream(s.name)) for s in PIPELINE.stages] == stream_lengths

    for doc in sorted(ids(result, GOOD)):
        for stage in PIPELINE.stages:
            msg = (OcrInput if stage.name == "ocr" else DocumentRef)(document_id=doc)
            ctx = Context(stage.name, "1-0", doc, "E2E", 0, "t", True, resources)
            await stage.handle(msg, ctx)
    assert await snapshot(resources) == before
