"""The whole corpus, plus one bad input of every kind, through every stage in one batch."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from fpdf import FPDF
from redis.asyncio import Redis

from consumers.intake import submit_paths
from consumers.pipeline import PIPELINE
from consumers.resources import open_resources
from consumers.samples import court_order_pdf
from consumers.settings import load_pipeline_settings
from consumers.storage.db import transaction
from consumers.storage.records import document_id
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.keys import Keys
from streamproc.worker import Worker

from corpus import manifest

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.parametrize("redis_server", ["system"], indirect=True),
]

MAX_BYTES = 4 * 2**20
UNSUPPORTED = {".doc": "Word 97", ".wpd": "WordPerfect"}
BAD = {  # file made at test time -> what its dead letter must say
    "empty.pdf": "empty",
    "sealed.pdf": "remove the password",
    "cut.pdf": "truncated",
    "huge.pdf": "limit",
}


def sealed_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Order under seal")
    pdf.set_encryption(owner_password="clerk", user_password="secret")
    return bytes(pdf.output())


@pytest.fixture
def inbox(corpus_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "inbox"
    root.mkdir()
    for entry in manifest():
        shutil.copy(corpus_dir / entry["name"], root / entry["name"])
    (root / "order_saved_as.txt").write_bytes(court_order_pdf())  # mislabelled: still a PDF
    opinion = (
        corpus_dir / "doctor__ca5_st_pierre_v_standard_insurance_21-50498_opinion.pdf"
    ).read_bytes()
    (root / "empty.pdf").write_bytes(b"")
    (root / "sealed.pdf").write_bytes(sealed_pdf())
    (root / "cut.pdf").write_bytes(opinion[: len(opinion) // 3])
    (root / "huge.pdf").write_bytes(b"%PDF-1.7\n" + b"0" * (MAX_BYTES + 1))
    return root


async def test_every_corpus_document_and_every_bad_input_ends_where_it_should(
    make_settings, database_url: str, redis: Redis, inbox: Path
) -> None:  # type: ignore[no-untyped-def]
    engine: Settings = make_settings(database_url=database_url, handler_timeout=600.0)
    keys = Keys(engine.prefix)
    entries = manifest()
    good = [e for e in entries if Path(e["name"]).suffix not in UNSUPPORTED]
    async with open_resources(engine, load_pipeline_settings(max_bytes=MAX_BYTES)) as res:
        result = await submit_paths([inbox], resources=res, client=Client(redis, keys), batch="ALL")
        assert result.total == len(entries) + 1 + len(BAD)
        async with asyncio.timeout(600):
            report = await Worker(PIPELINE, PIPELINE.stages, engine, redis).run(drain=True)
        async with transaction(res.pool) as conn:
            rows = {
                r["id"]: r for r in await conn.fetch("SELECT id, status, page_count FROM documents")
            }
            mention_ids = [r["id"] for r in await conn.fetch("SELECT id FROM mentions")]

    done = len(good) + 1
    failed = len(entries) - len(good) + len(BAD)
    assert report.counts["ocr"] == {"done": done, "dead_lettered": failed}
    for stage in ("chunk", "entities", "resolve", "relationships"):
        assert report.counts[stage] == {"done": done}, stage
    status = await Client(redis, keys).status("ALL")
    assert status is not None
    assert (status.done, status.failed, status.completed) == (done, failed, True)
    completions = [
        f for _, f in await redis.xrange(keys.events) if f[b"type"] == b"batch_completed"
    ]
    assert len(completions) == 1

    for e in good:
        row = rows[document_id(e["sha256"])]
        assert row["status"] == "done", e["name"]
        if e["format"] == "PDF":
            assert row["page_count"] == e["pages"], e["name"]
    assert len(mention_ids) == len(set(mention_ids)) > 1000

    by_source = {Path(f.source).name: f.document_id for f in result.files}
    letters = {
        f[b"doc"].decode(): f[b"error"].decode()
        for _, f in await redis.xrange(keys.dead_letters("ocr"))
    }
    expected = dict(BAD) | {
        e["name"]: UNSUPPORTED[Path(e["name"]).suffix] for e in entries if e not in good
    }
    assert sorted(letters) == sorted(by_source[n] for n in expected)
    for name, why in expected.items():
        assert why.lower() in letters[by_source[name]].lower(), (name, letters[by_source[name]])
