"""Damaged, lying, bomb-like and locked documents made from the corpus, read by worker processes.

One batch mixes good corpus documents with hostile ones generated at test
time. Two ``streamproc worker`` processes serve every stage. Every hostile
document must end dead-lettered by the ocr stage with a reason that names
the problem and says what to do (or complete, where its text really is
there); the good ones complete; both workers are still the same processes at
the end; and each worker's peak resident memory stays under a fixed bound.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import hostile
import pytest
from fpdf.enums import EncryptionMethod
from processes import Procs, spawn
from redis.asyncio import Redis

from consumers.intake import submit_paths
from consumers.resources import open_resources
from consumers.settings import load_pipeline_settings
from consumers.storage.db import transaction
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.keys import Keys

from corpus import read

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.parametrize("redis_server", ["system"], indirect=True),
]

MIB = 1 << 20
#: What one document's reader process may use (STREAMPROC_MAX_DOCUMENT_MEMORY).
READER_MEMORY = 512 * MIB
#: The most resident memory a worker process may ever have held (VmHWM).
WORKER_PEAK = 400 * MIB

OPINION = "doctor__ca5_st_pierre_v_standard_insurance_21-50498_opinion.pdf"
ORDER = "doctor__ca10_in_re_liebowitz_21-800_order.pdf"
DOCX = "doctor__navy_discharge_review_board_decision.docx"
HTML = "courtlistener__scotus_reagan_v_aiken_138us109.html"
TEXT = "courtlistener__cadc_ideal_electronic_v_intl_fidelity_96-7169.txt"
SCAN = "doctor__ca4_appearance_of_counsel_17-2218_SCANNED.pdf"
MISNAMED_PDF = "doctor__ca1_calvary_chapel_of_bangor_v_mills_20-1507_opinion.pdf"
GOOD = (ORDER, HTML, TEXT, SCAN)


def opening_lines() -> list[str]:
    """The first lines of a corpus opinion, the text of the PDFs made here."""
    lines = read(TEXT).decode().splitlines()
    return [line for line in lines if line.strip()][:12]


def refused() -> dict[str, tuple[bytes, str]]:
    """Hostile files and what their dead letter must say."""
    opinion, docx = read(OPINION), read(DOCX)
    lines = opening_lines()
    return {
        "empty.docx": (b"", "document is empty (0 bytes)"),
        "tenth.pdf": (opinion[: len(opinion) // 10], "PDF is truncated"),
        "half.pdf": (opinion[: len(opinion) // 2], "PDF is truncated"),
        "no-tail.pdf": (opinion[:-200], "PDF is truncated"),
        "half.docx": (docx[: len(docx) // 2], "DOCX document is damaged"),
        "sealed-rc4.pdf": (
            hostile.sealed_pdf(lines, user_password="s3cret"),
            "encrypted PDF needs a password to open: remove the password",
        ),
        "sealed-aes256.pdf": (
            hostile.sealed_pdf(lines, user_password="s3cret", method=EncryptionMethod.AES_256),
            "encrypted PDF needs a password to open: remove the password",
        ),
        # Zip-bomb-like images: tiny files that decode to hundreds of millions of pixels.
        "bomb-20k.png": (hostile.png(20_000, 20_000), "image is too large to decode safely"),
        "wide-8k.png": (
            hostile.png(8_000, 8_000, depth=8),
            "PNG image is 8000x8000 pixels, over the 40,000,000-pixel limit",
        ),
        "claims-64k.png": (
            hostile.png(65_535, 65_535, idat=hostile.deflate_repeated(b"\x00", 64)),
            "image is too large to decode safely",
        ),
        "claims-100k.tif": (
            hostile.tiff(100_000, 100_000, strip_bytes=100, strip=b"\x00" * 100),
            "image is too large to decode safely",
        ),
        "claims-1g-strip.tif": (
            hostile.tiff(1_000, 1_000, strip_bytes=hostile.GIB, strip=b"\xff" * 5_000),
            "frame 1 of the TIFF image is damaged",
        ),
        "scan-of-100k.pdf": (
            hostile.image_pdf(100_000, 100_000, hostile.deflate_repeated(b"\xff", 1_000)),
            "an image on page 1 of the PDF is 100000x100000 pixels",
        ),
        "scan-of-30k.pdf": (
            hostile.image_pdf(30_000, 30_000, hostile.deflate_repeated(b"\xff", 30_000 * 3_750)),
            "an image on page 1 of the PDF is 30000x30000 pixels",
        ),
        "drawing-bomb.pdf": (
            hostile.drawing_bomb_pdf(5_000_000),
            f"PDF needs more than the {READER_MEMORY // MIB} MiB of memory a document may use",
        ),
        "claims-1g-member.docx": (
            hostile.with_declared_size(docx, "word/document.xml", hostile.GIB),
            "DOCX document, unpacked, is 1024.",
        ),
        "zeros-300m-member.docx": (
            hostile.docx_rebuilt(docx, extra={"word/media/image9.png": 300 * MIB}),
            "DOCX document, unpacked, is 30",
        ),
        "body-40m.docx": (
            hostile.docx_rebuilt(docx, {"word/document.xml": hostile.padded_body(40 * MIB)}),
            "DOCX document holds 40.",
        ),
        "lies-small.docx": (
            hostile.with_declared_size(
                hostile.docx_rebuilt(docx, {"word/document.xml": hostile.padded_body(20 * MIB)}),
                "word/document.xml",
                len(_member(docx, "word/document.xml")),
            ),
            "DOCX document is damaged and cannot be opened (Bad CRC-32",
        ),
    }


def readable() -> dict[str, bytes]:
    """Files with a wrong name or a lying header whose text is really there: they complete.

    PDFium finds the end of a stream whose /Length lies, rebuilds an xref whose
    /Size lies, and counts the pages a page tree really has.
    """
    line = " ".join(opening_lines()[:3])
    return {
        "opinion-named.docx": read(MISNAMED_PDF),
        "decision-named.pdf": read(DOCX),
        "length-claims-1g.pdf": hostile.text_pdf(line, length=hostile.GIB),
        "xref-claims-1g-objects.pdf": hostile.text_pdf(line, size=1_000_000_000),
        "tree-claims-1g-pages.pdf": hostile.text_pdf(line, count=1_000_000_000),
        "owner-password-only.pdf": hostile.sealed_pdf(opening_lines(), user_password=None),
    }


def flipped() -> dict[str, bytes]:
    """Seeded bit flips: each may still be readable, or be refused as damaged."""
    opinion, docx = read(OPINION), read(DOCX)
    files = {f"flipped-{seed}.pdf": hostile.flipped(opinion, seed, 40) for seed in range(4)}
    files |= {f"flipped-{seed}.docx": hostile.flipped(docx, seed, 8) for seed in range(4)}
    return files


def _member(archive: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        return source.read(name)


def peak_rss(pid: int) -> int:
    """The most resident memory process ``pid`` has held (VmHWM), in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


async def completed(client: Client, batch: str) -> bool:
    status = await client.status(batch, with_states=False)
    return status is not None and status.completed


@pytest.fixture
def inbox(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Good corpus documents and hostile ones in one folder; returns it and the expectations."""
    root = tmp_path / "inbox"
    root.mkdir()
    expected: dict[str, str] = {}
    for name in GOOD:
        (root / name).write_bytes(read(name))
        expected[name] = "done"
    for name, data in readable().items():
        (root / name).write_bytes(data)
        expected[name] = "done"
    for name, (data, reason) in refused().items():
        (root / name).write_bytes(data)
        expected[name] = reason
    for name, data in flipped().items():
        (root / name).write_bytes(data)
        expected[name] = "either"
    return root, expected


@pytest.fixture
def workers(
    worker_env: dict[str, str], database_url: str, python: str, spawned: Procs
) -> list[subprocess.Popen[bytes]]:
    """Two worker processes serving every stage, readers capped at ``READER_MEMORY``."""
    env = worker_env | {
        "DATABASE_URL": database_url,
        "STREAMPROC_MAX_DOCUMENT_MEMORY": str(READER_MEMORY),
    }
    return [spawn(spawned, python, env, "worker") for _ in range(2)]


async def test_hostile_documents_are_dead_lettered_with_what_to_do_and_workers_stay_up_and_small(
    make_settings: Callable[..., Settings],
    database_url: str,
    redis: Redis,
    workers: list[subprocess.Popen[bytes]],
    inbox: tuple[Path, dict[str, str]],
) -> None:
    folder, expected = inbox
    engine = make_settings(database_url=database_url)
    keys = Keys(engine.prefix)
    client = Client(redis, keys)
    async with open_resources(engine, load_pipeline_settings()) as res:
        result = await submit_paths([folder], resources=res, client=client, batch="HOSTILE")
        assert result.total == len(expected)
        async with asyncio.timeout(600):
            while not await completed(client, "HOSTILE"):
                assert all(w.poll() is None for w in workers), "a worker died"
                await asyncio.sleep(0.2)
        async with transaction(res.pool) as conn:
            rows = {
                r["id"]: r["status"] for r in await conn.fetch("SELECT id, status FROM documents")
            }

    peaks = {w.pid: peak_rss(w.pid) for w in workers}
    print("worker peak RSS (VmHWM):", {pid: f"{peak / MIB:.0f} MiB" for pid, peak in peaks.items()})
    assert all(w.poll() is None for w in workers), "a worker died"

    by_name = {Path(f.source).name: f.document_id for f in result.files}
    letters = {
        f[b"doc"].decode(): {k.decode(): v.decode() for k, v in f.items()}
        for _, f in await redis.xrange(keys.dead_letters("ocr"))
    }
    for stage in ("chunk", "entities", "resolve", "relationships"):
        assert await redis.xlen(keys.dead_letters(stage)) == 0, stage
    outcomes = {}
    for name, want in sorted(expected.items()):
        doc = by_name[name]
        letter = letters.get(doc)
        outcomes[name] = rows[doc] if letter is None else letter["error"]
        if want == "done":
            assert letter is None and rows[doc] == "done", (name, letter)
        elif letter is None:
            assert want == "either" and rows[doc] == "done", name
        else:
            assert rows[doc] == "failed", name
            assert letter["error_class"] == "PermanentError", (name, letter["error"])
            assert letter["error"].startswith(f"{folder / name}: "), letter["error"]
            assert "submit" in letter["error"], (name, letter["error"])
            if want != "either":
                assert want in letter["error"], (name, letter["error"])
    for name, outcome in outcomes.items():
        print(f"{name}: {outcome}")

    status = await client.status("HOSTILE")
    assert status is not None
    assert status.done + status.failed == len(expected)
    assert status.failed == len(letters)
    for pid, peak in peaks.items():
        assert peak < WORKER_PEAK, f"worker {pid} peaked at {peak / MIB:.0f} MiB"
