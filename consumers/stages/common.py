"""What every legal-document stage shares: its message, its resources, failure records.

Messages carry ids only (``{"document_id": ...}``); page text, chunks and
mentions travel through PostgreSQL, never through Redis.
"""

from __future__ import annotations

import functools
from typing import TypeVar

from pydantic import BaseModel, Field

from consumers.resources import Resources
from consumers.storage.documents import mark_failed
from streamproc.errors import (
    ConfigurationError,
    DependencyUnavailable,
    LeaseLost,
    PermanentError,
    ProcessingError,
    RetryableError,
)
from streamproc.stage import Context, Handler, Result

DOCUMENT_ID = r"^[A-Za-z0-9_.:-]{1,128}$"

In = TypeVar("In", bound=BaseModel)


class DocumentRef(BaseModel):
    """The message between stages: which document to work on."""

    document_id: str = Field(pattern=DOCUMENT_ID)


def resources_of(ctx: Context) -> Resources:
    """The pipeline's resources, as its lifespan made them."""
    if not isinstance(ctx.resources, Resources):
        raise ConfigurationError(
            f"stage {ctx.stage} needs consumers.resources.lifespan as the pipeline's lifespan, "
            f"got {type(ctx.resources).__name__}"
        )
    return ctx.resources


def recording_failures(stage: str, handler: Handler[In]) -> Handler[In]:
    """``handler``, recording in PostgreSQL why a document failed for good.

    A permanent error, or any error on the last allowed attempt, marks the
    document ``failed`` with the message; the error still propagates, so the
    engine dead-letters or retries the message as it always does.
    """

    @functools.wraps(handler)
    async def handle(msg: In, ctx: Context) -> Result:
        try:
            return await handler(msg, ctx)
        except LeaseLost:
            raise  # the worker that took the message over records its outcome
        except Exception as exc:
            if _final(exc, ctx) and isinstance(ctx.resources, Resources):
                await _record(ctx.resources, ctx.doc, stage, exc)
            raise

    return handle


def _final(exc: Exception, ctx: Context) -> bool:
    if isinstance(exc, PermanentError):
        return True
    resources = ctx.resources
    return isinstance(resources, Resources) and ctx.attempt + 1 >= resources.engine.max_attempts


async def _record(resources: Resources, document: str, stage: str, exc: Exception) -> None:
    """Mark the document failed; if PostgreSQL is away for now, have the message retried.

    Dead-lettering it unrecorded would leave its row ``queued`` for good, so a
    retryable failure to record becomes the message's error; a permanent one is
    ignored, as the original error matters more.
    """
    try:
        await mark_failed(resources.pool, document, stage, str(exc) or type(exc).__name__)
    except DependencyUnavailable as unrecorded:  # its breaker decides whether this counts
        said = f"could not record that {stage} failed: {unrecorded}"
        raise DependencyUnavailable(unrecorded.dependency, said) from exc
    except RetryableError as unrecorded:
        raise RetryableError(f"could not record that {stage} failed: {unrecorded}") from exc
    except (ProcessingError, OSError):
        pass
