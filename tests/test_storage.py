"""PostgreSQL storage: migrations, idempotent upserts per table, error translation, export."""

from __future__ import annotations

import asyncio

import pytest

from consumers.graph import Edge, EdgeType
from consumers.model import Chunk, EntityType, Mention, Page
from consumers.storage.content import (
    load_chunks,
    load_page_spans,
    load_pages,
    save_chunks,
    save_pages,
)
from consumers.storage.db import Pool, connect, migrate, migrations, transaction
from consumers.storage.documents import (
    batch_document_ids,
    get_document,
    lock_document,
    mark_failed,
    register_document,
)
from consumers.storage.entities import candidates, insert_entities, lock_blocks
from consumers.storage.export import document_summary, export_documents
from consumers.storage.mentions import assign_entities, load_mentions, load_resolved, save_mentions
from consumers.storage.records import (
    NewDocument,
    NewEntity,
    StoredMention,
    document_id,
    mention_id,
    storable,
)
from consumers.storage.relationships import save_relationships
from streamproc.embedded import PrivatePostgres
from streamproc.errors import ConfigurationError, PermanentError, RetryableError

TABLES = (
    "batches",
    "documents",
    "batch_documents",
    "pages",
    "chunks",
    "entities",
    "mentions",
    "relationships",
)
SHA = "ab" * 32
DOC = document_id(SHA)


async def rows(pool: Pool) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, without timestamps, sorted: a snapshot to compare."""
    snapshot = {}
    async with transaction(pool) as conn:
        for table in TABLES:
            records = await conn.fetch(f"SELECT * FROM {table}")
            snapshot[table] = sorted(
                tuple(str(v) for k, v in r.items() if not k.endswith("_at")) for r in records
            )
    return snapshot


def new_document(source: str = "court/order.pdf", sha: str = SHA) -> NewDocument:
    return NewDocument(document_id(sha), sha, source, "pdf", 1234, f"originals/{sha}")


def mention(kind: EntityType, text: str, start: int, **extra: object) -> Mention:
    return Mention(kind, text, start, start + len(text), **extra)  # type: ignore[arg-type]


def stored(doc: str, m: Mention, page: int = 1) -> StoredMention:
    return StoredMention(mention_id(doc, m.type.value, m.start, m.end), m, page, "test-1")


async def registered(pool: Pool, batch: str = "B1") -> str:
    await register_document(pool, batch, new_document())
    return DOC


# -- migrations ----------------------------------------------------------------


async def test_migrations_apply_once_and_a_second_run_applies_nothing(database_url: str) -> None:
    pool = await connect(database_url)
    try:
        first = await migrate(pool)
        second = await migrate(pool)
        async with transaction(pool) as conn:
            recorded = await conn.fetch("SELECT version, name FROM schema_migrations")
    finally:
        await pool.close()
    assert first == [m.version for m in migrations()] and first[0] == 1
    assert second == []
    assert sorted((r["version"], r["name"]) for r in recorded) == [
        (m.version, m.name) for m in migrations()
    ]


async def test_workers_migrating_at_once_apply_each_migration_exactly_once(
    database_url: str,
) -> None:
    pools = [await connect(database_url, min_size=1, max_size=1) for _ in range(6)]
    try:
        results = await asyncio.gather(*(migrate(pool) for pool in pools))
        async with transaction(pools[0]) as conn:
            count = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await asyncio.gather(*(pool.close() for pool in pools))
    versions = [m.version for m in migrations()]
    assert sorted(results, key=len) == [[]] * 5 + [versions]
    assert count == len(versions)


def test_migration_files_are_numbered_without_gaps() -> None:
    assert [m.version for m in migrations()] == list(range(1, len(migrations()) + 1))


# -- documents -----------------------------------------------------------------


async def test_registering_a_document_twice_in_a_batch_is_one_row_and_reports_a_duplicate(
    pg_pool: Pool,
) -> None:
    assert await register_document(pg_pool, "B1", new_document()) is True
    before = await rows(pg_pool)
    assert await register_document(pg_pool, "B1", new_document("elsewhere/copy.pdf")) is False
    assert await rows(pg_pool) == before
    assert [len(before[t]) for t in ("batches", "documents", "batch_documents")] == [1, 1, 1]


async def test_the_same_document_in_a_new_batch_is_linked_again_and_requeued(
    pg_pool: Pool,
) -> None:
    await register_document(pg_pool, "B1", new_document())
    await mark_failed(pg_pool, DOC, "ocr", "scan unreadable")
    assert await register_document(pg_pool, "B2", new_document("b2/order.pdf")) is True
    doc = await get_document(pg_pool, DOC)
    assert doc is not None
    assert (doc.status, doc.error, doc.source) == ("queued", None, "court/order.pdf")
    assert await batch_document_ids(pg_pool, "B2") == [DOC]


async def test_a_document_rejected_at_intake_is_recorded_failed_with_the_reason(
    pg_pool: Pool,
) -> None:
    doc = NewDocument(DOC, SHA, "big.pdf", "pdf", 10**10, None)
    await register_document(pg_pool, "B1", doc, rejected="big.pdf is too large")
    record = await get_document(pg_pool, DOC)
    assert record is not None
    assert (record.status, record.error, record.object_key) == (
        "failed",
        "big.pdf is too large",
        None,
    )


async def test_mark_failed_names_the_stage_in_the_error(pg_pool: Pool) -> None:
    await registered(pg_pool)
    await mark_failed(pg_pool, DOC, "chunk", "no pages")
    record = await get_document(pg_pool, DOC)
    assert record is not None and (record.status, record.error) == ("failed", "chunk: no pages")


async def test_stage_writes_for_an_unknown_document_are_refused_permanently(
    pg_pool: Pool,
) -> None:
    with pytest.raises(PermanentError, match="dnope is not in the database"):
        async with transaction(pg_pool) as conn:
            await lock_document(conn, "dnope")


# -- pages and chunks ----------------------------------------------------------


async def test_saving_pages_twice_leaves_the_same_rows(pg_pool: Pool) -> None:
    await registered(pg_pool)
    pages = [Page(1, "First page."), Page(2, "Second page.", ocr=True)]
    spans = [(1, 0, 11), (2, 14, 26)]
    await save_pages(pg_pool, DOC, "pdf", pages, spans)
    once = await rows(pg_pool)
    await save_pages(pg_pool, DOC, "pdf", pages, spans)
    assert await rows(pg_pool) == once
    assert await load_pages(pg_pool, DOC) == pages
    assert await load_page_spans(pg_pool, DOC) == spans
    record = await get_document(pg_pool, DOC)
    assert record is not None and (record.status, record.stage) == ("processing", "ocr")


async def test_saving_fewer_pages_removes_the_stale_ones(pg_pool: Pool) -> None:
    await registered(pg_pool)
    await save_pages(pg_pool, DOC, "pdf", [Page(1, "a"), Page(2, "b")], [(1, 0, 1), (2, 4, 5)])
    await save_pages(pg_pool, DOC, "pdf", [Page(1, "only")], [(1, 0, 4)])
    assert await load_pages(pg_pool, DOC) == [Page(1, "only")]


async def test_saving_chunks_twice_leaves_the_same_rows_and_replaces_stale_ones(
    pg_pool: Pool,
) -> None:
    await registered(pg_pool)
    chunks = [Chunk(0, "Alpha beta ", 0, 11, (1,)), Chunk(1, "beta gamma", 6, 16, (1, 2))]
    await save_chunks(pg_pool, DOC, chunks)
    once = await rows(pg_pool)
    await save_chunks(pg_pool, DOC, chunks)
    assert await rows(pg_pool) == once
    assert await load_chunks(pg_pool, DOC) == chunks
    await save_chunks(pg_pool, DOC, chunks[:1])
    assert await load_chunks(pg_pool, DOC) == chunks[:1]


# -- mentions, entities, relationships -----------------------------------------


async def test_saving_mentions_twice_leaves_the_same_rows(pg_pool: Pool) -> None:
    await registered(pg_pool)
    found = [
        stored(DOC, mention(EntityType.COURT, "Supreme Court", 0)),
        stored(
            DOC,
            mention(
                EntityType.ATTORNEY,
                "Jane Roe",
                40,
                role="appellant",
                attrs=(("represents", "Acme"), ("firm", "Roe LLP"), ("represents", "Beta")),
            ),
            page=2,
        ),
    ]
    await save_mentions(pg_pool, DOC, found)
    once = await rows(pg_pool)
    await save_mentions(pg_pool, DOC, found)
    assert await rows(pg_pool) == once
    loaded = await load_mentions(pg_pool, DOC)
    assert [(i, m, e) for i, m, e in loaded] == [(s.id, s.mention, None) for s in found]


async def test_resaving_mentions_drops_the_ones_no_longer_found(pg_pool: Pool) -> None:
    await registered(pg_pool)
    court = stored(DOC, mention(EntityType.COURT, "Supreme Court", 0))
    judge = stored(DOC, mention(EntityType.JUDGE, "Judge Doe", 20))
    await save_mentions(pg_pool, DOC, [court, judge])
    await save_mentions(pg_pool, DOC, [judge])
    assert [i for i, _, _ in await load_mentions(pg_pool, DOC)] == [judge.id]


async def test_entities_insert_once_and_assignments_rewrite_the_same_links(
    pg_pool: Pool,
) -> None:
    await registered(pg_pool)
    court = stored(DOC, mention(EntityType.COURT, "Supreme Court", 0))
    await save_mentions(pg_pool, DOC, [court])
    entity = NewEntity("e1", "COURT", "supreme court", "Supreme Court", "COURT:sup")
    for _ in range(2):
        async with transaction(pg_pool) as conn:
            await lock_blocks(conn, [("COURT", "COURT:sup")])
            await insert_entities(conn, [entity])
        await assign_entities(pg_pool, DOC, {court.id: "e1"})
    async with transaction(pg_pool) as conn:
        known = await candidates(conn, [("COURT", "COURT:sup"), ("COURT", "COURT:oth")])
    assert known == {("COURT", "COURT:sup"): [("supreme court", "e1")], ("COURT", "COURT:oth"): []}
    assert len((await rows(pg_pool))["entities"]) == 1
    [resolved] = await load_resolved(pg_pool, DOC)
    assert (resolved.entity_id, resolved.mention) == ("e1", court.mention)


async def test_saving_relationships_twice_leaves_the_same_rows_and_marks_the_document_done(
    pg_pool: Pool,
) -> None:
    await registered(pg_pool)
    edges = [
        Edge(EdgeType.COURT_OF_CASE, "e1", f"doc:{DOC}", (("count", "2"),)),
        Edge(EdgeType.PARTY_IN_CASE, "e2", f"doc:{DOC}", (("count", "1"), ("role", "plaintiff"))),
    ]
    await save_relationships(pg_pool, DOC, edges)
    once = await rows(pg_pool)
    await save_relationships(pg_pool, DOC, edges)
    assert await rows(pg_pool) == once
    assert len(once["relationships"]) == 2
    record = await get_document(pg_pool, DOC)
    assert record is not None and (record.status, record.stage) == ("done", "relationships")


# -- errors --------------------------------------------------------------------


async def test_text_postgresql_cannot_hold_is_a_permanent_error(pg_pool: Pool) -> None:
    await registered(pg_pool)
    with pytest.raises(PermanentError, match="PostgreSQL refused the data"):
        await save_pages(pg_pool, DOC, "pdf", [Page(1, "nul \x00 byte")], [(1, 0, 10)])


def test_storable_text_replaces_what_postgresql_refuses_one_character_for_one() -> None:
    raw = "a\x00b\ud800c"
    assert storable(raw) == "a b\ufffdc"
    assert len(storable(raw)) == len(raw)
    assert storable("plain") == "plain"


async def test_a_closed_pool_is_a_retryable_error(database_url: str) -> None:
    pool = await connect(database_url)
    await pool.close()
    with pytest.raises(RetryableError, match="PostgreSQL unavailable"):
        async with transaction(pool):
            pass


async def test_a_connection_the_server_drops_mid_transaction_is_a_retryable_error(
    database_url: str,
) -> None:
    pool = await connect(database_url)
    try:
        with pytest.raises(RetryableError, match="PostgreSQL unavailable"):
            async with transaction(pool) as conn:
                await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        async with transaction(pool) as conn:
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_an_unreachable_database_is_worth_another_start() -> None:
    # Down, or starting again after a crash: a supervisor restarts the worker with backoff.
    with pytest.raises(RetryableError, match="DATABASE_URL"):
        await connect("postgresql://nobody@127.0.0.1:9/none", min_size=1)


async def test_a_database_that_does_not_exist_refuses_to_start(
    postgres_server: PrivatePostgres,
) -> None:
    with pytest.raises(ConfigurationError, match=r"DATABASE_URL.*nosuch"):
        await connect(postgres_server.dsn_for("nosuch"), min_size=1)


# -- export --------------------------------------------------------------------


async def test_export_yields_each_document_of_the_batch_with_entities_and_relationships(
    pg_pool: Pool,
) -> None:
    await registered(pg_pool, "B1")
    other = new_document("other.pdf", "cd" * 32)
    await register_document(pg_pool, "B2", other)
    await save_pages(pg_pool, DOC, "pdf", [Page(1, "x"), Page(2, "y")], [(1, 0, 1), (2, 4, 5)])
    party = mention(EntityType.PARTY, "Acme Corp.", 4, role="plaintiff")
    court = mention(EntityType.COURT, "Supreme Court", 30)
    await save_mentions(pg_pool, DOC, [stored(DOC, party, 1), stored(DOC, court, 2)])
    async with transaction(pg_pool) as conn:
        await insert_entities(conn, [NewEntity("e1", "PARTY", "acme", "Acme Corp.", "PARTY:acm")])
    await assign_entities(pg_pool, DOC, {stored(DOC, party).id: "e1"})
    await save_relationships(
        pg_pool, DOC, [Edge(EdgeType.PARTY_IN_CASE, "e1", f"doc:{DOC}", (("role", "plaintiff"),))]
    )
    exported = [d async for d in export_documents(pg_pool, "B1")]
    assert exported == [
        {
            "document_id": DOC,
            "source": "court/order.pdf",
            "sha256": SHA,
            "kind": "pdf",
            "status": "done",
            "error": None,
            "pages": 2,
            "entities": [
                {
                    "type": "PARTY",
                    "text": "Acme Corp.",
                    "canonical": "Acme Corp.",
                    "entity_id": "e1",
                    "page": 1,
                    "start": 4,
                    "end": 14,
                    "role": "plaintiff",
                },
                {
                    "type": "COURT",
                    "text": "Supreme Court",
                    "canonical": None,
                    "entity_id": None,
                    "page": 2,
                    "start": 30,
                    "end": 43,
                },
            ],
            "relationships": [
                {
                    "type": "party_in_case",
                    "source": "e1",
                    "target": f"doc:{DOC}",
                    "attrs": {"role": "plaintiff"},
                }
            ],
        }
    ]
    everything = [d["document_id"] async for d in export_documents(pg_pool)]
    assert everything == sorted([DOC, other.id])


async def test_export_pages_through_more_documents_than_one_window(
    pg_pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("consumers.storage.export.EXPORT_WINDOW", 3)
    shas = [f"{i:02x}" * 32 for i in range(10)]
    for sha in shas:
        await register_document(pg_pool, "B", new_document(f"{sha}.pdf", sha))
    exported = [d["document_id"] async for d in export_documents(pg_pool, "B")]
    assert exported == sorted(document_id(sha) for sha in shas)


async def test_document_summary_counts_what_each_stage_stored(pg_pool: Pool) -> None:
    await registered(pg_pool)
    await save_chunks(pg_pool, DOC, [Chunk(0, "abc", 0, 3, (1,))])
    summary = await document_summary(pg_pool, DOC)
    assert summary is not None
    assert (summary["chunks"], summary["mentions"], summary["relationships"]) == (1, 0, 0)
    assert (summary["status"], summary["stage"], summary["batches"]) == (
        "processing",
        "chunk",
        ["B1"],
    )
    assert await document_summary(pg_pool, "dmissing") is None
