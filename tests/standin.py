"""What the tests' HTTP stand-ins for cloud services share: a server on 127.0.0.1 and
a free port, in a thread, answering JSON POSTs with :class:`Reply` objects.

A stand-in subclasses :class:`StandIn` and says how it answers a request in
:meth:`StandIn.answer`; the code under test only ever sees its URL, so it talks
to the stand-in exactly as it would to the real service.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer: status, JSON body (or raw text), headers and a delay."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class StandIn:
    """A threaded HTTP server whose subclass answers each POST in :meth:`answer`."""

    content_type = "application/json"

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, the server's root."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, path: str, headers: dict[str, str], request: Any) -> Reply:
        """The reply to a POST of ``request`` (parsed JSON) to ``path``; headers lower-cased."""
        raise NotImplementedError

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


S = TypeVar("S", bound=StandIn)


@contextmanager
def serving(server: S) -> Iterator[S]:
    """``server`` started, and stopped on exit."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
            headers = {name.lower(): value for name, value in self.headers.items()}
            self._send(standin.answer(self.path, headers, request))

        def _send(self, reply: Reply) -> None:
            time.sleep(reply.delay)
            raw = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            data = raw.encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", standin.content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and went away: nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler
