"""Each stage handler, run directly on corpus documents of every format, against PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest

from consumers.chunking import join_pages
from consumers.entities import OFFLINE_VERSION, extract_mentions
from consumers.graph.edges import build_edges
from consumers.intake import ingest
from consumers.model import EntityType, Mention
from consumers.resolve import canonical_id, normalize_name
from consumers.resources import Resources, open_resources
from consumers.settings import load_pipeline_settings
from consumers.sources import expand
from consumers.stages import chunk, entities, ocr, relationships, resolve
from consumers.stages.common import DocumentRef, recording_failures
from consumers.stages.extractors import make_extractor
from consumers.stages.ocr import OcrInput
from consumers.stages.resolve import resolve_document
from consumers.storage.content import load_chunks, load_page_spans, load_pages
from consumers.storage.db import Pool, connect, transaction
from consumers.storage.documents import get_document, register_document
from consumers.storage.mentions import load_mentions, load_resolved, save_mentions
from consumers.storage.records import NewDocument, StoredMention, document_id, mention_id
from streamproc.config import load_settings
from streamproc.errors import ConfigurationError, PermanentError, RetryableError
from streamproc.stage import Context, Stage

STAGES = (ocr.STAGE, chunk.STAGE, entities.STAGE, resolve.STAGE, relationships.STAGE)
TABLES = ("documents", "pages", "chunks", "mentions", "entities", "relationships")
CHUNK_SIZE, OVERLAP = 2000, 200

FORMATS = {
    "digital PDF": ("courtlistener__ca2_bainbridge_fund_v_argentina_25-1689_order.pdf", "pdf"),
    "scanned PDF": ("doctor__tn_wc_appeals_board_goodwin_v_morristown_SCANNED.pdf", "pdf"),
    "DOCX": ("doctor__navy_discharge_review_board_decision.docx", "docx"),
    "HTML": ("courtlistener__scotus_reagan_v_aiken_138us109.html", "html"),
    "XML": ("courtlistener-cap__bankr_ndga_goger_v_us_in_re_eady_4br1.xml", "xml"),
    "TXT": ("lexnlp__edgar_firstenergy_employment_letter_2004.txt", "text"),
}


@pytest.fixture
async def resources(database_url: str, tmp_path: Path) -> AsyncIterator[Resources]:
    """The pipeline's resources on this test's database and a store under tmp_path."""
    engine = load_settings(database_url=database_url, data_dir=tmp_path / "data", max_attempts=3)
    settings = load_pipeline_settings(
        store=(tmp_path / "objects").as_uri(), chunk_size=CHUNK_SIZE, chunk_overlap=OVERLAP
    )
    async with open_resources(engine, settings) as res:
        yield res


def manifest(corpus: Path, name: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = json.loads((corpus / "MANIFEST.json").read_text())
    return next(entry for entry in entries if entry["name"] == name)


def context(res: Resources, stage: str, doc: str, attempt: int = 0) -> Context:
    return Context(stage, "1-0", doc, "B", attempt, "trace", False, res)


async def submit(res: Resources, path: Path, batch: str = "B") -> str:
    [source] = await expand([path], None)
    return (await ingest(source, batch, res, None)).document_id


async def run(stage: Stage[Any], res: Resources, doc: str, attempt: int = 0) -> object:
    msg = (OcrInput if stage is ocr.STAGE else DocumentRef)(document_id=doc)
    return await stage.handle(msg, context(res, stage.name, doc, attempt))


async def run_all(res: Resources, doc: str) -> None:
    for stage in STAGES:
        await run(stage, res, doc)


async def snapshot(pool: Pool) -> dict[str, list[tuple[str, ...]]]:
    found = {}
    async with transaction(pool) as conn:
        for table in TABLES:
            records = await conn.fetch(f"SELECT * FROM {table}")
            found[table] = sorted(
                tuple(str(v) for k, v in r.items() if not k.endswith("_at")) for r in records
            )
    return found


async def document_text(res: Resources, doc: str) -> str:
    return join_pages(await load_pages(res.pool, doc))[0]


# -- every stage over every format ---------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
async def test_every_stage_stores_exact_results_and_a_replay_changes_no_row(
    resources: Resources, corpus_dir: Path, fmt: str
) -> None:
    name, kind = FORMATS[fmt]
    doc = await submit(resources, corpus_dir / name)
    assert doc == document_id(manifest(corpus_dir, name)["sha256"])
    await run_all(resources, doc)
    await check_pages(resources, doc, corpus_dir / name, kind)
    await check_chunks(resources, doc)
    await check_mentions(resources, doc)
    await check_entities(resources, doc)
    await check_relationships(resources, doc)
    record = await get_document(resources.pool, doc)
    assert record is not None and (record.status, record.stage, record.error) == (
        "done",
        "relationships",
        None,
    )
    first = await snapshot(resources.pool)
    await run_all(resources, doc)
    assert await snapshot(resources.pool) == first


async def check_pages(res: Resources, doc: str, path: Path, kind: str) -> None:
    pages = await load_pages(res.pool, doc)
    record = await get_document(res.pool, doc)
    assert record is not None and record.kind == kind
    if kind == "pdf":
        pdf = pdfium.PdfDocument(path)
        try:
            assert len(pages) == len(pdf)
        finally:
            pdf.close()
    assert [p.number for p in pages] == list(range(1, len(pages) + 1))
    assert all(p.text.strip() for p in pages)
    assert all(p.ocr for p in pages) == ("SCANNED" in path.name)
    text, spans = join_pages(pages)
    assert await load_page_spans(res.pool, doc) == spans
    async with transaction(res.pool) as conn:
        stored = await conn.fetchrow(
            "SELECT page_count, text_length FROM documents WHERE id = $1", doc
        )
    assert (stored["page_count"], stored["text_length"]) == (len(pages), len(text))


async def check_chunks(res: Resources, doc: str) -> None:
    text = await document_text(res, doc)
    spans = await load_page_spans(res.pool, doc)
    chunks = await load_chunks(res.pool, doc)
    assert chunks and chunks[0].start == 0 and chunks[-1].end == len(text)
    for before, after in itertools.pairwise(chunks):
        assert after.start <= before.end, "chunks leave a gap"
        assert before.end - after.start <= OVERLAP
    for c in chunks:
        assert c.text == text[c.start : c.end] and len(c.text) <= CHUNK_SIZE
        touched = tuple(n for n, s, e in spans if s < c.end and c.start < e and s < e)
        assert c.pages == touched or (not touched and len(c.pages) == 1)


async def check_mentions(res: Resources, doc: str) -> None:
    text = await document_text(res, doc)
    spans = await load_page_spans(res.pool, doc)
    stored = await load_mentions(res.pool, doc)
    assert stored, "a legal document without a single entity mention"
    async with transaction(res.pool) as conn:
        pages = dict(await conn.fetch("SELECT id, page FROM mentions WHERE document_id = $1", doc))
    previous_end = 0
    for mid, m, _ in stored:
        assert text[m.start : m.end] == m.text
        assert m.start >= previous_end, "stored mentions overlap"
        previous_end = m.end
        assert mid == mention_id(doc, m.type.value, m.start, m.end)
        assert pages[mid] == max(n for n, s, _ in spans if s <= m.start)
    # The offline extractor reads whole documents: what is stored is exactly what it finds.
    assert {(m.type, m.start, m.end) for _, m, _ in stored} == {
        (m.type, m.start, m.end) for m in extract_mentions(text)
    }


async def check_entities(res: Resources, doc: str) -> None:
    stored = await load_mentions(res.pool, doc)
    async with transaction(res.pool) as conn:
        known = {r["id"]: r for r in await conn.fetch("SELECT id, type, key FROM entities")}
    by_key: dict[tuple[EntityType, str], set[str | None]] = {}
    for _, m, entity in stored:
        key = normalize_name(m.type, m.text)
        assert (entity is None) == (not key)
        by_key.setdefault((m.type, key), set()).add(entity)
        if entity is not None:
            row = known[entity]
            assert row["type"] == m.type.value
            assert entity == canonical_id(m.type, row["key"])
    assert all(len(ids) == 1 for ids in by_key.values()), "one name, several entities"


async def check_relationships(res: Resources, doc: str) -> None:
    resolved = await load_resolved(res.pool, doc)
    expected = build_edges(doc, resolved, await load_chunks(res.pool, doc))
    async with transaction(res.pool) as conn:
        stored = await conn.fetch(
            "SELECT id, type, source, target FROM relationships WHERE document_id = $1", doc
        )
        entity_ids = {r["id"] for r in await conn.fetch("SELECT id FROM entities")}
    assert sorted(tuple(r.values()) for r in stored) == sorted(
        (e.id, e.type.value, e.source, e.target) for e in expected
    )
    nodes = {r["source"] for r in stored} | {r["target"] for r in stored}
    assert nodes <= entity_ids | {f"doc:{doc}"}


# -- failures ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("doctor__ind_supreme_court_opinion_legacy.doc", "legacy Word 97-2003 .doc"),
        ("doctor__ind_supreme_court_johnson_v_state.wpd", "WordPerfect document"),
    ],
)
async def test_an_unsupported_format_is_refused_permanently_and_recorded(
    resources: Resources, corpus_dir: Path, name: str, reason: str
) -> None:
    doc = await submit(resources, corpus_dir / name)
    with pytest.raises(PermanentError, match=re.escape(reason)) as raised:
        await run(ocr.STAGE, resources, doc)
    assert name in str(raised.value)
    record = await get_document(resources.pool, doc)
    assert record is not None and record.status == "failed"
    assert record.error == f"ocr: {raised.value}"


async def test_a_truncated_pdf_is_refused_permanently_naming_the_file(
    resources: Resources, corpus_dir: Path, tmp_path: Path
) -> None:
    data = (corpus_dir / FORMATS["digital PDF"][0]).read_bytes()
    broken = tmp_path / "truncated.pdf"
    broken.write_bytes(data[: len(data) // 3])
    doc = await submit(resources, broken)
    with pytest.raises(PermanentError, match=r"truncated\.pdf"):
        await run(ocr.STAGE, resources, doc)
    assert await load_pages(resources.pool, doc) == []


async def test_a_message_intake_rejected_is_dead_lettered_with_intake_s_reason(
    resources: Resources,
) -> None:
    doc = NewDocument("dbig", "e" * 64, "huge.pdf", "pdf", 10**10, None)
    await register_document(resources.pool, "B", doc, rejected="huge.pdf is over the limit")
    msg = OcrInput(document_id="dbig", rejected="huge.pdf is over the limit")
    with pytest.raises(PermanentError, match=r"huge\.pdf is over the limit"):
        await ocr.STAGE.handle(msg, context(resources, "ocr", "dbig"))


async def test_a_missing_original_is_refused_permanently(
    resources: Resources, corpus_dir: Path
) -> None:
    doc = await submit(resources, corpus_dir / FORMATS["TXT"][0])
    async with transaction(resources.pool) as conn:
        await conn.execute("UPDATE documents SET object_key = 'originals/gone' WHERE id = $1", doc)
    with pytest.raises(PermanentError, match="originals/gone"):
        await run(ocr.STAGE, resources, doc)
    record = await get_document(resources.pool, doc)
    assert record is not None and record.status == "failed"


async def test_a_transient_failure_is_recorded_only_on_the_last_attempt(
    resources: Resources, corpus_dir: Path, tmp_path: Path
) -> None:
    doc = await submit(resources, corpus_dir / FORMATS["TXT"][0])
    (tmp_path / "objects" / "originals" / "unreadable").mkdir()
    async with transaction(resources.pool) as conn:
        await conn.execute(
            "UPDATE documents SET object_key = 'originals/unreadable' WHERE id = $1", doc
        )
    statuses = []
    for attempt in range(resources.engine.max_attempts):
        with pytest.raises(RetryableError, match="cannot read object"):
            await run(ocr.STAGE, resources, doc, attempt)
        record = await get_document(resources.pool, doc)
        assert record is not None
        statuses.append(record.status)
    assert statuses == ["queued", "queued", "failed"]


async def test_a_failure_that_cannot_be_recorded_is_retried_instead_of_dead_lettered(
    resources: Resources,
) -> None:
    async def refuses(msg: DocumentRef, ctx: Context) -> None:
        raise PermanentError("unreadable")

    handle = recording_failures("ocr", refuses)
    await resources.pool.close()  # PostgreSQL out of reach while the failure is recorded
    with pytest.raises(RetryableError, match="could not record that ocr failed") as raised:
        await handle(DocumentRef(document_id="dgone"), context(resources, "ocr", "dgone"))
    assert isinstance(raised.value.__cause__, PermanentError)


async def test_a_later_stage_without_its_input_rows_fails_permanently(
    resources: Resources, corpus_dir: Path
) -> None:
    doc = await submit(resources, corpus_dir / FORMATS["TXT"][0])
    with pytest.raises(PermanentError, match="no pages stored"):
        await run(chunk.STAGE, resources, doc)
    record = await get_document(resources.pool, doc)
    assert record is not None and record.error is not None
    assert record.error.startswith("chunk: ")


# -- concurrent resolution -----------------------------------------------------

SPELLINGS = [
    ("Acme Holdings Corporation", "Acme Holding Corporation"),
    ("Globex Industries International", "Globex Industry International"),
    ("Initech Software Solutions", "Initech Software Solution"),
    ("Northwind Trading Company", "Northwind Tradeing Company"),
    ("Umbrella Pharmaceuticals Group", "Umbrella Pharmaceutical Group"),
    ("Vandelay Importers Limited", "Vandelay Importer Limited"),
]


async def document_with(pool: Pool, name: str, texts: list[str]) -> str:
    sha = (name.encode().hex() * 64)[:64]
    await register_document(pool, "B", NewDocument(document_id(sha), sha, name, "text", 1, None))
    doc = document_id(sha)
    mentions, at = [], 0
    for text in texts:
        m = Mention(EntityType.ORGANIZATION, text, at, at + len(text))
        mentions.append(StoredMention(mention_id(doc, m.type, m.start, m.end), m, 1, "test"))
        at = m.end + 2
    await save_mentions(pool, doc, mentions)
    return doc


async def race(database_url: str, pool: Pool, first: list[str], second: list[str]) -> list[str]:
    one, two = await document_with(pool, "one", first), await document_with(pool, "two", second)
    pools = [await connect(database_url, min_size=1, max_size=1) for _ in range(2)]
    try:
        await asyncio.gather(resolve_document(pools[0], one), resolve_document(pools[1], two))
    finally:
        await asyncio.gather(*(p.close() for p in pools))
    return [one, two]


async def entity_ids(pool: Pool, doc: str) -> list[str | None]:
    return [entity for _, _, entity in await load_mentions(pool, doc)]


async def test_two_workers_resolving_the_same_new_names_at_once_create_one_entity_each(
    database_url: str, pg_pool: Pool
) -> None:
    names = [a for a, _ in SPELLINGS]
    one, two = await race(database_url, pg_pool, names, names)
    async with transaction(pg_pool) as conn:
        count = await conn.fetchval("SELECT count(*) FROM entities")
    assert count == len(names)
    assert await entity_ids(pg_pool, one) == await entity_ids(pg_pool, two)


async def test_two_workers_resolving_different_spellings_at_once_meet_on_one_entity(
    database_url: str, pg_pool: Pool
) -> None:
    one, two = await race(
        database_url, pg_pool, [a for a, _ in SPELLINGS], [b for _, b in SPELLINGS]
    )
    async with transaction(pg_pool) as conn:
        count = await conn.fetchval("SELECT count(*) FROM entities")
    ids = await entity_ids(pg_pool, one)
    assert count == len(SPELLINGS)
    assert None not in ids and ids == await entity_ids(pg_pool, two)


async def test_spellings_in_one_document_resolve_to_the_entity_the_first_one_created(
    pg_pool: Pool,
) -> None:
    doc = await document_with(pg_pool, "solo", ["Acme Holdings Corporation", "ACME Holding Corp."])
    await resolve_document(pg_pool, doc)
    first, second = await entity_ids(pg_pool, doc)
    assert first == second == canonical_id(EntityType.ORGANIZATION, "acme holdings")


# -- settings and the extractor choice -----------------------------------------


def test_the_default_store_is_a_directory_under_the_data_directory(tmp_path: Path) -> None:
    settings = load_pipeline_settings()
    assert settings.store_location(tmp_path) == (tmp_path / "objects").as_uri()
    assert load_pipeline_settings(store="s3://b/p").store_location(tmp_path) == "s3://b/p"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"chunk_size": 500, "chunk_overlap": 500}, "chunk_overlap must be smaller"),
        ({"store": "ftp://host/x"}, "STREAMPROC_STORE"),
        ({"extractor": "magic"}, "STREAMPROC_EXTRACTOR"),
    ],
)
def test_bad_pipeline_settings_refuse_to_start_naming_the_setting(
    overrides: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load_pipeline_settings(**overrides)


async def test_the_offline_extractor_is_the_default(tmp_path: Path) -> None:
    engine = load_settings(data_dir=tmp_path)
    async with make_extractor(load_pipeline_settings(), engine) as extractor:
        assert extractor.version == OFFLINE_VERSION


async def test_the_openai_extractor_without_an_api_key_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    engine = load_settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:9/0")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        async with make_extractor(load_pipeline_settings(extractor="openai"), engine):
            pass
