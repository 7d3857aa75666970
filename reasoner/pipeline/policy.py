"""Disagreements between sources, and the policy or guideline profile that resolves them.

The disagreements themselves are found by SPARQL (``queries/knowledge-conflicts-*.rq`` for the
knowledge as a whole, ``queries/report-conflicts-*.rq`` for one case). This module applies the
resolution policy: by default *most cautious wins*; a guideline profile (``ontology/profiles.ttl``)
instead follows its most preferred source on which action to take. Neither ever lowers urgency.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from rdflib import Node
from rdflib.collection import Collection
from rdflib.namespace import RDF, SKOS

from reasoner.errors import UsageError
from reasoner.knowledge import DX, Knowledge, load_knowledge

DEFAULT_POLICY = "most cautious wins"


@dataclass(frozen=True)
class Profile:
    """A named preference order of sources (most preferred first), by source short name, and the
    guideline packs it uses (``None``: every pack)."""

    name: str
    label: str
    prefers: tuple[str, ...]
    packs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Position:
    """One side of a conflict: an answer and the advice and sources that give it."""

    action: str
    tier: str
    rank: int
    advice: tuple[str, ...]
    sources: tuple[str, ...]
    conditional: bool


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


def profiles(knowledge: Knowledge) -> dict[str, Profile]:
    """Every guideline profile in the knowledge, by its --profile name."""
    graph = knowledge.ontology
    found: dict[str, Profile] = {}
    for node in graph.subjects(RDF.type, DX.GuidelineProfile):
        name = graph.value(node, DX.profileName)
        if name is None:
            continue
        head = graph.value(node, DX.prefers)
        order = tuple(
            str(graph.value(source, SKOS.altLabel) or source) for source in (Collection(graph, head) if head else ())
        )
        packs_head = graph.value(node, DX.usesPacks)
        packs = (
            tuple(sorted(str(graph.value(pack, DX.packFile) or pack) for pack in Collection(graph, packs_head)))
            if packs_head is not None
            else None
        )
        found[str(name)] = Profile(str(name), knowledge.label(node), order, packs)
    return found


def knowledge_for(knowledge: Knowledge, profile: Profile | None) -> Knowledge:
    """The knowledge a profile reasons with: the same, or reloaded with only the profile's packs."""
    if profile is None or profile.packs is None:
        return knowledge
    return load_knowledge(knowledge.root, packs=profile.packs)


def load_profile(knowledge: Knowledge, name: str | None) -> Profile | None:
    if name is None:
        return None
    available = profiles(knowledge)
    if name not in available:
        names = ", ".join(sorted(available)) or "none defined"
        raise UsageError(f"unknown guideline profile '{name}' (profiles: {names})")
    return available[name]


def resolve(positions: Sequence[Position], profile: Profile | None) -> str:
    """How the policy resolves a disagreement between positions on one topic."""
    candidates = [p for p in positions if not p.conditional] or list(positions)
    top = max(p.rank for p in candidates)
    most_urgent = [p for p in candidates if p.rank == top]
    if profile is not None:
        preferred = _preferred(candidates, profile)
        if preferred is not None:
            timing = "" if preferred.rank == top else f"; timing stays {most_urgent[0].tier} (urgency is never lowered)"
            return f"follows {_first_preferred(preferred, profile)}: {preferred.action}{timing}"
    if len(most_urgent) == 1:
        return f"follow the most urgent: {most_urgent[0].action} ({most_urgent[0].tier})"
    options = "; ".join(f"{p.action} ({', '.join(p.sources)})" for p in most_urgent)
    return f"equally urgent ({most_urgent[0].tier}); the sources differ on the action: {options}"


def policy_name(profile: Profile | None) -> str:
    return f"profile {profile.name}" if profile is not None else DEFAULT_POLICY


def _preferred(positions: Sequence[Position], profile: Profile) -> Position | None:
    for source in profile.prefers:
        for position in positions:
            if source in position.sources:
                return position
    return None


def _first_preferred(position: Position, profile: Profile) -> str:
    return next(source for source in profile.prefers if source in position.sources)


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


def _rows(knowledge: Knowledge, name: str) -> list[tuple[Node, ...]]:
    query = knowledge.queries.get(name)
    if query is None:
        return []
    return [tuple(cast(Iterable[Node], row)) for row in knowledge.ontology.query(query)]
