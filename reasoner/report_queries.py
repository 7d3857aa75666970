"""Run the report queries (``queries/report-*.rq``) with Oxigraph.

rdflib's SPARQL engine needs about 0.4 s for the report queries of one case; Oxigraph answers the
same queries in a few milliseconds. The knowledge is loaded once into an in-memory Oxigraph store,
in its own named graph. Each case is added under a fresh named graph, queried together with the
knowledge, and removed again, so concurrent cases never see each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

KNOWLEDGE_GRAPH = ox.NamedNode("https://w3id.org/dorsum/graph/knowledge")
SCHEMA_GRAPH = ox.NamedNode("https://w3id.org/dorsum/graph/schema")
REPORT_PREFIX = "report-"

Row = tuple[Node | None, ...]
Triple = tuple[Node, Node, Node]


def to_oxigraph(term: Node) -> Any:
    if isinstance(term, URIRef):
        return _named_node(term)
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=_named_node(term.datatype))
        return ox.Literal(str(term))
    raise TypeError(f"cannot convert {term!r}")


@lru_cache(maxsize=1 << 16)
def _named_node(term: URIRef) -> Any:
    return ox.NamedNode(str(term))


@lru_cache(maxsize=1 << 16)
def _uriref(value: str) -> URIRef:
    return URIRef(value)


def from_oxigraph(term: Any) -> Node | None:
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return _uriref(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value if term.datatype is not None else None
        if term.language:
            return Literal(term.value, lang=term.language)
        if datatype == "http://www.w3.org/2001/XMLSchema#string":
            return Literal(term.value)
        return Literal(term.value, datatype=_uriref(datatype) if datatype else None)
    raise TypeError(f"cannot convert {term!r}")


def quads(graph: Iterable[Triple], name: Any) -> list[Any]:
    """The triples as Oxigraph quads in graph ``name`` (literal subjects are dropped)."""
    return [
        ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o), name) for s, p, o in graph if not isinstance(s, Literal)
    ]


@dataclass(frozen=True, eq=False)
class ReportQueries:
    """An in-memory Oxigraph store holding the knowledge, and the derive and report queries."""

    store: Any  # pyoxigraph.Store holding the knowledge
    texts: Mapping[str, str]

    @classmethod
    def for_ontology(cls, ontology: Graph, texts: Mapping[str, str], schema: Graph | None = None) -> ReportQueries:
        store = ox.Store()
        store.bulk_extend(quads(ontology, KNOWLEDGE_GRAPH))
        if schema is not None:
            store.bulk_extend(quads(schema, SCHEMA_GRAPH))
        return cls(store=store, texts=dict(texts))

    @contextmanager
    def workspace(self) -> Iterator[CaseWorkspace]:
        """A fresh named graph for one case, removed again on exit."""
        graph = ox.NamedNode(f"urn:uuid:{uuid.uuid4()}")
        try:
            yield CaseWorkspace(self, graph)
        finally:
            self.store.remove_graph(graph)

    def run(self, names: list[str], case: Iterable[Triple]) -> dict[str, list[Row]]:
        """Run the named queries over ``case`` joined with the knowledge."""
        with self.workspace() as workspace:
            workspace.add(case)
            return workspace.select(names)


@dataclass(frozen=True, eq=False)
class CaseWorkspace:
    """One case's named graph in the knowledge store."""

    queries: ReportQueries
    graph: Any

    def add(self, triples: Iterable[Triple]) -> None:
        self.queries.store.extend(quads(triples, self.graph))

    def construct(self, names: Iterable[str]) -> set[Triple]:
        """The triples the named CONSTRUCT queries build over the case and the schema."""
        found: set[Triple] = set()
        for name in names:
            solutions = self.queries.store.query(self.queries.texts[name], default_graph=[SCHEMA_GRAPH, self.graph])
            for triple in solutions:
                s, p, o = (from_oxigraph(t) for t in (triple.subject, triple.predicate, triple.object))
                if s is not None and p is not None and o is not None:
                    found.add((s, p, o))
        return found

    def select(self, names: list[str]) -> dict[str, list[Row]]:
        """Answers of the named SELECT queries over the case joined with the whole ontology."""
        results: dict[str, list[Row]] = {}
        for name in names:
            text = self.queries.texts.get(name)
            if text is None:
                results[name] = []
                continue
            solutions = self.queries.store.query(text, default_graph=[KNOWLEDGE_GRAPH, self.graph])
            width = len(solutions.variables)
            results[name] = [tuple(from_oxigraph(row[i]) for i in range(width)) for row in solutions]
        return results
