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
from typing import Any

from standin import Reply, StandIn, serving

__all__ = ["FakeOpenAI", "Reply", "completion", "entities", "error", "fake_openai"]


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


class FakeOpenAI(StandIn):
    """The server: queue replies with :meth:`push`, read what was sent in ``requests``."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: deque[Reply] = deque()
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # lower-cased names
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """What the client is configured with, as for any OpenAI-compatible endpoint."""
        return f"{self.url}/v1"

    def push(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self.replies.extend(replies)

    def answer(self, path: str, headers: dict[str, str], request: Any) -> Reply:
        if path.rstrip("/") != "/v1/chat/completions":
            return error(404, f"unknown path {path}")
        return self.next_reply(request, headers)

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


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started server, stopped on exit."""
    with serving(FakeOpenAI()) as server:
        yield server
