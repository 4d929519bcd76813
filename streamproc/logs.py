"""structlog set-up: JSON for machines, console for a terminal.

Every line carries what it is about (stage, document, batch, message id) as
bound fields. Connection URLs are logged only through :func:`redact`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def uses_json(fmt: str = "auto") -> bool:
    """Whether ``fmt`` (``json``, ``console`` or ``auto``) means JSON lines here."""
    return fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog once for this process (to stderr).

    In JSON mode the standard library's logging, warnings and uncaught exceptions are
    rendered as JSON lines too, so that nothing in the log breaks a line-by-line parser.
    """
    use_json = uses_json(fmt)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if use_json:
        processors.append(structlog.processors.format_exc_info)
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    if use_json:
        _everything_as_json(processors[1:-1])


def _everything_as_json(pre_chain: list[Any]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=pre_chain,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
    get_logger().critical("uncaught_exception", exc_info=(kind, exc, tb))


def get_logger(**bound: Any) -> Any:
    """A logger with ``bound`` fields on every line."""
    return structlog.get_logger("streamproc").bind(**bound)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
