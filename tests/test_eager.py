"""Eager start: inline when a coroutine never waits, a Task when it does."""

from __future__ import annotations

import asyncio

import pytest

from streamproc import eager


async def test_a_coroutine_that_never_waits_runs_inline_without_a_task() -> None:
    seen: list[str] = []

    async def quick() -> None:
        seen.append("ran")

    assert eager.start(quick(), asyncio.create_task) is None
    assert seen == ["ran"]


async def test_a_coroutine_that_waits_is_finished_by_a_task_with_its_results() -> None:
    seen: list[object] = []

    async def slow() -> None:
        seen.append("before")
        fut = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, fut.set_result, 42)
        seen.append(await fut)
        await asyncio.sleep(0)
        seen.append(await asyncio.sleep(0.01, result="slept"))

    task = eager.start(slow(), asyncio.create_task)
    assert seen == ["before"] and task is not None
    await task
    assert seen == ["before", 42, "slept"]


async def test_cancelling_the_task_raises_cancelled_error_inside_the_coroutine() -> None:
    seen: list[str] = []

    async def waits_forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = eager.start(waits_forever(), asyncio.create_task)
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]


async def test_exceptions_after_a_wait_propagate_through_the_task() -> None:
    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise ValueError("boom")

    task = eager.start(fails_later(), asyncio.create_task)
    assert task is not None
    with pytest.raises(ValueError, match="boom"):
        await task


async def test_an_exception_before_any_wait_is_raised_at_once() -> None:
    async def fails_now() -> None:
        raise KeyError("now")

    with pytest.raises(KeyError):
        eager.start(fails_now(), asyncio.create_task)
