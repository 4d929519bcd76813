"""Open the object store a location URL names: ``file:///dir`` or ``s3://bucket/prefix``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from consumers.storage.objects import LocalStore, ObjectStore
from consumers.storage.s3 import S3Store, s3_client
from streamproc.errors import ConfigurationError


@asynccontextmanager
async def open_store(
    location: str, *, endpoint_url: str | None = None, region: str | None = None
) -> AsyncIterator[ObjectStore]:
    """The store at ``location``, open for use until the context exits.

    ``endpoint_url`` and ``region`` apply to S3 (MinIO, moto); a directory is
    created if missing. Raises ``ConfigurationError`` for any other location.
    """
    parts = urlsplit(location)
    if parts.scheme == "file" and parts.path:
        root = Path(unquote(parts.path))
        await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
        yield LocalStore(root)
    elif parts.scheme == "s3" and parts.netloc:
        async with s3_client(endpoint_url, region) as client:
            yield S3Store(client, parts.netloc, parts.path.strip("/"))
    else:
        raise ConfigurationError(
            f"unsupported object store {location!r} (STREAMPROC_STORE): "
            "use 'local', 'file:///path' or 's3://bucket/prefix'"
        )
