"""The per-message time limit, enforced by one sweeper per stage instead of a timer each.

The deadline keeper owns one guarantee: no message holds a place in flight for
much longer than the stage's time limit. A handler past it is cancelled, and
its message fails with :class:`HandlerTimeout` (retried, then dead-lettered like
any retryable error). A handler that swallows the cancellation and runs on is
abandoned a moment later: its message gets the same outcome without it, its
place is freed, and whatever it returns later is ignored. A worker that still
has abandoned handlers when it stops ends its process (see the ``worker``
command), since nothing in asyncio can end such a task.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from streamproc.errors import HandlerTimeout

if TYPE_CHECKING:
    from streamproc.runner import StageRunner


def abandon_after(timeout: float) -> float:
    """How long a cancelled handler may take to end before it is abandoned."""
    return min(max(timeout / 10, 0.5), 30.0)


class Deadlines:
    """Cancels one stage's handlers past the time limit, and abandons those that ignore it."""

    def __init__(self, runner: StageRunner) -> None:
        self.runner, self.rt = runner, runner.rt
        self.timeout = runner.timeout
        self.cancelled: dict[str, float] = {}  # message id -> when its handler was cancelled
        self.abandoned: set[str] = set()

    def expired(self, mid: str) -> bool:
        """Whether ``mid``'s handler was cancelled for running past the limit (and forget it)."""
        return self.cancelled.pop(mid, None) is not None

    async def loop(self) -> None:
        """Sweep until the worker stops."""
        interval = min(max(self.timeout / 10, 0.01), 1.0)
        while not await self.rt.sleep(interval):
            self.sweep(time.monotonic())

    def sweep(self, now: float) -> None:
        """Cancel the handlers past the limit at ``now``; abandon those cancelled long ago."""
        runner, cancelled = self.runner, self.cancelled
        cutoff = now - self.timeout
        for mid, since in list(runner.inflight.items()):
            task = runner.tasks.get(mid)
            if task is None or since >= cutoff:
                continue
            if mid not in cancelled:
                cancelled[mid] = now
                task.cancel()
            elif now - cancelled[mid] >= abandon_after(self.timeout):
                self.abandon(mid)

    def abandon(self, mid: str) -> None:
        """Give up on ``mid``'s handler: its message times out without it."""
        runner = self.runner
        task = runner.tasks.pop(mid, None)
        self.cancelled.pop(mid, None)
        if task is not None:
            self.abandoned.add(mid)
            task.add_done_callback(lambda _t: self.abandoned.discard(mid))
        runner.metrics.abandoned.inc()
        runner.log.error(
            "handler_abandoned",
            message_id=mid,
            error="the handler ignored its cancellation after the time limit; its message "
            "times out without it (a handler must let CancelledError propagate)",
        )
        late = HandlerTimeout(
            f"handler ran past its {self.timeout:g} s limit and ignored cancellation"
        )
        runner.fail_without_handler(mid, late)

    @property
    def orphans(self) -> int:
        """Abandoned handlers that are still running."""
        return len(self.abandoned)
