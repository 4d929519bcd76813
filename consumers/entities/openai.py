"""Entity extraction by an OpenAI-compatible chat-completions endpoint.

:class:`OpenAIExtractor` asks the model for a strict-JSON-schema reply, keeps
only entities found verbatim in the chunk (``llm_prompt.ground``), waits
for room under the fleet-wide :class:`~streamproc.ratelimit.RateLimiter`
before each request and caches replies in Redis, so redelivery and replay
never pay twice. Errors of the endpoint are translated at this boundary:

- 5xx, timeouts, connection errors -> ``DependencyUnavailable("openai")`` (its breaker)
- 429, 408, 409 -> ``RetryableError``
  (a 429's Retry-After also holds the shared limiter, pausing the fleet);
- a reply that is not valid JSON of the schema -> one more request, then
  ``PermanentError``;
- 400, 401, 403, 404 and other 4xx -> ``PermanentError`` naming the setting
  to fix.

The API key never appears in an error or a log line: the endpoint's error
text is scrubbed of it before anything else sees the exception.
"""

from __future__ import annotations

import time
from typing import NoReturn, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from prometheus_client import Counter
from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis

from consumers.dependencies import OPENAI
from consumers.entities.llm_cache import ReplyCache
from consumers.entities.llm_prompt import (
    PROMPT_VERSION,
    Extraction,
    digest,
    ground,
    messages,
    response_format,
)
from consumers.model import Mention
from streamproc.config import Settings, parse_settings
from streamproc.errors import (
    ConfigurationError,
    DependencyUnavailable,
    PermanentError,
    RetryableError,
)
from streamproc.keys import Keys
from streamproc.logs import get_logger, redact
from streamproc.ratelimit import RateLimit, RateLimiter, estimate_tokens
from streamproc.scripts import Scripts

LLM_REQUESTS = Counter(
    "streamproc_llm_requests_total", "Requests to the LLM endpoint, by outcome.", ["outcome"]
)
LLM_TOKENS = Counter(
    "streamproc_llm_tokens_total", "Tokens the LLM endpoint reported, by kind.", ["kind"]
)
LLM_CACHE_HITS = Counter("streamproc_llm_cache_hits_total", "Extractions answered from cache.")

MAX_RETRY_AFTER = 60.0  # a longer Retry-After is left to the message's own backoff


class LLMSettings(BaseSettings):
    """The endpoint, model and limits (``OPENAI_*`` and ``STREAMPROC_LLM_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="STREAMPROC_LLM_", frozen=True, extra="ignore", populate_by_name=True
    )

    api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    model: str = Field(default="gpt-4o-mini", min_length=1)
    requests_per_minute: float = Field(default=500.0, gt=0)
    tokens_per_minute: float = Field(default=200_000.0, gt=0)
    burst_seconds: float = Field(default=6.0, gt=0)
    max_wait: float = Field(default=60.0, gt=0)
    timeout: float = Field(default=60.0, gt=0)
    max_completion_tokens: int = Field(default=2048, ge=64)
    cache_ttl: int = Field(default=30 * 86_400, ge=1)


def load_llm_settings(**overrides: object) -> LLMSettings:
    """Parse the environment (and ``overrides``); :class:`ConfigurationError` names bad ones."""
    return parse_settings(LLMSettings, "LLM configuration", **overrides)


class _Malformed(Exception):
    """The reply is not valid JSON of the schema (asked again once, then permanent)."""


class OpenAIExtractor:
    """The extractor protocol over an OpenAI-compatible endpoint."""

    whole_document = False  # a model's context is bounded: it reads one chunk at a time

    def __init__(
        self, client: AsyncOpenAI, limiter: RateLimiter, cache: ReplyCache, llm: LLMSettings
    ) -> None:
        self.client = client
        self.limiter = limiter
        self.cache = cache
        self.llm = llm
        self.version = f"openai:{llm.model}:{PROMPT_VERSION}"
        self._secret = llm.api_key.get_secret_value() if llm.api_key else ""
        self._log = get_logger(component="llm", model=llm.model)

    async def extract(self, text: str) -> list[Mention]:
        """Mentions in ``text``, each a span of it; cached replies cost no request."""
        if not text.strip():
            return []
        key = digest(text)
        reply = await self.cache.get(key)
        if reply is None:
            reply = await self._ask(text)
            await self._remember(key, reply)
        else:
            LLM_CACHE_HITS.inc()
        return ground(text, reply)

    async def _remember(self, key: str, reply: Extraction) -> None:
        try:
            await self.cache.put(key, reply)
        except RetryableError as exc:  # the reply is paid for: use it even if not cached
            self._log.warning("llm.cache_write_failed", error=str(exc))

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.client.close()

    async def _ask(self, text: str) -> Extraction:
        try:
            return await self._request(text)
        except _Malformed as exc:
            self._log.warning("llm.reply_malformed", problem=str(exc), retrying=True)
        try:
            return await self._request(text)
        except _Malformed as exc:
            raise PermanentError(
                f"model {self.llm.model!r} twice gave a reply that is not valid JSON of the "
                f"entity schema ({exc}); check that STREAMPROC_LLM_MODEL supports structured output"
            ) from exc

    async def _request(self, text: str) -> Extraction:
        prompt = messages(text)
        estimate = estimate_tokens(sum(len(m["content"]) for m in prompt))
        estimate += self.llm.max_completion_tokens
        await self.limiter.acquire(estimate, max_wait=self.llm.max_wait)
        started = time.monotonic()
        try:
            completion = await self.client.chat.completions.create(
                model=self.llm.model,
                messages=cast("list[ChatCompletionMessageParam]", prompt),
                response_format=cast("ResponseFormatJSONSchema", response_format()),
                max_completion_tokens=self.llm.max_completion_tokens,
            )
        except openai.OpenAIError as exc:
            await self._fail(exc, estimate, started)
        used = await self._account(completion, estimate)
        try:
            reply = _parse(completion, self.llm.max_completion_tokens)
        except _Malformed:
            self._record("malformed", started, tokens=used)
            raise
        self._record("ok", started, tokens=used)
        return reply

    async def _account(self, completion: ChatCompletion, estimate: int) -> int:
        """Count the tokens used and correct the limiter's estimate; returns the total."""
        if completion.usage is None:
            return 0
        LLM_TOKENS.labels("prompt").inc(completion.usage.prompt_tokens)
        LLM_TOKENS.labels("completion").inc(completion.usage.completion_tokens)
        await self.limiter.adjust(completion.usage.total_tokens - estimate)
        return completion.usage.total_tokens

    def _record(self, outcome: str, started: float, **fields: object) -> None:
        LLM_REQUESTS.labels(outcome).inc()
        seconds = round(time.monotonic() - started, 3)
        level = "info" if outcome == "ok" else "warning"
        getattr(self._log, level)("llm.request", outcome=outcome, seconds=seconds, **fields)

    async def _fail(self, exc: openai.OpenAIError, estimate: int, started: float) -> NoReturn:
        _scrub(exc, self._secret)
        self._record(_outcome(exc), started, error=str(exc)[:300])
        if isinstance(exc, openai.APIStatusError):
            await self.limiter.adjust(-estimate)  # refused: no tokens were spent
        if isinstance(exc, openai.RateLimitError) and (pause := _retry_after(exc)):
            await self.limiter.hold(pause)
        raise self._translate(exc) from exc

    def _translate(self, exc: openai.OpenAIError) -> Exception:
        if isinstance(exc, openai.APITimeoutError):
            said = f"LLM request timed out after {self.llm.timeout:g}s"
            return DependencyUnavailable(OPENAI, said)
        if isinstance(exc, openai.APIConnectionError):
            return DependencyUnavailable(OPENAI, f"LLM endpoint {self._where()} unreachable: {exc}")
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc)
        return _Malformed(f"unusable response: {type(exc).__name__}")

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        status, code = exc.status_code, _scrubbed_code(exc, self._secret)
        said = f"HTTP {status}{f' {code}' if code else ''}{_request_id(exc)}"
        model, where = self.llm.model, self._where()
        if status >= 500:
            return DependencyUnavailable(OPENAI, f"LLM endpoint {where} is unavailable ({said})")
        if status == 429 or status in (408, 409):
            pause = _retry_after(exc)
            after = f"; retry after {pause:g}s" if pause else ""
            return RetryableError(f"LLM endpoint {where} is busy ({said}){after}")
        if status in (401, 403):
            return PermanentError(
                f"LLM endpoint {where} refused the API key for model {model!r} ({said}): "
                "set OPENAI_API_KEY to a valid key with access to STREAMPROC_LLM_MODEL"
            )
        if status == 404:
            return PermanentError(
                f"model {model!r} or its chat-completions route not found at {where} ({said}): "
                "check STREAMPROC_LLM_MODEL and OPENAI_BASE_URL"
            )
        return PermanentError(
            f"LLM endpoint {where} rejected the request ({said}): check that "
            f"STREAMPROC_LLM_MODEL ({model!r}) supports json_schema structured output"
        )

    def _where(self) -> str:
        return redact(str(self.client.base_url))


def _parse(completion: ChatCompletion, max_tokens: int) -> Extraction:
    """The reply as :class:`Extraction`; raises :class:`_Malformed` saying what is wrong."""
    if not completion.choices:
        raise _Malformed("no choices in the reply")
    choice = completion.choices[0]
    if choice.finish_reason == "length":
        raise _Malformed(
            f"reply cut at {max_tokens} tokens (raise STREAMPROC_LLM_MAX_COMPLETION_TOKENS)"
        )
    if choice.message.refusal:
        raise _Malformed(f"the model refused: {choice.message.refusal[:200]!r}")
    if choice.finish_reason == "content_filter":
        raise _Malformed("the reply was withheld by a content filter")
    try:
        return Extraction.model_validate_json(choice.message.content or "")
    except ValidationError as exc:
        raise _Malformed(f"schema violation at {_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "top level"
    return f"{where}: {error['msg']}"


def _outcome(exc: openai.OpenAIError) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APIStatusError):
        return "server_error" if exc.status_code >= 500 else "rejected"
    return "malformed"


def _retry_after(exc: openai.APIStatusError) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (HTTP dates are not honoured)."""
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            seconds = float(headers.get(name, "")) * scale
        except ValueError:
            continue
        if 0 < seconds <= MAX_RETRY_AFTER:
            return seconds
    return None


def _request_id(exc: openai.APIStatusError) -> str:
    return f", request {exc.request_id}" if exc.request_id else ""


def _scrubbed_code(exc: openai.APIStatusError, secret: str) -> str:
    code = exc.code if isinstance(exc.code, str) else ""
    return code.replace(secret, "***")[:80] if secret else code[:80]


def _scrub(exc: openai.OpenAIError, secret: str) -> None:
    """Remove the API key from the exception's text (an endpoint may echo it back)."""
    if not secret:
        return
    exc.args = tuple(a.replace(secret, "***") if isinstance(a, str) else a for a in exc.args)
    if isinstance(exc, openai.APIError):
        exc.message = exc.message.replace(secret, "***")
        exc.body = None  # the raw body may quote it too


def make_openai_extractor(
    settings: Settings, redis: Redis, llm: LLMSettings | None = None
) -> OpenAIExtractor:
    """The extractor for ``STREAMPROC_EXTRACTOR=openai``; ``llm`` defaults to the environment.

    Raises :class:`ConfigurationError` when OPENAI_API_KEY is not set.
    """
    llm = llm or load_llm_settings()
    if llm.api_key is None or not llm.api_key.get_secret_value():
        raise ConfigurationError(
            "OPENAI_API_KEY is not set: the openai extractor needs it (any non-empty value "
            "for an OpenAI-compatible endpoint without authentication)"
        )
    client = AsyncOpenAI(
        base_url=llm.base_url,
        api_key=llm.api_key.get_secret_value(),
        max_retries=0,
        timeout=llm.timeout,
    )
    keys = Keys(settings.prefix)
    limit = RateLimit(llm.requests_per_minute, llm.tokens_per_minute, llm.burst_seconds)
    limiter = RateLimiter(Scripts(redis, keys), f"llm:{llm.model}", limit)
    cache = ReplyCache(
        redis, keys, model=llm.model, prompt_version=PROMPT_VERSION, ttl=llm.cache_ttl
    )
    return OpenAIExtractor(client, limiter, cache, llm)
