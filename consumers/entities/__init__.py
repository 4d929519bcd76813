"""Entity extraction for legal documents.

``extract_mentions`` (pure, CPU-bound) and ``OfflineExtractor`` (its async
wrapper) find courts, judges, parties, attorneys, law firms,
organizations, people, docket numbers, case citations, statutes, dates and
sums of money with rules, gazetteers and eyecite.  ``Extractor`` is the
protocol any extractor (for instance an LLM-backed one) implements.
"""

from consumers.entities.extractor import Extractor
from consumers.entities.offline import OFFLINE_VERSION, OfflineExtractor, extract_mentions

__all__ = ["OFFLINE_VERSION", "Extractor", "OfflineExtractor", "extract_mentions"]
