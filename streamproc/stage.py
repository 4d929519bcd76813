"""How a stage is declared: its input model, its handler and where it sends results.

A handler receives the validated input and a :class:`Context` and returns the
next stage's payload (a pydantic model), ``None`` to pass its input on
unchanged, or :class:`Defer` to be called again later (polling an external job
without sleeping). It never touches Redis: the engine reads, acknowledges,
forwards, retries and counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from pydantic import BaseModel

from streamproc.errors import ConfigurationError

In = TypeVar("In", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Defer:
    """Run this stage again for the same document after ``seconds``, with ``payload``."""

    seconds: float
    payload: BaseModel | None = None


async def _held(_message_id: str) -> bool:
    return True


class Context(NamedTuple):
    """What a handler may know about the message it handles.

    ``holds()`` answers whether this process still holds the message: False once
    another consumer took it over (this one was stalled past the visibility
    timeout). A stage that writes outside Redis asks it under its own lock before
    writing and raises :class:`~streamproc.errors.LeaseLost` if not, so a stalled
    worker does not write over results that later stages already built on.
    """

    stage: str
    message_id: str
    doc: str
    batch: str
    attempt: int
    trace: str
    replay: bool
    resources: Any = None
    lease: Callable[[str], Awaitable[bool]] = _held
    """Asks the engine whether this process holds a message (one function for all)."""

    async def holds(self) -> bool:
        """Whether this process still holds the message (see the class's docstring)."""
        return await self.lease(self.message_id)


Result = BaseModel | Defer | None
Handler = Callable[[In, Context], Awaitable[Result]]


@dataclass(frozen=True, slots=True)
class Stage(Generic[In]):
    """One stage: a consumer group on ``name``'s input stream.

    ``group`` names the consumer group (default: the stage's name); a new
    version of a stage runs beside the old one under another group, created
    back in history with ``streamproc replay STAGE --group NAME``. Messages
    handled under another group count in no batch: the first run counted them.

    ``needs`` names the external dependencies the handler reaches (``"postgres"``,
    ``"objects"``, ...): while one's breaker is open the stage takes no new work. A
    handler raising :class:`~streamproc.errors.DependencyUnavailable` names the
    dependency itself.

    ``eager`` runs each handler's first step inline, in the reader's task, and makes
    a Task only if it suspends: cheaper for handlers that mostly finish without
    waiting. Only for handlers whose first step enters no ``asyncio.timeout`` or
    task group (their own or a library's): those bind to the task they start in,
    which would then be the reader. Off by default, and never for a stage with
    ``needs``.
    """

    name: str
    input: type[In]
    handle: Handler[In]
    next: str | None = None
    concurrency: int | None = None
    timeout: float | None = None
    max_attempts: int | None = None
    group: str | None = None
    needs: tuple[str, ...] = ()
    eager: bool = False


Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]
Facts = Callable[[Any, str], Awaitable[dict[str, Any]]]
"""``facts(settings, doc)``: what the pipeline's own stores know of a document (for trace)."""
BatchFacts = Callable[[Any, list[str]], Awaitable[dict[str, Any]]]
"""``batch_facts(settings, batch ids)``: batch id -> what the pipeline's own stores know of
it, None for one they do not know (for ``streamproc batches``)."""


@asynccontextmanager
async def _no_resources(_settings: Any) -> AsyncIterator[None]:
    yield None


@dataclass(frozen=True)
class Pipeline:
    """Stages wired into a graph, plus the resources their handlers share.

    ``lifespan(settings)`` is an async context manager entered once per worker
    process; what it yields is handed to handlers as ``Context.resources``.
    ``facts(settings, doc)``, when given, reads what the pipeline stored outside
    Redis about a document (database rows); ``streamproc trace`` shows it beside
    the stream history. ``batch_facts(settings, ids)``, when given, does the same for
    batches, for ``streamproc batches``.
    """

    stages: tuple[Stage[Any], ...]
    lifespan: Lifespan = _no_resources
    facts: Facts | None = None
    batch_facts: BatchFacts | None = None
    by_name: Mapping[str, Stage[Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = [s.name for s in self.stages]
        if not names:
            raise ConfigurationError("a pipeline needs at least one stage")
        if len(set(names)) != len(names):
            raise ConfigurationError(f"stage names must be unique, got {names}")
        for s in self.stages:
            if s.next is not None and s.next not in names:
                raise ConfigurationError(f"stage {s.name!r} sends to unknown stage {s.next!r}")
        object.__setattr__(self, "by_name", {s.name: s for s in self.stages})

    @property
    def first(self) -> Stage[Any]:
        """The stage documents enter the pipeline at."""
        targets = {s.next for s in self.stages}
        return next(s for s in self.stages if s.name not in targets)

    def select(self, names: list[str]) -> list[Stage[Any]]:
        """The named stages (all when ``names`` is empty); unknown names are an error."""
        if not names:
            return list(self.stages)
        unknown = [n for n in names if n not in self.by_name]
        if unknown:
            known = ", ".join(self.by_name)
            raise ConfigurationError(f"unknown stage(s) {unknown}; this pipeline has: {known}")
        return [self.by_name[n] for n in names]


def load_pipeline(spec: str) -> Pipeline:
    """Import ``module:attribute`` and return the :class:`Pipeline` it names."""
    import importlib

    module_name, _, attr = spec.partition(":")
    try:
        obj = getattr(importlib.import_module(module_name), attr or "PIPELINE")
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"cannot load pipeline {spec!r} (STREAMPROC_PIPELINE): {exc}"
        ) from exc
    if callable(obj) and not isinstance(obj, Pipeline):
        obj = obj()
    if not isinstance(obj, Pipeline):
        raise ConfigurationError(f"{spec!r} is not a streamproc Pipeline")
    return obj
