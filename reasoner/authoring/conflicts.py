"""Disagreements between sources within the knowledge itself: the one list that ``dorsum conflicts``
prints and ``dorsum docs`` tabulates.

The pairs are found by SPARQL (``queries/knowledge-conflicts-*.rq``), run with Oxigraph over the
ontology (rdflib needs seconds for them; a test checks both engines agree); this module words each
side and names the policy that resolves it (``reasoner.pipeline.policy``).

Each side also says where its sources come from (``SourceClaim.origin``): the seed articles
(``dx:SeedArticle``), guideline packs (``queries/docs-packs-sources.rq``: the sources of each
``dx:KnowledgePack``), both, or neither. ``KnowledgeConflict.packs_vs_seeds`` marks the
disagreements between a pack and the seeds, the list ``dorsum conflicts --packs-vs-seeds`` prints
and the docs' "Guideline packs" section shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import cast

from rdflib import Node
from rdflib.namespace import RDF, RDFS

from reasoner.engines.sparql_store import ReportQueries
from reasoner.errors import KnowledgeError
from reasoner.knowledge import DX, Knowledge, per_knowledge
from reasoner.pipeline.policy import DEFAULT_POLICY, Profile, policy_name

__all__ = [
    "KINDS",
    "ORIGINS",
    "KnowledgeConflict",
    "SourceClaim",
    "SourceOrigins",
    "knowledge_conflicts",
    "packs_vs_seeds",
    "source_origins",
]

#: The kinds of disagreement, in the order they are listed.
KINDS = ("threshold", "topic", "urgency", "do-avoid")
QUERY_PREFIX = "knowledge-conflicts-"
PACK_SOURCES_QUERY = "docs-packs-sources"
#: Where a side's sources come from: seed articles, guideline packs, both, or neither.
ORIGINS = ("seed", "pack", "seed+pack", "other")


@dataclass(frozen=True)
class SourceClaim:
    """One source's side of a knowledge-level disagreement."""

    element: str
    label: str
    answer: str
    sources: tuple[str, ...]
    citations: tuple[str, ...]
    origin: str = "other"  # one of ORIGINS
    packs: tuple[str, ...] = ()  # the pack files (dx:packFile) its sources belong to

    @property
    def cites_seed(self) -> bool:
        return self.origin in ("seed", "seed+pack")

    @property
    def cites_pack(self) -> bool:
        return self.origin in ("pack", "seed+pack")


@dataclass(frozen=True)
class KnowledgeConflict:
    kind: str  # "threshold", "topic", "urgency" or "do-avoid"
    subject: str
    first: SourceClaim
    second: SourceClaim
    policy: str
    packs_vs_seeds: bool = False  # one side cites a guideline pack's source, the other a seed article

    def seed_and_pack_sides(self) -> tuple[SourceClaim, SourceClaim] | None:
        """(the seed article's side, the pack's side) of a pack-versus-seeds disagreement, else None.
        A side citing both is the pack's side when the other cites only seeds, and the reverse."""
        pairs = [
            (a, b) for a, b in ((self.first, self.second), (self.second, self.first)) if a.cites_seed and b.cites_pack
        ]
        return min(pairs, key=lambda pair: (pair[0].cites_pack, pair[1].cites_seed)) if pairs else None


@dataclass(frozen=True)
class SourceOrigins:
    """Which sources are seed articles, and which guideline packs each pack source belongs to."""

    seeds: frozenset[str]
    packs: dict[str, tuple[str, ...]]  # source IRI -> pack files

    def origin(self, sources: Iterable[str]) -> tuple[str, tuple[str, ...]]:
        """The origin (one of ORIGINS) of a side citing ``sources``, and the packs they belong to."""
        found = list(sources)
        seed = any(source in self.seeds for source in found)
        packs = tuple(sorted({pack for source in found for pack in self.packs.get(source, ())}))
        return {(True, True): "seed+pack", (True, False): "seed", (False, True): "pack"}.get(
            (seed, bool(packs)), "other"
        ), packs


@per_knowledge
def source_origins(knowledge: Knowledge) -> SourceOrigins:
    """The seed articles and the sources of each guideline pack (``queries/docs-packs-sources.rq``)."""
    if PACK_SOURCES_QUERY not in knowledge.query_files:  # (a lookup in knowledge.queries would parse it)
        raise KnowledgeError(
            f"dorsum conflicts needs queries/{PACK_SOURCES_QUERY}.rq, which the knowledge does not have"
        )
    graph = knowledge.ontology
    seeds = frozenset(
        str(seed)
        for cls in graph.transitive_subjects(RDFS.subClassOf, DX.SeedArticle)
        for seed in graph.subjects(RDF.type, cls)
    )
    packs: dict[str, set[str]] = {}
    for pack, pack_file, source, *_ in _oxigraph_rows(knowledge)[PACK_SOURCES_QUERY]:
        packs.setdefault(str(source), set()).add(str(pack_file if pack_file is not None else pack))
    return SourceOrigins(seeds, {source: tuple(sorted(found)) for source, found in packs.items()})


def packs_vs_seeds(conflicts: Iterable[KnowledgeConflict]) -> tuple[KnowledgeConflict, ...]:
    """The disagreements where one side cites a guideline pack's source and the other a seed article."""
    return tuple(conflict for conflict in conflicts if conflict.packs_vs_seeds)


def knowledge_conflicts(knowledge: Knowledge, profile: Profile | None = None) -> tuple[KnowledgeConflict, ...]:
    """Every pair of sources that disagree within the knowledge itself."""
    graph = knowledge.ontology
    found: list[KnowledgeConflict] = []
    policy = policy_name(profile)
    origins = source_origins(knowledge)

    def claim(element: Node, answer: str) -> SourceClaim:
        refs = [ref for ref in knowledge.sources_of(element) if ref.relation == "source"]
        origin, packs = origins.origin(ref.iri for ref in refs)
        return SourceClaim(
            element=str(element),
            label=knowledge.label(element),
            answer=answer,
            sources=tuple(ref.short for ref in refs),
            citations=tuple(ref.citation for ref in refs),
            origin=origin,
            packs=packs,
        )

    def advice_answer(advice: Node) -> str:
        action = graph.value(advice, DX.action)
        tier = graph.value(advice, DX.urgency)
        return f"{knowledge.label(action)}" + (f" ({knowledge.label(tier)})" if tier is not None else "")

    for a, b, quantity in _rows(knowledge, "knowledge-conflicts-threshold"):
        found.append(
            KnowledgeConflict(
                "threshold",
                f"size threshold for the {knowledge.label(quantity)}",
                claim(a, f"above {graph.value(a, DX.minCm)} cm"),
                claim(b, f"above {graph.value(b, DX.minCm)} cm"),
                f"{policy}: the lower threshold makes the lump a red flag",
            )
        )
    for topic, a, b, topic_policy in _rows(knowledge, "knowledge-conflicts-topic"):
        label = knowledge.label(topic_policy) if topic_policy is not None and profile is None else policy
        found.append(
            KnowledgeConflict(
                "topic", knowledge.label(topic), claim(a, advice_answer(a)), claim(b, advice_answer(b)), label
            )
        )
    for cls, a, b in _rows(knowledge, "knowledge-conflicts-urgency"):
        found.append(
            KnowledgeConflict(
                "urgency",
                f"how soon, for {knowledge.label(cls)}",
                claim(a, advice_answer(a)),
                claim(b, advice_answer(b)),
                f"{DEFAULT_POLICY}: the more urgent tier sets the case's urgency",
            )
        )
    for a, b, action in _rows(knowledge, "knowledge-conflicts-do-avoid"):
        found.append(
            KnowledgeConflict(
                "do-avoid",
                f"{knowledge.label(action)}: do or avoid?",
                claim(a, f"do: {knowledge.label(action)}"),
                claim(b, f"avoid: {knowledge.label(graph.value(b, DX.action))}"),
                f"{DEFAULT_POLICY}: avoid until the avoid advice's condition is cleared",
            )
        )
    return tuple(replace(c, packs_vs_seeds=c.seed_and_pack_sides() is not None) for c in found)


def _conflict_rows(knowledge: Knowledge) -> dict[str, list[tuple[Node, ...]]]:
    """The rows of every ``knowledge-conflicts-*`` query, by query name."""
    return {name: rows for name, rows in _oxigraph_rows(knowledge).items() if name.startswith(QUERY_PREFIX)}


@per_knowledge
def _oxigraph_rows(knowledge: Knowledge) -> dict[str, list[tuple[Node, ...]]]:
    """The rows of every ``knowledge-conflicts-*`` query and of the pack sources query, by query name,
    run together on one Oxigraph store."""
    names = sorted(name for name in knowledge.queries if name.startswith(QUERY_PREFIX) or name == PACK_SOURCES_QUERY)
    queries = ReportQueries.for_ontology(knowledge.ontology, {name: knowledge.queries.text(name) for name in names})
    return {name: [cast(tuple[Node, ...], row) for row in rows] for name, rows in queries.run(names, ()).items()}


def _rows(knowledge: Knowledge, name: str) -> list[tuple[Node, ...]]:
    return _conflict_rows(knowledge).get(name, [])
