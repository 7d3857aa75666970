"""Disagreements between sources, and the policy or guideline profile that resolves them.

The disagreements of one case are found by SPARQL (``queries/report-conflicts-*.rq``; those
within the knowledge as a whole are listed by ``reasoner.authoring.conflicts``). This module applies the
resolution policy: by default *most cautious wins*; a guideline profile (``ontology/profiles.ttl``)
instead follows its most preferred source on which action to take. Neither ever lowers urgency.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rdflib import Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, SKOS

from reasoner.errors import UsageError
from reasoner.knowledge import DX, Knowledge, load_knowledge, per_knowledge

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
    return _with_packs(knowledge, profile.packs)


@lru_cache(maxsize=16)
def _with_packs(knowledge: Knowledge, packs: tuple[str, ...]) -> Knowledge:
    """Once per knowledge and pack selection, not per case: loading hashes every knowledge file."""
    return load_knowledge(knowledge.root, packs=packs)


def profile_notes(graph: Graph, full: Knowledge, used: Knowledge, profile: Profile | None) -> list[str]:
    """What a profile leaves out of this case's answer, as notes for the result: the findings the
    case records as present that the whole knowledge reads (a class restriction, or a rule or report
    query, names them) but the profile's selection of packs does not. Such a finding cannot change
    the answer under the profile; the answer says so rather than drop it silently."""
    if profile is None or used is full:
        return []
    lost = _read_terms(full) - _read_terms(used)
    present = sorted(full.label(value) for value in set(graph.objects(None, DX.hasFinding)) if value in lost)
    if not present:
        return []
    return [
        f"recorded but not used under profile {profile.name}: {'; '.join(present)} (only guideline packs this "
        "profile leaves out read it; the answer without the profile does)"
    ]


_QUERY_TERM = re.compile(r"\bdx:([A-Za-z_][\w-]*)")


@per_knowledge
def _read_terms(knowledge: Knowledge) -> frozenset[URIRef]:
    """Every term a class restriction of the knowledge (owl:hasValue) or one of its queries names."""
    named = set(knowledge.schema.objects(None, OWL.hasValue))
    for name in knowledge.queries:
        named.update(DX[local] for local in _QUERY_TERM.findall(knowledge.queries.text(name)))
    return frozenset(term for term in named if isinstance(term, URIRef))


def load_profile(knowledge: Knowledge, name: str | None) -> Profile | None:
    if name is None:
        return None
    available = profiles(knowledge)
    if name not in available:
        names = ", ".join(sorted(available)) or "none defined"
        raise UsageError(f"unknown guideline profile '{name}' (profiles: {names})")
    return available[name]


def followed(positions: Sequence[Position], profile: Profile | None) -> Position | None:
    """The position the policy follows on one topic (:func:`resolve`); None where the most urgent
    positions tie and no profile prefers one."""
    candidates = _candidates(positions)
    preferred = _preferred(candidates, profile) if profile is not None else None
    if preferred is not None:
        return preferred
    most_urgent = _most_urgent(candidates)
    return most_urgent[0] if len(most_urgent) == 1 else None


def resolve(positions: Sequence[Position], profile: Profile | None) -> str:
    """How the policy resolves a disagreement between positions on one topic."""
    candidates = _candidates(positions)
    most_urgent = _most_urgent(candidates)
    preferred = _preferred(candidates, profile) if profile is not None else None
    if profile is not None and preferred is not None:
        timing = (
            ""
            if preferred.rank == most_urgent[0].rank
            else f"; timing stays {most_urgent[0].tier} (urgency is never lowered)"
        )
        return f"follows {_first_preferred(preferred, profile)}: {preferred.action}{timing}"
    if len(most_urgent) == 1:
        return f"follow the most urgent: {most_urgent[0].action} ({most_urgent[0].tier})"
    options = "; ".join(f"{p.action} ({', '.join(p.sources)})" for p in most_urgent)
    return f"equally urgent ({most_urgent[0].tier}); the sources differ on the action: {options}"


def _candidates(positions: Sequence[Position]) -> list[Position]:
    """The positions a policy weighs: the unconditional ones, or all where every one is conditional."""
    return [p for p in positions if not p.conditional] or list(positions)


def _most_urgent(candidates: Sequence[Position]) -> list[Position]:
    top = max(p.rank for p in candidates)
    return [p for p in candidates if p.rank == top]


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
