"""An exclusive, cross-process lock on a file, so that processes starting at
the same moment agree on one server.

``fcntl.flock`` locks belong to the open file description: the kernel drops
them when the holder exits or crashes, so a lock can never be left stale.
Python opens files close-on-exec, so a server started while the lock is
held does not inherit it.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created with its parents) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
