"""Embedded Redis and PostgreSQL, so streamproc runs with no configuration.

With no ``REDIS_URL``, ``ensure_redis(data_dir)`` starts (or finds) a Redis
server under ``data_dir/redis``; with no ``DATABASE_URL``,
``ensure_postgres(data_dir)`` does the same for PostgreSQL under
``data_dir/postgres``. These shared servers are detached: a supervisor and
its workers, or a second command, all get the one server, and it runs until
``stop_redis``/``stop_postgres``. ``start_private_redis`` and
``start_private_postgres`` start throwaway servers owned by the calling
process, for tests and benchmarks.

All of this is synchronous: it runs once, at start-up, before the event loop.
"""

from streamproc.embedded.postgres import ensure_postgres, stop_postgres
from streamproc.embedded.private import (
    PrivatePostgres,
    PrivateRedis,
    start_private_postgres,
    start_private_redis,
)
from streamproc.embedded.redis import ensure_redis, find_redis_server, stop_redis

__all__ = [
    "PrivatePostgres",
    "PrivateRedis",
    "ensure_postgres",
    "ensure_redis",
    "find_redis_server",
    "start_private_postgres",
    "start_private_redis",
    "stop_postgres",
    "stop_redis",
]
