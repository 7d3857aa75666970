"""Disagreements between sources within the knowledge itself: the one list that ``dorsum conflicts``
prints and ``dorsum docs`` tabulates.

The pairs are found by SPARQL (``queries/knowledge-conflicts-*.rq``), run with Oxigraph over the
ontology (rdflib needs seconds for them; a test checks both engines agree); this module words each
side and names the policy that resolves it (``reasoner.pipeline.policy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from rdflib import Node

from reasoner.engines.sparql_store import ReportQueries
from reasoner.knowledge import DX, Knowledge, per_knowledge
from reasoner.pipeline.policy import DEFAULT_POLICY, Profile, policy_name

__all__ = ["KINDS", "KnowledgeConflict", "SourceClaim", "knowledge_conflicts"]

#: The kinds of disagreement, in the order they are listed.
KINDS = ("threshold", "topic", "urgency", "do-avoid")
QUERY_PREFIX = "knowledge-conflicts-"


@dataclass(frozen=True)
class SourceClaim:
    """One source's side of a knowledge-level disagreement."""

    element: str
    label: str
    answer: str
    sources: tuple[str, ...]
    citations: tuple[str, ...]


@dataclass(frozen=True)
class KnowledgeConflict:
    kind: str  # "threshold", "topic", "urgency" or "do-avoid"
    subject: str
    first: SourceClaim
    second: SourceClaim
    policy: str


def knowledge_conflicts(knowledge: Knowledge, profile: Profile | None = None) -> tuple[KnowledgeConflict, ...]:
    """Every pair of sources that disagree within the knowledge itself."""
    graph = knowledge.ontology
    found: list[KnowledgeConflict] = []
    policy = policy_name(profile)

    def claim(element: Node, answer: str) -> SourceClaim:
        refs = [ref for ref in knowledge.sources_of(element) if ref.relation == "source"]
        return SourceClaim(
            element=str(element),
            label=knowledge.label(element),
            answer=answer,
            sources=tuple(ref.short for ref in refs),
            citations=tuple(ref.citation for ref in refs),
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
    return tuple(found)


@per_knowledge
def _conflict_rows(knowledge: Knowledge) -> dict[str, list[tuple[Node, ...]]]:
    """The rows of every ``knowledge-conflicts-*`` query, by query name."""
    names = sorted(name for name in knowledge.queries if name.startswith(QUERY_PREFIX))
    queries = ReportQueries.for_ontology(knowledge.ontology, {name: knowledge.queries.text(name) for name in names})
    return {name: [cast(tuple[Node, ...], row) for row in rows] for name, rows in queries.run(names, ()).items()}


def _rows(knowledge: Knowledge, name: str) -> list[tuple[Node, ...]]:
    return _conflict_rows(knowledge).get(name, [])
