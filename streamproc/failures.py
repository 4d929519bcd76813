"""The failure verdict: what the engine does with an exception from a handler.

Pure functions, tested without a server: which errors are worth retrying, how
long to back off (exponential with full jitter), and how an error is written
into a dead-letter entry.
"""

from __future__ import annotations

import asyncio
import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from pydantic import ValidationError

from streamproc.errors import PermanentError, RetryableError

TRACEBACK_LINES = 12
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class Verdict(Enum):
    """What to do with a failed message."""

    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict and the reason given for it."""

    verdict: Verdict
    reason: str


def classify(exc: BaseException) -> Verdict:
    """Permanent and validation errors dead-letter; everything else is worth a retry."""
    if isinstance(exc, PermanentError | ValidationError):
        return Verdict.DEAD_LETTER
    if isinstance(exc, RetryableError | TimeoutError | asyncio.TimeoutError | ConnectionError):
        return Verdict.RETRY
    status = _http_status(exc)
    if status is not None and 400 <= status < 500 and status not in _RETRY_STATUS:
        return Verdict.DEAD_LETTER
    return Verdict.RETRY


def decide(exc: BaseException, attempt: int, max_attempts: int) -> Decision:
    """The verdict for ``exc`` raised on ``attempt`` (0-based) of ``max_attempts``."""
    if classify(exc) is Verdict.DEAD_LETTER:
        return Decision(Verdict.DEAD_LETTER, "permanent error")
    if attempt + 1 >= max_attempts:
        return Decision(Verdict.DEAD_LETTER, f"gave up after {attempt + 1} attempts")
    return Decision(Verdict.RETRY, f"attempt {attempt + 1} of {max_attempts} failed")


def backoff_seconds(
    attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt))."""
    ceiling = cap if attempt >= 63 else min(cap, base * (2**attempt))
    return ceiling * rand()


def error_fields(exc: BaseException) -> list[str]:
    """The dead-letter fields describing ``exc``: class, message and traceback tail."""
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail = "".join(tb).splitlines()[-TRACEBACK_LINES:]
    message = str(exc) or repr(exc)
    return [
        "error_class",
        type(exc).__name__,
        "error",
        message[:2000],
        "traceback",
        "\n".join(tail),
    ]


def _http_status(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        status = getattr(holder, "status_code", None)
        if isinstance(status, int):
            return status
    return None
