"""Intake: files, directories and s3:// URIs become stored originals, rows and one batch."""

from __future__ import annotations

import hashlib
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from consumers.intake import submit_paths
from consumers.resources import Resources, open_resources
from consumers.settings import load_pipeline_settings
from consumers.sources import Source, expand
from consumers.storage.db import transaction
from consumers.storage.documents import batch_document_ids, finish_stage, get_document
from consumers.storage.records import document_id
from consumers.storage.s3 import s3_client
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.connections import connect_redis
from streamproc.errors import PermanentError
from streamproc.keys import Keys

# Intake only uses the engine's submit, which the engine's tests cover on both Redis versions.
one_redis = pytest.mark.parametrize("redis_server", ["system"], indirect=True)

PDF = "doctor__ca10_in_re_liebowitz_21-800_order.pdf"
HTML = "courtlistener__scotus_reagan_v_aiken_138us109.html"
TXT = "lexnlp__edgar_firstenergy_employment_letter_2004.txt"


@pytest.fixture
def engine(make_settings, database_url: str) -> Settings:  # type: ignore[no-untyped-def]
    """Engine settings on this test's Redis prefix and database."""
    return make_settings(database_url=database_url)  # type: ignore[no-any-return]


@pytest.fixture
async def resources(engine: Settings, tmp_path: Path) -> AsyncIterator[Resources]:
    """Resources whose local store lives under tmp_path, with a 64 KiB size limit."""
    settings = load_pipeline_settings(store=(tmp_path / "objects").as_uri(), max_bytes=65536)
    async with open_resources(engine, settings) as res:
        yield res


@pytest.fixture
async def s3_resources(
    engine: Settings, tmp_path: Path, s3_endpoint: str, aws_env: None
) -> AsyncIterator[Resources]:
    """Resources that read s3:// sources from the moto server."""
    settings = load_pipeline_settings(store=(tmp_path / "s").as_uri(), s3_endpoint_url=s3_endpoint)
    async with open_resources(engine, settings) as res:
        yield res


@pytest.fixture
def client(redis: Redis, engine: Settings) -> Client:
    return Client(redis, Keys(engine.prefix))


@pytest.fixture
def inbox(corpus_dir: Path, tmp_path: Path) -> Path:
    """A directory of three corpus files, one in a subdirectory, one hidden, one a copy."""
    root = tmp_path / "inbox"
    (root / "sub").mkdir(parents=True)
    shutil.copy(corpus_dir / PDF, root / "order.pdf")
    shutil.copy(corpus_dir / HTML, root / "sub" / "opinion.html")
    shutil.copy(corpus_dir / TXT, root / ".hidden.txt")
    shutil.copy(corpus_dir / PDF, root / "sub" / "same-order-again.pdf")
    return root


async def queued(redis: Redis, engine: Settings) -> list[dict[str, object]]:
    """The payloads waiting on the ocr stream."""
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(  # type: ignore[assignment]
        Keys(engine.prefix).stream("ocr")
    )
    return [orjson.loads(fields[b"p"]) for _, fields in entries]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@one_redis
async def test_a_directory_is_submitted_recursively_without_hidden_files_or_duplicates(
    resources: Resources, client: Client, redis: Redis, engine: Settings, inbox: Path
) -> None:
    result = await submit_paths([inbox], resources=resources, client=client, batch="B1")
    pdf, html = sha(inbox / "order.pdf"), sha(inbox / "sub" / "opinion.html")
    assert [(f.source, f.sha256, f.kind, f.outcome) for f in result.files] == [
        (str(inbox / "order.pdf"), pdf, "pdf", "queued"),
        (str(inbox / "sub" / "opinion.html"), html, "html", "queued"),
        (str(inbox / "sub" / "same-order-again.pdf"), pdf, "pdf", "duplicate"),
    ]
    assert (result.batch, result.total, result.queued, result.duplicates) == ("B1", 2, 2, 1)
    assert [f.document_id for f in result.files] == [document_id(s) for s in (pdf, html, pdf)]
    assert await queued(redis, engine) == [
        {"document_id": document_id(pdf), "kind": "pdf", "rejected": None},
        {"document_id": document_id(html), "kind": "html", "rejected": None},
    ]
    assert await resources.store.get(f"originals/{pdf}") == (inbox / "order.pdf").read_bytes()
    assert await batch_document_ids(resources.pool, "B1") == sorted(
        [document_id(pdf), document_id(html)]
    )
    status = await client.status("B1")
    assert status is not None and status.total == 2


@one_redis
async def test_submitting_the_same_files_again_adds_no_row_and_queues_nothing(
    resources: Resources, client: Client, redis: Redis, engine: Settings, inbox: Path
) -> None:
    await submit_paths([inbox], resources=resources, client=client, batch="B1")
    before = await counts(resources)
    again = await submit_paths([inbox], resources=resources, client=client, batch="B1")
    assert [f.outcome for f in again.files] == ["duplicate"] * 3
    assert again.total == 2
    assert await counts(resources) == before
    assert len(await queued(redis, engine)) == 2


@one_redis
async def test_the_same_file_in_a_new_batch_is_queued_again(
    resources: Resources, client: Client, redis: Redis, engine: Settings, inbox: Path
) -> None:
    first = await submit_paths([inbox / "order.pdf"], resources=resources, client=client)
    second = await submit_paths([inbox / "order.pdf"], resources=resources, client=client)
    assert first.batch != second.batch
    assert [f.outcome for f in second.files] == ["queued"]
    assert len(await queued(redis, engine)) == 2
    assert (await counts(resources))["documents"] == 1


@one_redis
async def test_a_file_over_the_size_limit_is_not_stored_but_queued_to_fail_with_the_reason(
    resources: Resources, client: Client, redis: Redis, engine: Settings, tmp_path: Path
) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"The Court finds. " * 8000)
    result = await submit_paths([big], resources=resources, client=client, batch="B")
    [submitted] = result.files
    assert submitted.rejected is not None
    assert f"{big} is 0.1 MiB, over the 0 MiB limit" in submitted.rejected
    assert (submitted.sha256, submitted.kind, submitted.size) == (sha(big), "text", 136000)
    assert await resources.store.exists(f"originals/{sha(big)}") is False
    record = await get_document(resources.pool, submitted.document_id)
    assert record is not None
    assert (record.status, record.error, record.object_key) == ("failed", submitted.rejected, None)
    assert await queued(redis, engine) == [
        {"document_id": submitted.document_id, "kind": "text", "rejected": submitted.rejected}
    ]
    assert result.total == 1


@one_redis
async def test_a_path_that_names_nothing_is_refused_before_anything_is_queued(
    resources: Resources, client: Client, redis: Redis, engine: Settings, inbox: Path
) -> None:
    with pytest.raises(PermanentError, match="neither a file nor a directory"):
        await submit_paths(
            [inbox / "order.pdf", inbox / "missing.pdf"], resources=resources, client=client
        )
    assert await queued(redis, engine) == []
    assert (await counts(resources))["documents"] == 0


@one_redis
async def test_s3_objects_and_prefixes_are_submitted_like_files(
    s3_resources: Resources, client: Client, corpus_dir: Path, s3_endpoint: str, bucket: str
) -> None:
    async with s3_client(s3_endpoint) as s3:
        for key, name in [("in/a/order.pdf", PDF), ("in/b/letter.txt", TXT), ("in/.x", HTML)]:
            await s3.put_object(Bucket=bucket, Key=key, Body=(corpus_dir / name).read_bytes())
        await s3.put_object(Bucket=bucket, Key="solo.html", Body=(corpus_dir / HTML).read_bytes())
    result = await submit_paths(
        [f"s3://{bucket}/in", f"s3://{bucket}/solo.html"], resources=s3_resources, client=client
    )
    stored = await s3_resources.store.get(f"originals/{sha(corpus_dir / TXT)}")
    assert [(f.source, f.sha256, f.kind) for f in result.files] == [
        (f"s3://{bucket}/in/a/order.pdf", sha(corpus_dir / PDF), "pdf"),
        (f"s3://{bucket}/in/b/letter.txt", sha(corpus_dir / TXT), "text"),
        (f"s3://{bucket}/solo.html", sha(corpus_dir / HTML), "html"),
    ]
    assert stored == (corpus_dir / TXT).read_bytes()
    assert result.total == 3


@one_redis
async def test_an_s3_uri_that_matches_nothing_is_refused(
    s3_resources: Resources, client: Client, bucket: str
) -> None:
    with pytest.raises(PermanentError, match="matches no object"):
        await submit_paths([f"s3://{bucket}/nothing/here"], resources=s3_resources, client=client)


async def test_sources_of_a_directory_are_its_visible_files_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("x")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("x")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "c.txt").write_text("yy")
    assert await expand([tmp_path], None) == [
        Source(str(tmp_path / "a" / "c.txt"), 2, path=tmp_path / "a" / "c.txt"),
        Source(str(tmp_path / "b.txt"), 1, path=tmp_path / "b.txt"),
    ]


async def counts(resources: Resources) -> dict[str, int]:
    async with transaction(resources.pool) as conn:
        return {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("batches", "documents", "batch_documents")
        }


def closed_port() -> int:
    """A local port nothing listens on: a Redis that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def batch_ids(resources: Resources) -> list[str]:
    async with transaction(resources.pool) as conn:
        return [r["id"] for r in await conn.fetch("SELECT id FROM batches ORDER BY id")]


@one_redis
async def test_a_submit_with_redis_down_changes_nothing_and_its_rerun_queues_the_document(
    resources: Resources, client: Client, redis: Redis, engine: Settings, tmp_path: Path
) -> None:
    letter = tmp_path / "letter.txt"
    letter.write_text("The Court finds for the plaintiff.\n")
    [first] = (await submit_paths([letter], resources=resources, client=client, batch="B1")).files
    async with transaction(resources.pool) as conn:  # it went through the whole pipeline
        await finish_stage(conn, first.document_id, "relationships", done=True)

    down = connect_redis(f"redis://127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(RedisConnectionError):
            await submit_paths(
                [letter], resources=resources, client=Client(down, client.keys), batch="B2"
            )
    finally:
        await down.aclose()
    record = await get_document(resources.pool, first.document_id)
    assert record is not None and record.status == "done"
    assert await batch_ids(resources) == ["B1"]
    assert await batch_document_ids(resources.pool, "B2") == []

    again = await submit_paths([letter], resources=resources, client=client, batch="B2")
    assert [f.outcome for f in again.files] == ["queued"]
    assert (again.queued, again.duplicates, again.total) == (1, 0, 1)
    assert await batch_document_ids(resources.pool, "B2") == [first.document_id]
    record = await get_document(resources.pool, first.document_id)
    assert record is not None and record.status == "queued"
    assert len(await queued(redis, engine)) == 2


@one_redis
async def test_a_new_document_submitted_with_redis_down_is_stored_but_never_marked_queued(
    resources: Resources, client: Client, redis: Redis, engine: Settings, tmp_path: Path
) -> None:
    letter = tmp_path / "letter.txt"
    letter.write_text("The Court finds for the defendant.\n")
    down = connect_redis(f"redis://127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(RedisConnectionError):
            await submit_paths(
                [letter], resources=resources, client=Client(down, client.keys), batch="B"
            )
    finally:
        await down.aclose()
    assert await batch_ids(resources) == []
    async with transaction(resources.pool) as conn:
        statuses = [r["status"] for r in await conn.fetch("SELECT status FROM documents")]
    assert "queued" not in statuses

    again = await submit_paths([letter], resources=resources, client=client, batch="B")
    assert (again.queued, again.duplicates, again.total) == (1, 0, 1)
    record = await get_document(resources.pool, again.files[0].document_id)
    assert record is not None and record.status == "queued"
    assert len(await queued(redis, engine)) == 1
