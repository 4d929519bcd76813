"""Circuit breakers: the pure state rules, error classification, and the script on Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from botocore.exceptions import EndpointConnectionError
from pydantic import BaseModel
from redis.asyncio import Redis

from consumers.storage.db import translated
from consumers.storage.s3 import s3_errors
from streamproc.breaker import CLOSED, Breakers, Reading, State, View, admits, deferral
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.errors import DependencyUnavailable, PermanentError, RetryableError
from streamproc.failures import Verdict, classify
from streamproc.keys import Keys
from streamproc.scripts import Scripts
from streamproc.stage import Context, Pipeline, Stage
from streamproc.worker import Worker

OPEN_MS = 300


def test_a_stage_whose_breakers_are_closed_reads_without_limit() -> None:
    assert admits([CLOSED, View(State.CLOSED, failures=3)]) is None


def test_an_open_breaker_or_a_half_open_one_probed_elsewhere_stops_reading() -> None:
    assert admits([CLOSED, View(State.OPEN)]) == 0
    assert admits([View(State.HALF_OPEN, probe=False)]) == 0


def test_the_process_holding_the_probe_reads_one_entry() -> None:
    assert admits([CLOSED, View(State.HALF_OPEN, probe=True)]) == 1


def test_a_deferred_message_is_due_when_the_breaker_half_opens() -> None:
    assert deferral(View(State.OPEN, half_opens_at=112.5), 100.0, 30.0, 0.2) == 12.5
    assert deferral(View(State.OPEN, half_opens_at=99.0), 100.0, 30.0, 0.2) == 0.0
    assert deferral(View(State.HALF_OPEN), 100.0, 30.0, 0.2) == 30.0
    assert deferral(View(State.CLOSED, failures=2), 100.0, 30.0, 0.2) == 0.2


def test_only_a_breaker_that_is_not_closed_or_has_failures_is_suspect() -> None:
    assert not CLOSED.suspect
    assert View(State.CLOSED, failures=1).suspect
    assert View(State.OPEN).suspect


def test_unavailability_is_a_retryable_error_naming_its_dependency() -> None:
    exc = DependencyUnavailable("postgres", "PostgreSQL unavailable")
    assert isinstance(exc, RetryableError) and exc.dependency == "postgres"
    assert classify(exc) is Verdict.RETRY


async def test_postgres_connection_errors_are_unavailability_and_bad_data_is_permanent() -> None:
    for library_error in (
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.ConnectionDoesNotExistError("connection was closed"),
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
    ):
        with pytest.raises(DependencyUnavailable) as caught:
            async with translated():
                raise library_error
        assert caught.value.dependency == "postgres"
    with pytest.raises(RetryableError) as retry:
        async with translated():
            raise asyncpg.SerializationError("could not serialize")
    assert not isinstance(retry.value, DependencyUnavailable)
    with pytest.raises(PermanentError):
        async with translated():
            raise asyncpg.DataError("bad value")


def test_an_unreachable_s3_endpoint_is_unavailability_of_the_object_store() -> None:
    with pytest.raises(DependencyUnavailable) as caught, s3_errors("s3://b/k"):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert caught.value.dependency == "objects"


# -- the script, on real Redis ------------------------------------------------------------


async def step(
    scripts: Scripts, event: str, failures: int = 0, error: str = "", threshold: int = 3
) -> Reading:
    call = scripts.breaker(
        dependency="postgres",
        event=event,
        threshold=threshold,
        open_ms=OPEN_MS,
        failures=failures,
        error=error,
    )
    return Reading.parse(await scripts.call(call))


@pytest.fixture
async def scripts(redis: Redis, settings: Settings) -> Scripts:
    s = Scripts(redis, Keys(settings.prefix))
    await s.load()
    return s


async def test_a_missing_breaker_is_closed_and_a_check_writes_nothing(
    scripts: Scripts, redis: Redis, settings: Settings
) -> None:
    got = await step(scripts, "check")
    assert got == Reading(State.CLOSED, 0, 0.0, "", False)
    assert await redis.exists(Keys(settings.prefix).breaker("postgres")) == 0


async def test_failures_in_a_row_open_the_breaker_and_a_success_resets_them(
    scripts: Scripts, redis: Redis, settings: Settings
) -> None:
    assert (await step(scripts, "fail", 2, "refused")).state is State.CLOSED
    assert (await step(scripts, "succeed")).failures == 0
    assert (await step(scripts, "fail", 2)).transition == ""
    opened = await step(scripts, "fail", 1, "connection refused")
    assert (opened.state, opened.failures, opened.transition) == (State.OPEN, 3, "opened")
    assert 0 < opened.wait <= OPEN_MS / 1000
    stored = await redis.hgetall(Keys(settings.prefix).breaker("postgres"))
    assert (stored[b"state"], stored[b"error"]) == (b"open", b"connection refused")
    assert (await step(scripts, "fail", 1)).transition == ""  # already open: stays open


async def test_an_open_breaker_half_opens_with_one_probe_closes_on_success_reopens_on_failure(
    scripts: Scripts,
) -> None:
    await step(scripts, "fail", 3)
    assert (await step(scripts, "check")).state is State.OPEN
    await asyncio.sleep(OPEN_MS / 1000 + 0.05)
    first = await step(scripts, "check")
    assert (first.state, first.transition, first.probe) == (State.HALF_OPEN, "half_open", True)
    second = await step(scripts, "check")
    assert (second.state, second.transition, second.probe) == (State.HALF_OPEN, "", False)
    reopened = await step(scripts, "fail", 1)
    assert (reopened.state, reopened.transition) == (State.OPEN, "opened")
    await asyncio.sleep(OPEN_MS / 1000 + 0.05)
    assert (await step(scripts, "check")).probe
    closed = await step(scripts, "succeed")
    assert (closed.state, closed.failures, closed.transition) == (State.CLOSED, 0, "closed")


async def test_a_probe_not_resolved_within_the_open_time_goes_to_the_next_caller(
    scripts: Scripts,
) -> None:
    await step(scripts, "fail", 3)
    await asyncio.sleep(OPEN_MS / 1000 + 0.05)
    assert (await step(scripts, "check")).probe
    assert not (await step(scripts, "check")).probe
    await asyncio.sleep(OPEN_MS / 1000 + 0.05)
    assert (await step(scripts, "check")).probe


async def test_processes_share_one_breaker_and_log_each_transition_once(
    scripts: Scripts, make_settings: Any
) -> None:
    from structlog.testing import capture_logs

    s = make_settings(breaker_threshold=2, breaker_open_seconds=0.3)
    one, two = Breakers(scripts, s, ["postgres"]), Breakers(scripts, s, ["postgres"])
    with capture_logs() as logs:
        one.failed("postgres", OSError("refused"))
        await one.sync()
        two.failed("postgres", OSError("refused"))
        await two.sync()
        await one.sync()
    assert one.view("postgres").state is two.view("postgres").state is State.OPEN
    assert one.admits(["postgres"]) == 0
    opened = [e for e in logs if e["event"] == "breaker_opened"]
    assert [(e["dependency"], e["error"]) for e in opened] == [("postgres", "refused")]
    await asyncio.sleep(0.35)
    with capture_logs() as logs:
        await one.sync()
        await two.sync()
        assert one.admits(["postgres"]) == 1 and two.admits(["postgres"]) == 0
        two.succeeded(["postgres"])
        await two.sync()
        await one.sync()
    assert [e["event"] for e in logs if e["event"].startswith("breaker_")] == [
        "breaker_half_open",
        "breaker_closed",
    ]
    assert one.admits(["postgres"]) is None and not one.view("postgres").suspect


class _Ping(BaseModel):
    n: int


async def _times_out_before_suspending(msg: _Ping, ctx: Context) -> None:
    # asyncpg's connect does this: its deadline binds to the task current when entered.
    try:
        async with asyncio.timeout(0.05):
            await asyncio.Event().wait()
    except TimeoutError:
        return


@pytest.mark.parametrize("needs", [("service",), ()])
async def test_a_deadline_entered_in_a_handlers_first_step_does_not_cancel_the_reader(
    make_settings: Any, redis: Redis, needs: tuple[str, ...]
) -> None:
    settings = make_settings(handler_timeout=5.0, max_attempts=1)
    stage = Stage("calls", _Ping, _times_out_before_suspending, needs=needs)
    pipeline = Pipeline((stage,))
    client = Client(redis, Keys(settings.prefix))
    await client.submit("calls", [(f"doc{i}", _Ping(n=i)) for i in range(6)], batch="D")
    worker = Worker(pipeline, pipeline.stages, settings, redis)

    async with asyncio.timeout(20):
        report = await worker.run(drain=True)

    assert report.counts["calls"] == {"done": 6}
    status = await client.status("D")
    assert status is not None and (status.done, status.failed) == (6, 0)
