"""S3 through aioboto3: the S3 object store, and reading submitted ``s3://`` sources.

Credentials come from the usual AWS chain (environment, profile, instance
role); ``endpoint_url`` points at MinIO or another S3-compatible server.
Errors are translated here: a missing key is ``ObjectNotFound``; a missing
bucket or refused credentials a ``ConfigurationError``; an endpoint that cannot
be reached (connection errors, timeouts, HTTP 5xx) ``DependencyUnavailable``
naming the object store; other errors (throttling) a ``RetryableError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aioboto3
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as EndpointUnreachable

from consumers.dependencies import OBJECTS
from consumers.storage.objects import ObjectNotFound, check_key
from streamproc.errors import ConfigurationError, DependencyUnavailable, RetryableError

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_MISCONFIGURED = frozenset(
    {"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
)


@asynccontextmanager
async def s3_client(
    endpoint_url: str | None = None, region: str | None = None
) -> AsyncIterator[Any]:
    """An open aioboto3 S3 client, closed on exit."""
    session = aioboto3.Session()
    async with session.client("s3", endpoint_url=endpoint_url, region_name=region) as client:
        yield client


@contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Translate botocore's errors about ``what`` (an ``s3://`` URI) into ours."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise ObjectNotFound(f"{what} does not exist") from exc
        if code in _MISCONFIGURED:
            raise ConfigurationError(f"S3 refused access to {what}: {code}") from exc
        if _status(exc) >= 500:
            raise DependencyUnavailable(OBJECTS, f"S3 failed on {what}: {code or exc}") from exc
        raise RetryableError(f"S3 failed on {what}: {code or exc}") from exc
    except (EndpointUnreachable, HTTPClientError) as exc:
        raise DependencyUnavailable(OBJECTS, f"S3 unreachable for {what}: {exc}") from exc
    except BotoCoreError as exc:
        raise RetryableError(f"S3 unreachable for {what}: {exc}") from exc


def _status(exc: ClientError) -> int:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else 0


async def read_object(client: Any, bucket: str, key: str) -> bytes:
    """The bytes of ``s3://bucket/key``."""
    with s3_errors(f"s3://{bucket}/{key}"):
        response = await client.get_object(Bucket=bucket, Key=key)
        async with response["Body"] as body:
            return bytes(await body.read())


async def object_size(client: Any, bucket: str, key: str) -> int | None:
    """The size of ``s3://bucket/key`` in bytes, or None when there is no such object."""
    try:
        with s3_errors(f"s3://{bucket}/{key}"):
            response = await client.head_object(Bucket=bucket, Key=key)
    except ObjectNotFound:
        return None
    return int(response["ContentLength"])


async def list_keys(client: Any, bucket: str, prefix: str) -> AsyncIterator[tuple[str, int]]:
    """Every ``(key, size)`` under ``prefix`` in ``bucket``, in key order."""
    paginator = client.get_paginator("list_objects_v2")
    with s3_errors(f"s3://{bucket}/{prefix}"):
        async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], int(item["Size"])


class S3Store:
    """Objects in ``bucket`` under ``prefix``."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, data: bytes) -> None:
        """Upload ``data`` (S3 makes a completed PUT visible whole, never half)."""
        full = self._key(key)
        with s3_errors(f"s3://{self.bucket}/{full}"):
            await self.client.put_object(Bucket=self.bucket, Key=full, Body=data)

    async def get(self, key: str) -> bytes:
        """Download the object."""
        return await read_object(self.client, self.bucket, self._key(key))

    async def exists(self, key: str) -> bool:
        """Whether the object exists (a HEAD request)."""
        return await object_size(self.client, self.bucket, self._key(key)) is not None
