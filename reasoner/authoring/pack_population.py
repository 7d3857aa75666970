"""Advice outside its guideline's population, for ``dorsum check``.

A guideline pack may state the population its guideline covers (``dx:population``: NG234 covers
adults). A recommendation or avoid advice that cites one of the pack's sources claims that
guideline's authority for every case it applies to; where some set of recorded facts puts a case in
its situation without putting the case in the population, a patient the guideline does not cover
would be told it speaks for them. This module finds such advice statically, from the knowledge's
structure alone (no clinical terms here): a route of the advice's situation (see
:class:`reasoner.authoring.completeness_gaps.ConditionRoutes`) is inside the population when it
contains a whole route of the population class, or a class stated (``rdfs:subClassOf``, at any
depth) to lie inside it.

Code: ``advice-outside-population`` (WARN).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rdflib import Graph, Node, URIRef
from rdflib.namespace import RDFS

from reasoner.authoring.completeness_gaps import ConditionRoutes, Route, route_text
from reasoner.knowledge import DX, Knowledge

__all__ = ["PopulationGap", "describe", "population_gaps"]


@dataclass(frozen=True)
class PopulationGap:
    """Advice citing a pack's source that can apply to a case outside the pack's population."""

    advice: URIRef
    sources: tuple[Node, ...]  # the pack's sources it cites
    population: Node
    situation: Node  # its dx:appliesTo
    example: Route  # recorded facts that put a case in the situation, outside the population


def population_gaps(knowledge: Knowledge) -> list[PopulationGap]:
    """Every (advice, situation) pair that can fall outside the population of a pack it cites, sorted."""
    graph = knowledge.ontology
    routes = ConditionRoutes(graph)
    advice_items = sorted({a for a in graph.subjects(DX.appliesTo, None) if isinstance(a, URIRef)}, key=str)
    gaps = []
    for pack, population in sorted(graph.subject_objects(DX.population), key=str):
        pack_sources = set(graph.objects(pack, DX.source))
        inside = routes.routes(population)
        for advice in advice_items:
            cited = tuple(sorted(pack_sources & set(graph.objects(advice, DX.source)), key=str))
            if not cited:
                continue
            for situation in sorted(graph.objects(advice, DX.appliesTo), key=str):
                outside = [
                    route
                    for route in routes.routes(situation)
                    if not any(needed <= route for needed in inside) and not _stated_inside(graph, route, population)
                ]
                if outside:
                    example = min(outside, key=lambda route: (len(route), sorted(map(str, route))))
                    gaps.append(PopulationGap(advice, cited, population, situation, example))
    return gaps


def _stated_inside(graph: Graph, route: Route, population: Node) -> bool:
    """Whether a class on the route (asserted, with no definition of its own) is stated to lie inside
    the population."""
    return any(
        scope == "class" and population in graph.transitive_objects(cls, RDFS.subClassOf)
        for scope, cls, _value in route
    )


def describe(gap: PopulationGap, label: Callable[[Node], str]) -> str:
    sources = ", ".join(label(source) for source in gap.sources)
    return (
        f"{label(gap.advice)} cites {sources} (pack population {label(gap.population)}) but applies to "
        f"{label(gap.situation)}, which a case outside that population can be in "
        f"(e.g. {route_text(gap.example, label)}): cite the guideline only where it covers the patient"
    )
