"""The engine: everything prepared from one knowledge base for reasoning over cases, built once
per loaded knowledge (per process) and shared by every stage.

- compiled OWL 2 RL rules (cached on disk by the knowledge's content hash), or owlrl as fallback;
- the derive rules (``queries/derive-*.rq``) with their footprints;
- the report queries (``queries/report-*.rq``) over one Oxigraph store holding the ontology;
- the case shapes compiled to a SHACL Core validator, or why they fall back to pyshacl.

Each part is prepared on first use, so a command that only validates never builds the query store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import owlrl
import rdflib
from rdflib import BNode, Graph, URIRef
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.namespace import RDF, RDFS
from rdflib.plugins.sparql.sparql import Query

from reasoner.cache import cache_file, prune, read_cached, source_hash, write_cached
from reasoner.engines.owl_rl import CompiledRules, Triple, UnsupportedConstruct, compile_rules, owlrl_reference_infer
from reasoner.engines.shacl_core import CompiledShapes, UnsupportedShape, compile_shapes
from reasoner.engines.sparql_compiled import (
    CompiledQuery,
    Dataset,
    QuerySet,
    TripleIndex,
    UnsupportedQuery,
    compile_query,
)
from reasoner.engines.sparql_footprint import Footprint, footprint
from reasoner.engines.sparql_store import REPORT_PREFIX, ReportQueries
from reasoner.knowledge import DX, Knowledge, per_knowledge

RULES_KIND = "rules"
RULES_KEEP = 32
RULES_SOURCES = ("engines/owl_rl.py",)  # a new rule compiler never reuses rules compiled by an old one
DERIVE_PREFIX = "derive-"


@dataclass(frozen=True, eq=False)
class CaseReasoner:
    """OWL 2 RL reasoning over one case graph at a time against a fixed ontology."""

    schema: Graph
    compiled: CompiledRules | None
    fallback_reason: str = ""

    @classmethod
    def for_knowledge(cls, knowledge: Knowledge) -> CaseReasoner:
        # The compiled rules name the ontology's blank nodes (class expressions) by label, and labels
        # differ between two parses of the same files: rules compiled from another parse never match.
        source = source_hash(RULES_SOURCES, (owlrl.__version__, rdflib.__version__, _blank_labels(knowledge.schema)))
        cache = cache_file(RULES_KIND, knowledge.content_hash, source)
        key = f"{knowledge.content_hash} {source}"
        cached = read_cached(cache, key, CompiledRules)
        if cached is not None:
            return cls(schema=knowledge.schema, compiled=cached)
        try:
            compiled = compile_rules(knowledge.schema)
        except UnsupportedConstruct as exc:
            return cls(schema=knowledge.schema, compiled=None, fallback_reason=str(exc))
        write_cached(cache, key, compiled)
        prune(RULES_KIND, RULES_KEEP)
        return cls(schema=knowledge.schema, compiled=compiled)

    def infer_triples(self, case: set[Triple]) -> set[Triple]:
        """The case's triples plus every OWL 2 RL entailment about the case's nodes (a new set)."""
        if self.compiled is not None:
            try:
                return self.compiled.infer_triples(case)
            except UnsupportedConstruct:
                pass  # the case makes schema-level statements: let owlrl handle them in full
        graph = Graph()
        for triple in case:
            graph.add(triple)
        return set(owlrl_reference_infer(self.schema, graph))


@dataclass(frozen=True, eq=False)
class DeriveRule:
    """A derive query (``queries/derive-*.rq``), with what it reads of the schema."""

    name: str
    query: Query
    footprint: Footprint | None  # None: it may read anything
    schema_slice: tuple[Triple, ...]  # the schema triples it can read (all of them if unbounded)
    compiled: CompiledQuery | None = None  # None: the query uses SPARQL the compiled evaluator lacks

    def derive(self, data: Dataset, current: set[Triple], schema: Graph) -> set[Triple]:
        """What the rule builds over the case's triples (``data`` holds them with the schema)."""
        if self.compiled is not None:
            return self.compiled.construct(data)
        return self.run(current, schema)

    def run(self, current: set[Triple], schema: Graph) -> set[Triple]:
        """What the rule builds over ``current`` and the schema (rdflib SPARQL, reference semantics)."""
        data = Graph(bind_namespaces="none")  # a fresh graph would otherwise bind ~30 prefixes per query
        if self.footprint is None:
            for triple in current:
                data.add(triple)
            view: Graph = ReadOnlyGraphAggregate([data, schema])
        else:
            for triple in (*self.schema_slice, *self.footprint.select(current)):
                data.add(triple)
            view = data
        return {tuple(row) for row in view.query(self.query)}  # type: ignore[arg-type,misc]


def _blank_labels(schema: Graph) -> str:
    """A short fingerprint of the schema's blank-node labels."""
    labels = sorted({str(node) for triple in schema for node in triple if isinstance(node, BNode)})
    return hashlib.sha256("\0".join(labels).encode()).hexdigest()[:16]


class Engine:
    """The prepared reasoning parts of one knowledge base. Get it with :func:`engine_for`."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    @cached_property
    def reasoner(self) -> CaseReasoner:
        return CaseReasoner.for_knowledge(self.knowledge)

    @cached_property
    def derive_rules(self) -> tuple[DeriveRule, ...]:
        """The derive rules, in name order."""
        rules = []
        for name in sorted(self.knowledge.queries):
            if name.startswith(DERIVE_PREFIX):
                query = self.knowledge.queries[name]
                bounds = footprint(query.algebra)
                schema_slice = tuple(bounds.select(self.knowledge.schema)) if bounds is not None else ()
                try:
                    compiled: CompiledQuery | None = compile_query(self.knowledge.queries.text(name))
                except UnsupportedQuery:
                    compiled = None
                if compiled is not None:
                    compiled.intern(self.schema_index.canon)
                rules.append(DeriveRule(name, query, bounds, schema_slice, compiled))
        return tuple(rules)

    @cached_property
    def schema_index(self) -> TripleIndex:
        """The schema indexed for the compiled derive rules."""
        return TripleIndex(self.knowledge.schema)

    def derive_data(self, current: set[Triple]) -> Dataset:
        """The schema plus a case's current triples, for :meth:`DeriveRule.derive`."""
        index = self.schema_index
        return Dataset(index, TripleIndex(current, index))

    @cached_property
    def class_tree(self) -> frozenset[Triple]:
        """The ``rdfs:subClassOf`` links that hold between the situations advice applies to once the
        OWL 2 RL closure is taken (for example from ``owl:equivalentClass`` intersections), which the
        ontology files do not state. Found by classifying one prototype individual of each situation
        with the same rules that classify cases."""
        ontology = self.knowledge.ontology
        situations = {
            o for p in (DX.appliesTo, DX.exceptIn) for o in ontology.objects(None, p) if isinstance(o, URIRef)
        }
        links: set[Triple] = set()
        for index, situation in enumerate(sorted(situations)):
            prototype = URIRef(f"urn:dorsum:prototype:{index}")
            for s, p, o in self.reasoner.infer_triples({(prototype, RDF.type, situation)}):
                if s == prototype and p == RDF.type and isinstance(o, URIRef) and o != situation:
                    links.add((situation, RDFS.subClassOf, o))
        return frozenset(links)

    @cached_property
    def report_view(self) -> Graph:
        """What report queries read besides the case: the ontology plus :attr:`class_tree`."""
        view = Graph()
        view += self.knowledge.ontology
        for triple in self.class_tree:
            view.add(triple)
        return view

    @cached_property
    def report_texts(self) -> dict[str, str]:
        knowledge = self.knowledge
        return {name: knowledge.queries.text(name) for name in knowledge.queries if name.startswith(REPORT_PREFIX)}

    @cached_property
    def report_store(self) -> ReportQueries:
        """One Oxigraph store holding :attr:`report_view`, with the report queries: the general
        engine for a report query the compiled evaluator cannot run."""
        return ReportQueries.for_ontology(self.report_view, self.report_texts)

    @cached_property
    def report_queries(self) -> QuerySet:
        """The report queries, compiled against :attr:`report_view` (Oxigraph runs any the compiled
        evaluator cannot)."""
        return QuerySet.prepare(
            self.report_view, self.report_texts, lambda names, case: self.report_store.run(names, case)
        )

    @cached_property
    def shapes(self) -> CompiledShapes | str:
        """The case shapes compiled to a SHACL Core validator, or why they cannot be."""
        try:
            return compile_shapes(self.knowledge.shapes)
        except UnsupportedShape as exc:
            return str(exc)


@per_knowledge
def engine_for(knowledge: Knowledge) -> Engine:
    """The engine of a loaded knowledge base, built once per knowledge (per process)."""
    return Engine(knowledge)
