"""Outages of a dependency during a batch: every document finishes, none is dead-lettered.

The pipeline's real stages run in a draining worker on a private PostgreSQL of
their own, which the test freezes (SIGSTOP of every one of its processes) in
the middle of a batch, or kills its postmaster and starts a new one; or their
object store, a moto server of the test's own, stops and comes back on its
port. Before the breaker, each attempt during the outage counted and documents were dead-lettered
(16 of 40 in the freeze); with it, the stages stop taking work and the messages
that failed wait for it without counting attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer
from redis.asyncio import Redis
from structlog.testing import capture_logs

from consumers.intake import submit_paths
from consumers.pipeline import PIPELINE
from consumers.resources import lifespan
from consumers.storage.s3 import s3_client
from streamproc.client import Client
from streamproc.config import Settings
from streamproc.embedded import PrivatePostgres, start_private_postgres
from streamproc.keys import Keys
from streamproc.worker import Report, Worker

pytestmark = pytest.mark.parametrize("redis_server", ["system"], indirect=True)

DOCUMENTS = 40
OUTAGE = 45.0
DOWN = 15.0
STORE_DOWN = 35.0


@pytest.fixture
def own_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server this test alone uses, since it freezes it."""
    root = Path(tempfile.mkdtemp(prefix="streamproc-outage-"))
    server = start_private_postgres(root / "postgres")
    yield server
    _signal_all(server, signal.SIGCONT)
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


class RestartableS3:
    """A moto S3 server this test alone uses; stopped and started again on one port."""

    def __init__(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        self.host, self.port = self.server.get_host_and_port()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self.server.start()


@pytest.fixture
async def own_s3(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RestartableS3]:
    """The pipeline's object store on a moto server of this test's own, with one bucket."""
    s3 = RestartableS3()
    bucket = f"outage-{uuid.uuid4().hex[:8]}"
    async with s3_client(s3.url) as client:
        await client.create_bucket(Bucket=bucket)
    monkeypatch.setenv("STREAMPROC_STORE", f"s3://{bucket}/docs")
    monkeypatch.setenv("STREAMPROC_S3_ENDPOINT_URL", s3.url)
    yield s3
    s3.stop()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """Distinct small court orders as plain text: quick to read, so the batch is about I/O."""
    root = tmp_path / "inbox"
    root.mkdir()
    for i in range(DOCUMENTS):
        (root / f"order-{i:02d}.txt").write_text(
            "UNITED STATES DISTRICT COURT FOR THE DISTRICT OF COLUMBIA\n"
            f"Jane Roe {i}, Plaintiff, v. Acme Holdings {i} LLC, Defendant.\n"
            f"Case No. 1:2{i % 10}-cv-{1000 + i}\n\nORDER\n\nThe motion is GRANTED.\n"
            f"SO ORDERED this {i % 28 + 1}th day of March.\n"
        )
    return root


@pytest.fixture
def engine(
    make_settings, own_postgres: PrivatePostgres, monkeypatch: pytest.MonkeyPatch
) -> Settings:  # type: ignore[no-untyped-def]
    """Settings under which counted attempts (3, each up to 10 s) run out within the outage."""
    monkeypatch.setenv("STREAMPROC_DB_TIMEOUT", "2")
    url = own_postgres.create_database("t" + uuid.uuid4().hex[:12])
    return make_settings(  # type: ignore[no-any-return]
        database_url=url,
        max_attempts=3,
        backoff_base=0.2,
        backoff_max=1.0,
        handler_timeout=10.0,
        visibility_timeout=30.0,
        breaker_open_seconds=3.0,
        breaker_threshold=5,
        grace_period=1.0,
    )


def _processes(server: PrivatePostgres) -> list[int]:
    """The postmaster and every process it started."""
    assert server.pid is not None
    pids = [server.pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == server.pid:
                pids.append(int(entry.name))
    return pids


def _signal_all(server: PrivatePostgres, sig: signal.Signals) -> None:
    for pid in _processes(server) if server.pid is not None else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


async def _freeze(server: PrivatePostgres) -> None:
    """Every process of the server stopped (SIGSTOP) for ``OUTAGE`` seconds."""
    _signal_all(server, signal.SIGSTOP)
    try:
        await asyncio.sleep(OUTAGE)
    finally:
        _signal_all(server, signal.SIGCONT)


async def _crash_and_restart(server: PrivatePostgres) -> None:
    """The postmaster killed (SIGKILL); ``DOWN`` seconds later a new one on the same port
    and data directory, recovering from its WAL."""
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    server.kill()  # reaps the postmaster; its backends exit on seeing it gone
    await asyncio.sleep(DOWN)
    await asyncio.to_thread(server.start)


async def _take_down(s3: RestartableS3) -> None:
    """The object store refuses connections for ``STORE_DOWN`` seconds, then is back."""
    s3.stop()
    try:
        await asyncio.sleep(STORE_DOWN)
    finally:
        await asyncio.to_thread(s3.start)


async def _run_through(
    engine: Settings, redis: Redis, outage: Callable[[], Awaitable[None]]
) -> Report:
    worker = Worker(PIPELINE, PIPELINE.stages, engine, redis)
    run = asyncio.create_task(worker.run(drain=True))
    await _under_way(Client(redis, Keys(engine.prefix)), run)
    await outage()
    async with asyncio.timeout(60):
        return await run


async def _under_way(client: Client, run: asyncio.Task[Report]) -> None:
    """Wait until the worker has moved a few documents past ocr, and not all of them: the
    outage must find documents in every stage (a fixed sleep did not on a busy machine)."""
    async with asyncio.timeout(60):
        while not run.done():
            status = await client.status("OUT", with_states=False)
            if status is not None and status.counters.get("passed:ocr", 0) >= 3:
                return
            await asyncio.sleep(0.05)


async def _submit(engine: Settings, client: Client, inbox: Path) -> None:
    async with lifespan(engine) as resources:
        result = await submit_paths([inbox], resources=resources, client=client, batch="OUT")
    assert result.queued == DOCUMENTS


async def _assert_all_done_through_the_breaker(
    report: Report,
    client: Client,
    redis: Redis,
    logs: list[MutableMapping[str, Any]],
    dependency: str = "postgres",
) -> None:
    assert report.total("dead_lettered") == 0
    assert report.counts["relationships"]["done"] == DOCUMENTS
    status = await client.status("OUT")
    assert status is not None
    assert (status.done, status.failed, status.completed) == (DOCUMENTS, 0, True)
    events = [(e["event"], e.get("dependency")) for e in logs if e["event"].startswith("breaker_")]
    assert ("breaker_opened", dependency) in events
    assert events[-1] == ("breaker_closed", dependency)
    assert events.index(("breaker_opened", dependency)) < len(events) - 1
    state = await redis.hget(client.keys.breaker(dependency), "state")
    assert state == b"closed"


async def test_postgres_frozen_for_45_seconds_mid_batch_dead_letters_nothing(
    engine: Settings, redis: Redis, own_postgres: PrivatePostgres, inbox: Path
) -> None:
    await _ride_out(engine, redis, inbox, lambda: _freeze(own_postgres), "postgres")


async def test_postgres_killed_mid_batch_and_restarted_dead_letters_nothing(
    engine: Settings, redis: Redis, own_postgres: PrivatePostgres, inbox: Path
) -> None:
    await _ride_out(engine, redis, inbox, lambda: _crash_and_restart(own_postgres), "postgres")


async def test_object_store_down_for_35_seconds_mid_batch_dead_letters_nothing(
    engine: Settings, redis: Redis, own_s3: RestartableS3, inbox: Path
) -> None:
    await _ride_out(engine, redis, inbox, lambda: _take_down(own_s3), "objects")


async def _ride_out(
    engine: Settings,
    redis: Redis,
    inbox: Path,
    outage: Callable[[], Awaitable[None]],
    dependency: str,
) -> None:
    """Submit the inbox, run the pipeline through ``outage``, and check that every document
    was done through ``dependency``'s breaker with nothing dead-lettered."""
    client = Client(redis, Keys(engine.prefix))
    await _submit(engine, client, inbox)
    with capture_logs() as logs:
        report = await _run_through(engine, redis, outage)
    await _assert_all_done_through_the_breaker(report, client, redis, logs, dependency)
