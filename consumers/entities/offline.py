"""The offline extractor: every rule family over one text, overlaps resolved.

``extract_mentions`` is pure and synchronous (it is CPU work; the stage runs
it in a worker pool).  Rule families run independently and may propose
overlapping spans; ``resolve_overlaps`` keeps one mention per span region,
preferring the more specific type.  Parties found structurally (captions,
rosters, contract preambles) are also the context that resolves "for
appellant" in counsel paragraphs.
"""

from __future__ import annotations

import asyncio
import dataclasses

from consumers.entities.caption import find_caption_parties
from consumers.entities.case_names import find_case_name_parties
from consumers.entities.citations import find_citations
from consumers.entities.contracts import find_contract_parties
from consumers.entities.counsel import find_counsel
from consumers.entities.courts import find_courts
from consumers.entities.dates import find_dates
from consumers.entities.dockets import find_docket_numbers
from consumers.entities.judges import find_judges
from consumers.entities.lines import logical_lines
from consumers.entities.money import find_money
from consumers.entities.organizations import find_organizations, find_persons
from consumers.entities.role_mentions import find_role_mentions
from consumers.entities.rosters import find_roster_counsel
from consumers.entities.spans import resolve_overlaps
from consumers.entities.statutes import find_statutes
from consumers.model import Mention

# Bump when a rule changes what is extracted: it keys cached extractions.
OFFLINE_VERSION = "offline-2"

# The rules write spaces as " "; PDF and HTML text often has no-break and thin
# spaces instead.  Each maps to one plain space, so positions do not move.
_SPACES = str.maketrans(dict.fromkeys([0xA0, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000], " "))


def extract_mentions(text: str) -> list[Mention]:
    """Every entity mention the rules find in ``text``, sorted by position.

    Each mention satisfies ``text[m.start:m.end] == m.text``; no two overlap.
    """
    plain = text.translate(_SPACES)  # same length: offsets carry over unchanged
    mentions = _rule_mentions(plain)
    if plain == text:
        return mentions
    return [dataclasses.replace(m, text=text[m.start : m.end]) for m in mentions]


def _rule_mentions(text: str) -> list[Mention]:
    lines = logical_lines(text)
    parties = [
        *find_caption_parties(text, lines),
        *find_case_name_parties(text, lines),
        *find_contract_parties(text),
    ]
    mentions = [
        *parties,
        *find_roster_counsel(text, lines, parties),
        *find_counsel(text, lines, parties),
        *find_role_mentions(text),
        *find_citations(text),
        *find_statutes(text),
        *find_docket_numbers(text),
        *find_money(text),
        *find_dates(text),
        *find_judges(text),
        *find_courts(text),
        *find_organizations(text),
        *find_persons(text),
    ]
    return resolve_overlaps(mentions)


class OfflineExtractor:
    """The rule-based extractor: no network, no model, deterministic."""

    version = OFFLINE_VERSION
    whole_document = True  # linear time, so a whole document is cheap and keeps context

    async def extract(self, text: str) -> list[Mention]:
        """Extract in a worker thread so the event loop keeps serving other messages."""
        return await asyncio.to_thread(extract_mentions, text)
