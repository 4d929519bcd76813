"""Model replies cached in Redis by (model, prompt version, text sha256).

A redelivered message or a replayed stage asks again for the same chunk; the
cache answers instead of the paid endpoint. The validated reply is stored,
not the mentions, so a change in how replies are located in the text needs
no new requests. Entries expire after a TTL.
"""

from __future__ import annotations

from pydantic import ValidationError
from redis.asyncio import Redis

from consumers.entities.llm_prompt import Extraction
from streamproc.keys import Keys
from streamproc.ratelimit import redis_errors


class ReplyCache:
    """Get and put :class:`Extraction` replies of one model and prompt version."""

    def __init__(
        self, redis: Redis, keys: Keys, *, model: str, prompt_version: str, ttl: int
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.model = model
        self.prompt_version = prompt_version
        self.ttl = ttl

    def key(self, digest: str) -> str:
        """The Redis key of the reply for a text with sha256 ``digest``."""
        return self.keys.llm_reply(self.model, self.prompt_version, digest)

    async def get(self, digest: str) -> Extraction | None:
        """The cached reply, or None (absent, expired, or from an older schema)."""
        with redis_errors("LLM reply cache"):
            raw = await self.redis.get(self.key(digest))
        if raw is None:
            return None
        try:
            return Extraction.model_validate_json(raw)
        except ValidationError:
            return None  # written by another schema under the same version: ask again

    async def put(self, digest: str, reply: Extraction) -> None:
        """Store ``reply`` for ``ttl`` seconds."""
        with redis_errors("LLM reply cache"):
            await self.redis.set(self.key(digest), reply.model_dump_json(), ex=self.ttl)
