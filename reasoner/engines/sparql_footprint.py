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
from rdflib.paths import AlternativePath, InvPath, MulPath, Path, SequencePath
from rdflib.term import Node

from reasoner.terms import TYPE_ONLY, Triple

__all__ = ["Footprint", "footprint"]


@dataclass(frozen=True)
class Footprint:
    """The predicates a query reads, and for ``rdf:type`` the classes (None: any class)."""

    predicates: frozenset[Node]
    types: frozenset[Node] | None

    def matches(self, triple: Triple) -> bool:
        _s, p, o = triple
        if p in TYPE_ONLY:  # a hash lookup: rdflib's __eq__ runs only for an equal hash
            return self.types is None or o in self.types
        return p in self.predicates

    def select(self, triples: Iterable[Triple]) -> list[Triple]:
        return [triple for triple in triples if self.matches(triple)]


class _Unbounded(Exception):
    pass


def footprint(algebra: Any) -> Footprint | None:
    """The footprint of a parsed query (``prepareQuery(...).algebra``), or None if unbounded."""
    reads = _Reads()
    try:
        reads.walk(algebra)
    except _Unbounded:
        return None
    return Footprint(predicates=frozenset(reads.predicates), types=None if reads.any_type else frozenset(reads.types))


class _Reads:
    """What the triple patterns and property paths met so far read; raises :class:`_Unbounded`."""

    def __init__(self) -> None:
        self.predicates: set[Node] = set()
        self.types: set[Node] = set()
        self.any_type = False

    def walk(self, node: Any) -> None:
        """Visit every triple pattern of an algebra node (a CompValue is a dict), except a template's."""
        if getattr(node, "name", None) in ("Graph", "ServiceGraphPattern", "GraphGraphPattern"):
            raise _Unbounded
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "triples" and isinstance(value, list):
                    self.patterns(value)
                elif key != "template":
                    self.walk(value)
        elif isinstance(node, (list, tuple)):
            for item in node:
                self.walk(item)

    def patterns(self, triples: list[Any]) -> None:
        for triple in triples:
            if isinstance(triple, tuple) and len(triple) == 3:
                self.pattern(triple[1], triple[2])

    def pattern(self, predicate: Any, obj: Any) -> None:
        """A triple pattern's predicate (and, for ``rdf:type``, its object)."""
        if isinstance(predicate, Path):
            self.path(predicate)
        elif not isinstance(predicate, URIRef):
            raise _Unbounded  # a variable predicate reads every triple
        elif predicate != RDF.type:
            self.predicates.add(predicate)
        elif isinstance(obj, URIRef):
            self.types.add(obj)
        else:
            self.any_type = True

    def path(self, path: Path) -> None:
        if isinstance(path, (SequencePath, AlternativePath)):
            steps = list(path.args)
        elif isinstance(path, InvPath):
            steps = [path.arg]
        elif isinstance(path, MulPath):
            steps = [path.path]
        else:
            raise _Unbounded  # a negated property set (or a path rdflib adds later)
        for step in steps:
            self.path(step) if isinstance(step, Path) else self.step(step)

    def step(self, step: Any) -> None:
        if not isinstance(step, URIRef):
            raise _Unbounded
        if step == RDF.type:
            self.any_type = True  # a path step reads rdf:type with any object
        else:
            self.predicates.add(step)
