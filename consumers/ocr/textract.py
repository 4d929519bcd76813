"""AWS Textract through aioboto3: start a text-detection job, read its result, translate errors.

Credentials come from the usual AWS chain (environment, profile, instance
role); ``endpoint_url`` points at a stand-in (moto, LocalStack). Errors are
translated here: server errors and lost connections are
``DependencyUnavailable("textract")`` (its breaker); throttling a
``RetryableError``; refused credentials, bad parameters, unreadable S3
objects and documents Textract cannot read are a ``PermanentError`` that
says what to fix.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable

from consumers.dependencies import TEXTRACT
from consumers.ocr.blocks import SUCCEEDED, Detection
from streamproc.errors import (
    DependencyUnavailable,
    PermanentError,
    ProcessingError,
    RetryableError,
)

#: Results per response: Textract's maximum, so a long result takes the fewest calls.
MAX_RESULTS = 1000
#: Responses one result may take; 3,000 dense pages need under 2,000.
MAX_RESPONSES = 5000

# The engine retries with backoff; botocore need not retry much itself.
_CONFIG = Config(
    connect_timeout=10, read_timeout=60, retries={"mode": "standard", "max_attempts": 3}
)
_RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_CREDENTIALS = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
    }
)
_SETTINGS = "check STREAMPROC_TEXTRACT_REGION, STREAMPROC_TEXTRACT_BUCKET and STREAMPROC_STORE"
_GRANTS = (
    "check the AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or "
    "the instance role) allow textract:StartDocumentTextDetection, "
    "textract:GetDocumentTextDetection and s3:GetObject on the bucket"
)
_HINTS = {
    "InvalidS3ObjectException": (
        "Textract cannot read the S3 object: the bucket must be in the Textract region "
        f"and readable with these credentials; {_SETTINGS}"
    ),
    "InvalidParameterException": f"Textract refused the request's parameters; {_SETTINGS}",
    "UnsupportedDocumentException": (
        "Textract reads PDF, TIFF, JPEG and PNG only: convert the document and submit it again"
    ),
    "BadDocumentException": (
        "Textract cannot read the document (damaged or encrypted?): submit a repaired copy"
    ),
    "DocumentTooLargeException": (
        "the document is over Textract's limits (500 MB, 3,000 pages): split it and submit again"
    ),
    "InvalidJobIdException": (
        "Textract does not know the job (results expire after 7 days): submit the document again"
    ),
    "InvalidKMSKeyException": "Textract cannot use the bucket's KMS key: check the key's policy",
}


@functools.cache
def _session() -> aioboto3.Session:
    # One session per process: a fresh one re-reads botocore's models (~0.1 s of CPU a call).
    return aioboto3.Session()


@asynccontextmanager
async def textract_client(
    endpoint_url: str | None = None, region: str | None = None
) -> AsyncIterator[Any]:
    """An open aioboto3 Textract client, closed on exit."""
    async with AsyncExitStack() as stack:
        with textract_errors("Textract client"):
            client = await stack.enter_async_context(
                _session().client(
                    "textract", endpoint_url=endpoint_url, region_name=region, config=_CONFIG
                )
            )
        yield client


@asynccontextmanager
async def s3_upload_client(
    endpoint_url: str | None = None, region: str | None = None
) -> AsyncIterator[Any]:
    """An open aioboto3 S3 client from the same session, for copying originals to Textract."""
    async with AsyncExitStack() as stack:
        with textract_errors("S3 client"):
            client = await stack.enter_async_context(
                _session().client("s3", endpoint_url=endpoint_url, region_name=region)
            )
        yield client


async def start_detection(client: Any, bucket: str, key: str, *, token: str, tag: str) -> str:
    """Start detecting the text of ``s3://bucket/key``; returns the job id."""
    with textract_errors(f"s3://{bucket}/{key}"):
        response = await client.start_document_text_detection(
            DocumentLocation={"S3Object": {"Bucket": bucket, "Name": key}},
            ClientRequestToken=token,
            JobTag=tag,
        )
    return str(response["JobId"])


async def get_detection(client: Any, job_id: str) -> Detection:
    """The job's status and, once it succeeded, its whole result (every ``NextToken`` page)."""
    found = Detection()
    request: dict[str, Any] = {"JobId": job_id, "MaxResults": MAX_RESULTS}
    with textract_errors(f"Textract job {job_id}"):
        for _ in range(MAX_RESPONSES):
            response = await client.get_document_text_detection(**request)
            found.add(response)
            token = response.get("NextToken")
            if found.status != SUCCEEDED or not token:
                return found
            request["NextToken"] = token
    raise PermanentError(
        f"Textract job {job_id} returned more than {MAX_RESPONSES} result pages: "
        "split the document and submit it again"
    )


@contextmanager
def textract_errors(what: str) -> Iterator[None]:
    """Translate botocore's errors about ``what`` into ours."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code, detail = str(error.get("Code", "")), str(error.get("Message", ""))
        raise client_error(what, code, status, detail) from exc
    except BotoCoreError as exc:
        raise botocore_error(what, exc) from exc


def client_error(what: str, code: str, status: int | None, detail: str) -> ProcessingError:
    """The error to raise for an AWS error ``code`` (HTTP ``status``) about ``what``."""
    said = f"{code}: {detail}" if detail else code or f"HTTP {status}"
    if status is not None and status >= 500:
        return DependencyUnavailable(TEXTRACT, f"Textract is unavailable for {what} ({said})")
    if code in _RETRYABLE or status == 429:
        return RetryableError(f"Textract is unavailable for {what} ({said}); retrying later")
    if code in _CREDENTIALS:
        return PermanentError(f"AWS refused {what} ({said}): {_GRANTS}")
    return PermanentError(f"Textract refused {what} ({said}): {_HINTS.get(code, _SETTINGS)}")


def botocore_error(what: str, exc: BotoCoreError) -> ProcessingError:
    """The error to raise for a botocore failure that never got an AWS answer."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return PermanentError(f"no usable AWS credentials for {what} ({exc}): {_GRANTS}")
    if isinstance(exc, NoRegionError):
        return PermanentError(
            f"no AWS region for {what}: set STREAMPROC_TEXTRACT_REGION (or AWS_DEFAULT_REGION)"
        )
    if isinstance(exc, ParamValidationError):
        return PermanentError(f"invalid request for {what} ({exc}): {_SETTINGS}")
    if isinstance(exc, EndpointUnreachable | HTTPClientError):
        return DependencyUnavailable(TEXTRACT, f"Textract unreachable for {what}: {exc}")
    return RetryableError(f"Textract unreachable for {what}: {exc}")
