"""``build_edges``: a document's relationship graph from its resolved mentions.

Mention offsets are in the document text, the coordinates of ``Chunk.start``
and ``Chunk.end``.  Edges, each read "source <type> target":

- ``party_in_case``: party -> document, one per role ("plaintiff",
  "defendant-appellant", ...; "party" when the mention has none).
- ``judge_of_case``, ``court_of_case``: judge or court -> document.
- ``cites``: document -> case citation or statute.
- ``attorney_for_party``: attorney -> party, for each ``("represents", x)``
  attribute and for the attorney's role.  ``x`` may name a party ("Acme
  Corp.", matched against the document's parties with ``best_match``) or a
  role ("Plaintiffs": every party with that role).
- ``attorney_at_firm``: attorney -> law firm, for each ``("firm", x)``
  attribute, matched against the document's law-firm mentions.
- ``co_occurs``: between two distinct entities (people, parties,
  organisations, firms, courts) named in one chunk; undirected, so the
  smaller id is the source.  ``count`` is the number of chunks naming both.

A represented party or firm that is not among the document's mentions gives
no edge: the graph never points at an entity the resolve stage did not store.
Every edge carries ``count``, the number of mentions (or chunks) behind it.
A chunk naming more than ``MAX_COOCCURRING`` distinct entities contributes
pairs among only the ``MAX_COOCCURRING`` it names most often (ties to the
earliest named), which caps its pairs at 780 instead of growing with the
square of the names in, say, a 200-name service list.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence

from consumers.graph import Edge, EdgeType, ResolvedMention, document_node
from consumers.model import Chunk, EntityType
from consumers.resolve.matching import best_match
from consumers.resolve.normalize import normalize_name
from consumers.resolve.text import tokens, wordset

MAX_COOCCURRING = 40
"""Most distinct entities of one chunk that enter co-occurrence pairs."""

_COOCCURRING_TYPES = frozenset(
    {
        EntityType.PARTY,
        EntityType.ORGANIZATION,
        EntityType.PERSON,
        EntityType.ATTORNEY,
        EntityType.JUDGE,
        EntityType.LAW_FIRM,
        EntityType.COURT,
    }
)
_CASE_EDGES = {
    EntityType.JUDGE: EdgeType.JUDGE_OF_CASE,
    EntityType.COURT: EdgeType.COURT_OF_CASE,
}
_CITED = frozenset({EntityType.CASE_CITATION, EntityType.STATUTE})
_PARTY_ROLES = wordset(
    "plaintiff defendant appellant appellee petitioner respondent debtor creditor claimant "
    "intervenor movant relator counterclaimant trustee cross counter third party"
)
_FILLERS = wordset("the for and all")

# An edge's identity -- type, source, target, role -- and how many mentions back it.
_Tally = Counter[tuple[EdgeType, str, str, str]]


def build_edges(
    document_id: str, mentions: Sequence[ResolvedMention], chunks: Sequence[Chunk]
) -> list[Edge]:
    """The document's edges, without duplicates or self-loops, in a fixed order.

    The result depends only on the set of mentions and chunks, not their order.
    """
    tally: _Tally = Counter()
    case = document_node(document_id)
    _case_edges(tally, case, mentions)
    _counsel_edges(tally, mentions)
    _co_occurrences(tally, mentions, chunks)
    return sorted(
        (_edge(identity, count) for identity, count in tally.items() if identity[1] != identity[2]),
        key=lambda edge: (edge.type.value, edge.source, edge.target, edge.attrs),
    )


def _edge(identity: tuple[EdgeType, str, str, str], count: int) -> Edge:
    kind, source, target, role = identity
    attrs = (("count", str(count)), ("role", role)) if role else (("count", str(count)),)
    return Edge(kind, source, target, attrs)


def _case_edges(tally: _Tally, case: str, mentions: Iterable[ResolvedMention]) -> None:
    for resolved in mentions:
        kind, entity = resolved.mention.type, resolved.entity_id
        if kind is EntityType.PARTY:
            role = party_role(resolved.mention.role or "") or "party"
            tally[EdgeType.PARTY_IN_CASE, entity, case, role] += 1
        elif kind in _CASE_EDGES:
            tally[_CASE_EDGES[kind], entity, case, ""] += 1
        elif kind in _CITED:
            tally[EdgeType.CITES, case, entity, ""] += 1


def party_role(text: str) -> str:
    """A role's canonical spelling: "Plaintiffs-Appellants" -> "plaintiff-appellant"."""
    words = [_singular(word) for word in tokens(text)]
    return "-".join(words)


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and word[:-1] in _PARTY_ROLES else word


def _counsel_edges(tally: _Tally, mentions: Sequence[ResolvedMention]) -> None:
    parties = [m for m in mentions if m.mention.type is EntityType.PARTY]
    party_keys = _keys(EntityType.PARTY, parties)
    firm_keys = _keys(
        EntityType.LAW_FIRM, [m for m in mentions if m.mention.type is EntityType.LAW_FIRM]
    )
    for attorney in mentions:
        if attorney.mention.type is not EntityType.ATTORNEY:
            continue
        for party in _represented(attorney, parties, party_keys):
            tally[EdgeType.ATTORNEY_FOR_PARTY, attorney.entity_id, party, ""] += 1
        for name in _attr_values(attorney, "firm"):
            if firm := _find(EntityType.LAW_FIRM, name, firm_keys):
                tally[EdgeType.ATTORNEY_AT_FIRM, attorney.entity_id, firm, ""] += 1


def _keys(kind: EntityType, known: Iterable[ResolvedMention]) -> list[tuple[str, str]]:
    """``best_match`` candidates: the known mentions' keys and ids, sorted."""
    return sorted({(normalize_name(kind, m.mention.text), m.entity_id) for m in known})


def _represented(
    attorney: ResolvedMention, parties: Sequence[ResolvedMention], keys: list[tuple[str, str]]
) -> set[str]:
    """Ids of the parties an attorney mention says it represents."""
    found: set[str] = set()
    references = [*_attr_values(attorney, "represents"), attorney.mention.role or ""]
    for reference in filter(None, references):
        # "Defendant Acme Corp." names a party; "Defendants" names a role.
        if all(_is_role_word(word) for word in tokens(reference)):
            found.update(_parties_with_role(party_role(reference), parties))
        elif party := _find(EntityType.PARTY, reference, keys):
            found.add(party)
    return found


def _is_role_word(word: str) -> bool:
    return _singular(word) in _PARTY_ROLES or word in _FILLERS


def _parties_with_role(role: str, parties: Iterable[ResolvedMention]) -> set[str]:
    wanted = set(role.split("-")) - _FILLERS
    return {
        party.entity_id
        for party in parties
        if wanted and wanted <= set(party_role(party.mention.role or "").split("-"))
    }


def _attr_values(resolved: ResolvedMention, name: str) -> list[str]:
    return [value for key, value in resolved.mention.attrs if key == name]


def _find(kind: EntityType, name: str, keys: list[tuple[str, str]]) -> str | None:
    """The id of the known entity ``name`` refers to, if one clearly is."""
    words = tokens(name)
    while words and _is_role_word(words[0]):
        del words[0]
    key = normalize_name(kind, " ".join(words))
    return best_match(kind, key, keys) if key else None


def _co_occurrences(
    tally: _Tally, mentions: Sequence[ResolvedMention], chunks: Sequence[Chunk]
) -> None:
    named = sorted(
        (m.mention.start, m.mention.end, m.entity_id)
        for m in mentions
        if m.mention.type in _COOCCURRING_TYPES
    )
    starts = [start for start, _, _ in named]
    for chunk in chunks:
        entities = _entities_in(named, starts, chunk)
        for pair in itertools.combinations(sorted(entities), 2):
            tally[EdgeType.CO_OCCURS, pair[0], pair[1], ""] += 1


def _entities_in(
    named: Sequence[tuple[int, int, str]], starts: Sequence[int], chunk: Chunk
) -> list[str]:
    """The distinct entities named wholly inside ``chunk``, at most ``MAX_COOCCURRING``."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    index = bisect.bisect_left(starts, chunk.start)
    while index < len(named) and named[index][0] < chunk.end:
        start, end, entity = named[index]
        if end <= chunk.end:
            counts[entity] += 1
            first.setdefault(entity, start)
        index += 1
    ranked = sorted(counts, key=lambda entity: (-counts[entity], first[entity], entity))
    return ranked[:MAX_COOCCURRING]
