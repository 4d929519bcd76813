"""Hostile documents the readers must refuse cheaply, and the isolated reader's memory cap."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import resource
import signal
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import hostile
import pytest

from consumers.text import DocumentKind, Limits, extract_pages, read_document, read_isolated, sniff
from streamproc.errors import PermanentError, RetryableError

from corpus import REPO, corpus_dir, read

pytestmark = pytest.mark.corpus

MIB = 1 << 20
GIB = hostile.GIB
DOCX = "doctor__navy_discharge_review_board_decision.docx"
PDF = "doctor__ca10_in_re_liebowitz_21-800_order.pdf"
WPD = "doctor__ind_supreme_court_johnson_v_state.wpd"
BODY = "word/document.xml"


def patched(archive: bytes, member: str, at: int, value: bytes, *, central_at: int) -> bytes:
    """``archive`` with ``value`` written ``at`` bytes into ``member``'s local header and
    ``central_at`` bytes into its central directory record."""
    out = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as listing:
        info = listing.getinfo(member)
        out[info.header_offset + at : info.header_offset + at + len(value)] = value
    central = archive.rindex(b"PK\x01\x02", 0, archive.rindex(member.encode()))
    out[central + central_at : central + central_at + len(value)] = value
    return bytes(out)


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# DOCX


def test_a_truncated_docx_is_sniffed_as_a_docx_and_refused_as_damaged() -> None:
    data = read(DOCX)
    cut = data[: len(data) // 2]
    assert sniff(cut) is DocumentKind.DOCX
    with pytest.raises(PermanentError, match=r"^DOCX document is damaged .*File is not a zip"):
        extract_pages(cut)


def test_a_docx_whose_deflate_stream_is_broken_is_refused_as_damaged() -> None:
    data = bytearray(read(DOCX))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as listing:
        info = listing.getinfo(BODY)
    # A first deflate block of type 3, which does not exist.
    data[info.header_offset + 30 + len(BODY) + len(info.extra)] = 0x07
    with pytest.raises(PermanentError, match=r"DOCX document is damaged .*invalid block type"):
        extract_pages(bytes(data))


def test_a_docx_member_in_an_unknown_compression_method_is_refused_as_damaged() -> None:
    data = patched(read(DOCX), BODY, 8, struct.pack("<H", 99), central_at=10)
    with pytest.raises(PermanentError, match=r"DOCX document is damaged .*compression method"):
        extract_pages(data)


def test_a_zip_claiming_a_future_format_version_is_sniffed_not_raised() -> None:
    data = patched(read(DOCX), BODY, 4, struct.pack("<H", 84), central_at=6)
    assert sniff(data) is DocumentKind.DOCX
    with pytest.raises(PermanentError, match=r"DOCX document is damaged .*zip file version 8\.4"):
        extract_pages(data)


def test_a_docx_member_declaring_a_gigabyte_is_refused_before_it_is_inflated() -> None:
    data = hostile.with_declared_size(read(DOCX), BODY, hostile.GIB)
    with pytest.raises(
        PermanentError,
        match=r"^DOCX document, unpacked, is 1024\.0 MiB, over the 200 MiB limit: split it",
    ):
        extract_pages(data)


def test_docx_xml_over_the_markup_limit_is_refused_before_it_is_parsed() -> None:
    data = hostile.docx_rebuilt(read(DOCX), {BODY: hostile.padded_body(2 * MIB)})
    with pytest.raises(
        PermanentError,
        match=r"^DOCX document holds 2\.2 MiB of markup, over the 1 MiB that may be parsed at "
        r"once: split it into smaller documents and submit them again$",
    ):
        extract_pages(data, limits=Limits(max_markup_bytes=MIB))


def test_large_media_in_a_docx_does_not_count_as_markup() -> None:
    data = hostile.docx_rebuilt(read(DOCX), extra={"word/media/image9.png": 2 * MIB})
    pages = extract_pages(data, limits=Limits(max_markup_bytes=MIB))
    assert pages == extract_pages(read(DOCX))


def test_a_docx_member_inflating_past_its_declared_size_stops_there_and_is_damaged() -> None:
    original = len(zipfile.ZipFile(io.BytesIO(read(DOCX))).read(BODY))
    padded = hostile.docx_rebuilt(read(DOCX), {BODY: hostile.padded_body(64 * MIB)})
    data = hostile.with_declared_size(padded, BODY, original)
    before = peak_rss()
    with pytest.raises(PermanentError, match=r"DOCX document is damaged .*Bad CRC-32"):
        extract_pages(data)
    assert peak_rss() - before < 32 * MIB


# HTML and XML


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"<html><body>" + b"<p>Filed.</p>" * 100_000 + b"</body></html>", "HTML document"),
        (b"<casebody>" + b"<p>Filed.</p>" * 100_000 + b"</casebody>", "XML document"),
    ],
)
def test_markup_over_the_markup_limit_is_refused_before_it_is_parsed(
    data: bytes, what: str
) -> None:
    with pytest.raises(PermanentError, match=rf"^{what} holds 1\.2 MiB of markup, over the 1 MiB"):
        extract_pages(data, limits=Limits(max_markup_bytes=MIB))


# PDF


def test_a_scanned_page_embedding_a_giant_image_is_refused_before_it_is_rendered() -> None:
    data = hostile.image_pdf(100_000, 100_000, hostile.deflate_repeated(b"\xff", 1_000))
    before = peak_rss()
    with pytest.raises(
        PermanentError,
        match=r"^an image on page 1 of the PDF is 100000x100000 pixels, "
        r"over the 40,000,000-pixel limit: scan it at a lower resolution",
    ):
        extract_pages(data)
    assert peak_rss() - before < 32 * MIB


# Reading in a child process


async def test_a_document_read_in_isolation_gives_what_reading_in_process_gives() -> None:
    assert await read_isolated(read(PDF), PDF) == read_document(read(PDF), PDF)


async def test_a_refusal_in_isolation_is_the_same_refusal() -> None:
    with pytest.raises(PermanentError, match=r"^WordPerfect document \(\.wpd\) is not supported"):
        await read_isolated(read(WPD), WPD)


async def test_a_drawing_bomb_exhausts_only_its_reader_and_is_refused_for_memory() -> None:
    bomb = hostile.drawing_bomb_pdf(3_000_000)  # about 800 MiB once PDFium has loaded the page
    before = peak_rss()
    with pytest.raises(
        PermanentError,
        match=r"^PDF needs more than the 256 MiB of memory a document may use: its reader "
        r"aborted \(SIGABRT\); print or export it to a new PDF \(or split it\) and submit that$",
    ):
        await read_isolated(bomb, limits=Limits(max_document_memory=256 * MIB))
    assert peak_rss() - before < 32 * MIB


def readers() -> set[int]:
    """The processes forked to read documents: grandchildren of this process."""
    found: set[int] = set()
    for child in _children(Path("/proc/self")):
        found |= _children(Path(f"/proc/{child}"))
    return found


def _children(proc: Path) -> set[int]:
    pids: set[int] = set()
    for task in (proc / "task").iterdir():
        pids |= {int(pid) for pid in (task / "children").read_text().split()}
    return pids


def ignored_signals(pid: int) -> set[int]:
    """The signals process ``pid`` ignores, from its SigIgn mask."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(
        next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16
    )
    return {number for number in range(1, 65) if mask & (1 << (number - 1))}


async def started_reader(data: bytes) -> tuple[asyncio.Task[Any], int]:
    """A read of ``data`` in isolation under way, and the pid of its reader."""
    await read_isolated(read(PDF))  # the fork server is up before anything is counted
    idle = readers()
    task = asyncio.create_task(read_isolated(data, limits=Limits(max_document_memory=GIB)))
    async with asyncio.timeout(30):
        while not readers() - idle:
            await asyncio.sleep(0.01)
    [reader] = readers() - idle
    return task, reader


@pytest.mark.parametrize(
    ("sig", "error", "says"),
    [
        (signal.SIGKILL, RetryableError, r"^the process reading the PDF was killed \(SIGKILL\)$"),
        (signal.SIGSEGV, PermanentError, r"^PDF crashed the process reading it \(SIGSEGV\): it is"),
        (signal.SIGABRT, PermanentError, r"^PDF needs more than the 1024 MiB of memory"),
    ],
)
async def test_a_reader_that_dies_is_retried_when_killed_and_refused_when_it_crashes(
    sig: signal.Signals, error: type[Exception], says: str
) -> None:
    task, reader = await started_reader(hostile.drawing_bomb_pdf(3_000_000))
    os.kill(reader, sig)
    with pytest.raises(error, match=says):
        await task


async def test_a_reader_finishes_its_document_through_sigterm_and_sigint() -> None:
    # About 1.4 GiB once loaded: the reader runs out of its 1 GiB after a few seconds.
    task, reader = await started_reader(hostile.drawing_bomb_pdf(5_000_000))
    async with asyncio.timeout(30):
        while not {signal.SIGTERM, signal.SIGINT} <= ignored_signals(reader):
            await asyncio.sleep(0.01)
    os.kill(reader, signal.SIGTERM)
    os.kill(reader, signal.SIGINT)
    with pytest.raises(PermanentError, match=r"^PDF needs more than the 1024 MiB of memory"):
        await task


async def test_cancelling_an_isolated_read_kills_its_reader() -> None:
    read_task, reader = await started_reader(hostile.drawing_bomb_pdf(3_000_000))
    read_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read_task
    assert reader not in readers()


SLOW_SCAN = "disclosure-extractor__alito_2011_financial_disclosure_SCANNED.pdf"  # 8 pages of OCR
READ_IN_A_WORKER = """
import asyncio, sys
from consumers.text.isolation import read_isolated
asyncio.run(read_isolated(open(sys.argv[1], "rb").read(), sys.argv[1]))
"""


def _grandchildren(pid: int) -> set[int]:
    found: set[int] = set()
    for child in _children(Path(f"/proc/{pid}")):
        with contextlib.suppress(FileNotFoundError):
            found |= _children(Path(f"/proc/{child}"))
    return found


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has stopped; only its parent's wait is due


def _start_worker(document: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as err:  # the reader inherits it: a pipe would wait for the reader
        return subprocess.Popen(
            [sys.executable, "-c", READ_IN_A_WORKER, str(document)], cwd=REPO, stderr=err
        )


async def test_a_reader_dies_with_the_worker_that_started_it(tmp_path: Path) -> None:
    """A SIGKILLed worker's message is read again elsewhere: its reader stops at once
    instead of finishing (8 pages of OCR, many seconds) for nobody, and prints nothing."""
    log = tmp_path / "stderr.log"
    worker = _start_worker(corpus_dir() / SLOW_SCAN, log)
    try:
        async with asyncio.timeout(60):
            while not (reader := _grandchildren(worker.pid)):
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # well into its first page
        worker.kill()
        assert await asyncio.to_thread(worker.wait) == -signal.SIGKILL
        async with asyncio.timeout(5):  # finishing the document would take far longer
            while any(_running(pid) for pid in reader):
                await asyncio.sleep(0.02)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert log.read_bytes() == b""
