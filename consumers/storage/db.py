"""PostgreSQL through asyncpg: the pool, transactions with translated errors, migrations.

Migrations are the files ``migrations/NNNN_name.sql`` of this package, applied
in order by :func:`migrate`, each recorded in ``schema_migrations``. They run
inside one transaction that first takes a transaction-level advisory lock, so
any number of workers starting at once apply each migration exactly once: the
first holds the lock and migrates, the others wait, then find nothing to do.

Errors are translated at this boundary: a server that cannot be reached (lost or
refused connections, timeouts, a server starting or shutting down) is
``DependencyUnavailable("postgres")``; too many connections, serialization
failures and deadlocks are ``RetryableError``; values PostgreSQL refuses are
``PermanentError``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeAlias

import asyncpg
import orjson

from consumers.dependencies import POSTGRES
from streamproc.errors import (
    ConfigurationError,
    DependencyUnavailable,
    PermanentError,
    RetryableError,
)

# asyncpg ships no type information, so this is Any to mypy; it names intent.
Connection: TypeAlias = asyncpg.Connection

#: The advisory lock serialising migrations (an arbitrary, fixed 64-bit number).
MIGRATION_LOCK = 0x5354_5250_4D49_4752
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
#: The server cannot be reached: counted on the PostgreSQL breaker. OperatorIntervention
#: covers a server starting, shutting down or crashed (cannot-connect-now, admin shutdown).
_UNREACHABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)
_RETRYABLE = (
    *_UNREACHABLE,
    asyncpg.InsufficientResourcesError,
    asyncpg.TransactionRollbackError,
)
_PERMANENT = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)
# Connecting: a server that is down, starting, stopping or full may come back.
_CANNOT_CONNECT = (
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    OSError,
    TimeoutError,
)


class Pool:
    """asyncpg's pool, each connection taken from it and given back within ``timeout`` s.

    ``Pool.acquire(timeout=...)`` bounds the wait for a free connection (and a new one's
    start); asyncpg applies the same limit to the reset on release, terminating the
    connection if the reset does not finish. Without both, handlers waited for ever on
    connections to a server that had stopped answering. None: no limit.
    """

    __slots__ = ("raw", "timeout")

    def __init__(self, raw: asyncpg.Pool, timeout: float | None = None) -> None:
        self.raw = raw
        self.timeout = timeout

    def acquire(self) -> Any:
        """``async with pool.acquire() as conn``: a connection, within the time limit."""
        return self.raw.acquire(timeout=self.timeout)

    async def fetchval(self, query: str, *args: Any) -> Any:
        """The first value of the first row of ``query``."""
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def close(self) -> None:
        """Close every connection, waiting for those in use to be released."""
        await self.raw.close()


@dataclass(frozen=True, slots=True)
class Migration:
    """One versioned SQL file."""

    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped with this package, in version order."""
    found = []
    for entry in (resources.files("consumers.storage") / "migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ConfigurationError(f"two migrations share a version number: {versions}")
    return found


async def migrate(pool: Pool) -> list[int]:
    """Apply the migrations this database lacks; return the versions applied now."""
    applied: list[int] = []
    async with transaction(pool) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
            " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in migrations():
            if migration.version not in done:
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
                applied.append(migration.version)
    return applied


async def connect(
    url: str, *, min_size: int = 1, max_size: int = 8, timeout: float | None = None
) -> Pool:
    """A pool of connections to ``url`` with JSON codecs.

    A server that cannot be reached, is starting or stopping, or is full raises
    ``RetryableError`` (it may come back: a supervisor restarts the worker); one that
    refuses the URL (no such database, wrong credentials) raises ``ConfigurationError``.
    ``timeout`` bounds each statement, each new connection's start, and taking a
    connection from the pool and giving it back (None: no limit).
    """
    try:
        raw = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            command_timeout=timeout,
            **({} if timeout is None else {"timeout": timeout}),
        )
    except _CANNOT_CONNECT as exc:
        raise RetryableError(
            f"cannot reach PostgreSQL (DATABASE_URL): {type(exc).__name__}: {exc}; "
            "is DATABASE_URL right and is the server up?"
        ) from exc
    except (*_RETRYABLE, asyncpg.PostgresError) as exc:
        raise ConfigurationError(
            f"cannot connect to PostgreSQL (DATABASE_URL): {type(exc).__name__}: {exc}"
        ) from exc
    return Pool(raw, timeout)


async def _init_connection(conn: Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=_dump_json, decoder=orjson.loads, schema="pg_catalog"
        )


def _dump_json(value: Any) -> str:
    return orjson.dumps(value).decode()


@asynccontextmanager
async def transaction(pool: Pool) -> AsyncIterator[Connection]:
    """A connection inside a transaction, committed on success; errors translated,
    including the pool's time limits on taking and giving back the connection."""
    async with translated(), pool.acquire() as conn, conn.transaction():
        yield conn


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Turn asyncpg's errors into the engine's retryable and permanent errors."""
    try:
        yield
    except _PERMANENT as exc:
        raise PermanentError(f"PostgreSQL refused the data: {exc}") from exc
    except _UNREACHABLE as exc:
        said = f"PostgreSQL unavailable: {type(exc).__name__}: {exc}"
        raise DependencyUnavailable(POSTGRES, said) from exc
    except _RETRYABLE as exc:
        raise RetryableError(f"PostgreSQL unavailable: {type(exc).__name__}: {exc}") from exc
