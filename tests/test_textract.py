"""AWS Textract as the OCR provider: result parsing, error translation, and the ocr stage
polling a job without blocking, against a server that speaks Textract's HTTP API
(:mod:`fake_textract`) and reads the originals from moto's S3 server.

The tests script the stand-in the way a real job progresses (running, then
finished) through its own methods; the code under test sees only its URL.
"""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError
from PIL import Image
from redis.asyncio import Redis

from consumers.intake import ingest, submit_paths
from consumers.model import Page
from consumers.ocr import TextractJob, detection, job_token, textract_kind, verdict
from consumers.ocr.textract import botocore_error, client_error, textract_client
from consumers.pipeline import PIPELINE
from consumers.resources import Resources, lifespan, open_resources
from consumers.settings import load_pipeline_settings
from consumers.sources import expand
from consumers.stages import ocr
from consumers.stages.common import DocumentRef
from consumers.stages.ocr import OcrInput
from consumers.storage.content import load_pages
from consumers.storage.documents import get_document
from consumers.storage.s3 import list_keys, read_object, s3_client
from consumers.text import Limits, read_document
from streamproc.client import Client
from streamproc.config import Settings, load_settings
from streamproc.errors import ConfigurationError, PermanentError, RetryableError
from streamproc.keys import Keys
from streamproc.stage import Context, Defer
from streamproc.worker import Report, Worker

from fake_textract import FakeTextract, fake_textract

PDF = "courtlistener__ca2_bainbridge_fund_v_argentina_25-1689_order.pdf"
DOCX = "doctor__navy_discharge_review_board_decision.docx"
HTML = "courtlistener__scotus_reagan_v_aiken_138us109.html"
REGION = "us-east-1"
POLL = 0.05
FAILURE = "UNSUPPORTED_DOCUMENT: the document's format is not supported"


# -- building Textract results ------------------------------------------------------------


def line(block_id: str, page: int, text: str) -> dict[str, Any]:
    return {"BlockType": "LINE", "Id": block_id, "Page": page, "Text": text, "Confidence": 99.0}


def page_block(page: int, children: list[str]) -> dict[str, Any]:
    return {
        "BlockType": "PAGE",
        "Id": f"page-{page}",
        "Page": page,
        "Relationships": [{"Type": "CHILD", "Ids": children}],
    }


def word(block_id: str, page: int, text: str) -> dict[str, Any]:
    return {"BlockType": "WORD", "Id": block_id, "Page": page, "Text": text}


def response(blocks: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"JobStatus": "SUCCEEDED", "Blocks": blocks, **fields}


def text_layer_lines(path: Path) -> list[list[str]]:
    """Each page's non-blank text-layer lines, read with PDFium."""
    pdf = pdfium.PdfDocument(path)
    try:
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            page.close()
            pages.append([ln.strip() for ln in text.splitlines() if ln.strip()])
        return pages
    finally:
        pdf.close()


def blocks_for(pages: list[list[str]]) -> list[dict[str, Any]]:
    """Blocks as Textract lays them out: each PAGE, then its LINEs and their WORDs."""
    blocks: list[dict[str, Any]] = []
    for number, lines in enumerate(pages, 1):
        ids = [f"p{number}-l{i}" for i in range(len(lines))]
        blocks.append(page_block(number, ids))
        for block_id, text in zip(ids, lines, strict=True):
            blocks.append(line(block_id, number, text))
            blocks.extend(word(f"{block_id}-w{j}", number, w) for j, w in enumerate(text.split()))
    return blocks


# -- parsing: pure ----------------------------------------------------------------------------


def test_lines_are_grouped_by_page_in_the_order_each_page_block_lists_them() -> None:
    blocks = [
        page_block(1, ["b", "a"]),
        line("a", 1, "second line"),
        word("a1", 1, "second"),
        line("b", 1, "first line"),
        page_block(2, ["c"]),
        line("c", 2, "page two"),
    ]
    assert detection([response(blocks)]).pages() == [
        Page(1, "first line\nsecond line", ocr=True),
        Page(2, "page two", ocr=True),
    ]


def test_without_page_blocks_lines_keep_the_order_textract_returned_them_in() -> None:
    blocks = [line("x", 2, "two-a"), line("y", 1, "one"), line("z", 2, "two-b")]
    assert [p.text for p in detection([response(blocks)]).pages()] == ["one", "two-a\ntwo-b"]


def test_lines_a_page_block_leaves_out_follow_the_listed_ones() -> None:
    blocks = [line("a", 1, "unlisted"), page_block(1, ["b", "ghost"]), line("b", 1, "listed")]
    assert [p.text for p in detection([response(blocks)]).pages()] == ["listed\nunlisted"]


def test_blank_pages_within_the_reported_page_count_become_empty_pages() -> None:
    found = detection([response([line("a", 1, "one"), line("c", 3, "three")])])
    found.add(response([], DocumentMetadata={"Pages": 4}))
    assert [(p.number, p.text) for p in found.pages()] == [
        (1, "one"),
        (2, ""),
        (3, "three"),
        (4, ""),
    ]


def test_a_page_count_that_is_not_a_whole_number_is_ignored() -> None:
    # A malformed count ({"Pages": {"Pages": n}}): the blocks then decide the page count.
    odd = response([line("a", 2, "two")], DocumentMetadata={"Pages": {"Pages": 300}})
    assert [p.number for p in detection([odd]).pages()] == [1, 2]


def test_a_result_split_over_next_token_responses_reads_as_one_document() -> None:
    first = response([page_block(1, ["a", "b"]), line("b", 1, "B")], NextToken="t1")
    second = response([line("a", 1, "A"), page_block(2, ["c"])], NextToken="t2")
    third = response([line("c", 2, "C")])
    assert [p.text for p in detection([first, second, third]).pages()] == ["A\nB", "C"]


def job(polls: int = 0) -> TextractJob:
    return TextractJob(job_id="job-1", kind="pdf", bucket="docs", key="originals/x", polls=polls)


def test_a_running_job_is_handed_back_with_one_more_poll() -> None:
    running = detection([{"JobStatus": "IN_PROGRESS"}])
    assert verdict(running, job(3), 10, POLL, Limits()) == job(4)


def test_a_job_still_running_at_the_poll_limit_is_given_up_with_what_to_change() -> None:
    running = detection([{"JobStatus": "IN_PROGRESS"}])
    with pytest.raises(PermanentError, match="STREAMPROC_TEXTRACT_MAX_POLLS") as caught:
        verdict(running, job(9), 10, 2.0, Limits())
    assert "job-1" in str(caught.value) and "after 10 polls (about 20 s)" in str(caught.value)


@pytest.mark.parametrize("status", ["FAILED", "PARTIAL_SUCCESS"])
def test_a_failed_job_is_a_permanent_error_with_textracts_message(status: str) -> None:
    ended = detection([{"JobStatus": status, "StatusMessage": FAILURE}])
    with pytest.raises(PermanentError) as caught:
        verdict(ended, job(), 10, POLL, Limits())
    assert str(caught.value) == (
        f"Textract job job-1 on s3://docs/originals/x ended {status}: {FAILURE}"
    )


def test_a_finished_job_without_any_text_asks_for_a_clearer_scan() -> None:
    empty = detection([response([page_block(1, [])], DocumentMetadata={"Pages": 1})])
    with pytest.raises(PermanentError, match="found no text: submit a clearer scan"):
        verdict(empty, job(), 10, POLL, Limits())


def test_a_finished_job_over_the_page_limit_is_refused() -> None:
    many = detection([response([line("a", 1, "text")], DocumentMetadata={"Pages": 5})])
    with pytest.raises(PermanentError, match="5 pages, over the 4-page limit"):
        verdict(many, job(), 10, POLL, Limits(max_pages=4))


def test_job_tokens_are_valid_stable_per_submission_and_new_for_a_new_one() -> None:
    token = job_token("d0123456789abcdef01234567", "trace-1")
    assert token == job_token("d0123456789abcdef01234567", "trace-1")
    assert token != job_token("d0123456789abcdef01234567", "trace-2")
    assert len(token) == 64 and token.isalnum()


def test_textract_takes_pdfs_tiffs_jpegs_and_pngs_and_leaves_the_rest_local(
    corpus_dir: Path,
) -> None:
    assert textract_kind((corpus_dir / PDF).read_bytes()) == "pdf"
    for name in (DOCX, HTML):
        assert textract_kind((corpus_dir / name).read_bytes()) is None
    for fmt, expected in (("PNG", "image"), ("JPEG", "image"), ("TIFF", "image"), ("GIF", None)):
        out = io.BytesIO()
        Image.new("L", (8, 8), 255).save(out, fmt)
        assert textract_kind(out.getvalue()) == expected, fmt


# -- errors and settings: pure ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("ProvisionedThroughputExceededException", 400),
        ("LimitExceededException", 400),
        ("InternalServerError", 500),
        ("", 503),
        ("SomethingNew", 429),
    ],
)
def test_throttling_and_server_errors_are_retried(code: str, status: int) -> None:
    assert isinstance(client_error("s3://docs/k", code, status, "slow down"), RetryableError)


def test_refused_credentials_are_permanent_and_say_which_grants_are_needed() -> None:
    error = client_error("s3://docs/k", "AccessDeniedException", 400, "not authorized")
    assert isinstance(error, PermanentError)
    assert "AWS_ACCESS_KEY_ID" in str(error) and "textract:StartDocumentTextDetection" in str(error)


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("InvalidS3ObjectException", "STREAMPROC_TEXTRACT_REGION"),
        ("InvalidParameterException", "STREAMPROC_TEXTRACT_BUCKET"),
        ("UnsupportedDocumentException", "PDF, TIFF, JPEG and PNG"),
        ("InvalidJobIdException", "submit the document again"),
        ("SomeOtherRefusal", "STREAMPROC_TEXTRACT_REGION"),
    ],
)
def test_refused_requests_are_permanent_and_name_what_to_fix(code: str, hint: str) -> None:
    error = client_error("s3://docs/k", code, 400, "refused")
    assert isinstance(error, PermanentError)
    assert str(error).startswith(f"Textract refused s3://docs/k ({code}: refused)")
    assert hint in str(error)


def test_unreachable_textract_is_retried_but_missing_credentials_or_region_are_not() -> None:
    unreachable = botocore_error("job", EndpointConnectionError(endpoint_url="http://x"))
    assert isinstance(unreachable, RetryableError)
    no_credentials = botocore_error("job", NoCredentialsError())
    assert isinstance(no_credentials, PermanentError) and "AWS_PROFILE" in str(no_credentials)
    no_region = botocore_error("job", NoRegionError())
    assert isinstance(no_region, PermanentError) and "STREAMPROC_TEXTRACT_REGION" in str(no_region)


def test_textract_with_a_local_store_needs_a_bucket_to_copy_originals_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMPROC_OCR_PROVIDER", "textract")
    with pytest.raises(ConfigurationError, match="set STREAMPROC_TEXTRACT_BUCKET"):
        load_pipeline_settings(store="local")
    assert load_pipeline_settings(store="s3://docs/prefix").ocr_provider == "textract"
    monkeypatch.setenv("STREAMPROC_TEXTRACT_BUCKET", "textract-inbox")
    settings = load_pipeline_settings(store="local")
    assert (settings.textract_bucket, settings.textract_poll_seconds) == ("textract-inbox", 5.0)
    assert load_pipeline_settings().ocr_provider == "textract"
    monkeypatch.delenv("STREAMPROC_OCR_PROVIDER")
    assert load_pipeline_settings().ocr_provider == "local"


# -- the ocr stage at the Textract stand-in ----------------------------------------------------


@dataclass(frozen=True)
class Aws:
    """The Textract stand-in, moto's S3 server it reads from, and a bucket there."""

    textract: FakeTextract
    s3_endpoint: str
    bucket: str


@pytest.fixture
def aws(s3_endpoint: str, bucket: str) -> Iterator[Aws]:
    """A Textract stand-in for this test, reading from ``bucket`` at moto's S3 server."""
    with fake_textract(s3_endpoint) as textract:
        yield Aws(textract, s3_endpoint, bucket)


@pytest.fixture
def pdf_pages(corpus_dir: Path) -> list[list[str]]:
    """The test PDF's text-layer lines: what the Textract stand-in 'recognises' in it."""
    return text_layer_lines(corpus_dir / PDF)


def textract_settings(aws: Aws, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "ocr_provider": "textract",
        "textract_bucket": aws.bucket,
        "textract_endpoint_url": aws.textract.url,
        "s3_endpoint_url": aws.s3_endpoint,
        "textract_poll_seconds": POLL,
    }
    base.update(overrides)
    return base


@pytest.fixture
async def resources(database_url: str, tmp_path: Path, aws: Aws) -> AsyncIterator[Resources]:
    """Resources with a local store and the Textract stand-in, copying originals to the bucket."""
    engine = load_settings(database_url=database_url, data_dir=tmp_path / "data", max_attempts=3)
    settings = load_pipeline_settings(
        store=(tmp_path / "objects").as_uri(), **textract_settings(aws)
    )
    async with open_resources(engine, settings) as res:
        yield res


async def submit(res: Resources, path: Path) -> str:
    [source] = await expand([path], None)
    return (await ingest(source, "B", res, None)).document_id


async def call(res: Resources, msg: OcrInput, attempt: int = 0) -> Any:
    ctx = Context("ocr", "1-0", msg.document_id, "B", attempt, "trace-1", False, res)
    return await ocr.STAGE.handle(msg, ctx)


async def job_status(endpoint: str, job_id: str) -> str:
    """What the fake service says about the job, asked through its API."""
    async with textract_client(endpoint, REGION) as client:
        answer = await client.get_document_text_detection(JobId=job_id)
    return str(answer["JobStatus"])


def expected_pages(pages: list[list[str]]) -> list[Page]:
    return [Page(n, "\n".join(lines), ocr=True) for n, lines in enumerate(pages, 1)]


async def test_a_pdf_is_started_at_textract_polled_while_running_and_stored_when_done(
    resources: Resources,
    aws: Aws,
    corpus_dir: Path,
    pdf_pages: list[list[str]],
) -> None:
    aws.textract.script("IN_PROGRESS", blocks_for(pdf_pages))
    s3_endpoint, bucket = aws.s3_endpoint, aws.bucket
    doc = await submit(resources, corpus_dir / PDF)

    first = await call(resources, OcrInput(document_id=doc))
    assert isinstance(first, Defer) and first.seconds == POLL
    assert isinstance(first.payload, OcrInput) and first.payload.textract is not None
    started = first.payload.textract
    assert aws.textract.started() == [started.job_id]
    assert await job_status(aws.textract.url, started.job_id) == "IN_PROGRESS"
    record = await get_document(resources.pool, doc)
    assert record is not None and record.object_key is not None
    assert (started.bucket, started.key, started.kind, started.polls) == (
        bucket,
        record.object_key,
        "pdf",
        0,
    )
    async with s3_client(s3_endpoint) as s3:
        assert await read_object(s3, bucket, record.object_key) == (corpus_dir / PDF).read_bytes()

    second = await call(resources, first.payload)
    assert isinstance(second, Defer) and isinstance(second.payload, OcrInput)
    assert second.payload.textract == started.model_copy(update={"polls": 1})
    assert await load_pages(resources.pool, doc) == []

    aws.textract.finish(started.job_id, "SUCCEEDED")
    assert await call(resources, second.payload) == DocumentRef(document_id=doc)
    assert await load_pages(resources.pool, doc) == expected_pages(pdf_pages)
    assert len(pdf_pages) == len(read_document((corpus_dir / PDF).read_bytes())[1])
    record = await get_document(resources.pool, doc)
    assert record is not None and (record.kind, record.stage, record.error) == ("pdf", "ocr", None)


async def test_with_an_s3_store_textract_reads_the_stored_original_and_nothing_is_copied(
    database_url: str,
    tmp_path: Path,
    aws: Aws,
    corpus_dir: Path,
    pdf_pages: list[list[str]],
) -> None:
    aws.textract.script("SUCCEEDED", blocks_for(pdf_pages))
    s3_endpoint, bucket = aws.s3_endpoint, aws.bucket
    engine = load_settings(database_url=database_url, data_dir=tmp_path / "data")
    settings = load_pipeline_settings(
        store=f"s3://{bucket}/docs", **textract_settings(aws, textract_bucket=None)
    )
    async with open_resources(engine, settings) as res:
        doc = await submit(res, corpus_dir / PDF)
        first = await call(res, OcrInput(document_id=doc))
        assert isinstance(first, Defer) and isinstance(first.payload, OcrInput)
        started = first.payload.textract
        assert started is not None
        async with s3_client(s3_endpoint) as s3:
            keys = [key async for key, _ in list_keys(s3, bucket, "")]
        assert keys == [started.key] and started.key.startswith("docs/originals/")
        assert await call(res, first.payload) == DocumentRef(document_id=doc)
        assert await load_pages(res.pool, doc) == expected_pages(pdf_pages)


async def test_a_failed_job_is_a_permanent_error_with_textracts_message_and_the_document_fails(
    resources: Resources, aws: Aws, corpus_dir: Path, pdf_pages: list[list[str]]
) -> None:
    aws.textract.script("IN_PROGRESS", blocks_for(pdf_pages))
    doc = await submit(resources, corpus_dir / PDF)
    first = await call(resources, OcrInput(document_id=doc))
    assert isinstance(first, Defer) and isinstance(first.payload, OcrInput)
    assert first.payload.textract is not None
    aws.textract.finish(first.payload.textract.job_id, "FAILED", FAILURE)
    with pytest.raises(PermanentError) as caught:
        await call(resources, first.payload)
    message = str(caught.value)
    assert message.startswith(f"{corpus_dir / PDF}: Textract job {first.payload.textract.job_id}")
    assert message.endswith(f"ended FAILED: {FAILURE}")
    record = await get_document(resources.pool, doc)
    assert record is not None and (record.status, record.error) == ("failed", f"ocr: {message}")
    assert await load_pages(resources.pool, doc) == []


@pytest.mark.parametrize("name", [DOCX, HTML])
async def test_documents_textract_cannot_read_are_read_locally_without_starting_a_job(
    resources: Resources, aws: Aws, corpus_dir: Path, name: str
) -> None:
    doc = await submit(resources, corpus_dir / name)
    assert await call(resources, OcrInput(document_id=doc)) == DocumentRef(document_id=doc)
    assert aws.textract.started() == []
    _, local = read_document((corpus_dir / name).read_bytes())
    assert [p.text for p in await load_pages(resources.pool, doc)] == [p.text for p in local]


async def test_polling_a_job_textract_does_not_know_is_permanent_and_says_to_submit_again(
    resources: Resources, aws: Aws, corpus_dir: Path
) -> None:
    doc = await submit(resources, corpus_dir / PDF)
    unknown = TextractJob(job_id="no-such-job", kind="pdf", bucket="b" * 3, key="k")
    with pytest.raises(PermanentError, match="InvalidJobIdException") as caught:
        await call(resources, OcrInput(document_id=doc, textract=unknown))
    assert "submit the document again" in str(caught.value)


async def test_a_start_repeated_after_a_lost_reply_gets_the_job_already_started(
    resources: Resources, aws: Aws, corpus_dir: Path, pdf_pages: list[list[str]]
) -> None:
    aws.textract.script("IN_PROGRESS", blocks_for(pdf_pages))
    doc = await submit(resources, corpus_dir / PDF)
    first = await call(resources, OcrInput(document_id=doc))
    again = await call(resources, OcrInput(document_id=doc))
    assert isinstance(first, Defer) and isinstance(first.payload, OcrInput)
    assert isinstance(again, Defer) and isinstance(again.payload, OcrInput)
    assert first.payload.textract is not None and again.payload.textract is not None
    assert again.payload.textract.job_id == first.payload.textract.job_id
    assert aws.textract.started() == [first.payload.textract.job_id]


async def test_a_start_textract_keeps_throttling_is_retried_later_without_a_job(
    resources: Resources, aws: Aws, corpus_dir: Path
) -> None:
    doc = await submit(resources, corpus_dir / PDF)
    aws.textract.refuse_next("ThrottlingException", "Rate exceeded", times=10)
    with pytest.raises(RetryableError, match=r"\(ThrottlingException: Rate exceeded\)"):
        await call(resources, OcrInput(document_id=doc))
    tries = aws.textract.operations
    assert len(tries) > 1 and set(tries) == {"StartDocumentTextDetection"}  # botocore's own tries
    assert aws.textract.started() == []


def closed_port() -> str:
    """The URL of a local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_an_unreachable_textract_is_retried_later(
    database_url: str, tmp_path: Path, aws: Aws
) -> None:
    engine = load_settings(database_url=database_url, data_dir=tmp_path / "data")
    settings = load_pipeline_settings(
        store=(tmp_path / "objects").as_uri(),
        **textract_settings(aws, textract_endpoint_url=closed_port()),
    )
    async with open_resources(engine, settings) as res:
        doc = await submit(res, Path(__file__))
        running = TextractJob(job_id="job-1", kind="pdf", bucket=aws.bucket, key="k")
        with pytest.raises(RetryableError, match="Textract unreachable"):
            await call(res, OcrInput(document_id=doc, textract=running))


# -- a worker over the whole pipeline -------------------------------------------------------------


@pytest.fixture
def engine(
    make_settings: Any,
    database_url: str,
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """Engine settings for this test; the pipeline's lifespan reads Textract's from the env."""
    for name, value in textract_settings(aws).items():
        monkeypatch.setenv(f"STREAMPROC_{name.upper()}", str(value))
    return make_settings(database_url=database_url)  # type: ignore[no-any-return]


async def run_until_textract_ends(
    engine: Settings,
    redis: Redis,
    fake: FakeTextract,
    *,
    batch: str,
    status: str,
    message: str | None,
) -> Report:
    """Drain a worker over the pipeline; once the job was polled running, end it with ``status``."""
    worker = Worker(PIPELINE, PIPELINE.stages, engine, redis)
    client = Client(redis, Keys(engine.prefix))

    async def end_job_after_a_running_poll() -> None:
        # Two deferrals: the start, and at least one poll that found the job running.
        while await deferrals(client, batch) < 2:
            await asyncio.sleep(0.01)
        [job_id] = fake.started()
        fake.finish(job_id, status, message)

    async with asyncio.timeout(120), asyncio.TaskGroup() as tg:
        tg.create_task(end_job_after_a_running_poll())
        return await worker.run(drain=True)


async def deferrals(client: Client, batch: str) -> int:
    status = await client.status(batch)
    return 0 if status is None else status.counters.get("deferred:ocr", 0)


@pytest.mark.parametrize("redis_server", ["system"], indirect=True)
async def test_a_worker_completes_a_document_whose_textract_job_it_polls_through_the_delayed_set(
    engine: Settings,
    redis: Redis,
    aws: Aws,
    corpus_dir: Path,
    pdf_pages: list[list[str]],
) -> None:
    aws.textract.script("IN_PROGRESS", blocks_for(pdf_pages))
    async with lifespan(engine) as res:
        client = Client(redis, Keys(engine.prefix))
        result = await submit_paths([corpus_dir / PDF], resources=res, client=client, batch="TX")
        [doc] = [f.document_id for f in result.files]

        report = await run_until_textract_ends(
            engine, redis, aws.textract, batch="TX", status="SUCCEEDED", message=None
        )

        assert (
            set(report.counts["ocr"]) == {"deferred", "done"} and report.counts["ocr"]["done"] == 1
        )
        assert report.counts["ocr"]["deferred"] >= 2
        for stage in ("chunk", "entities", "resolve", "relationships"):
            assert report.counts[stage] == {"done": 1}
        status = await client.status("TX")
        assert status is not None and (status.done, status.failed, status.completed) == (1, 0, True)
        assert await load_pages(res.pool, doc) == expected_pages(pdf_pages)
        record = await get_document(res.pool, doc)
        assert record is not None and (record.status, record.stage) == ("done", "relationships")


@pytest.mark.parametrize("redis_server", ["system"], indirect=True)
async def test_a_worker_dead_letters_a_document_whose_textract_job_failed_with_its_message(
    engine: Settings,
    redis: Redis,
    aws: Aws,
    corpus_dir: Path,
    pdf_pages: list[list[str]],
) -> None:
    aws.textract.script("IN_PROGRESS", blocks_for(pdf_pages))
    keys = Keys(engine.prefix)
    async with lifespan(engine) as res:
        client = Client(redis, keys)
        result = await submit_paths([corpus_dir / PDF], resources=res, client=client, batch="TF")
        [doc] = [f.document_id for f in result.files]

        report = await run_until_textract_ends(
            engine, redis, aws.textract, batch="TF", status="FAILED", message=FAILURE
        )

        assert report.counts["ocr"]["dead_lettered"] == 1 and "done" not in report.counts["ocr"]
        assert "chunk" not in report.counts or not report.counts["chunk"]
        entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(
            keys.dead_letters("ocr")
        )  # type: ignore[assignment]
        [fields] = [{k.decode(): v.decode() for k, v in f.items()} for _, f in entries]
        assert fields["doc"] == doc and fields["error_class"] == "PermanentError"
        assert fields["error"].endswith(f"ended FAILED: {FAILURE}")
        record = await get_document(res.pool, doc)
        assert record is not None and record.status == "failed"
        assert record.error == f"ocr: {fields['error']}"
