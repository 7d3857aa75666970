"""Check that class axioms stay inside the OWL 2 RL profile.

OWL 2 RL restricts which class expressions may appear on each side of an axiom
(OWL 2 Profiles, section 4.2). owlrl silently ignores axioms outside the profile, so an
author's mistake would quietly change conclusions. This checker names each offending axiom.
"""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, Node, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS

FORBIDDEN_ANYWHERE = {
    OWL.minCardinality: "owl:minCardinality",
    OWL.cardinality: "owl:cardinality",
    OWL.minQualifiedCardinality: "owl:minQualifiedCardinality",
    OWL.qualifiedCardinality: "owl:qualifiedCardinality",
    OWL.hasSelf: "owl:hasSelf",
    OWL.disjointUnionOf: "owl:disjointUnionOf",
}
FORBIDDEN_TYPES = {OWL.ReflexiveProperty: "owl:ReflexiveProperty"}


def rl_profile_violations(graph: Graph) -> list[str]:
    """Every axiom in ``graph`` that falls outside OWL 2 RL, as one readable line each."""
    problems: list[str] = []
    for predicate, name in FORBIDDEN_ANYWHERE.items():
        for subject in graph.subjects(predicate, None):
            problems.append(f"{name} is not in OWL 2 RL (on {_show(graph, subject)})")
    for rdf_type, name in FORBIDDEN_TYPES.items():
        for subject in graph.subjects(RDF.type, rdf_type):
            problems.append(f"{name} is not in OWL 2 RL ({_show(graph, subject)})")
    for sub, sup in graph.subject_objects(RDFS.subClassOf):
        if not _is_sub(graph, sub):
            problems.append(
                f"sub-class side not allowed in OWL 2 RL: {_show(graph, sub)} rdfs:subClassOf {_show(graph, sup)}"
            )
        if not _is_super(graph, sup):
            problems.append(
                f"super-class side not allowed in OWL 2 RL: {_show(graph, sub)} rdfs:subClassOf {_show(graph, sup)}"
            )
    for left, right in graph.subject_objects(OWL.equivalentClass):
        for side in (left, right):
            if not _is_equivalent(graph, side):
                problems.append(
                    f"owl:equivalentClass with a class expression OWL 2 RL does not allow on both sides: "
                    f"{_show(graph, left)} = {_show(graph, right)} (use rdfs:subClassOf from the expression instead)"
                )
                break
    return sorted(set(problems))


def _members(graph: Graph, node: Node, predicate: URIRef) -> list[Node] | None:
    head = graph.value(node, predicate)
    if head is None:
        return None
    return list(Collection(graph, head))


def _is_sub(graph: Graph, node: Node) -> bool:
    if isinstance(node, URIRef):
        return True
    if isinstance(node, Literal):
        return False
    for predicate in (OWL.intersectionOf, OWL.unionOf):
        members = _members(graph, node, predicate)
        if members is not None:
            return all(_is_sub(graph, m) for m in members)
    if graph.value(node, OWL.oneOf) is not None:
        return True
    if graph.value(node, OWL.hasValue) is not None:
        return True
    filler = graph.value(node, OWL.someValuesFrom)
    if filler is not None:
        return filler == OWL.Thing or _is_sub(graph, filler) or _is_datarange(graph, filler)
    return False


def _is_super(graph: Graph, node: Node) -> bool:
    if isinstance(node, URIRef):
        return True
    if isinstance(node, Literal):
        return False
    members = _members(graph, node, OWL.intersectionOf)
    if members is not None:
        return all(_is_super(graph, m) for m in members)
    complement = graph.value(node, OWL.complementOf)
    if complement is not None:
        return _is_sub(graph, complement)
    filler = graph.value(node, OWL.allValuesFrom)
    if filler is not None:
        return _is_super(graph, filler) or _is_datarange(graph, filler)
    if graph.value(node, OWL.hasValue) is not None:
        return True
    for predicate in (OWL.maxCardinality, OWL.maxQualifiedCardinality):
        value = graph.value(node, predicate)
        if value is not None:
            return isinstance(value, Literal) and str(value) in ("0", "1")
    return False


def _is_equivalent(graph: Graph, node: Node) -> bool:
    if isinstance(node, URIRef):
        return True
    if isinstance(node, Literal):
        return False
    members = _members(graph, node, OWL.intersectionOf)
    if members is not None:
        return all(_is_equivalent(graph, m) for m in members)
    return graph.value(node, OWL.hasValue) is not None


def _is_datarange(graph: Graph, node: Node) -> bool:
    return isinstance(node, URIRef) and str(node).startswith("http://www.w3.org/2001/XMLSchema#")


def _show(graph: Graph, node: Node) -> str:
    if isinstance(node, URIRef):
        return graph.namespace_manager.normalizeUri(node)
    if isinstance(node, BNode):
        parts = []
        for predicate, value in sorted(graph.predicate_objects(node)):
            if predicate == RDF.type:
                continue
            shown = _show(graph, value) if not isinstance(value, BNode) else "[...]"
            parts.append(f"{_show(graph, predicate)} {shown}")
        return "[ " + " ; ".join(parts) + " ]"
    return str(node)
