"""Where an embedded Redis server keeps its files, where it listens, and its redis.conf.

All pure: the server's files live under one directory, and the
configuration is rendered with every value quoted so that any path works.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from streamproc.embedded.process import free_port, unix_socket_fits
from streamproc.errors import ConfigurationError

AppendFsync = Literal["always", "everysec", "no"]


@dataclass(frozen=True)
class RedisLayout:
    """The files of one Redis server, all under ``root``."""

    root: Path

    @property
    def config(self) -> Path:
        """The configuration file Redis is started with."""
        return self.root / "redis.conf"

    @property
    def socket(self) -> Path:
        """The Unix socket the server listens on when the path is short enough."""
        return self.root / "redis.sock"

    @property
    def pidfile(self) -> Path:
        """Where Redis writes its pid."""
        return self.root / "redis.pid"

    @property
    def log(self) -> Path:
        """Redis's log file (and the stderr of the launch)."""
        return self.root / "redis.log"

    @property
    def url_file(self) -> Path:
        """The URL of the server, written when it is started."""
        return self.root / "redis.url"

    @property
    def binary_file(self) -> Path:
        """The redis-server binary the server was last started from."""
        return self.root / "redis.binary"

    @property
    def lock(self) -> Path:
        """The lock held while checking, starting or stopping the server."""
        return self.root / "lock"


@dataclass(frozen=True)
class RedisEndpoint:
    """Where a server listens: a Unix socket, or a loopback TCP port when ``socket`` is None."""

    socket: Path | None
    port: int = 0

    @classmethod
    def from_url(cls, url: str) -> RedisEndpoint:
        """The endpoint a URL made by ``url`` names."""
        parts = urlsplit(url)
        if parts.scheme == "unix":
            return cls(Path(unquote(parts.path)))
        return cls(None, parts.port or 0)

    @property
    def url(self) -> str:
        """The redis-py URL (``unix:///path`` or ``redis://127.0.0.1:port/0``)."""
        if self.socket is not None:
            return f"unix://{quote(str(self.socket))}"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def title(self) -> str:
        """How Redis names this address in its process title, which tells our server by its pid."""
        if self.socket is not None:
            return f"unixsocket:{self.socket}"
        return f"127.0.0.1:{self.port}"


def choose_endpoint(layout: RedisLayout) -> RedisEndpoint:
    """The layout's Unix socket if its path fits in a socket address, else a free loopback port."""
    socket_path = layout.socket.absolute()
    if unix_socket_fits(socket_path):
        return RedisEndpoint(socket_path)
    return RedisEndpoint(None, free_port())


def redis_settings(
    layout: RedisLayout,
    endpoint: RedisEndpoint,
    *,
    daemonize: bool,
    appendonly: bool = True,
    appendfsync: AppendFsync = "everysec",
) -> dict[str, str]:
    """The configuration directives of an embedded server, in order."""
    if appendfsync not in ("always", "everysec", "no"):
        raise ConfigurationError(f"appendfsync must be always, everysec or no, not {appendfsync!r}")
    settings = {
        "daemonize": "yes" if daemonize else "no",
        "dir": str(layout.root.absolute()),
        "pidfile": str(layout.pidfile.absolute()),
        "logfile": str(layout.log.absolute()),
        "appendonly": "yes" if appendonly else "no",
        "appendfsync": appendfsync,
        "save": "",  # no RDB snapshots: the AOF is the durable copy
        "maxmemory-policy": "noeviction",  # a queue must fail loudly, never drop entries
        "protected-mode": "yes",
    }
    if endpoint.socket is not None:
        return settings | {"port": "0", "unixsocket": str(endpoint.socket), "unixsocketperm": "700"}
    return settings | {"port": str(endpoint.port), "bind": "127.0.0.1"}


def render_redis_config(settings: Mapping[str, str]) -> str:
    """A redis.conf with every value double-quoted, so paths may hold spaces or quotes."""
    return "".join(f"{name} {_quote(value)}\n" for name, value in settings.items())


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
