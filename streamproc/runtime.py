"""What every stage runner of one worker process shares.

``stopping`` is set when the worker begins to stop (no new reads);
``halted`` when it has finished stopping, and every background loop checks it,
because a cancellation can be swallowed inside a client library.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from streamproc.config import Settings
from streamproc.keys import Keys
from streamproc.scripts import Scripts


def consumer_name() -> str:
    """A consumer name unique to this process: host-pid-random."""
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


@dataclass(frozen=True)
class Runtime:
    """Connections, settings and the stop signal of one worker process."""

    redis: Redis
    scripts: Scripts
    keys: Keys
    settings: Settings
    consumer: str
    stopping: asyncio.Event
    halted: asyncio.Event
    resources: Any = None
    retry_scheduled: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when this process put a message in a delayed set: the promoter looks again."""

    async def sleep(self, seconds: float) -> bool:
        """Sleep, waking early when the worker stops; True if it is stopping."""
        return await sleep_unless(self.stopping, seconds)


async def sleep_unless(event: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``event`` is set first; True if it was."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True
