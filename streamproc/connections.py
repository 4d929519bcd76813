"""Where Redis (and PostgreSQL) are: the configured servers, or embedded ones."""

from __future__ import annotations

from redis.asyncio import Redis

from streamproc.config import Settings
from streamproc.errors import ConfigurationError


def redis_url(settings: Settings) -> str:
    """``REDIS_URL`` if set, else the embedded server under the data directory (started if
    needed)."""
    if settings.redis_url is not None:
        return settings.redis_url.get_secret_value()
    from streamproc.embedded import ensure_redis

    return ensure_redis(settings.data_dir)


def database_url(settings: Settings) -> str:
    """``DATABASE_URL`` if set, else the embedded PostgreSQL (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from streamproc.embedded import ensure_postgres

    return ensure_postgres(settings.data_dir)


def connect_redis(url: str) -> Redis:
    """An asyncio client returning bytes (hiredis parses replies when installed)."""
    return Redis.from_url(url, decode_responses=False, health_check_interval=30)


def text(value: bytes | str) -> str:
    """A Redis reply field as text (clients here return bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def refused_credentials(exc: Exception) -> ConfigurationError:
    """The error for a Redis that refused REDIS_URL's user or password (not worth a retry)."""
    return ConfigurationError(
        f"Redis refused the credentials in REDIS_URL: {exc}; fix the user or password"
    )
