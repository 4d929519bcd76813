"""No secret reaches a log line, a metric, a stream, a dead letter, a row or a command's output.

The pipeline runs against a Redis that requires a password (and an ACL user
with its own), a PostgreSQL role that must authenticate with SCRAM, and an
OpenAI-compatible endpoint with an API key, with debug logging on. Things go
wrong on purpose: wrong passwords, documents that fail, Redis gone for a
moment mid-batch, the endpoint answering 401 and 500 with the key echoed
back. Everything the processes print, every metric, every Redis key of the
run and every table row is then searched for each secret: raw, URL-encoded,
base64-encoded, and each random piece of it on its own.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import asyncpg
import hostile
import pytest
import redis as sync_redis
from processes import Procs, free_port, http_get
from redis.asyncio import Redis

from streamproc.client import Client
from streamproc.connections import connect_redis
from streamproc.embedded import PrivatePostgres, find_redis_server
from streamproc.keys import Keys

from corpus import read
from fake_openai import FakeOpenAI, Reply, entities, error, fake_openai

pytestmark = pytest.mark.corpus

REPO = Path(__file__).resolve().parents[1]
GOOD = (
    "doctor__ca10_in_re_liebowitz_21-800_order.pdf",
    "courtlistener__scotus_reagan_v_aiken_138us109.html",
    "courtlistener__cadc_ideal_electronic_v_intl_fidelity_96-7169.txt",
)
UNSUPPORTED = "doctor__ind_supreme_court_johnson_v_state.wpd"
ACL_USER = "pipeline"
BATCH = "SECRETS"


def _piece() -> str:
    return secrets.token_hex(6)


@dataclass(frozen=True)
class Secrets:
    """This run's secrets: random pieces around characters URLs must encode."""

    redis: str = field(default_factory=lambda: f"R{_piece()}#{_piece()}/+:")
    acl: str = field(default_factory=lambda: f"A{_piece()}@{_piece()}?&")
    postgres: str = field(default_factory=lambda: f"P{_piece()}:{_piece()}/#")
    api_key: str = field(default_factory=lambda: f"sk-{_piece()}{_piece()}")
    wrong: str = field(default_factory=lambda: f"W{_piece()}%{_piece()}@")

    def named(self) -> dict[str, str]:
        return {
            "Redis password": self.redis,
            "ACL password": self.acl,
            "PostgreSQL password": self.postgres,
            "API key": self.api_key,
            "wrong password": self.wrong,
        }


def forms(secret: str) -> set[str]:
    """Every way ``secret`` could show up: raw, encoded, and each random piece alone."""
    return {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
        *re.findall(r"[0-9a-f]{12}", secret),
    }


def leaks(captured: dict[str, bytes], hidden: Secrets) -> list[str]:
    """Every place a form of a secret was found, as ``where: which secret (form)``."""
    found = []
    for where, data in captured.items():
        text = data.decode("utf-8", "replace")
        for name, secret in hidden.named().items():
            found += [f"{where}: {name} ({form!r})" for form in forms(secret) if form in text]
    return found


class SecretRedis:
    """A Redis server that wants a password, with an ACL user that has another."""

    def __init__(self, root: Path, hidden: Secrets) -> None:
        root.mkdir(parents=True)
        self.port = free_port()
        self.root = root
        self.password = hidden.redis
        (root / "redis.conf").write_text(
            f'port {self.port}\nbind 127.0.0.1\ndir "{root}"\nsave ""\n'
            "appendonly yes\nappendfsync always\n"
            f'requirepass "{hidden.redis}"\n'
            f'user {ACL_USER} on ">{hidden.acl}" ~* &* +@all\n'
        )
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, password: str, user: str = "") -> str:
        """A redis-py URL for ``user`` (the default user when empty) with ``password``."""
        return f"redis://{user}:{quote(password, safe='')}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server (its AOF keeps the data of an earlier run) and wait for PING."""
        binary = find_redis_server(prefer="system")
        with (self.root / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(binary), str(self.root / "redis.conf")], stdout=log, stderr=log
            )
        for _ in range(200):
            if self._answers():
                return
            assert self.process.poll() is None, (self.root / "redis.log").read_text()
            time.sleep(0.05)
        pytest.fail("the password-protected Redis did not answer PING")

    def stop(self) -> None:
        """Shut down (SIGTERM: the AOF is complete) and reap the server."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def _answers(self) -> bool:
        try:
            with sync_redis.Redis.from_url(self.url(self.password)) as client:
                return bool(client.ping())
        except sync_redis.ConnectionError:
            return False


async def secured_database(server: PrivatePostgres, password: str) -> str:
    """A database owned by a new role that must authenticate with SCRAM; returns its URL."""
    role, name = "r" + uuid.uuid4().hex[:10], "t" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(server.dsn)
    try:
        await conn.execute("SET password_encryption = 'scram-sha-256'")
        await conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        await conn.execute(f"CREATE DATABASE {name} OWNER {role}")
        hba = server.layout.pgdata / "pg_hba.conf"
        rules = f"local all {role} scram-sha-256\nhost all {role} all scram-sha-256\n"
        hba.write_text(rules + hba.read_text())
        assert await conn.fetchval("SELECT pg_reload_conf()")
    finally:
        await conn.close()
    parts = urlsplit(server.dsn_for(name))
    host = parts.netloc.partition("@")[2]
    netloc = f"{role}:{quote(password, safe='')}@{host}"
    url = urlunsplit(parts._replace(netloc=netloc))
    without = urlunsplit(parts._replace(netloc=f"{role}@{host}"))
    await _refuses_without_password(without)
    return url


async def _refuses_without_password(url: str) -> None:
    # The reload is asynchronous: wait until the new rule is what answers.
    for _ in range(100):
        try:
            conn = await asyncpg.connect(url)
        except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
            return
        except asyncpg.ClientCannotConnectError:
            return
        await conn.close()
        await asyncio.sleep(0.05)
    pytest.fail("PostgreSQL let the role in without its password")


def careless_endpoint(key: str) -> Any:
    """An endpoint that echoes the key: 401 for the order, 500 twice for the opinion."""
    busy = itertools.count()

    def reply(request: dict[str, Any]) -> Reply:
        prompt = request["messages"][-1]["content"]
        if "LIEBOWITZ" in prompt.upper():
            return error(401, f"Incorrect API key provided: {key}", code=f"invalid_{key}")
        if "AIKEN" in prompt.upper() and next(busy) < 2:
            return error(500, f"upstream failed while serving key {key}")
        return entities()

    return reply


@dataclass
class Stack:
    """The servers of the run, the environment of its processes, what they printed."""

    redis: SecretRedis
    database_url: str
    fake: FakeOpenAI
    env: dict[str, str]
    root: Path
    python: str
    captured: dict[str, bytes] = field(default_factory=dict)

    def admin_url(self) -> str:
        return self.redis.url(self.redis.password)

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``streamproc ARGS…`` to the end, keeping everything it printed."""
        done = subprocess.run(
            [self.python, "-m", "streamproc", *args],
            env=env or self.env,
            capture_output=True,
            timeout=180,
            check=False,
        )
        self.captured[f"streamproc {' '.join(args)} #{len(self.captured)}"] = (
            done.stdout + done.stderr
        )
        return done

    def start(self, procs: Procs, *args: str) -> subprocess.Popen[bytes]:
        """Start ``streamproc ARGS…``; its stdout and stderr go to a file read by ``collect``."""
        log = self.root / f"process-{len(procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [self.python, "-m", "streamproc", *args], env=self.env, stdout=out, stderr=out
            )
        procs.append(proc)
        return proc

    def collect(self) -> None:
        """Add every process log of the run to ``captured``."""
        for log in sorted(self.root.glob("process-*.log")):
            self.captured[log.name] = log.read_bytes()


@pytest.fixture
def hidden() -> Secrets:
    return Secrets()


@pytest.fixture
def stack(
    tmp_path: Path, prefix: str, hidden: Secrets, postgres_server: PrivatePostgres, python: str
) -> Iterator[Stack]:
    server = SecretRedis(tmp_path / "redis", hidden)
    server.start()
    database_url = asyncio.run(secured_database(postgres_server, hidden.postgres))
    with fake_openai() as fake:
        fake.responder = careless_endpoint(hidden.api_key)
        keep = {k: v for k, v in os.environ.items() if not _configures(k)}
        env = keep | {
            "PYTHONPATH": str(REPO),
            "REDIS_URL": server.url(hidden.acl, ACL_USER),
            "DATABASE_URL": database_url,
            "OPENAI_API_KEY": hidden.api_key,
            "OPENAI_BASE_URL": fake.base_url,
            "STREAMPROC_EXTRACTOR": "openai",
            "STREAMPROC_LLM_MODEL": "test-model",
            "STREAMPROC_PREFIX": prefix,
            "STREAMPROC_DATA_DIR": str(tmp_path / "data"),
            "STREAMPROC_LOG_LEVEL": "debug",
            "STREAMPROC_LOG_FORMAT": "json",
            "STREAMPROC_MAX_ATTEMPTS": "3",
            "STREAMPROC_BACKOFF_BASE": "0.05",
            "STREAMPROC_BACKOFF_MAX": "0.5",
            "STREAMPROC_BLOCK_MS": "200",
        }
        yield Stack(server, database_url, fake, env, tmp_path, python)
    server.stop()


def _configures(name: str) -> bool:
    return name.startswith(("STREAMPROC_", "OPENAI_")) or name in {"REDIS_URL", "DATABASE_URL"}


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    root = tmp_path / "inbox"
    root.mkdir()
    for name in (*GOOD, UNSUPPORTED):
        (root / name).write_bytes(read(name))
    (root / "sealed.pdf").write_bytes(hostile.sealed_pdf(["Order under seal"], user_password="x"))
    return root


async def until(check: Any, timeout: float = 300.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def dump_keys(redis: Redis, prefix: str) -> bytes:
    """Every key of the run with everything it holds, as text."""
    lines: list[str] = []
    async for key in redis.scan_iter(match=f"*{prefix}*"):
        kind = (await redis.type(key)).decode()
        if kind == "stream":
            value: Any = await redis.xrange(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            value = await redis.smembers(key)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        else:
            value = await redis.get(key)
        lines.append(f"{key!r} {kind} {value!r}")
    return "\n".join(lines).encode()


async def dump_tables(url: str) -> bytes:
    """Every row of every table of the run's database, as text."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        rows = [
            f"{t['table_name']}: {[dict(r) for r in await conn.fetch(f'SELECT * FROM {t[0]}')]}"
            for t in tables
        ]
    finally:
        await conn.close()
    return "\n".join(rows).encode()


async def test_no_secret_reaches_logs_metrics_streams_rows_or_command_output(
    stack: Stack, hidden: Secrets, inbox: Path, spawned: Procs, prefix: str
) -> None:
    wrong_redis = stack.env | {
        "REDIS_URL": stack.redis.url(hidden.wrong, ACL_USER),
        "STREAMPROC_LOG_FORMAT": "console",
    }
    wrong_db = stack.env | {
        "DATABASE_URL": stack.database_url.replace(
            quote(hidden.postgres, safe=""), quote(hidden.wrong, safe="")
        )
    }
    refused = await asyncio.gather(
        asyncio.to_thread(stack.run, "worker", "--drain", env=wrong_redis),
        asyncio.to_thread(stack.run, "export", env=wrong_db),
    )
    assert [done.returncode != 0 for done in refused] == [True, True]
    assert b"invalid username-password pair" in refused[0].stderr
    assert b"password authentication failed" in refused[1].stderr
    submitted = await asyncio.to_thread(stack.run, "submit", str(inbox), "--batch", BATCH)
    assert submitted.returncode == 0, submitted.stderr
    port = free_port()
    supervisor = stack.start(spawned, "run", "--metrics-port", str(port))
    admin = connect_redis(stack.admin_url())
    keys = Keys(prefix)
    try:

        async def ocr_forwarded() -> bool:
            return bool(await admin.xlen(keys.stream("chunk")))

        await until(ocr_forwarded)
        await admin.aclose()
        stack.redis.stop()  # gone for a moment, with work in flight
        await asyncio.sleep(1.5)
        stack.redis.start()
        admin = connect_redis(stack.admin_url())
        client = Client(admin, keys)

        async def completed() -> bool:
            status = await client.status(BATCH, with_states=False)
            return status is not None and status.completed

        await until(completed)
        metrics = await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/metrics")
        stack.captured["/metrics"] = metrics.encode()
        letters = {
            stage: await admin.xrange(keys.dead_letters(stage)) for stage in ("ocr", "entities")
        }
        stack.captured["keys"] = await dump_keys(admin, prefix)
    finally:
        await admin.aclose()
    stack.captured["tables"] = await dump_tables(stack.database_url)

    assert len(letters["ocr"]) == 2, "the WordPerfect file and the sealed PDF"
    assert [f[b"error"] for _, f in letters["entities"]], "the 401 dead-letters one document"
    assert b"refused the API key" in letters["entities"][0][1][b"error"]
    doc = letters["ocr"][0][1][b"doc"].decode()
    entry = f"ocr:{letters['ocr'][0][0].decode()}"
    commands = [
        ["streams"],
        ["dlq", "list", "entities"],
        ["dlq", "show", entry],
        ["dlq", "stats"],
        ["status", BATCH],
        ["trace", doc, "--json"],
        ["export", "--batch", BATCH],
        ["--help"],
    ]
    for at in range(0, len(commands), 2):  # two at a time, one per core
        pair = commands[at : at + 2]
        runs = [asyncio.to_thread(stack.run, *command) for command in pair]
        for command, done in zip(pair, await asyncio.gather(*runs), strict=True):
            assert done.returncode == 0, (command, done.stderr[-2000:])

    supervisor.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(supervisor.wait, 60) == 0
    stack.collect()
    printed = b"".join(stack.captured.values())
    assert b"redis_unavailable" in printed or b"flush_waiting_for_redis" in printed

    assert not leaks(stack.captured, hidden), "\n".join(leaks(stack.captured, hidden))


def test_the_search_finds_a_secret_in_any_of_its_forms(hidden: Secrets) -> None:
    url = f"redis://:{quote(hidden.redis, safe='')}@localhost/0"
    header = base64.b64encode(hidden.acl.encode()).decode()
    cut = hidden.postgres.split(":")[0]  # what a parser that stops at ':' would echo
    captured = {"a": url.encode(), "b": header.encode(), "c": cut.encode(), "d": b"clean"}
    assert {line.split(" (")[0] for line in leaks(captured, hidden)} == {
        "a: Redis password",
        "b: ACL password",
        "c: PostgreSQL password",
    }


def refused(
    python: str, command: tuple[str, ...], data_dir: Path, settings: dict[str, str]
) -> subprocess.CompletedProcess[bytes]:
    """Run ``streamproc COMMAND`` with only ``settings`` configured; it must refuse (exit 2)."""
    env = {k: v for k, v in os.environ.items() if not _configures(k)}
    env |= {"PYTHONPATH": str(REPO), "STREAMPROC_DATA_DIR": str(data_dir), **settings}
    done = subprocess.run(
        [python, "-m", "streamproc", *command],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, (command, done.stderr[-2000:])
    return done


def refusal(done: subprocess.CompletedProcess[bytes]) -> str:
    """The one line a refusing command printed: plain text, or a worker's JSON log line."""
    line = done.stderr.decode().strip()
    return (
        str(json.loads(line)["error"])
        if line.startswith("{")
        else line.removeprefix("streamproc: ")
    )


def raw_urls(hidden: Secrets) -> list[tuple[str, str, tuple[str, ...]]]:
    """Settings holding a secret pasted into a URL without percent-encoding it."""
    return [
        ("REDIS_URL", f"redis://:{hidden.redis}@127.0.0.1:6379/0", ("streams",)),
        ("REDIS_URL", f"redis://{ACL_USER}:{hidden.acl}@127.0.0.1:6379/0", ("worker",)),
        ("DATABASE_URL", f"postgresql://owner:{hidden.postgres}@127.0.0.1:5432/db", ("export",)),
        ("REDIS_URL", f"http://:{hidden.redis}@127.0.0.1:6379/0", ("dlq", "stats")),
    ]


@pytest.mark.parametrize("case", range(4))
def test_a_secret_pasted_into_a_url_unencoded_is_refused_without_repeating_it(
    case: int, hidden: Secrets, python: str, tmp_path: Path
) -> None:
    setting, url, command = raw_urls(hidden)[case]
    done = refused(
        python,
        command,
        tmp_path,
        {"OPENAI_API_KEY": hidden.api_key, "STREAMPROC_LOG_LEVEL": "debug", setting: url},
    )
    assert refusal(done).startswith(f"invalid configuration: {setting}: ")
    assert not leaks({"output": done.stdout + done.stderr}, hidden)


def test_bad_settings_are_named_without_repeating_the_secrets_beside_them(
    hidden: Secrets, python: str, tmp_path: Path
) -> None:
    settings = {
        "REDIS_URL": f"redis://:{quote(hidden.redis, safe='')}@127.0.0.1:1/0",
        "DATABASE_URL": f"postgresql://u:{quote(hidden.postgres, safe='')}@127.0.0.1:1/db",
        "OPENAI_API_KEY": hidden.api_key,
        "STREAMPROC_VISIBILITY_TIMEOUT": "soon",
        "STREAMPROC_EXTRACTOR": "psychic",
    }
    for command in (("worker",), ("run",), ("submit", str(tmp_path)), ("status", "B")):
        done = refused(python, command, tmp_path, settings)
        assert b"STREAMPROC_" in done.stderr
        assert not leaks({" ".join(command): done.stdout + done.stderr}, hidden)
