"""Derive and infer: SPARQL CONSTRUCT rules for what OWL 2 RL cannot state, then the OWL 2 RL
closure, repeated until nothing new appears.

The OWL 2 RL step uses rules compiled once per knowledge base from the closed ontology
(``reasoner.compiled``), which give the same facts about the case as a full owlrl closure. If the
ontology uses a construct the compiled rules do not implement, dorsum falls back to owlrl.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rdflib import Graph
from rdflib.graph import ReadOnlyGraphAggregate

from .compiled import CompiledRules, UnsupportedConstruct, compile_rules, owlrl_reference_infer
from .errors import KnowledgeError

if TYPE_CHECKING:
    from .knowledge import Knowledge

MAX_ROUNDS = 10
DERIVE_PREFIX = "derive-"


@dataclass(frozen=True, eq=False)
class CaseReasoner:
    """OWL 2 RL reasoning over one case graph at a time against a fixed ontology."""

    schema: Graph
    compiled: CompiledRules | None
    fallback_reason: str = ""

    @classmethod
    def for_knowledge(cls, knowledge: Knowledge) -> CaseReasoner:
        try:
            return cls(schema=knowledge.schema, compiled=compile_rules(knowledge.schema))
        except UnsupportedConstruct as exc:
            return cls(schema=knowledge.schema, compiled=None, fallback_reason=str(exc))

    def infer(self, case: Graph) -> Graph:
        """The case's triples plus every OWL 2 RL entailment about the case's nodes (new graph)."""
        if self.compiled is not None:
            try:
                return self.compiled.infer(case)
            except UnsupportedConstruct:
                pass  # the case makes schema-level statements: let owlrl handle them in full
        return owlrl_reference_infer(self.schema, case)


def infer_case(graph: Graph, knowledge: Knowledge) -> Graph:
    """Run derive rules and OWL 2 RL inference to a fixpoint. Returns a new graph."""
    reasoner = knowledge.reasoner
    if reasoner is None:
        raise KnowledgeError("the knowledge base was not loaded with load_knowledge()")
    derive_queries = [q for name, q in sorted(knowledge.queries.items()) if name.startswith(DERIVE_PREFIX)]
    current = Graph()
    current += graph
    for _ in range(MAX_ROUNDS):
        view = ReadOnlyGraphAggregate([current, knowledge.schema])
        derived = Graph()
        for query in derive_queries:
            for triple in view.query(query):
                derived.add(triple)  # type: ignore[arg-type]
        derived += current
        closed = reasoner.infer(derived)
        if len(closed) == len(current):
            return closed
        current = closed
    return current
