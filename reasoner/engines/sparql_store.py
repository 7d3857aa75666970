"""Run SPARQL texts with Oxigraph over in-memory stores.

* :class:`ReportQueries` runs the report queries (``queries/report-*.rq``): rdflib's SPARQL engine
  needs about 0.4 s for the report queries of one case; Oxigraph answers the same queries in a
  few milliseconds. The knowledge is loaded once into an in-memory Oxigraph store, in its own
  named graph. Each case is added under a fresh named graph, queried together with the
  knowledge, and removed again, so concurrent cases never see each other.
* :class:`GraphStore` runs SELECT texts over one graph (the knowledge lookups, the quality-control
  queries of ``dorsum check``), or says that another engine must run the text.

Oxigraph runs what it parses, ``SERVICE`` and ``FROM`` included: every text is checked by
:func:`reasoner.engines.sparql_text.check_text` before Oxigraph sees it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from reasoner.engines.sparql_text import check_text
from reasoner.terms import Triple

KNOWLEDGE_GRAPH = ox.NamedNode("https://w3id.org/dorsum/graph/knowledge")
REPORT_PREFIX = "report-"
STORE_REUSE = 500

Row = tuple[Node | None, ...]


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


@lru_cache(maxsize=1 << 12)
def _named_node(term: URIRef) -> Any:
    return ox.NamedNode(str(term))


@lru_cache(maxsize=1 << 12)
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
        return _literal(term.value, term.language, datatype)
    raise TypeError(f"cannot convert {term!r}")


@lru_cache(maxsize=1 << 12)
def _literal(value: str, language: str | None, datatype: str | None) -> Literal:
    if language:
        return Literal(value, lang=language)
    if datatype == "http://www.w3.org/2001/XMLSchema#string":
        return Literal(value)
    return Literal(value, datatype=_uriref(datatype) if datatype else None)


def quads(graph: Iterable[Triple], name: Any) -> list[Any]:
    """The triples as Oxigraph quads in graph ``name`` (literal subjects are dropped)."""
    return [
        ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o), name) for s, p, o in graph if not isinstance(s, Literal)
    ]


@dataclass(frozen=True, eq=False)
class GraphStore:
    """An in-memory Oxigraph store holding one graph's triples (in its default graph), to run
    SELECT texts over: Oxigraph answers in a fraction of the time rdflib's engine takes."""

    store: Any

    @classmethod
    def of(cls, triples: Iterable[Triple]) -> GraphStore:
        store = ox.Store()
        store.bulk_extend(quads(triples, ox.DefaultGraph()))
        return cls(store)

    def select(self, text: str) -> list[Row] | None:
        """The rows of a SELECT text, or None where another engine (rdflib's) must run the text:
        Oxigraph refuses it (rdflib accepts some texts Oxigraph does not), or it is not a SELECT.

        The text is checked first (:func:`~reasoner.engines.sparql_text.check_text`: nothing is
        fetched); QueryTextRefused for a text that would fetch, before either engine runs it."""
        check_text(text)
        try:
            solutions = self.store.query(text)
        except Exception:  # a text only rdflib accepts: it decides
            return None
        if not isinstance(solutions, ox.QuerySolutions):
            return None
        width = len(solutions.variables)
        return [tuple(from_oxigraph(solution[i]) for i in range(width)) for solution in solutions]


@dataclass(frozen=True, eq=False)
class ReportQueries:
    """An in-memory Oxigraph store holding the knowledge, and the report queries: the engine for
    a report query the compiled evaluator (:mod:`reasoner.engines.sparql_compiled`) cannot run.

    Report queries match patterns and compare IRIs. The derive rules never run here: they do
    arithmetic, and Oxigraph 0.5 gets some of it wrong (``0 / 365.25`` is unbound, for one), so a
    derive rule the compiled evaluator cannot run falls back to rdflib (see
    :func:`reasoner.pipeline.infer.close_case`); the pipeline equivalence test would catch a report
    query that Oxigraph answers differently."""

    knowledge_quads: tuple[Any, ...]
    texts: Mapping[str, str]
    _state: dict[str, Any] = field(default_factory=dict)  # the current store and how often it was used

    def __post_init__(self) -> None:
        for text in self.texts.values():  # once, not for each case
            check_text(text)

    @classmethod
    def for_ontology(cls, ontology: Graph, texts: Mapping[str, str]) -> ReportQueries:
        return cls(knowledge_quads=tuple(quads(ontology, KNOWLEDGE_GRAPH)), texts=dict(texts))

    @property
    def store(self) -> Any:
        """The pyoxigraph store holding the knowledge.

        Oxigraph's in-memory store never frees the terms of removed graphs (about 25 KB per case),
        so after ``STORE_REUSE`` cases a fresh store replaces it (about 10 ms): memory stays flat in long batches.
        A case still running on the old store keeps it alive until it finishes.
        """
        store = self._state.get("store")
        uses = self._state.get("uses", 0)
        if store is None or uses >= STORE_REUSE:
            store = ox.Store()
            store.bulk_extend(self.knowledge_quads)
            self._state["store"] = store
            uses = 0
        self._state["uses"] = uses + 1
        return store

    def run(self, names: list[str], case: Iterable[Triple]) -> dict[str, list[Row]]:
        """Run the named queries over ``case`` joined with the knowledge."""
        store = self.store
        graph = ox.NamedNode(f"urn:uuid:{uuid.uuid4()}")
        store.extend(quads(case, graph))
        try:
            results: dict[str, list[Row]] = {}
            for name in names:
                text = self.texts.get(name)
                if text is None:
                    results[name] = []
                    continue
                solutions = store.query(text, default_graph=[KNOWLEDGE_GRAPH, graph])
                width = len(solutions.variables)
                results[name] = [tuple(from_oxigraph(row[i]) for i in range(width)) for row in solutions]
            return results
        finally:
            store.remove_graph(graph)
