"""A tiny HTTP endpoint for Prometheus and orchestrators: /metrics, /healthz, /readyz."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Probe = Callable[[], Awaitable[bool]]
_STATUS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class MetricsServer:
    """Serves one registry's metrics plus liveness and readiness checks."""

    def __init__(self, registry: CollectorRegistry, ready: Probe) -> None:
        self.registry = registry
        self.ready = ready
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 picks a free port); returns the port."""
        self._server = await asyncio.start_server(self._handle, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            status, ctype, body = await self._route(request.decode("latin-1").split())
            head = f"HTTP/1.1 {status} {_STATUS[status]}\r\nContent-Type: {ctype}\r\n"
            head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _route(self, parts: list[str]) -> tuple[int, str, bytes]:
        if len(parts) < 2 or parts[0] != "GET":
            return 405, "text/plain", b"only GET is served\n"
        path = parts[1].split("?", 1)[0]
        if path == "/metrics":
            body = await asyncio.to_thread(generate_latest, self.registry)
            return 200, CONTENT_TYPE_LATEST, body
        if path == "/healthz":
            return 200, "text/plain", b"ok\n"
        if path == "/readyz":
            ok = await self.ready()
            return (200, "text/plain", b"ready\n") if ok else (503, "text/plain", b"not ready\n")
        return 404, "text/plain", b"try /metrics, /healthz or /readyz\n"
