"""The object store: where original documents live, by key.

One small protocol, two stores: :class:`LocalStore` (a directory; the
default, ``<data_dir>/objects``) and ``S3Store`` (S3 or anything speaking its
API, such as MinIO, in ``consumers.storage.s3``); ``consumers.storage.store``
opens the one a location URL names.

Keys are relative, ``/``-separated paths (``originals/<sha256>``). A missing
key is :class:`ObjectNotFound` (a ``PermanentError``: the document must be
submitted again); a file that cannot be read or written is
``DependencyUnavailable`` naming the object store (its breaker).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Protocol

from consumers.dependencies import OBJECTS
from streamproc.errors import DependencyUnavailable, PermanentError


class ObjectNotFound(PermanentError):
    """The store holds no object under the key asked for."""


class ObjectStore(Protocol):
    """Bytes by key. Writing a key again replaces its bytes atomically."""

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes under ``key``; :class:`ObjectNotFound` if there are none."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...


def check_key(key: str) -> str:
    """``key`` if it is a relative path without empty, ``.`` or ``..`` parts."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid object key {key!r}: use a relative path like 'originals/<sha>'")
    return key


class LocalStore:
    """Objects as files under a directory; writes go to a temporary file, then rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    async def put(self, key: str, data: bytes) -> None:
        """Write ``data`` to the key's file atomically (readers see old or new, never half)."""
        await asyncio.to_thread(_write_atomically, self._path(key), data)

    async def get(self, key: str) -> bytes:
        """Read the key's file."""
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise ObjectNotFound(f"object {key!r} is missing from {self.root}") from None
        except OSError as exc:
            said = f"cannot read object {key!r} from {self.root}: {exc}"
            raise DependencyUnavailable(OBJECTS, said) from exc

    async def exists(self, key: str) -> bool:
        """Whether the key's file exists."""
        return await asyncio.to_thread(self._path(key).is_file)


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                # The rename must not reach the disk before the bytes it publishes.
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise DependencyUnavailable(OBJECTS, f"cannot write object {path}: {exc}") from exc
