"""Derive and infer: SPARQL CONSTRUCT rules for what OWL 2 RL cannot state, then the OWL 2 RL
closure, repeated until nothing new appears.

The OWL 2 RL step uses rules compiled once per knowledge base from the closed ontology
(``reasoner.compiled``), which give the same facts about the case as a full owlrl closure. If the
ontology uses a construct the compiled rules do not implement, dorsum falls back to owlrl.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import owlrl
import rdflib
from rdflib import Graph

from .cache import cache_file, prune, read_cached, source_hash, write_cached
from .compiled import CompiledRules, Triple, UnsupportedConstruct, compile_rules, owlrl_reference_infer
from .errors import KnowledgeError
from .report_queries import REPORT_PREFIX, CaseWorkspace, ReportQueries, Row

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

    def infer(self, case: Graph) -> Graph:
        """The case's triples plus every OWL 2 RL entailment about the case's nodes (new graph)."""
        if self.compiled is not None:
            try:
                return self.compiled.infer(case)
            except UnsupportedConstruct:
                pass  # the case makes schema-level statements: let owlrl handle them in full
        return owlrl_reference_infer(self.schema, case)

    def infer_triples(self, case: set[Triple]) -> set[Triple]:
        """:meth:`infer` over a set of triples (a new set)."""
        if self.compiled is not None:
            try:
                return self.compiled.infer_triples(case)
            except UnsupportedConstruct:
                pass
        graph = Graph()
        for triple in case:
            graph.add(triple)
        return set(owlrl_reference_infer(self.schema, graph))


def infer_case(graph: Graph, knowledge: Knowledge) -> Graph:
    """Run derive rules and OWL 2 RL inference to a fixpoint. Returns a new graph."""
    with case_queries(knowledge).workspace() as workspace:
        closure = close_case(workspace, graph, knowledge)
    result = Graph()
    for triple in closure:
        result.add(triple)
    return result


def close_and_report(
    graph: Iterable[Triple], knowledge: Knowledge, names: list[str] | None = None
) -> tuple[set[Triple], dict[str, list[Row]]]:
    """The case's closure (derive rules and OWL 2 RL to a fixpoint) and the answers of the report
    queries (all of them, or ``names``) over it, joined with the knowledge."""
    queries = case_queries(knowledge)
    wanted = names if names is not None else sorted(n for n in queries.texts if n.startswith(REPORT_PREFIX))
    with queries.workspace() as workspace:
        closure = close_case(workspace, graph, knowledge)
        return closure, workspace.select(wanted)


def close_case(workspace: CaseWorkspace, graph: Iterable[Triple], knowledge: Knowledge) -> set[Triple]:
    """Derive and infer to a fixpoint, keeping ``workspace`` (the case's named graph) up to date."""
    reasoner = knowledge.reasoner
    if reasoner is None:
        raise KnowledgeError("the knowledge base was not loaded with load_knowledge()")
    derive = sorted(name for name in workspace.queries.texts if name.startswith(DERIVE_PREFIX))
    current = set(graph)
    workspace.add(current)
    closed_already = False
    for _ in range(MAX_ROUNDS):
        derived = workspace.construct(derive)
        if closed_already and derived <= current:
            return current  # closed under OWL 2 RL, and the derive rules add nothing: the fixpoint
        closed = reasoner.infer_triples(current | derived)
        closed_already = True
        if len(closed) == len(current):
            return closed
        workspace.add(closed - current)
        current = closed
    return current


def case_queries(knowledge: Knowledge) -> ReportQueries:
    """The knowledge's Oxigraph store with its derive and report queries (built once per knowledge)."""
    queries = _QUERIES.get(knowledge)
    if queries is None:
        texts = {
            name: knowledge.queries.text(name)
            for name in knowledge.queries
            if name.startswith((DERIVE_PREFIX, REPORT_PREFIX))
        }
        queries = ReportQueries.for_ontology(knowledge.ontology, texts, schema=knowledge.schema)
        _QUERIES[knowledge] = queries
    return queries


_QUERIES: weakref.WeakKeyDictionary[Knowledge, ReportQueries] = weakref.WeakKeyDictionary()
