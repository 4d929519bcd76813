"""The run's work: copies of the sample legal documents, or probe messages, and submitting them.

Documents come from ``consumers.samples`` (the demo's generator). Intake
keys a document by the sha256 of its bytes, so every copy is made unique
while staying the same document to read: a PDF comment after the end
marker, a zip comment on the DOCX, another case number on the docket. A
*bad* copy is a PDF cut in half, which the ocr stage dead-letters; a
*scan* is the order rendered as an image-only PDF with its own speckle, so
it goes through tesseract and keeps a handler busy for seconds.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from redis.asyncio import Redis

from consumers import samples
from consumers.intake import submit_paths
from consumers.resources import open_resources
from consumers.settings import load_pipeline_settings
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.keys import Keys
from streamproc.testing import Probe

#: A probe's handler sleeps this long at each stage, so that messages are in flight
#: (pending, with leases) for a moment, as real work is, and kills and stops meet some.
PROBE_SECONDS = 0.005
#: Templates of good documents, drawn in turn; bad and scanned copies are extra.
TEMPLATES = ("order", "agreement", "docket")
FIRST_STAGE = {"pipeline": "ocr", "noop": "s1"}


@dataclass(frozen=True, slots=True)
class Document:
    """One generated file: its name (``<template>-<n>.<ext>``) and bytes."""

    name: str
    data: bytes

    @property
    def template(self) -> str:
        """Which sample it is a copy of (``bad`` for one made to be dead-lettered)."""
        return self.name.split("-", 1)[0]


def documents(n: int, *, bad: int, scanned: int, seed: int) -> list[Document]:
    """``n`` distinct documents, ``bad`` of them unreadable and ``scanned`` of them scans."""
    kinds = ["bad"] * bad + ["scan"] * scanned
    kinds += [TEMPLATES[i % len(TEMPLATES)] for i in range(n - len(kinds))]
    random.Random(seed).shuffle(kinds)
    return [_copy(kind, i) for i, kind in enumerate(kinds)]


def _copy(kind: str, i: int) -> Document:
    make, ext = _MAKERS[kind]
    return Document(f"{kind}-{i:05d}.{ext}", make(i))


def _order(i: int) -> bytes:
    return _digital_order() + f"%copy {i}\n".encode()


def _agreement(i: int) -> bytes:
    buffer = io.BytesIO(_digital_agreement())
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.comment = f"copy {i}".encode()
    return buffer.getvalue()


def _docket(i: int) -> bytes:
    case = f"2:23-cv-{i:05d}-KLH"
    return samples.docket_html().replace(samples.CASE_NUMBER, case).encode()


def _scan(i: int) -> bytes:
    return samples.scanned_pdf(_digital_order(), seed=i)


def _bad(i: int) -> bytes:
    order = _digital_order()
    return order[: len(order) // 2] + f"%cut {i}\n".encode()


@cache
def _digital_order() -> bytes:
    return samples.court_order_pdf()


@cache
def _digital_agreement() -> bytes:
    return samples.services_agreement_docx()


_MAKERS: dict[str, tuple[Callable[[int], bytes], str]] = {
    "order": (_order, "pdf"),
    "agreement": (_agreement, "docx"),
    "docket": (_docket, "html"),
    "scan": (_scan, "pdf"),
    "bad": (_bad, "pdf"),
}


def write_batches(root: Path, docs: list[Document], batches: int) -> list[Path]:
    """Write the documents into one folder per batch (dealt in turn); returns the folders."""
    folders = [root / f"batch-{b}" for b in range(batches)]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    for i, doc in enumerate(docs):
        (folders[i % batches] / doc.name).write_bytes(doc.data)
    return folders


async def submit_folder(engine: Settings, redis: Redis, folder: Path, batch: str) -> dict[str, str]:
    """Submit a folder as one batch through intake; returns document id -> template."""
    async with open_resources(engine, load_pipeline_settings()) as res:
        client = Client(redis, Keys(engine.prefix))
        result = await submit_paths([folder], resources=res, client=client, batch=batch)
    return {f.document_id: Document(Path(f.source).name, b"").template for f in result.files}


async def submit_probes(redis: Redis, prefix: str, batch: str, ids: range) -> dict[str, str]:
    """Submit one probe message per id as one batch; returns message document id -> 'probe'."""
    docs = {f"m{i:07d}": "probe" for i in ids}
    probes = [
        (doc, Probe(seq=i, action="sleep", seconds=PROBE_SECONDS))
        for i, doc in zip(ids, docs, strict=True)
    ]
    await Client(redis, Keys(prefix)).submit(FIRST_STAGE["noop"], probes, batch=batch)
    return docs
