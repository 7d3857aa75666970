"""Which triples a SPARQL query can read: its *footprint*.

A query's answer depends only on the triples that match one of its triple patterns (or a step of
one of its property paths). So a query may be run over just the matching triples of a large graph,
and need not be run again when none of the triples added since its last run matches. Both give
exactly the same answers as running it over everything; :func:`footprint` returns None when it
cannot bound what the query reads (a variable predicate, a negated property set, ``GRAPH`` or
``SERVICE``), and then callers must use the whole graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rdflib import URIRef
from rdflib.namespace import RDF
from rdflib.paths import AlternativePath, InvPath, MulPath, NegatedPath, Path, SequencePath
from rdflib.term import Node

__all__ = ["Footprint", "footprint"]

Triple = tuple[Node, Node, Node]


@dataclass(frozen=True)
class Footprint:
    """The predicates a query reads, and for ``rdf:type`` the classes (None: any class)."""

    predicates: frozenset[Node]
    types: frozenset[Node] | None

    def matches(self, triple: Triple) -> bool:
        _s, p, o = triple
        if p == RDF.type:
            return self.types is None or o in self.types
        return p in self.predicates

    def select(self, triples: Iterable[Triple]) -> list[Triple]:
        return [triple for triple in triples if self.matches(triple)]


class _Unbounded(Exception):
    pass


def footprint(algebra: Any) -> Footprint | None:
    """The footprint of a parsed query (``prepareQuery(...).algebra``), or None if unbounded."""
    predicates: set[Node] = set()
    types: set[Node] = set()
    any_type = False

    def add_predicate(predicate: Any, obj: Any) -> None:
        nonlocal any_type
        if isinstance(predicate, URIRef):
            if predicate == RDF.type:
                if isinstance(obj, URIRef):
                    types.add(obj)
                else:
                    any_type = True
            else:
                predicates.add(predicate)
        elif isinstance(predicate, Path):
            add_path(predicate)
        else:
            raise _Unbounded  # a variable predicate reads every triple

    def add_path(path: Path) -> None:
        nonlocal any_type
        if isinstance(path, NegatedPath):
            raise _Unbounded
        if isinstance(path, (SequencePath, AlternativePath)):
            for step in path.args:
                add_path(step) if isinstance(step, Path) else add_step(step)
        elif isinstance(path, (InvPath, MulPath)):
            step = path.arg if isinstance(path, InvPath) else path.path
            add_path(step) if isinstance(step, Path) else add_step(step)
        else:
            raise _Unbounded

    def add_step(step: Any) -> None:
        nonlocal any_type
        if not isinstance(step, URIRef):
            raise _Unbounded
        if step == RDF.type:
            any_type = True  # a path step reads rdf:type with any object
        else:
            predicates.add(step)

    def walk(node: Any) -> None:
        name = getattr(node, "name", None)
        if name in ("Graph", "ServiceGraphPattern", "GraphGraphPattern"):
            raise _Unbounded
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "triples" and isinstance(value, list):
                    for triple in value:
                        if isinstance(triple, tuple) and len(triple) == 3:
                            add_predicate(triple[1], triple[2])
                elif key != "template":
                    walk(value)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)

    try:
        walk(algebra)
    except _Unbounded:
        return None
    return Footprint(predicates=frozenset(predicates), types=None if any_type else frozenset(types))
