"""Every error streamproc raises, branched by what the engine must do with it.

::

    StreamprocError
    ├── ConfigurationError        refuse to start: the setting named is wrong
    ├── RequestRefused            a caller's request cannot be done as asked; the
    │   │                         message says what to do instead
    │   ├── InvalidBatchId        a batch id with characters or a length ids cannot have
    │   ├── NoSuchBatch           Redis holds nothing of the batch named
    │   └── BatchBusy             deleting an open batch whose documents are in progress
    └── ProcessingError           raised while handling one message
        ├── RetryableError        try again later, with backoff
        │   ├── HandlerTimeout    the handler ran past its time limit
        │   └── DependencyUnavailable  a dependency (PostgreSQL, the object store, ...)
        │                         cannot be reached: counts on its breaker; while the
        │                         breaker is open, try again without counting an attempt
        ├── PermanentError        dead-letter now: retrying cannot help
        │   ├── InvalidMessage    the stream entry or its payload is malformed
        │   └── PoisonMessage     delivered more than max_deliveries times
        └── LeaseLost             another consumer took the message over: drop
                                  this delivery, acknowledging nothing

Library errors are translated at the boundary (``raise ... from exc``):
a dependency that cannot be reached (connection refused or reset, timeouts,
a server shutting down, HTTP 5xx) becomes ``DependencyUnavailable`` naming it;
other transient trouble (throttling, serialization failures) ``RetryableError``;
validation errors become ``InvalidMessage``.  Anything else a handler raises
is treated as retryable, so an unforeseen bug backs off and ends in the
dead-letter stream once its attempts are exhausted instead of spinning.

A command that cannot start exits with an :class:`ExitCode` saying whether
starting it again can help, which is how ``streamproc run`` tells a worker to
restart from one to give up on.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """How a streamproc process that could not do its work exits."""

    CONFIGURATION = 2
    """A setting is wrong (``ConfigurationError``): the same start fails the same way."""
    ORPHANS = 3
    """Handlers ignored their cancellation; the process ended without waiting for them
    (their entries stay pending and are reclaimed): start another."""
    UNAVAILABLE = 69
    """A server could not be reached (sysexits' EX_UNAVAILABLE): it may come back."""


#: The variable naming the file a process started by ``streamproc run`` writes its
#: reason to when it refuses to start, so that the supervisor can say it.
EXIT_REPORT_VARIABLE = "STREAMPROC_EXIT_REPORT"


class StreamprocError(Exception):
    """Base of every error raised by streamproc."""


class ConfigurationError(StreamprocError):
    """A setting is missing or wrong; the process refuses to start."""


class RequestRefused(StreamprocError):
    """A request from a user or a caller that cannot be done as asked (nothing was changed)."""


class InvalidBatchId(RequestRefused):
    """A batch id outside the rule: 1 to 128 letters, digits, '.', '_' or '-'."""


class NoSuchBatch(RequestRefused):
    """Redis holds nothing of the batch named (never submitted, deleted, or expired)."""


class BatchBusy(RequestRefused):
    """An open batch whose documents are still in progress cannot be deleted without force."""


class ProcessingError(StreamprocError):
    """An error raised while one message was being handled."""


class RetryableError(ProcessingError):
    """A transient failure: the message is retried after a backoff."""


class HandlerTimeout(RetryableError):
    """The handler exceeded the stage's per-message time limit."""


class DependencyUnavailable(RetryableError):
    """A dependency the handler needs cannot be reached; ``dependency`` names its breaker
    (``"postgres"``, ``"objects"``, ...)."""

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message)
        self.dependency = dependency

    def __reduce__(self) -> tuple[type[DependencyUnavailable], tuple[str, str]]:
        return type(self), (self.dependency, str(self))


class PermanentError(ProcessingError):
    """A failure retrying cannot fix: the message is dead-lettered at once."""


class InvalidMessage(PermanentError):
    """A stream entry or its payload does not match what the stage expects."""


class PoisonMessage(PermanentError):
    """A message was delivered more than ``max_deliveries`` times without finishing."""


class LeaseLost(ProcessingError):
    """Another consumer holds the message now (this process was stalled past the
    visibility timeout); a stage raises it instead of writing over that one's results."""
