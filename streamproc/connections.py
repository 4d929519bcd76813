"""Where Redis (and PostgreSQL) are, and how the engine's Redis clients talk to them.

Every asyncio client comes from :func:`connect_redis`, which sets every
setting that decides how long a dead connection can hold a process up,
instead of taking redis-py's defaults of the day (redis-py 5.0 waits for a
reply for ever; later releases wait 5 s and resend up to three times):

- a reply or a connection attempt may take ``RedisTimeouts.reply`` /
  ``.connect`` seconds (``STREAMPROC_REDIS_TIMEOUT``); a blocking read's
  BLOCK is added on top by the lane that sends it (``streamproc.lane``);
- TCP keepalive probes an idle connection after 30 s, every 10 s, and gives
  it up after 3 unanswered probes, so a peer that vanished (host down, NAT
  entry dropped) is noticed within about a minute even with nothing to send;
- a connection idle for 30 s is checked with PING before it is used again;
- a command is never resent by the client: it fails, and the engine's own
  handling of an unreachable Redis applies (a resent command could run twice).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from streamproc.config import Settings
from streamproc.errors import ConfigurationError

HEALTH_CHECK_INTERVAL = 30
KEEPALIVE_IDLE = 30  # seconds idle before the first probe
KEEPALIVE_INTERVAL = 10  # seconds between probes
KEEPALIVE_COUNT = 3  # unanswered probes before the connection is dropped


@dataclass(frozen=True, slots=True)
class RedisTimeouts:
    """How long a Redis connection may stay silent before it is given up as dead."""

    reply: float = 10.0
    connect: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisTimeouts:
        """The timeouts ``STREAMPROC_REDIS_TIMEOUT`` sets."""
        return cls(reply=settings.redis_timeout, connect=settings.redis_timeout)


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


def connect_redis(url: str, timeouts: RedisTimeouts | None = None) -> Redis:
    """An asyncio client returning bytes (hiredis parses replies when installed), with
    explicit timeouts, keepalive, health checks and no resending (see the module's text)."""
    timeouts = timeouts or RedisTimeouts()
    return Redis.from_url(
        url,
        decode_responses=False,
        socket_timeout=timeouts.reply,
        socket_connect_timeout=timeouts.connect,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        retry=Retry(NoBackoff(), 0),
        **tcp_keepalive(url),
    )


def tcp_keepalive(url: str) -> dict[str, Any]:
    """Keepalive settings for a TCP URL; none for a Unix socket, which has no keepalive
    (and whose connection class refuses the options)."""
    if urlsplit(url).scheme == "unix":
        return {}
    return {"socket_keepalive": True, "socket_keepalive_options": keepalive_options()}


def keepalive_options() -> dict[int, int]:
    """The TCP keepalive timings this platform lets a socket set (all three on Linux)."""
    wanted = {
        # macOS names the idle time TCP_KEEPALIVE.
        "TCP_KEEPIDLE" if hasattr(socket, "TCP_KEEPIDLE") else "TCP_KEEPALIVE": KEEPALIVE_IDLE,
        "TCP_KEEPINTVL": KEEPALIVE_INTERVAL,
        "TCP_KEEPCNT": KEEPALIVE_COUNT,
    }
    return {getattr(socket, name): v for name, v in wanted.items() if hasattr(socket, name)}


def text(value: bytes | str) -> str:
    """A Redis reply field as text (clients here return bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def refused_credentials(exc: Exception) -> ConfigurationError:
    """The error for a Redis that refused REDIS_URL's user or password (not worth a retry)."""
    return ConfigurationError(
        f"Redis refused the credentials in REDIS_URL: {exc}; fix the user or password"
    )
