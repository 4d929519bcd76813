"""Helpers shared by the CLI commands."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import click

from streamproc import logs
from streamproc.batches import check_batch_id
from streamproc.config import Settings, load_settings
from streamproc.errors import StreamprocError

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


def fail_cleanly(exc: StreamprocError) -> NoReturn:
    """Print ``exc`` as one clear line and exit 2 (no traceback for known errors)."""
    click.echo(f"streamproc: {exc}", err=True)
    sys.exit(2)
