"""Helpers shared by the CLI commands."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from streamproc import logs
from streamproc.batches import check_batch_id
from streamproc.config import Settings, load_settings
from streamproc.errors import EXIT_REPORT_VARIABLE, ExitCode, StreamprocError

T = TypeVar("T")

PIPELINE_HELP = "Pipeline to load as module:attribute (default: STREAMPROC_PIPELINE)."


def settings_from(**overrides: object) -> Settings:
    """Settings from the environment, with the command's options (where given) on top."""
    settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    logs.configure(settings.log_level, settings.log_format)
    return settings


def batch_id(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Click callback for a batch id given by the user: checked (None when not given)."""
    return None if value is None else check_batch_id(value)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop where available."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.run(coro)
    return uvloop.run(coro)


_EVENTS = {ExitCode.CONFIGURATION: "configuration_error", ExitCode.UNAVAILABLE: "unavailable"}


#: The commands whose stderr is a log (of a long-running process) rather than a terminal's.
LOGGING_COMMANDS = frozenset({"worker", "run"})


def fail_cleanly(
    exc: StreamprocError, code: ExitCode = ExitCode.CONFIGURATION, *, in_log: bool = False
) -> NoReturn:
    """Say ``exc`` in one line and exit with ``code`` (no traceback for known errors).

    For a command whose stderr is a log (``in_log``) the line is a JSON log line when
    the log is JSON, so that the log stays parseable line by line; the settings may be
    what failed, so the format is read from the environment as it stands.
    """
    fmt = os.environ.get("STREAMPROC_LOG_FORMAT", "auto").strip().lower()
    if in_log and logs.uses_json(fmt):
        logs.configure("error", "json")
        logs.get_logger().error(_EVENTS[code], error=str(exc), exit_code=int(code))
    else:
        click.echo(f"streamproc: {exc}", err=True)
    _report(str(exc))
    sys.exit(code)


def _report(message: str) -> None:
    path = os.environ.get(EXIT_REPORT_VARIABLE)
    if path:
        Path(path).write_text(message, encoding="utf-8")
