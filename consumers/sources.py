"""What a submit names: local files, directories and ``s3://`` URIs, expanded and read.

A directory stands for every file under it (recursively, in path order),
leaving out hidden files and directories (names starting with ``.``). An
``s3://bucket/key`` URI names one object, or, when no object has that key
(or it ends with ``/``), every object under that prefix.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from consumers.storage.s3 import list_keys, object_size, read_object, s3_errors
from streamproc.errors import PermanentError

HEAD_BYTES = 4096
_STREAM_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Source:
    """One file to submit: a local path, or an S3 object (``bucket``, ``key``)."""

    name: str
    size: int
    path: Path | None = None
    bucket: str = ""
    key: str = ""

    async def read(self, s3: Any) -> bytes:
        """All of its bytes."""
        if self.path is not None:
            return await asyncio.to_thread(self.path.read_bytes)
        return await read_object(s3, self.bucket, self.key)

    async def head(self, s3: Any) -> bytes:
        """Its first bytes, enough to tell its kind."""
        if self.path is not None:
            return await asyncio.to_thread(_read_head, self.path)
        with s3_errors(self.name):
            response = await s3.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes=0-{HEAD_BYTES - 1}"
            )
            async with response["Body"] as body:
                return bytes(await body.read())

    async def sha256(self, s3: Any) -> str:
        """The hex sha256 of its bytes, read in pieces (for files too large to hold)."""
        if self.path is not None:
            return await asyncio.to_thread(_file_sha256, self.path)
        digest = hashlib.sha256()
        with s3_errors(self.name):
            response = await s3.get_object(Bucket=self.bucket, Key=self.key)
            async with response["Body"] as body:
                while piece := await body.read(_STREAM_CHUNK):
                    digest.update(piece)
        return digest.hexdigest()


def _read_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(HEAD_BYTES)


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def is_s3(name: str | Path) -> bool:
    """Whether ``name`` is an ``s3://`` URI."""
    return isinstance(name, str) and name.startswith("s3://")


async def expand(names: Sequence[str | Path], s3: Any) -> list[Source]:
    """The files ``names`` stand for, in order; a name that matches nothing is an error."""
    sources: list[Source] = []
    for name in names:
        if is_s3(name):
            found = await _s3_sources(str(name), s3)
        else:
            found = await asyncio.to_thread(_local_sources, Path(name))
        sources.extend(found)
    return sources


def _local_sources(path: Path) -> list[Source]:
    if path.is_file():
        return [_local(path)]
    if not path.is_dir():
        raise PermanentError(f"{path} is neither a file nor a directory: check the path")
    files = sorted(
        p
        for p in path.rglob("*")
        if not any(part.startswith(".") for part in p.relative_to(path).parts) and p.is_file()
    )
    return [_local(p) for p in files]


def _local(path: Path) -> Source:
    absolute = path.absolute()
    return Source(str(absolute), absolute.stat().st_size, path=absolute)


async def _s3_sources(uri: str, s3: Any) -> list[Source]:
    parts = urlsplit(uri)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket:
        raise PermanentError(f"{uri} names no bucket: use s3://bucket/key")
    if key and not key.endswith("/"):
        size = await object_size(s3, bucket, key)
        if size is not None:
            return [Source(uri, size, bucket=bucket, key=key)]
        key += "/"
    found = [
        Source(f"s3://{bucket}/{k}", size, bucket=bucket, key=k)
        async for k, size in list_keys(s3, bucket, key)
        if not k.endswith("/") and not any(p.startswith(".") for p in k[len(key) :].split("/"))
    ]
    if not found:
        raise PermanentError(f"{uri} matches no object: check the bucket and key")
    return found
