"""The shared token bucket: exact refill arithmetic, and a fleet that stays within its limit."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import pytest
from redis.asyncio import Redis

from streamproc.embedded import PrivateRedis
from streamproc.errors import PermanentError, RetryableError
from streamproc.keys import Keys
from streamproc.ratelimit import RateLimit, RateLimiter, estimate_tokens
from streamproc.scripts import Scripts

NAME = "llm"


@pytest.fixture
async def scripts(redis: Redis, prefix: str) -> Scripts:
    loaded = Scripts(redis, Keys(prefix))
    await loaded.load()
    return loaded


async def take(
    scripts: Scripts,
    limit: RateLimit,
    *,
    now: int,
    requests: float = 1,
    tokens: float = 0,
    mode: str = "take",
) -> list[int]:
    call = scripts.token_bucket(
        name=NAME,
        request_capacity=limit.request_capacity,
        requests_per_minute=limit.requests_per_minute,
        token_capacity=limit.token_capacity,
        tokens_per_minute=limit.tokens_per_minute,
        requests=requests,
        tokens=tokens,
        mode=mode,
        now=now,
    )
    return list(await scripts.call(call))


async def test_full_bucket_grants_its_capacity_then_returns_the_wait_for_the_next_request(
    scripts: Scripts,
) -> None:
    limit = RateLimit(requests_per_minute=60, tokens_per_minute=60_000, burst_seconds=3)
    grants = [await take(scripts, limit, now=10_000) for _ in range(3)]
    assert grants == [[1, 0]] * 3
    assert await take(scripts, limit, now=10_000) == [0, 1000]
    assert await take(scripts, limit, now=10_400) == [0, 600]


async def test_bucket_refills_by_elapsed_time_and_never_beyond_its_capacity(
    scripts: Scripts,
) -> None:
    limit = RateLimit(requests_per_minute=60, tokens_per_minute=60_000, burst_seconds=3)
    for _ in range(3):
        await take(scripts, limit, now=0)
    assert await take(scripts, limit, now=1_500) == [1, 0]
    assert await take(scripts, limit, now=1_500) == [0, 500]
    later = [await take(scripts, limit, now=900_000) for _ in range(4)]
    assert later == [[1, 0], [1, 0], [1, 0], [0, 1000]]


async def test_requests_and_tokens_are_taken_together_or_not_at_all(scripts: Scripts) -> None:
    # 3 requests and 100 tokens of capacity; tokens refill at 100 per 6 s.
    limit = RateLimit(requests_per_minute=30, tokens_per_minute=1000, burst_seconds=6)
    assert await take(scripts, limit, now=0, tokens=80) == [1, 0]
    assert await take(scripts, limit, now=0, tokens=30) == [0, 600]  # 10 tokens short
    # The refused call took no request: two are still there.
    assert await take(scripts, limit, now=0, tokens=20) == [1, 0]
    assert await take(scripts, limit, now=0, tokens=0) == [1, 0]
    assert await take(scripts, limit, now=0, tokens=0) == [0, 2000]


async def test_tokens_per_minute_limit_applies_while_requests_are_plentiful(
    scripts: Scripts,
) -> None:
    limit = RateLimit(requests_per_minute=6000, tokens_per_minute=600, burst_seconds=6)
    assert await take(scripts, limit, now=0, tokens=60) == [1, 0]
    assert await take(scripts, limit, now=0, tokens=10) == [0, 1000]
    assert await take(scripts, limit, now=1000, tokens=10) == [1, 0]


async def test_amount_beyond_capacity_is_refused_as_never_grantable(
    scripts: Scripts, redis: Redis, prefix: str
) -> None:
    limit = RateLimit(requests_per_minute=60, tokens_per_minute=600, burst_seconds=6)
    assert await take(scripts, limit, now=0, tokens=61) == [-1, 0]
    limiter = RateLimiter(scripts, NAME, limit)
    with pytest.raises(PermanentError, match="61 tokens exceed the bucket of 60"):
        await limiter.try_acquire(61)
    assert not await redis.exists(Keys(prefix).rate_limit(NAME))


async def test_forced_take_corrects_an_estimate_in_both_directions(scripts: Scripts) -> None:
    limit = RateLimit(requests_per_minute=600, tokens_per_minute=600, burst_seconds=6)
    assert await take(scripts, limit, now=0, tokens=50) == [1, 0]  # 10 tokens left
    assert await take(scripts, limit, now=0, requests=0, tokens=30, mode="force") == [1, 0]
    # Level is now -20: ten tokens need 30 tokens of refill at 10 per second.
    assert await take(scripts, limit, now=0, tokens=10) == [0, 3000]
    await take(scripts, limit, now=0, requests=0, tokens=-1000, mode="force")
    assert await take(scripts, limit, now=0, tokens=60) == [1, 0]  # refund capped at 60
    assert await take(scripts, limit, now=0, tokens=1) == [0, 100]


async def test_hold_makes_every_caller_wait_about_the_given_time(scripts: Scripts) -> None:
    limit = RateLimit(requests_per_minute=600, tokens_per_minute=60_000, burst_seconds=6)
    limiter = RateLimiter(scripts, NAME, limit)
    await limiter.hold(2.0)
    wait = await limiter.try_acquire(100)
    assert 1.9 <= wait <= 2.2


async def test_server_clock_buckets_expire_once_they_would_be_full_again(
    scripts: Scripts, redis: Redis, prefix: str
) -> None:
    limit = RateLimit(requests_per_minute=600, tokens_per_minute=6000, burst_seconds=6)
    limiter = RateLimiter(scripts, NAME, limit)
    assert await limiter.try_acquire(600) == 0.0
    ttl = await redis.pttl(Keys(prefix).rate_limit(NAME))
    assert 6_000 <= ttl <= 7_000  # 600 tokens at 100 per second, plus a second
    assert await limiter.try_acquire(100) > 0


async def test_acquire_gives_up_with_a_retryable_error_past_max_wait(scripts: Scripts) -> None:
    limit = RateLimit(requests_per_minute=6, tokens_per_minute=60_000, burst_seconds=10)
    limiter = RateLimiter(scripts, NAME, limit)
    assert await limiter.acquire(10, max_wait=0.1) < 0.1
    started = time.monotonic()
    with pytest.raises(RetryableError, match=r"no room within 0\.1s"):
        await limiter.acquire(10, max_wait=0.1)
    assert time.monotonic() - started < 0.5


async def test_acquire_sleeps_until_granted(scripts: Scripts) -> None:
    limit = RateLimit(requests_per_minute=600, tokens_per_minute=60_000, burst_seconds=0.1)
    limiter = RateLimiter(scripts, NAME, limit)
    assert await limiter.acquire(1) < 0.05
    waited = await limiter.acquire(1)
    assert 0.05 <= waited <= 0.5  # one request per 100 ms


def test_token_estimate_errs_on_the_high_side_of_four_characters_per_token() -> None:
    assert estimate_tokens(0) == 0
    assert estimate_tokens(4000) >= 1000


# Two worker processes and this one share the limit for the same few seconds.
CHILD = """
import asyncio, json, sys, time
from streamproc.connections import connect_redis
from streamproc.keys import Keys
from streamproc.ratelimit import RateLimit, RateLimiter
from streamproc.scripts import Scripts

async def main(url, prefix, until, rpm, burst, tasks):
    redis = connect_redis(url)
    limiter = RateLimiter(Scripts(redis, Keys(prefix)), "llm", RateLimit(rpm, 10**9, burst))
    stamps = []
    async def run():
        while time.time() < until:
            await limiter.acquire(1)
            stamps.append(time.time())
    await asyncio.gather(*(run() for _ in range(tasks)))
    await redis.aclose()
    print(json.dumps(stamps))

a = sys.argv[1:]
asyncio.run(main(a[0], a[1], float(a[2]), float(a[3]), float(a[4]), int(a[5])))
"""


async def _grant_times(limiter: RateLimiter, until: float) -> list[float]:
    stamps: list[float] = []
    while time.time() < until:
        await limiter.acquire(1)
        stamps.append(time.time())
    return stamps


def _most_in_any_window(stamps: list[float], width: float) -> int:
    ordered, most, low = sorted(stamps), 0, 0
    for high, stamp in enumerate(ordered):
        while ordered[low] < stamp - width:
            low += 1
        most = max(most, high - low + 1)
    return most


async def test_concurrent_acquirers_in_three_processes_stay_within_the_rate(
    scripts: Scripts, redis_server: PrivateRedis, prefix: str
) -> None:
    rpm, burst, seconds = 3000.0, 0.2, 3.0  # 50 per second, 10 at once
    limit = RateLimit(rpm, 10**9, burst)
    until = time.time() + 1.0 + seconds  # the children need about a second to start
    argv = [redis_server.url, prefix, str(until), str(rpm), str(burst), "4"]
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, *argv, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    limiter = RateLimiter(scripts, NAME, limit)
    local = await asyncio.gather(*(_grant_times(limiter, until) for _ in range(4)))
    outputs = [await child.communicate() for child in children]
    assert [child.returncode for child in children] == [0, 0]
    remote = [json.loads(out) for out, _ in outputs]
    stamps = [s for part in [*local, *remote] for s in part]
    span = max(stamps) - min(stamps)
    assert len(stamps) <= limit.request_capacity + 50 * span + 5
    assert len(stamps) >= 0.7 * 50 * seconds  # the limit is used, not starved
    assert _most_in_any_window(stamps, 1.0) <= (limit.request_capacity + 50) * 1.15
    assert all(remote), "every child process was granted requests"
    assert all(local), "every local task was granted requests"
