"""The ocr stage's Textract jobs: start one for a document, then poll it until it ends.

The stage never waits on Textract: :func:`start_job` puts the original where
Textract can read it and starts the job; :func:`poll_job` asks once and
returns either the pages or the job to ask about again later (the stage
turns that into a ``Defer``, so the poll goes through the engine's delayed
set). :func:`verdict` is the pure decision between the two.

Textract reads from S3: when the object store is S3 it reads the stored
original itself; otherwise the original is copied (once) to
``STREAMPROC_TEXTRACT_BUCKET`` under the same key.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from consumers.model import Page
from consumers.ocr.blocks import IN_PROGRESS, SUCCEEDED, Detection, job_token, textract_kind
from consumers.ocr.textract import get_detection, s3_upload_client, start_detection, textract_client
from consumers.resources import Resources
from consumers.settings import PipelineSettings
from consumers.storage.s3 import S3Store
from consumers.text import Limits
from streamproc.errors import ConfigurationError, PermanentError


class TextractJob(BaseModel):
    """A started Textract job, carried in the ocr message from one poll to the next."""

    model_config = ConfigDict(frozen=True)

    job_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    kind: Literal["pdf", "image"]
    bucket: str
    key: str
    polls: int = Field(default=0, ge=0)


async def start_job(
    res: Resources, document: str, key: str, data: bytes, *, trace: str
) -> TextractJob | None:
    """Start detecting the text of ``document`` (stored under ``key``; ``data`` its bytes).

    Returns None, starting nothing, when Textract cannot read the document's
    format (DOCX, HTML, text, GIF...): the local extractors read those.
    """
    kind = textract_kind(data)
    if kind is None:
        return None
    bucket, name = await _in_s3(res, key, data)
    async with _client(res.settings) as client:
        job_id = await start_detection(
            client, bucket, name, token=job_token(document, trace), tag=document[:64]
        )
    return TextractJob(job_id=job_id, kind=kind, bucket=bucket, key=name)


async def poll_job(res: Resources, job: TextractJob) -> list[Page] | TextractJob:
    """Ask Textract about ``job`` once: its pages, or the job to poll again."""
    async with _client(res.settings) as client:
        found = await get_detection(client, job.job_id)
    s = res.settings
    return verdict(found, job, s.textract_max_polls, s.textract_poll_seconds, s.limits())


def verdict(
    found: Detection, job: TextractJob, max_polls: int, poll_seconds: float, limits: Limits
) -> list[Page] | TextractJob:
    """Pages when ``found`` succeeded, the job with one more poll while it runs; else raise.

    Raises ``PermanentError`` for a failed (or partly failed) job with
    Textract's message, for a job still running after ``max_polls`` polls, and
    for a result without text or over the page limit.
    """
    where = f"Textract job {job.job_id} on s3://{job.bucket}/{job.key}"
    if found.status == IN_PROGRESS:
        if job.polls + 1 >= max_polls:
            waited = max_polls * poll_seconds
            raise PermanentError(
                f"{where} still running after {max_polls} polls (about {waited:g} s): "
                "raise STREAMPROC_TEXTRACT_MAX_POLLS or look the job up in the AWS console"
            )
        return job.model_copy(update={"polls": job.polls + 1})
    if found.status != SUCCEEDED:
        said = found.message or "no reason given"
        raise PermanentError(f"{where} ended {found.status or 'without a status'}: {said}")
    pages = found.pages()
    limits.check_pages(len(pages), "document")
    if not any(page.text.strip() for page in pages):
        raise PermanentError(f"{where} found no text: submit a clearer scan")
    return pages


def _region(settings: PipelineSettings) -> str | None:
    return settings.textract_region or settings.s3_region


def _client(settings: PipelineSettings) -> AbstractAsyncContextManager[Any]:
    return textract_client(settings.textract_endpoint_url, _region(settings))


async def _in_s3(res: Resources, key: str, data: bytes) -> tuple[str, str]:
    """Where Textract reads the original: the S3 store's object, or a copy in the bucket."""
    if isinstance(res.store, S3Store):
        store = res.store
        return store.bucket, f"{store.prefix}/{key}" if store.prefix else key
    bucket = res.settings.textract_bucket
    if bucket is None:
        raise PermanentError(
            "Textract reads documents from S3: set STREAMPROC_TEXTRACT_BUCKET "
            "or use an S3 object store (STREAMPROC_STORE=s3://bucket/prefix)"
        )
    settings = res.settings
    async with s3_upload_client(settings.s3_endpoint_url, _region(settings)) as client:
        target = S3Store(client, bucket)
        try:
            if not await target.exists(key):
                await target.put(key, data)
        except ConfigurationError as exc:
            raise PermanentError(
                f"cannot copy the original to s3://{bucket} for Textract ({exc}): check "
                "STREAMPROC_TEXTRACT_BUCKET exists in STREAMPROC_TEXTRACT_REGION and "
                "that the AWS credentials may write to it"
            ) from exc
    return bucket, key
