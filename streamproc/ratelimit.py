"""A rate limit shared by every process: requests and tokens per minute, in Redis.

Two token buckets (requests, tokens) live in one Redis hash and are checked
and taken atomically by ``lua/token_bucket.lua``: a caller gets both or
neither. Each bucket refills continuously at its per-minute rate and holds at
most ``burst_seconds`` worth, so over any window of ``w`` seconds the whole
fleet is granted at most ``limit * (burst_seconds + w) / 60``. The server's
clock is the only clock, so hosts with skewed clocks agree.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamproc.errors import PermanentError, RetryableError
from streamproc.scripts import Scripts

# A sleeper wakes at least this often, so a refund or a changed limit is seen.
MAX_SLEEP = 1.0


class Verdict(IntEnum):
    """The status codes ``token_bucket.lua`` returns."""

    TOO_LARGE = -1
    WAIT = 0
    GRANTED = 1


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Requests and tokens per minute, and how many seconds' worth may burst."""

    requests_per_minute: float
    tokens_per_minute: float
    burst_seconds: float = 6.0

    def __post_init__(self) -> None:
        if min(self.requests_per_minute, self.tokens_per_minute, self.burst_seconds) <= 0:
            raise ValueError(f"rate limits and burst must be positive: {self}")

    @property
    def request_capacity(self) -> float:
        """The most requests granted at once (at least one)."""
        return max(1.0, self.requests_per_minute * self.burst_seconds / 60)

    @property
    def token_capacity(self) -> float:
        """The most tokens granted at once: the largest single request allowed."""
        return self.tokens_per_minute * self.burst_seconds / 60


@contextmanager
def redis_errors(what: str) -> Iterator[None]:
    """Translate Redis connection trouble into :class:`RetryableError`."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise RetryableError(f"{what}: Redis unavailable ({type(exc).__name__})") from exc


class RateLimiter:
    """Waits for room under one shared :class:`RateLimit` before each request."""

    def __init__(self, scripts: Scripts, name: str, limit: RateLimit) -> None:
        self.scripts = scripts
        self.name = name
        self.limit = limit

    async def try_acquire(self, tokens: float, requests: float = 1) -> float:
        """Take ``requests`` and ``tokens`` if both are there: 0.0, else seconds to wait.

        Raises :class:`PermanentError` if ``tokens`` exceeds the token capacity:
        such a request could never be granted.
        """
        status, wait_ms = await self._bucket(requests, tokens, "take")
        if status == Verdict.TOO_LARGE:
            raise PermanentError(
                f"rate limit {self.name!r}: {tokens:.0f} tokens exceed the bucket of "
                f"{self.limit.token_capacity:.0f} (tokens per minute x burst seconds / 60); "
                "raise the tokens-per-minute limit or send smaller chunks"
            )
        return 0.0 if status == Verdict.GRANTED else wait_ms / 1000

    async def acquire(self, tokens: float, *, max_wait: float | None = None) -> float:
        """Wait until one request and ``tokens`` are granted; returns the seconds waited.

        Raises :class:`RetryableError` when granting would take longer than
        ``max_wait`` seconds, so a saturated limit sends work back to the
        delayed set instead of holding a worker slot.
        """
        started = time.monotonic()
        while (wait := await self.try_acquire(tokens)) > 0:
            waited = time.monotonic() - started
            if max_wait is not None and waited + wait > max_wait:
                raise RetryableError(
                    f"rate limit {self.name!r}: no room within {max_wait:g}s "
                    f"(next grant in {wait:.2f}s)"
                )
            await asyncio.sleep(_sleep_for(wait))
        return time.monotonic() - started

    async def adjust(self, tokens: float) -> None:
        """Take ``tokens`` more (or give back ``-tokens``) after the real count is known."""
        if tokens:
            await self._bucket(0, tokens, "force")

    async def hold(self, seconds: float) -> None:
        """Make every process wait about ``seconds`` (the endpoint asked us to back off)."""
        per_second = (self.limit.requests_per_minute / 60, self.limit.tokens_per_minute / 60)
        await self._bucket(per_second[0] * seconds, per_second[1] * seconds, "hold")

    async def _bucket(self, requests: float, tokens: float, mode: str) -> tuple[int, int]:
        call = self.scripts.token_bucket(
            name=self.name,
            request_capacity=self.limit.request_capacity,
            requests_per_minute=self.limit.requests_per_minute,
            token_capacity=self.limit.token_capacity,
            tokens_per_minute=self.limit.tokens_per_minute,
            requests=requests,
            tokens=tokens,
            mode=mode,
        )
        with redis_errors(f"rate limit {self.name!r}"):
            status, wait_ms = await self.scripts.call(call)
        return int(status), int(wait_ms)


def _sleep_for(wait: float) -> float:
    """The wait plus a little jitter (so waiters do not wake in lockstep), capped."""
    return min(MAX_SLEEP, wait + random.uniform(0, min(wait, 0.05)) + 0.001)


def estimate_tokens(characters: int) -> int:
    """A conservative token count for ``characters`` of English text (about 4 per token)."""
    return math.ceil(characters / 3.5)
