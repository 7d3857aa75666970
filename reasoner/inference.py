"""Derive and infer: SPARQL CONSTRUCT rules for what OWL 2 RL cannot state, then the OWL 2 RL
closure, repeated until nothing new appears.

The OWL 2 RL step uses rules compiled once per knowledge base from the closed ontology
(``reasoner.compiled``), which give the same facts about the case as a full owlrl closure. If the
ontology uses a construct the compiled rules do not implement, dorsum falls back to owlrl.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import owlrl
import rdflib
from rdflib import Graph
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.plugins.sparql.sparql import Query

from .cache import cache_file, prune, read_cached, source_hash, write_cached
from .compiled import CompiledRules, Triple, UnsupportedConstruct, compile_rules, owlrl_reference_infer
from .errors import KnowledgeError
from .footprint import Footprint, footprint
from .knowledge import per_knowledge
from .report_queries import REPORT_PREFIX, ReportQueries, Row

if TYPE_CHECKING:
    from .knowledge import Knowledge

MAX_ROUNDS = 10
RULES_KIND = "rules"
RULES_KEEP = 32
RULES_SOURCES = ("compiled.py",)  # a new rule compiler never reuses rules compiled by an old one
DERIVE_PREFIX = "derive-"


@dataclass(frozen=True, eq=False)
class CaseReasoner:
    """OWL 2 RL reasoning over one case graph at a time against a fixed ontology."""

    schema: Graph
    compiled: CompiledRules | None
    fallback_reason: str = ""

    @classmethod
    def for_knowledge(cls, knowledge: Knowledge) -> CaseReasoner:
        source = source_hash(RULES_SOURCES, (owlrl.__version__, rdflib.__version__))
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


def infer_case(graph: Graph, knowledge: Knowledge) -> Graph:
    """Run derive rules and OWL 2 RL inference to a fixpoint. Returns a new graph."""
    result = Graph()
    for triple in close_case(graph, knowledge):
        result.add(triple)
    return result


def close_and_report(
    graph: Iterable[Triple], knowledge: Knowledge, names: list[str] | None = None
) -> tuple[set[Triple], dict[str, list[Row]]]:
    """The case's closure (derive rules and OWL 2 RL to a fixpoint) and the answers of the report
    queries (all of them, or ``names``) over it, joined with the knowledge."""
    closure = close_case(graph, knowledge)
    queries = case_queries(knowledge)
    wanted = names if names is not None else sorted(n for n in queries.texts if n.startswith(REPORT_PREFIX))
    return closure, queries.run(wanted, closure)


@dataclass(frozen=True, eq=False)
class DeriveRule:
    """A derive query (``queries/derive-*.rq``), with what it reads of the schema."""

    name: str
    query: Query
    footprint: Footprint | None  # None: it may read anything
    schema_slice: tuple[Triple, ...]  # the schema triples it can read (all of them if unbounded)

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


def close_case(graph: Iterable[Triple], knowledge: Knowledge) -> set[Triple]:
    """Derive rules and OWL 2 RL to a fixpoint. Returns a new set.

    Derive rules run with rdflib's SPARQL engine over only the triples they can read (their
    footprint), and are not run again when nothing they can read has been added since.
    """
    reasoner = knowledge.reasoner
    if reasoner is None:
        raise KnowledgeError("the knowledge base was not loaded with load_knowledge()")
    rules = derive_rules(knowledge)
    current = set(graph)
    last_input: dict[str, set[Triple]] = {}
    last_output: dict[str, set[Triple]] = {}
    closed_already = False
    for _ in range(MAX_ROUNDS):
        derived: set[Triple] = set()
        for rule in rules:
            seen = last_input.get(rule.name)
            unchanged = (
                seen is not None
                and rule.footprint is not None
                and not any(rule.footprint.matches(triple) for triple in current - seen)
            )
            if not unchanged:
                last_output[rule.name] = rule.run(current, knowledge.schema)
                last_input[rule.name] = current
            derived |= last_output[rule.name]
        if closed_already and derived <= current:
            return current  # closed under OWL 2 RL, and the derive rules add nothing: the fixpoint
        closed = reasoner.infer_triples(current | derived)
        closed_already = True
        if len(closed) == len(current):
            return closed
        current = closed
    return current


@per_knowledge
def derive_rules(knowledge: Knowledge) -> tuple[DeriveRule, ...]:
    """The knowledge's derive rules, in name order (built once per knowledge)."""
    rules = []
    for name in sorted(knowledge.queries):
        if name.startswith(DERIVE_PREFIX):
            query = knowledge.queries[name]
            bounds = footprint(query.algebra)
            schema_slice = tuple(bounds.select(knowledge.schema)) if bounds is not None else ()
            rules.append(DeriveRule(name=name, query=query, footprint=bounds, schema_slice=schema_slice))
    return tuple(rules)


@per_knowledge
def case_queries(knowledge: Knowledge) -> ReportQueries:
    """The knowledge's Oxigraph store with its report queries (built once per knowledge)."""
    texts = {name: knowledge.queries.text(name) for name in knowledge.queries if name.startswith(REPORT_PREFIX)}
    return ReportQueries.for_ontology(knowledge.ontology, texts)
