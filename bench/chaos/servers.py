"""The run's own Redis (AOF, fsync on every write) and PostgreSQL, which it restarts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streamproc.embedded import (
    PrivatePostgres,
    PrivateRedis,
    start_private_postgres,
    start_private_redis,
)


@dataclass
class Servers:
    """A private Redis and, for the document pipeline, a private PostgreSQL."""

    redis: PrivateRedis
    postgres: PrivatePostgres | None

    @property
    def database_url(self) -> str | None:
        """The DSN of the pipeline's database, if there is one."""
        return None if self.postgres is None else self.postgres.dsn

    def restart_redis(self, *, crash: bool) -> float:
        """Crash (SIGKILL) or cleanly stop Redis, start it again; returns the seconds it was down.

        With ``appendfsync always`` a crash loses no write Redis acknowledged.
        """
        return _restart(self.redis, crash=crash)

    def restart_postgres(self, *, crash: bool) -> float:
        """Crash (SIGKILL) or fast-stop PostgreSQL, start it again; returns the seconds down."""
        if self.postgres is None:
            raise RuntimeError("this run has no PostgreSQL")
        return _restart(self.postgres, crash=crash)

    def stop(self) -> None:
        """Stop both servers (their files stay in the run's directory)."""
        self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()


def _restart(server: PrivateRedis | PrivatePostgres, *, crash: bool) -> float:
    started = time.monotonic()
    server.kill() if crash else server.stop()
    server.start()
    return time.monotonic() - started


@contextmanager
def private_servers(root: Path, *, postgres: bool) -> Iterator[Servers]:
    """Start the servers under ``root`` (from the main thread: they die with it) and stop them."""
    redis = start_private_redis(root / "redis", appendfsync="always")
    try:
        pg = start_private_postgres(root / "postgres") if postgres else None
    except BaseException:
        redis.stop()
        raise
    servers = Servers(redis, pg)
    try:
        yield servers
    finally:
        servers.stop()
