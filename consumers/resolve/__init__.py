"""The pure core of the resolve stage: name keys, matching and canonical ids.

- ``normalize``: ``normalize_name(entity_type, text)``, the canonical key.
- ``matching``: ``best_match``, ``canonical_id`` and ``blocking_key``.
"""

from consumers.resolve.matching import best_match, blocking_key, canonical_id
from consumers.resolve.normalize import normalize_name, split_docket_number

__all__ = ["best_match", "blocking_key", "canonical_id", "normalize_name", "split_docket_number"]
