"""Start a coroutine at once; make it a Task only if it has to wait.

Most handler calls of a fast stage finish without ever suspending. Running
the coroutine's first step inline (as Python 3.12's eager task factory does)
saves creating and scheduling a Task for each of them; a coroutine that does
suspend is handed, mid-flight, to a Task that carries on from where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any

Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


def start(coro: Coroutine[Any, Any, None], spawn: Spawn) -> asyncio.Task[None] | None:
    """Run ``coro`` until it first suspends; returns the Task finishing it, or None if done."""
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    except BaseException:
        coro.close()
        raise
    return spawn(_finish(coro, waiting_on))


async def _finish(coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    await _Resume(coro, waiting_on)


class _Resume:
    """An awaitable that continues a coroutine suspended on ``waiting_on``."""

    def __init__(self, coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self.coro = coro
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        return _drive(self.coro, self.waiting_on)


def _drive(coro: Coroutine[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    # Pass whatever the inner coroutine waits on up to the Task, and the Task's
    # answers (a value, or an exception such as CancelledError) back down.
    while True:
        try:
            value = yield waiting_on
        except BaseException as exc:
            try:
                waiting_on = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting_on = coro.send(value)
            except StopIteration:
                return
