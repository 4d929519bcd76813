"""A connection kept for one task's hot commands, sent without per-command machinery.

Every message passes through two commands: the XREADGROUP that delivers it and
the EVALSHA that hands it off. Through the client, each also pays for a
connection taken from and returned to the pool, a retry wrapper, a health
check, telemetry hooks and a reply callback that reshapes the reply (about a
third of a worker's CPU at a thousand messages a second). A lane holds one
connection of the client's kind (same URL, credentials, TLS, database) for one
task and sends on it directly; replies come back as the server sent them.

A lane does not retry: a failed command raises the client's ConnectionError or
TimeoutError (the connection closes itself and the next call reconnects), and
the caller's own handling of an unreachable Redis applies. An error reply
(NOGROUP, NOSCRIPT, ...) raises the client's ResponseError and leaves the
connection usable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamproc.envelope import Fields


class Lane:
    """One connection, one command (or one write of several) on it at a time."""

    def __init__(self, redis: Redis, *, patience: float = 0.0) -> None:
        self._pool = redis.connection_pool
        self._conn: AbstractConnection | None = None
        self._turn = asyncio.Lock()  # a reply must reach the one who sent its command
        self._timeout: float | None = None
        self._patience = patience

    async def _connection(self) -> AbstractConnection:
        conn = self._conn
        if conn is None:
            conn = self._conn = self._pool.make_connection()  # type: ignore[no-untyped-call]
            self._timeout = conn.socket_timeout
        if not conn.is_connected:  # first use, or the last command's failure closed it
            conn.socket_timeout = self._timeout  # the handshake keeps the client's timeout
            await conn.connect()
            # Writes then go straight to the socket (with a socket timeout the client wraps
            # each in a task of its own); each call bounds the wait for its reply instead.
            conn.socket_timeout = None
        return conn

    async def _exchange(self, conn: AbstractConnection, packed: list[bytes], n: int) -> list[Any]:
        """Send ``packed`` and read ``n`` replies, all within the socket timeout plus this
        lane's patience (the BLOCK of a blocking read); an error reply comes back as its
        ResponseError."""
        if self._timeout is None:
            await conn.send_packed_command(packed, False)
            return [await _reply(conn) for _ in range(n)]
        try:
            async with asyncio.timeout(self._timeout + self._patience):
                await conn.send_packed_command(packed, False)
                return [await _reply(conn) for _ in range(n)]
        except TimeoutError:  # cancelled mid-command: the connection closed itself
            raise RedisTimeoutError("Timeout talking to Redis") from None

    async def call(self, *args: str | bytes | int) -> Any:
        """Send one command and return its reply."""
        async with self._turn:
            conn = await self._connection()
            [reply] = await self._exchange(conn, conn.pack_command(*args), 1)
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    async def call_many(self, commands: Sequence[Sequence[str | bytes | int]]) -> list[Any]:
        """Send commands in one write; their replies in order, an error reply as its
        ResponseError in its place."""
        async with self._turn:
            conn = await self._connection()
            return await self._exchange(conn, conn.pack_commands(commands), len(commands))

    async def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        if self._conn is not None:
            await self._conn.disconnect()


async def _reply(conn: AbstractConnection) -> Any:
    try:
        return await conn.read_response()
    except ResponseError as exc:
        return exc


def stream_entries(reply: Any) -> list[tuple[bytes, Fields]]:
    """The entries of a one-stream XREADGROUP reply (RESP2 or RESP3), fields as dicts."""
    if not reply:
        return []
    if isinstance(reply, dict):  # RESP3: {stream: entries}
        (entries,) = reply.values()
    else:
        entries = reply[0][1]
    out: list[tuple[bytes, Fields]] = []
    for eid, flat in entries:
        it = iter(flat)
        out.append((eid, dict(zip(it, it, strict=True))))
    return out
