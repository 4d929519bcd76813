"""One measurement's parameters, and the two commands every peer module answers.

The frameworks' own CLIs (``celery -A``, ``arq``, ``dramatiq``, ``taskiq
worker``, ``faststream run``) import a peer's module by name, so the module
builds its app at import time from the environment the driver sets: that is
the one place these modules read it.

    python -m bench.peers.<peer> enqueue   # put N messages in with the framework's client
    python -m bench.peers.<peer> worker    # exec the framework's worker CLI
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bench.payload import PAYLOAD

PAYLOAD_TEXT = PAYLOAD.decode()  # the ~200-byte JSON document every message carries
_ENV = "PEERBENCH_"
# In-flight sends of an asyncio client's enqueue: a send holds its slot for one round
# trip, so more slots add nothing.
ENQUEUE_CONCURRENCY = 100


async def send_all(n: int, send: Callable[[], Awaitable[object]]) -> None:
    """Await ``send()`` ``n`` times, ``ENQUEUE_CONCURRENCY`` at once."""
    slots = asyncio.Semaphore(ENQUEUE_CONCURRENCY)

    async def one() -> None:
        async with slots:
            await send()

    async with asyncio.TaskGroup() as tasks:
        for _ in range(n):
            tasks.create_task(one())


@dataclass(frozen=True)
class RunSpec:
    """Where and what one run measures: a Redis database of its own, N messages, 1 or 3 stages."""

    url: str  # redis-py form, naming the run's database
    n: int
    stages: int
    tag: str  # names this run's marks

    def to_env(self) -> dict[str, str]:
        """The variables that carry this spec to the peer's processes."""
        fields = {"URL": self.url, "N": str(self.n), "STAGES": str(self.stages), "TAG": self.tag}
        return {_ENV + k: v for k, v in fields.items()}

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> RunSpec:
        """The spec the driver passed; a clear error when a module is imported outside a run."""
        try:
            return cls(
                env[_ENV + "URL"],
                int(env[_ENV + "N"]),
                int(env[_ENV + "STAGES"]),
                env[_ENV + "TAG"],
            )
        except KeyError as missing:
            raise SystemExit(f"{missing} is not set: peer modules run under bench.peers") from None

    @property
    def socket(self) -> str | None:
        """The Unix socket path when Redis listens on one."""
        parts = urlsplit(self.url)
        return parts.path if parts.scheme == "unix" else None

    @property
    def db(self) -> int:
        """The run's database number."""
        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            return int(dict(parse_qsl(parts.query)).get("db", "0"))
        return int(parts.path.lstrip("/") or "0")

    def kombu_url(self) -> str:
        """The same database in kombu's spelling (``redis+socket://`` for a Unix socket)."""
        if self.socket is not None:
            return f"redis+socket://{self.socket}?virtual_host={self.db}"
        return self.url


def url_with_db(url: str, db: int) -> str:
    """``url`` (``redis://host:port/N`` or ``unix:///path``) pointed at database ``db``."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query)) | {"db": str(db)}
        return f"unix://{parts.path}?{urlencode(query)}"  # urlunsplit would drop the "//"
    return urlunsplit(parts._replace(path=f"/{db}"))


def script(name: str) -> str:
    """A console script installed beside this interpreter (the framework's own CLI)."""
    return str(Path(sys.executable).parent / name)


def peer_main(
    enqueue: Callable[[RunSpec], None], worker: Callable[[RunSpec], Sequence[str]]
) -> None:
    """Answer ``enqueue`` (fill the queue, exit) or ``worker`` (become the framework's worker)."""
    spec = RunSpec.from_env()
    command = sys.argv[1] if len(sys.argv) == 2 else ""
    if command == "enqueue":
        enqueue(spec)
    elif command == "worker":
        argv = list(worker(spec))
        os.execv(argv[0], argv)
    else:
        raise SystemExit("usage: python -m bench.peers.<peer> enqueue|worker")
