"""Every Redis key streamproc uses, in one place.

Each key carries the hash tag ``{prefix}`` so that every key a Lua call
touches lives in one Redis Cluster slot. Tests and tenants separate their
data by using a different prefix. A batch's keys end in its id, or its id and
a suffix (``:docs``, ``:unsealed``): batch ids never hold ``:``
(:func:`streamproc.batches.check_batch_id`), so no batch's key is another's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix (one partition)."""

    prefix: str = "sp"

    def _key(self, *parts: str) -> str:
        return "{" + self.prefix + "}:" + ":".join(parts)

    def stream(self, stage: str) -> str:
        """The input stream of a stage."""
        return self._key("stream", stage)

    def dead_letters(self, stage: str) -> str:
        """The dead-letter stream of a stage."""
        return self._key("dlq", stage)

    def delayed(self, stage: str) -> str:
        """The sorted set of messages waiting to re-enter a stage."""
        return self._key("delayed", stage)

    def batch(self, batch_id: str) -> str:
        """The counters of a batch."""
        return self._key("batch", batch_id)

    def batch_documents(self, batch_id: str) -> str:
        """Document id -> state for every document of a batch."""
        return self._key("batch", batch_id, "docs")

    def batch_unsealed(self, batch_id: str) -> str:
        """Documents of a batch queued by a submit that has not sealed them yet."""
        return self._key("batch", batch_id, "unsealed")

    @property
    def open_batches(self) -> str:
        """Batch ids not yet completed, scored by creation time."""
        return self._key("batches", "open")

    @property
    def completed_batches(self) -> str:
        """Completed batch ids whose keys have not expired yet, scored by when they expire."""
        return self._key("batches", "completed")

    @property
    def events(self) -> str:
        """Pipeline events: batch completions."""
        return self._key("events")

    @property
    def progress_channel(self) -> str:
        """Pub/sub channel of batch progress (published by the scripts: events + ':progress')."""
        return self.events + ":progress"

    @property
    def consumers(self) -> str:
        """Consumer name -> heartbeat record of every live worker."""
        return self._key("consumers")

    @property
    def group_checkpoints(self) -> str:
        """'<stream>\\n<group>' -> the id a deleted consumer group is recreated at."""
        return self._key("groups")

    def rate_limit(self, name: str) -> str:
        """The shared request and token buckets of the rate limit ``name``."""
        return self._key("ratelimit", name)

    def breaker(self, dependency: str) -> str:
        """The circuit breaker of one external dependency (state, failures, opened-at)."""
        return self._key("breaker", dependency)

    def llm_reply(self, model: str, prompt_version: str, digest: str) -> str:
        """The cached model reply for a text with sha256 ``digest``."""
        return self._key("llm", model, prompt_version, digest)

    def pattern(self) -> str:
        """A SCAN pattern matching every key of this prefix."""
        return "{" + self.prefix + "}:*"
