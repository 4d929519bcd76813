"""Keeps a supervisor's embedded servers running: one that died is started again.

``streamproc run`` without ``REDIS_URL`` starts the embedded Redis, and its
workers start the embedded PostgreSQL (without ``DATABASE_URL``) on their
first start. Both are detached daemons, so nothing is told when one dies (a
crash, the OOM killer, a stray ``kill -9``); the workers would wait for it for
ever. The supervisor checks them every second and starts a dead one again
under the same data directory, on the same address (the workers hold it in
their environment), from the same binary, with its data (Redis' AOF,
PostgreSQL's recovery).

PostgreSQL is kept only once it has been seen running: a pipeline without a
database never starts it, and the keeper must not start it either.
"""

from __future__ import annotations

from pathlib import Path

from streamproc.embedded.postgres import ensure_postgres, read_postmaster
from streamproc.embedded.postgres_cluster import PostgresLayout
from streamproc.embedded.redis import ensure_redis, running_pid
from streamproc.embedded.redis_config import RedisLayout


class EmbeddedKeeper:
    """Restarts the embedded servers of one data directory that a supervisor relies on."""

    def __init__(self, data_dir: Path, *, redis: bool, postgres: bool) -> None:
        self.data_dir = data_dir
        self._redis = RedisLayout(data_dir.absolute() / "redis") if redis else None
        self._postgres = PostgresLayout(data_dir.absolute() / "postgres") if postgres else None
        self._postgres_seen = False

    def revive(self) -> list[str]:
        """Start again each kept server that is not running; the names of those started.

        Blocking (a start takes seconds): run it in a thread. Raises ``ConfigurationError``
        when a server cannot be started.
        """
        started = []
        if self._redis is not None and running_pid(self._redis) is None:
            ensure_redis(self.data_dir)
            started.append("redis")
        if self._postgres is not None and self._postgres_down():
            ensure_postgres(self.data_dir)
            started.append("postgres")
        return started

    def _postgres_down(self) -> bool:
        assert self._postgres is not None
        if read_postmaster(self._postgres) is not None:
            self._postgres_seen = True
            return False
        return self._postgres_seen
