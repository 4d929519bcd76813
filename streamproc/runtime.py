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
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamproc.config import Settings
from streamproc.keys import Keys
from streamproc.scripts import Scripts

if TYPE_CHECKING:
    from streamproc.breaker import Breakers

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


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
    breakers: Breakers | None = None
    """The dependencies' circuit breakers (None: no stage here needs any)."""
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


class Backoff:
    """How one loop rides out a failing Redis: it logs the first failure of a streak (and
    the recovery), and waits longer after each failure, up to ``most`` seconds.

    Connection errors and error replies alike (NOGROUP, OOM, READONLY, ...) pause
    the loop and are tried again: they never end the worker.
    """

    def __init__(self, log: Any, event: str, *, first: float = 0.05, most: float = 5.0) -> None:
        self.log, self.event = log, event
        self.first, self.most = first, most
        self.delay = first
        self.failures = 0

    async def failed(self, exc: BaseException, stopping: asyncio.Event | None = None) -> bool:
        """Note a failure and wait; True if ``stopping`` was set meanwhile."""
        if self.failures == 0:
            self.log.warning(self.event, error=str(exc) or type(exc).__name__)
        self.failures += 1
        delay, self.delay = self.delay, min(self.delay * 2, self.most)
        if stopping is None:
            await asyncio.sleep(delay)
            return False
        return await sleep_unless(stopping, delay)

    def succeeded(self) -> None:
        """Note a success: the next failure starts a new streak."""
        if self.failures:
            self.log.info(f"{self.event}_recovered", failures=self.failures)
        self.failures, self.delay = 0, self.first
