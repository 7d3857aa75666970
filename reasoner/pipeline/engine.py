"""The engine: everything prepared from one knowledge base for reasoning over cases, built once
per loaded knowledge (per process) and shared by every stage.

- compiled OWL 2 RL rules (cached on disk by a hash of the schema's triples), or owlrl as fallback;
- the derive rules (``queries/derive-*.rq``) with their footprints;
- the report queries (``queries/report-*.rq``) over one Oxigraph store holding the ontology;
- the case shapes compiled to a SHACL Core validator, or why they fall back to pyshacl.

Each part is prepared on first use, so a command that only validates never builds the query store.
"""

from __future__ import annotations

import atexit
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import owlrl
import rdflib
from rdflib import Graph, URIRef
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.namespace import RDF, RDFS

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
from reasoner.engines.sparql_store import REPORT_PREFIX, ReportQueries, Row
from reasoner.knowledge import DX, Knowledge, blank_labels, per_knowledge

if TYPE_CHECKING:
    from rdflib.plugins.sparql.sparql import Query  # the SPARQL parser is slow to import: not on the warm path

RULES_KIND = "rules"
PREPARED_KIND = "queries"
PREPARED_SOURCES = (  # a new evaluator (or way of pickling) never reuses queries compiled by an old one
    "cache.py",
    "engines/sparql_compiled.py",
    "engines/sparql_expressions.py",
    "engines/sparql_functions.py",
    "engines/sparql_match.py",
    "engines/sparql_plan.py",
    "engines/sparql_prepare.py",
    "engines/sparql_footprint.py",
    "pipeline/engine.py",
)
RULES_KEEP = 32
# a new rule compiler never reuses rules compiled by an old one
RULES_SOURCES = ("cache.py", "engines/owl_rl.py", "engines/owl_rl_schema.py", "engines/owl_rl_scope.py")
DERIVE_PREFIX = "derive-"


@dataclass(frozen=True, eq=False)
class CaseReasoner:
    """OWL 2 RL reasoning over one case graph at a time against a fixed ontology."""

    schema: Graph
    compiled: CompiledRules | None
    fallback_reason: str = ""

    @classmethod
    def for_knowledge(cls, knowledge: Knowledge) -> CaseReasoner:
        """The reasoner of ``knowledge``: its compiled rules are read from the cache if they were compiled
        from this knowledge (the same parse of the same files), else compiled and cached."""
        # The compiled rules name the ontology's blank nodes (class expressions) by label, and labels
        # differ between two parses of the same files: rules compiled from another parse never match.
        source = source_hash(RULES_SOURCES, (owlrl.__version__, rdflib.__version__, blank_labels(knowledge.schema)))
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


@dataclass(eq=False)
class DeriveRule:
    """A derive query (``queries/derive-*.rq``), with what it reads of the schema."""

    name: str
    knowledge: Knowledge = field(repr=False)
    footprint: Footprint | None  # None: it may read anything
    compiled: CompiledQuery | None = None  # None: the query uses SPARQL the compiled evaluator lacks

    @cached_property
    def schema_slice(self) -> tuple[Triple, ...]:
        """The schema triples the rule can read (none if unbounded: it then reads the whole schema)."""
        return tuple(self.footprint.select(self.knowledge.schema)) if self.footprint is not None else ()

    @property
    def query(self) -> Query:
        """The rule parsed by rdflib (on first use: only the reference semantics need it)."""
        return self.knowledge.queries[self.name]

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


@dataclass(eq=False)
class CompiledQueries:
    """What the compiled SPARQL evaluator keeps per knowledge: the report queries and the knowledge
    they read, the derive rules and the schema, the ``knowledge-*`` answers. The compiled queries
    carry their plans and memoised answers, so saving this saves them (one pickle: the terms of
    the indexes and of the answers stay the same objects). The ontology's own index, which only
    a ``knowledge-*`` query not answered yet reads, is not kept (:attr:`Engine.ontology_index`)."""

    report: QuerySet
    schema: TripleIndex
    derive: dict[str, CompiledQuery | None]
    footprints: dict[str, Footprint | None]
    knowledge_rows: dict[str, list[Row]]

    def plan_count(self) -> int:
        queries = [*self.report.compiled.values(), *(query for query in self.derive.values() if query is not None)]
        return sum(len(query.plans) for query in queries) + len(self.knowledge_rows)


class Engine:
    """The prepared reasoning parts of one knowledge base. Get it with :func:`engine_for`."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    @cached_property
    def reasoner(self) -> CaseReasoner:
        return CaseReasoner.for_knowledge(self.knowledge)

    @cached_property
    def prepared(self) -> CompiledQueries:
        """The compiled queries of this knowledge with what they have memoised, from the disk cache
        when an earlier process saved them (see :meth:`save`), else compiled now."""
        cache, key = self._prepared_cache()
        cached = read_cached(cache, key, CompiledQueries)
        if cached is None:
            cached = self._prepare()
        self._saved_plans = cached.plan_count()
        atexit.register(self.save)
        return cached

    def _prepared_cache(self) -> tuple[Path | None, str]:
        knowledge = self.knowledge
        versions = (rdflib.__version__, knowledge.ontology_blank_labels(), blank_labels(knowledge.schema))
        source = source_hash(PREPARED_SOURCES, versions)
        return cache_file(PREPARED_KIND, knowledge.content_hash, source), f"{knowledge.content_hash} {source}"

    def _prepare(self) -> CompiledQueries:
        knowledge = self.knowledge
        viewed = itertools.chain(knowledge.ontology, self.class_tree)  # report_view's triples, without building it
        report = QuerySet.prepare(viewed, self.report_texts, None, knowledge.queries)
        schema = TripleIndex(knowledge.schema)
        derive: dict[str, CompiledQuery | None] = {}
        footprints: dict[str, Footprint | None] = {}
        for name in sorted(knowledge.queries):
            if name.startswith(DERIVE_PREFIX):
                footprints[name] = footprint(knowledge.queries[name].algebra)
                try:
                    derive[name] = compile_query(knowledge.queries[name])
                    derive[name].intern(schema.canon)  # type: ignore[union-attr]
                except UnsupportedQuery:
                    derive[name] = None
        return CompiledQueries(report, schema, derive, footprints, {})

    def save(self) -> None:
        """Save the compiled queries and their memoised answers for the next process, if this one
        planned anything new (called at exit; errors are ignored, as for every cache)."""
        prepared = self.__dict__.get("prepared")
        if prepared is None or prepared.plan_count() <= getattr(self, "_saved_plans", 0):
            return
        cache, key = self._prepared_cache()
        write_cached(cache, key, prepared)
        self._saved_plans = prepared.plan_count()
        prune(PREPARED_KIND, RULES_KEEP)

    @cached_property
    def derive_rules(self) -> tuple[DeriveRule, ...]:
        """The derive rules, in name order."""
        prepared = self.prepared
        rules = []
        for name, compiled in sorted(prepared.derive.items()):
            rules.append(DeriveRule(name, self.knowledge, prepared.footprints[name], compiled))
        return tuple(rules)

    def knowledge_rows(self, name: str) -> list[Row]:
        """The rows of a query over the ontology alone (``queries/knowledge-*.rq``): compiled, or
        rdflib's engine for a query the compiled evaluator cannot run; kept with the prepared queries."""
        prepared = self.prepared
        rows = prepared.knowledge_rows.get(name)
        if rows is None:
            try:
                query = compile_query(self.knowledge.queries[name])
            except UnsupportedQuery:
                graph = self.knowledge.ontology
                rows = [tuple(row) for row in graph.query(self.knowledge.queries[name])]  # type: ignore[arg-type]
            else:
                index = self.ontology_index
                query.intern(index.canon)
                rows = query.select(Dataset(index, None))
            prepared.knowledge_rows[name] = rows
        return rows

    @cached_property
    def ontology_index(self) -> TripleIndex:
        """The ontology indexed for the compiled ``knowledge-*`` queries: built when one is first
        answered (then its rows are kept with the compiled queries, and later processes reuse them)."""
        return TripleIndex(self.knowledge.ontology)

    @property
    def schema_index(self) -> TripleIndex:
        """The schema indexed for the compiled derive rules."""
        return self.prepared.schema

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
        """The report queries, compiled against the triples of :attr:`report_view` (Oxigraph runs
        any the compiled evaluator cannot)."""
        return replace(self.prepared.report, fallback=self._run_on_store)

    def _run_on_store(self, names: list[str], case: Iterable[Triple]) -> dict[str, list[Row]]:
        return self.report_store.run(names, case)

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
