"""Derive and infer: SPARQL CONSTRUCT rules for what OWL 2 RL cannot state, then the OWL 2 RL
closure, repeated until nothing new appears.

The OWL 2 RL step uses rules compiled once per knowledge base from the closed ontology
(:mod:`reasoner.engines.owl_rl`,
prepared by :mod:`reasoner.pipeline.engine`), which give the same facts about the case as a full owlrl closure. If the
ontology uses a construct the compiled rules do not implement, dorsum falls back to owlrl.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rdflib import Graph

from reasoner.engines.owl_rl import Triple
from reasoner.engines.sparql_store import REPORT_PREFIX, Row
from reasoner.pipeline.engine import engine_for

if TYPE_CHECKING:
    from reasoner.knowledge import Knowledge

MAX_ROUNDS = 10


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
    queries = engine_for(knowledge).report_queries
    wanted = names if names is not None else sorted(n for n in queries.texts if n.startswith(REPORT_PREFIX))
    return closure, queries.run(wanted, closure)


def close_case(graph: Iterable[Triple], knowledge: Knowledge) -> set[Triple]:
    """Derive rules and OWL 2 RL to a fixpoint. Returns a new set.

    Derive rules run compiled (:mod:`reasoner.engines.sparql_compiled`; rdflib's SPARQL engine for a
    rule it cannot compile), and are not run again when nothing they can read (their footprint) has
    been added since.
    """
    engine = engine_for(knowledge)
    reasoner = engine.reasoner
    rules = engine.derive_rules
    current = set(graph)
    last_input: dict[str, set[Triple]] = {}
    last_output: dict[str, set[Triple]] = {}
    closed_already = False
    for _ in range(MAX_ROUNDS):
        derived: set[Triple] = set()
        data = None
        for rule in rules:
            seen = last_input.get(rule.name)
            unchanged = (
                seen is not None
                and rule.footprint is not None
                and not any(rule.footprint.matches(triple) for triple in current - seen)
            )
            if not unchanged:
                if data is None:
                    data = engine.derive_data(current)
                last_output[rule.name] = rule.derive(data, current, knowledge.schema)
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
