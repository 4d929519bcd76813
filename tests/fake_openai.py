"""A local HTTP server speaking the OpenAI chat-completions API, with scripted replies.

Tests queue :class:`Reply` objects (or set a ``responder`` that builds one from
the request); the server answers ``POST /v1/chat/completions`` with them in
order and records every request body, so a test can count calls and read the
prompt that was sent. It runs in a thread on 127.0.0.1 and a free port; the
code under test only ever sees its base URL.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer: status, JSON body (or raw text), headers and a delay."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def completion(
    content: str | dict[str, Any],
    *,
    prompt_tokens: int = 900,
    completion_tokens: int = 120,
    model: str = "test-model",
) -> Reply:
    """A chat completion whose message content is ``content`` (a dict is sent as JSON)."""
    text = content if isinstance(content, str) else json.dumps(content)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "usage": usage,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": text, "refusal": None},
            }
        ],
    }
    return Reply(body=body)


def entities(*items: tuple[str, str]) -> Reply:
    """A completion listing ``(type, text)`` entities in the extractor's reply schema."""
    listed = [{"type": t, "text": x, "occurrence": None, "role": None} for t, x in items]
    return completion({"entities": listed})


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    delay: float = 0.0,
) -> Reply:
    """An OpenAI-style error reply."""
    body = {"error": {"message": message, "type": "error", "param": None, "code": code}}
    return Reply(status=status, body=body, headers=headers or {}, delay=delay)


class FakeOpenAI:
    """The server: queue replies with :meth:`push`, read what was sent in ``requests``."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # lower-cased names
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )

    @property
    def base_url(self) -> str:
        """What the client is configured with, as for any OpenAI-compatible endpoint."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def push(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self.replies.extend(replies)

    def next_reply(self, request: dict[str, Any], headers: dict[str, str]) -> Reply:
        """Record ``request`` and choose its reply (500 when nothing is scripted)."""
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)
            if self.replies:
                return self.replies.popleft()
        if self.responder is not None:
            return self.responder(request)
        return error(500, "no reply scripted for this request")

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started server, stopped on exit."""
    server = FakeOpenAI()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(error(404, f"unknown path {self.path}"))
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            self._send(fake.next_reply(request, headers))

        def _send(self, reply: Reply) -> None:
            time.sleep(reply.delay)
            raw = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            data = raw.encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
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
