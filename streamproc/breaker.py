"""Circuit breakers of the external dependencies stages need, shared through Redis.

One hash per dependency (``Keys.breaker``) is changed only by the ``breaker``
script, so every process sees one state: *closed* (work flows), *open* (the
dependency is unreachable: stages needing it take no new work) and
*half-open* (one process may send a probe; its success closes the breaker, its
failure reopens it).

:class:`Breakers` is the per-process shell. It keeps a cached :class:`View` of
each breaker, refreshed every ``breaker_refresh`` seconds, and writes only
failures and the successes that may close a breaker, so a healthy pipeline's
hot path makes no Redis call. The rest of this module is pure.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from streamproc.config import Settings
from streamproc.connections import text
from streamproc.logs import get_logger
from streamproc.metrics import BREAKER_STATE, BREAKER_TRANSITIONS
from streamproc.runtime import Backoff, sleep_unless
from streamproc.scripts import Scripts

TRANSITION_EVENTS = {
    "opened": "breaker_opened",
    "half_open": "breaker_half_open",
    "closed": "breaker_closed",
}


class State(enum.IntEnum):
    """A breaker's state; the value is what the metric reports."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True, slots=True)
class Reading:
    """What one call of the ``breaker`` script answered."""

    state: State
    failures: int
    wait: float
    transition: str
    probe: bool

    @classmethod
    def parse(cls, reply: Any) -> Reading:
        """Read the script's reply ``{state, failures, wait ms, transition, probe}``."""
        state, failures, wait_ms, transition, probe = reply
        return cls(
            State[text(state).upper()],
            int(failures),
            int(wait_ms) / 1000,
            text(transition),
            int(probe) == 1,
        )


@dataclass(frozen=True, slots=True)
class View:
    """What this process believes of one breaker: its state, failures, when an open one
    half-opens (``time.monotonic()``) and whether this process holds its probe."""

    state: State = State.CLOSED
    failures: int = 0
    half_opens_at: float = 0.0
    probe: bool = False

    @property
    def suspect(self) -> bool:
        """Whether the dependency is known to be failing: not closed, or failures counted."""
        return self.state is not State.CLOSED or self.failures > 0


CLOSED = View()


def admits(views: Iterable[View]) -> int | None:
    """How many new entries a stage needing these breakers may take now: None for no
    limit (all closed), 1 while this process probes a half-open one, else 0."""
    limit: int | None = None
    for v in views:
        if v.state is State.OPEN or (v.state is State.HALF_OPEN and not v.probe):
            return 0
        if v.state is State.HALF_OPEN:
            limit = 1
    return limit


def deferral(view: View, now: float, open_seconds: float, backoff: float) -> float:
    """Seconds a message that failed on this dependency waits, its attempt not counted:
    until an open breaker half-opens; a whole open time after a failed probe (it reopened);
    ``backoff`` while the breaker is still closed."""
    if view.state is State.OPEN:
        return max(view.half_opens_at - now, 0.0)
    if view.state is State.HALF_OPEN:
        return open_seconds
    return backoff


def merged(old: View, got: Reading, now: float) -> View:
    """The new view after a script reply; a probe this process holds is kept while the
    breaker stays half-open."""
    probe = got.probe or (old.probe and got.state is State.HALF_OPEN)
    return View(got.state, got.failures, now + got.wait, probe)


class Breakers:
    """This process's view of every breaker, and its writes to them."""

    def __init__(self, scripts: Scripts, settings: Settings, names: Iterable[str] = ()) -> None:
        self.scripts = scripts
        self.threshold = settings.breaker_threshold
        self.open_seconds = settings.breaker_open_seconds
        self.refresh = settings.breaker_refresh
        self.views: dict[str, View] = dict.fromkeys(names, CLOSED)
        self.failures: collections.Counter[str] = collections.Counter()
        self.errors: dict[str, str] = {}
        self.successes: set[str] = set()
        self.wake = asyncio.Event()  # a failure or a closing success waits to be written
        self.changed = asyncio.Event()  # set after every sync that changed a view
        self.log = get_logger()
        self.backoff = Backoff(self.log, "breakers_unreadable", first=self.refresh)
        for name in self.views:
            BREAKER_STATE.labels(name).set(State.CLOSED)

    def view(self, name: str) -> View:
        """The cached view of ``name``'s breaker."""
        return self.views.get(name, CLOSED)

    def admits(self, needs: Iterable[str]) -> int | None:
        """See :func:`admits`, for the breakers a stage needs."""
        views = self.views
        return admits(views.get(n, CLOSED) for n in needs)

    def failed(self, name: str, exc: BaseException) -> None:
        """Record a failure of ``name`` (written at once, by :meth:`loop`)."""
        self.failures[name] += 1
        self.errors[name] = str(exc) or type(exc).__name__
        self.views.setdefault(name, CLOSED)
        self.wake.set()

    def succeeded(self, needs: Iterable[str]) -> None:
        """Record a success of a stage needing ``needs``; written only for breakers that are
        not closed or have failures counted (the hot path stays free of Redis calls)."""
        views = self.views
        for name in needs:
            if views.get(name, CLOSED).suspect:
                self.successes.add(name)
                self.wake.set()

    async def loop(self, halted: asyncio.Event) -> None:
        """Write what was recorded and refresh every view, every ``refresh`` seconds or as
        soon as something is recorded, until the worker has halted."""
        while not halted.is_set():
            self.wake.clear()
            try:
                await self.sync()
                self.backoff.succeeded()
            except RedisError as exc:
                await self.backoff.failed(exc, halted)
                continue
            await sleep_unless(self.wake, self.refresh)

    async def sync(self) -> None:
        """One round trip: each breaker's pending failures or success, or a check."""
        names = list(self.views)
        if not names:
            return
        failures, errors, successes = self.failures, self.errors, self.successes
        self.failures, self.errors, self.successes = collections.Counter(), {}, set()
        calls = [self._call(n, failures[n], errors.get(n, ""), n in successes) for n in names]
        try:
            replies = await self.scripts.run(calls)
        except BaseException:
            self.failures.update(failures)  # sent again with the next sync
            self.errors = {**errors, **self.errors}
            self.successes |= successes
            raise
        now = time.monotonic()
        for name, reply in zip(names, replies, strict=True):
            self._apply(name, Reading.parse(reply), now, errors.get(name, ""))
        self.changed.set()
        self.changed = asyncio.Event()

    def _call(self, name: str, failures: int, error: str, success: bool) -> Any:
        event = "fail" if failures else "succeed" if success else "check"
        return self.scripts.breaker(
            dependency=name,
            event=event,
            threshold=self.threshold,
            open_ms=int(self.open_seconds * 1000),
            failures=failures,
            error=error,
        )

    def _apply(self, name: str, got: Reading, now: float, error: str) -> None:
        self.views[name] = merged(self.views.get(name, CLOSED), got, now)
        BREAKER_STATE.labels(name).set(got.state)
        if not got.transition:
            return
        BREAKER_TRANSITIONS.labels(name, got.transition).inc()
        event = TRANSITION_EVENTS[got.transition]
        level = self.log.warning if got.transition == "opened" else self.log.info
        level(event, dependency=name, failures=got.failures, error=error or None)
