"""Edges of a document's graph: case edges, counsel, citations, co-occurrence."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.graph import Edge, EdgeType, ResolvedMention, document_node
from consumers.graph.edges import MAX_COOCCURRING, build_edges, party_role
from consumers.model import Chunk, EntityType, Mention
from consumers.resolve.matching import canonical_id
from consumers.resolve.normalize import normalize_name

T = EntityType
E = EdgeType
CAPTION = (
    "ACME CORP., Plaintiff, v. JOHN DOE, Defendant. United States District Court, N.D. Ill. "
    "Before Judge Jane Roe. Counsel: Mary Major of Major & Minor LLP for Plaintiff. "
    "See 347 U.S. 483; 42 U.S.C. § 1983."
)


def resolved(
    text: str,
    kind: EntityType,
    surface: str,
    *,
    role: str | None = None,
    attrs: tuple[tuple[str, str], ...] = (),
    after: int = 0,
) -> ResolvedMention:
    """A mention of ``surface`` in ``text``, resolved the way the resolve stage would."""
    start = text.index(surface, after)
    mention = Mention(kind, surface, start, start + len(surface), role, attrs)
    return ResolvedMention(mention, entity(kind, surface))


def entity(kind: EntityType, surface: str) -> str:
    return canonical_id(kind, normalize_name(kind, surface))


def whole(text: str) -> list[Chunk]:
    return [Chunk(0, text, 0, len(text), (1,))]


def caption_mentions() -> list[ResolvedMention]:
    return [
        resolved(CAPTION, T.PARTY, "ACME CORP.", role="Plaintiff"),
        resolved(CAPTION, T.PARTY, "JOHN DOE", role="Defendant"),
        resolved(CAPTION, T.COURT, "N.D. Ill."),
        resolved(CAPTION, T.JUDGE, "Jane Roe"),
        resolved(
            CAPTION,
            T.ATTORNEY,
            "Mary Major",
            attrs=(("represents", "Plaintiff"), ("firm", "Major and Minor, L.L.P.")),
        ),
        resolved(CAPTION, T.LAW_FIRM, "Major & Minor LLP"),
        resolved(CAPTION, T.CASE_CITATION, "347 U.S. 483"),
        resolved(CAPTION, T.STATUTE, "42 U.S.C. § 1983"),
    ]


def test_a_caption_gives_case_counsel_and_citation_edges() -> None:
    edges = build_edges("d1", caption_mentions(), whole(CAPTION))
    case = document_node("d1")
    acme, doe = entity(T.PARTY, "Acme Corp"), entity(T.PARTY, "John Doe")
    major = entity(T.ATTORNEY, "Mary Major")
    one = (("count", "1"),)
    assert [edge for edge in edges if edge.type is not E.CO_OCCURS] == sorted(
        [
            Edge(E.ATTORNEY_AT_FIRM, major, entity(T.LAW_FIRM, "Major and Minor"), one),
            Edge(E.ATTORNEY_FOR_PARTY, major, acme, one),
            Edge(E.CITES, case, entity(T.CASE_CITATION, "347 U. S. 483"), one),
            Edge(E.CITES, case, entity(T.STATUTE, "42 USC 1983"), one),
            Edge(E.COURT_OF_CASE, entity(T.COURT, "Northern District of Illinois"), case, one),
            Edge(E.JUDGE_OF_CASE, entity(T.JUDGE, "Hon. Jane Roe"), case, one),
            Edge(E.PARTY_IN_CASE, acme, case, (("count", "1"), ("role", "plaintiff"))),
            Edge(E.PARTY_IN_CASE, doe, case, (("count", "1"), ("role", "defendant"))),
        ],
        key=lambda edge: (edge.type.value, edge.source, edge.target, edge.attrs),
    )


def test_people_parties_courts_and_firms_in_one_chunk_all_co_occur() -> None:
    edges = build_edges("d1", caption_mentions(), whole(CAPTION))
    pairs = [(edge.source, edge.target) for edge in edges if edge.type is E.CO_OCCURS]
    named = {
        m.entity_id
        for m in caption_mentions()
        if m.mention.type not in {T.CASE_CITATION, T.STATUTE}
    }
    assert len(named) == 6
    assert sorted(pairs) == sorted(
        (first, second) for first in named for second in named if first < second
    )


def test_an_attorney_represents_a_party_named_in_another_spelling() -> None:
    text = (
        "Acme Corp. and John Doe. Counsel: Ann Lee for Acme Corporation; "
        "Bo Kim for Defendant Doe, John."
    )
    mentions = [
        resolved(text, T.PARTY, "Acme Corp."),
        resolved(text, T.PARTY, "John Doe", role="defendant"),
        resolved(text, T.ATTORNEY, "Ann Lee", attrs=(("represents", "Acme Corporation"),)),
        resolved(text, T.ATTORNEY, "Bo Kim", attrs=(("represents", "Defendant Doe, John"),)),
    ]
    counsel = {
        (edge.source, edge.target)
        for edge in build_edges("d2", mentions, [])
        if edge.type is E.ATTORNEY_FOR_PARTY
    }
    assert counsel == {
        (entity(T.ATTORNEY, "Ann Lee"), entity(T.PARTY, "Acme Corp.")),
        (entity(T.ATTORNEY, "Bo Kim"), entity(T.PARTY, "John Doe")),
    }


def test_an_attorneys_role_names_every_party_in_that_role() -> None:
    text = (
        "Ann Smith and Bob Jones, Plaintiffs-Appellants, v. Carl Diaz, Defendant-Appellee. Dee Fox"
    )
    mentions = [
        resolved(text, T.PARTY, "Ann Smith", role="Plaintiffs-Appellants"),
        resolved(text, T.PARTY, "Bob Jones", role="Plaintiffs-Appellants"),
        resolved(text, T.PARTY, "Carl Diaz", role="Defendant-Appellee"),
        resolved(text, T.ATTORNEY, "Dee Fox", role="Appellants"),
    ]
    targets = {
        edge.target for edge in build_edges("d3", mentions, []) if edge.type is E.ATTORNEY_FOR_PARTY
    }
    assert targets == {entity(T.PARTY, "Ann Smith"), entity(T.PARTY, "Bob Jones")}


def test_a_firm_or_party_missing_from_the_document_gives_no_edge() -> None:
    text = "Counsel: Ann Lee of Lee Law Group for Zeta Inc."
    mentions = [
        resolved(
            text,
            T.ATTORNEY,
            "Ann Lee",
            attrs=(("firm", "Lee Law Group"), ("represents", "Zeta Inc.")),
        ),
    ]
    assert build_edges("d4", mentions, whole(text)) == []


def test_party_roles_are_spelled_one_way() -> None:
    assert party_role("Plaintiffs-Appellants") == "plaintiff-appellant"
    assert party_role("DEFENDANT") == "defendant"
    assert party_role("Third-Party Defendants") == "third-party-defendant"


def test_one_party_in_two_roles_has_two_edges_with_different_ids() -> None:
    text = "Acme Corp., Plaintiff and Counter-Defendant"
    mentions = [
        resolved(text, T.PARTY, "Acme Corp.", role="plaintiff"),
        resolved(text, T.PARTY, "Acme Corp.", role="counter-defendant"),
    ]
    edges = build_edges("d5", mentions, [])
    assert [dict(edge.attrs)["role"] for edge in edges] == ["counter-defendant", "plaintiff"]
    assert len({edge.id for edge in edges}) == 2


def test_repeated_mentions_add_to_one_edges_count() -> None:
    text = "Judge Roe wrote. Later Judge Roe added. Roe, J., concurred."
    mentions = [
        resolved(text, T.JUDGE, "Judge Roe"),
        resolved(text, T.JUDGE, "Judge Roe", after=10),
        resolved(text, T.JUDGE, "Roe, J."),
    ]
    edges = build_edges("d6", mentions, [])
    assert edges == [
        Edge(E.JUDGE_OF_CASE, entity(T.JUDGE, "Roe"), document_node("d6"), (("count", "3"),))
    ]


def test_co_occurrence_counts_chunks_and_ignores_mentions_cut_by_a_chunk_edge() -> None:
    text = "Acme Corp. met Beta LLC. " * 2 + "Gamma Co. sued."
    first_acme = resolved(text, T.PARTY, "Acme Corp.")
    mentions = [
        first_acme,
        resolved(text, T.PARTY, "Beta LLC"),
        resolved(text, T.PARTY, "Acme Corp.", after=1),
        resolved(text, T.PARTY, "Beta LLC", after=20),
        resolved(text, T.PARTY, "Gamma Co."),
    ]
    gamma = mentions[-1].mention
    chunks = [
        Chunk(0, text[:25], 0, 25, (1,)),
        Chunk(1, text[25 : gamma.start + 3], 25, gamma.start + 3, (1,)),
        Chunk(2, text[25:], 25, len(text), (1,)),
    ]
    co = {
        (edge.source, edge.target): dict(edge.attrs)["count"]
        for edge in build_edges("d7", mentions, chunks)
        if edge.type is E.CO_OCCURS
    }
    acme, beta, gamma_id = (entity(T.PARTY, name) for name in ("Acme", "Beta", "Gamma"))
    assert co == {
        tuple(sorted((acme, beta))): "3",
        tuple(sorted((acme, gamma_id))): "1",
        tuple(sorted((beta, gamma_id))): "1",
    }


def test_a_chunk_with_many_names_pairs_only_the_most_named() -> None:
    names = [f"Person{n:03d} Surname" for n in range(60)]
    text = " ".join(names) + " " + names[59]
    mentions = [resolved(text, T.PERSON, name) for name in names]
    mentions.append(resolved(text, T.PERSON, names[59], after=len(text) - len(names[59])))
    edges = build_edges("d8", mentions, whole(text))
    paired = {node for edge in edges for node in (edge.source, edge.target)}
    assert len(edges) == MAX_COOCCURRING * (MAX_COOCCURRING - 1) // 2
    # The twice-named person ranks first; then the earliest named fill the cap.
    assert paired == {entity(T.PERSON, name) for name in [names[59], *names[: MAX_COOCCURRING - 1]]}


def test_edge_ids_depend_on_identity_not_on_counts() -> None:
    edge = Edge(E.PARTY_IN_CASE, "p", "doc:1", (("count", "1"), ("role", "plaintiff")))
    recount = Edge(E.PARTY_IN_CASE, "p", "doc:1", (("count", "7"), ("role", "plaintiff")))
    other_role = Edge(E.PARTY_IN_CASE, "p", "doc:1", (("count", "1"), ("role", "defendant")))
    assert edge.id == recount.id != other_role.id
    assert Edge(E.CO_OCCURS, "a", "b").id != Edge(E.CO_OCCURS, "b", "a").id


POOL = [
    (T.PARTY, "Acme Corp.", "plaintiff", ()),
    (T.PARTY, "Beta LLC", "defendant", ()),
    (T.PARTY, "Acme Corporation", "counter-defendant", ()),
    (T.JUDGE, "Jane Roe", None, ()),
    (T.COURT, "D. Mass.", None, ()),
    (T.ATTORNEY, "Ann Lee", "plaintiff", (("firm", "Lee LLP"),)),
    (T.ATTORNEY, "Bo Kim", None, (("represents", "Beta"),)),
    (T.LAW_FIRM, "Lee LLP", None, ()),
    (T.PERSON, "Carl Diaz", None, ()),
    (T.CASE_CITATION, "5 F.3d 6", None, ()),
    (T.STATUTE, "42 U.S.C. § 1983", None, ()),
]


@st.composite
def documents(draw: st.DrawFn) -> tuple[list[ResolvedMention], list[Chunk]]:
    """Mentions drawn from a small pool at random places, and overlapping chunks."""
    picks = draw(st.lists(st.sampled_from(POOL), max_size=25))
    mentions, offset = [], 0
    for kind, surface, role, attrs in picks:
        offset += draw(st.integers(min_value=0, max_value=30))
        start = offset
        offset += len(surface)
        mention = Mention(kind, surface, start, offset, role, attrs)
        mentions.append(ResolvedMention(mention, entity(kind, surface)))
    length = offset + 1
    size = draw(st.integers(min_value=20, max_value=200))
    chunks = [
        Chunk(index, "", start, min(start + size, length), (1,))
        for index, start in enumerate(range(0, length, max(size // 2, 1)))
    ]
    return mentions, chunks


@settings(max_examples=150, deadline=None)
@given(document=documents(), data=st.data())
def test_edges_do_not_depend_on_mention_order(
    document: tuple[list[ResolvedMention], list[Chunk]], data: st.DataObject
) -> None:
    mentions, chunks = document
    shuffled = data.draw(st.permutations(mentions))
    assert build_edges("doc", shuffled, chunks) == build_edges("doc", mentions, chunks)


@settings(max_examples=150, deadline=None)
@given(document=documents())
def test_edges_are_unique_loop_free_and_co_occurrence_is_ordered(
    document: tuple[list[ResolvedMention], list[Chunk]],
) -> None:
    edges = build_edges("doc", *document)
    assert all(edge.source != edge.target for edge in edges)
    assert len({edge.id for edge in edges}) == len(edges)
    assert all(edge.source < edge.target for edge in edges if edge.type is E.CO_OCCURS)
    assert all(int(dict(edge.attrs)["count"]) >= 1 for edge in edges)
