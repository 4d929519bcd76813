"""PostgreSQL through asyncpg: the pool, transactions with translated errors, migrations.

Migrations are the files ``migrations/NNNN_name.sql`` of this package, applied
in order by :func:`migrate`, each recorded in ``schema_migrations``. They run
inside one transaction that first takes a transaction-level advisory lock, so
any number of workers starting at once apply each migration exactly once: the
first holds the lock and migrates, the others wait, then find nothing to do.

Errors are translated at this boundary: lost connections, a server starting
or shutting down, too many connections, serialization failures and deadlocks
become ``RetryableError``; values PostgreSQL refuses become ``PermanentError``.
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

from streamproc.errors import ConfigurationError, PermanentError, RetryableError

# asyncpg ships no type information, so these are Any to mypy; they name intent.
Pool: TypeAlias = asyncpg.Pool
Connection: TypeAlias = asyncpg.Connection

#: The advisory lock serialising migrations (an arbitrary, fixed 64-bit number).
MIGRATION_LOCK = 0x5354_5250_4D49_4752
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_RETRYABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.TransactionRollbackError,
    asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)
_PERMANENT = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)
# Connecting: a server that is down, starting, stopping or full may come back.
_UNREACHABLE = (
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    OSError,
    TimeoutError,
)


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


async def connect(url: str, *, min_size: int = 1, max_size: int = 8) -> Pool:
    """A pool of connections to ``url`` with JSON codecs.

    A server that cannot be reached, is starting or stopping, or is full raises
    ``RetryableError`` (it may come back: a supervisor restarts the worker); one that
    refuses the URL (no such database, wrong credentials) raises ``ConfigurationError``.
    """
    try:
        pool: Pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, init=_init_connection
        )
    except _UNREACHABLE as exc:
        raise RetryableError(
            f"cannot reach PostgreSQL (DATABASE_URL): {type(exc).__name__}: {exc}; "
            "is DATABASE_URL right and is the server up?"
        ) from exc
    except (*_RETRYABLE, asyncpg.PostgresError) as exc:
        raise ConfigurationError(
            f"cannot connect to PostgreSQL (DATABASE_URL): {type(exc).__name__}: {exc}"
        ) from exc
    return pool


async def _init_connection(conn: Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=_dump_json, decoder=orjson.loads, schema="pg_catalog"
        )


def _dump_json(value: Any) -> str:
    return orjson.dumps(value).decode()


@asynccontextmanager
async def transaction(pool: Pool) -> AsyncIterator[Connection]:
    """A connection inside a transaction, committed on success; errors translated."""
    async with translated(), pool.acquire() as conn, conn.transaction():
        yield conn


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Turn asyncpg's errors into the engine's retryable and permanent errors."""
    try:
        yield
    except _PERMANENT as exc:
        raise PermanentError(f"PostgreSQL refused the data: {exc}") from exc
    except _RETRYABLE as exc:
        raise RetryableError(f"PostgreSQL unavailable: {type(exc).__name__}: {exc}") from exc
