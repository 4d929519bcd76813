"""Reading one document in a child process whose memory is capped.

Some hostile documents no check on their bytes can bound: a PDF page whose
content stream inflates to millions of drawing operators costs PDFium
gigabytes as the page loads, and PDFium aborts its whole process when an
allocation fails (or crashes on a file damaged in just the wrong place).
So ``read_isolated`` reads each document in a child process, forked from a
server that has the readers imported, with its data segment capped at
``Limits.max_document_memory``: a document that runs out of that or crashes
its reader is refused with a ``PermanentError``, and the worker never
notices.  The cap is inherited by the tesseract processes the child starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import resource
import signal
import threading
import traceback
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from consumers.model import Page
from consumers.text.extract import extract_pages, label
from consumers.text.limits import Limits
from consumers.text.sniff import DocumentKind, sniff
from streamproc.errors import PermanentError, RetryableError, StreamprocError

_MIB = 1024 * 1024
_CONTEXT = multiprocessing.get_context("forkserver")
# The server imports the readers once; each document's child is a cheap fork of it.
_CONTEXT.set_forkserver_preload([__name__])
# Signals a reader dies of when an allocation fails (abort, trap), and when it crashes;
# any other signal came from outside (the OOM killer, an operator): worth another try.
_OUT_OF_MEMORY = frozenset({signal.SIGABRT, signal.SIGTRAP, signal.SIGILL})
_CRASHES = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE})
# Stop signals sent to the worker's whole process group (Ctrl-C, a service manager)
# leave a reader to finish its document: the worker's shutdown decides when to kill it.
_IGNORED = (signal.SIGINT, signal.SIGTERM)


class ReaderFailed(Exception):
    """An unforeseen error inside the child, with its traceback (retried like any bug)."""


async def read_isolated(
    data: bytes, filename: str | None = None, *, limits: Limits | None = None
) -> tuple[DocumentKind, list[Page]]:
    """``read_document`` in a child process using at most ``limits.max_document_memory``.

    Raises what ``read_document`` raises, ``PermanentError`` when the document
    exhausted the child's memory or crashed it, and ``RetryableError`` when
    something else killed the child (SIGKILL: the kernel's OOM killer, an
    operator).  The child ignores SIGINT and SIGTERM; cancelling the call
    kills it.
    """
    limits = limits or Limits()
    kind = await asyncio.to_thread(sniff, data, filename)
    await asyncio.to_thread(forkserver.ensure_running)
    # Started here, not in a thread, so no cancellation can fall between start and stop.
    child = _Child.start(kind, limits)
    try:
        outcome = await asyncio.to_thread(child.exchange, data)
    finally:
        child.stop()
    return kind, _pages(outcome, child.exitcode, kind, limits)


@dataclass(slots=True)
class _Child:
    """One reader process, the parent's end of its pipe, and how the process ended."""

    process: BaseProcess
    conn: Connection
    exitcode: int | None = None

    @classmethod
    def start(cls, kind: DocumentKind, limits: Limits) -> _Child:
        parent_end, child_end = _CONTEXT.Pipe()
        process = _CONTEXT.Process(
            target=_serve, args=(child_end, kind, limits), name="document-reader", daemon=True
        )
        process.start()
        child_end.close()
        return cls(process, parent_end)

    def exchange(self, data: bytes) -> tuple[str, Any] | None:
        """Send the document, wait for the child's answer; None when it died without one."""
        with self.conn:
            try:
                self.conn.send_bytes(data)
                answer: tuple[str, Any] = self.conn.recv()
            except (EOFError, OSError):
                return None
        return answer

    def stop(self) -> None:
        """Kill the child if it still runs (a cancelled read) and reap it."""
        if self.process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.process.join()
        self.exitcode = self.process.exitcode
        self.process.close()


def _serve(conn: Connection, kind: DocumentKind, limits: Limits) -> None:
    """The child: cap memory, read the bytes sent, answer with the pages or the error."""
    for stop in _IGNORED:
        signal.signal(stop, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = limits.max_document_memory
    unlimited = hard == resource.RLIM_INFINITY
    resource.setrlimit(resource.RLIMIT_DATA, (cap if unlimited else min(cap, hard), hard))
    with conn:
        answer = _answer(conn, kind, limits)
        # The worker that asked is gone (killed): nobody is left to answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(answer)


def _exit_when_the_worker_is_gone(conn: Connection) -> None:
    """Exit once the worker's end of the pipe closes: a SIGKILLed worker's message is read
    again elsewhere, so finishing this document would only waste the CPU. (The fork
    server outlives the worker while its children live, so the child watches the pipe.)"""

    def watch() -> None:
        with contextlib.suppress(OSError, EOFError):
            conn.poll(None)  # the worker sends nothing more: readable means closed
        os._exit(1)

    threading.Thread(target=watch, name="worker-watch", daemon=True).start()


def _answer(conn: Connection, kind: DocumentKind, limits: Limits) -> tuple[str, Any]:
    try:
        data = conn.recv_bytes()
        _exit_when_the_worker_is_gone(conn)
        return "pages", extract_pages(data, kind, limits=limits)
    except MemoryError:
        return "memory", None
    except StreamprocError as exc:
        return "error", exc
    except Exception as exc:
        return "bug", "".join(traceback.format_exception(exc))


def _pages(
    outcome: tuple[str, Any] | None, exitcode: int | None, kind: DocumentKind, limits: Limits
) -> list[Page]:
    what, value = outcome or ("died", None)
    if what == "pages" and isinstance(value, list):
        return value
    if what == "error" and isinstance(value, Exception):
        raise value
    if what == "bug":
        raise ReaderFailed(f"reading the {label(kind)} failed in its reader process:\n{value}")
    if what == "memory":
        raise PermanentError(_out_of_memory(kind, limits, "ran out of memory"))
    raise _death(exitcode, kind, limits)


def _death(exitcode: int | None, kind: DocumentKind, limits: Limits) -> Exception:
    if exitcode is None or exitcode >= 0:
        return ReaderFailed(f"the reader of the {label(kind)} exited with status {exitcode}")
    sig = signal.Signals(-exitcode)
    if sig in _OUT_OF_MEMORY:
        return PermanentError(_out_of_memory(kind, limits, f"aborted ({sig.name})"))
    if sig in _CRASHES:
        return PermanentError(
            f"{label(kind)} crashed the process reading it ({sig.name}): it is damaged; "
            "export or download it again and submit the new copy"
        )
    return RetryableError(f"the process reading the {label(kind)} was killed ({sig.name})")


def _out_of_memory(kind: DocumentKind, limits: Limits, how: str) -> str:
    return (
        f"{label(kind)} needs more than the {limits.max_document_memory / _MIB:.0f} MiB of memory "
        f"a document may use: its reader {how}; print or export it to a new PDF "
        "(or split it) and submit that"
    )
