"""A pacer that keeps a sender under N items per second, without busy waiting."""

from __future__ import annotations

import asyncio
import time


class Pacer:
    """Sleeps just enough that items go out at no more than ``rate`` per second.

    ``rate`` None means unthrottled. The first items leave at once; later ones
    wait until the average since the start falls back to the rate.
    """

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.sent = 0
        self.started = time.monotonic()

    def chunk(self, default: int) -> int:
        """How many items to send per step: about a tenth of a second's worth."""
        if self.rate is None:
            return default
        return max(1, min(default, int(self.rate / 10)))

    async def wait(self, items: int) -> None:
        """Wait until ``items`` more may be sent, then count them as sent."""
        if self.rate is not None:
            due = self.started + self.sent / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        self.sent += items


def parse_rate(text: str | None) -> float | None:
    """``'50/s'``, ``'50'`` -> 50.0; None stays None. Raises ValueError if not positive."""
    if text is None:
        return None
    value = float(text.strip().removesuffix("/s"))
    if value <= 0:
        raise ValueError(f"rate must be positive, got {text!r}")
    return value
