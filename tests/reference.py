"""The naive reference pipeline, kept to prove that the fast one gives the same answers.

It does each step the slow, obvious way:

- validation: pyshacl over the case merged with the WHOLE ontology (production uses the compiled
  validator over the case plus only the ontology triples ``sh:class`` needs);
- derive rules: rdflib SPARQL, each query parsed again at every use (production: compiled);
- OWL 2 RL: a full owlrl closure of ontology + case (production: rules compiled from the closed
  ontology, run over the case only);
- report queries: rdflib SPARQL parsed at every use, or the production Oxigraph runner
  (``report_engine``), which lets the equivalence test check many cases in CI time.

``ReferencePipeline.prefill`` closes many cases in batched owlrl runs
(:func:`reasoner.compiled.owlrl_reference_infer_many`, which proves each batch gives the same as
closing each case alone) so that a thousand-case equivalence test takes minutes, not an hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import Any

from rdflib import Graph, URIRef
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.namespace import RDF, RDFS
from rdflib.plugins.sparql import prepareQuery

from reasoner.engines.owl_rl import Triple, owlrl_reference_infer, owlrl_reference_infer_many
from reasoner.engines.sparql_store import REPORT_PREFIX
from reasoner.knowledge import DX, Knowledge
from reasoner.pipeline.engine import DERIVE_PREFIX, engine_for
from reasoner.pipeline.infer import MAX_ROUNDS
from reasoner.pipeline.triage import Pipeline
from reasoner.pipeline.validate import ValidationReport, data_triples, report_from_results, shape_results

__all__ = ["ReferencePipeline"]

#: The class tree of each knowledge (by content hash), for the pipelines with ``memo``.
_CLASS_TREES: dict[str, Graph] = {}


class ReferencePipeline:
    """The naive pipeline for one knowledge base, as a :class:`reasoner.triage.Pipeline`."""

    def __init__(
        self,
        knowledge: Knowledge,
        *,
        report_engine: str = "rdflib",
        validation_data: str = "ontology",
        parse_each_use: bool = True,
        memo: bool = False,
    ) -> None:
        """``report_engine``: ``"rdflib"`` or ``"oxigraph"`` (the production runner).
        ``validation_data``: what pyshacl sees besides the case: the whole ``"ontology"``, or the
        production ``"support"`` triples. ``parse_each_use``: parse each SPARQL query at every use
        (the naive timing) or once (when only the answers matter). ``memo``: remember each
        validation, derive step and closure, so a test that asks twice about a graph (or
        :meth:`prefill` and then :meth:`close`) pays once."""
        if report_engine not in ("rdflib", "oxigraph"):
            raise ValueError(f"unknown report engine {report_engine!r}")
        if validation_data not in ("ontology", "support"):
            raise ValueError(f"unknown validation data {validation_data!r}")
        self.knowledge = knowledge
        self.report_engine = report_engine
        self.validation_data = validation_data
        self.parse_each_use = parse_each_use
        self.texts = {name: knowledge.queries.text(name) for name in knowledge.queries}
        self.ontology_triples: list[Triple] = list(knowledge.ontology)
        self.closures: dict[frozenset[Triple], frozenset[Triple]] = {}
        self._prepared: dict[str, Any] = {}
        self.memo = memo
        self._validated: dict[tuple[frozenset[Triple], str], ValidationReport] = {}
        self._closed: dict[frozenset[Triple], frozenset[Triple]] = {}
        self.derived: dict[frozenset[Triple], frozenset[Triple]] = {}  # filled only with ``memo``

    @cached_property
    def class_tree(self) -> Graph:
        """The subclass links between the situations advice applies to, by a full owlrl closure of
        one prototype individual per situation (production classifies them with the compiled rules).
        With ``memo``, computed once per knowledge in this process and shared by every instance."""
        if not self.memo:
            return self._class_tree()
        if self.knowledge.content_hash not in _CLASS_TREES:
            _CLASS_TREES[self.knowledge.content_hash] = self._class_tree()
        return _CLASS_TREES[self.knowledge.content_hash]

    def _class_tree(self) -> Graph:
        prototypes = Graph()
        situations = sorted(
            {
                o
                for p in (DX.appliesTo, DX.exceptIn)
                for o in self.knowledge.ontology.objects(None, p)
                if isinstance(o, URIRef)
            }
        )
        for index, situation in enumerate(situations):
            prototypes.add((URIRef(f"urn:dorsum:prototype:{index}"), RDF.type, situation))
        closed = owlrl_reference_infer(self.knowledge.schema, prototypes)
        tree = Graph()
        for index, situation in enumerate(situations):
            for cls in closed.objects(URIRef(f"urn:dorsum:prototype:{index}"), RDF.type):
                if isinstance(cls, URIRef) and cls != situation:
                    tree.add((situation, RDFS.subClassOf, cls))
        return tree

    def query(self, name: str) -> Any:
        """The named query, parsed now (``parse_each_use``) or once."""
        if self.parse_each_use:
            return prepareQuery(self.texts[name])
        if name not in self._prepared:
            self._prepared[name] = prepareQuery(self.texts[name])
        return self._prepared[name]

    @property
    def pipeline(self) -> Pipeline:
        return Pipeline(
            name=f"reference ({self.report_engine} reports)",
            validate=self.validate,
            close_and_report=self.close_and_report,
        )

    # ------------------------------------------------------------------ steps

    def validate(self, graph: Graph, knowledge: Knowledge, source: str) -> ValidationReport:
        key = (frozenset(graph), source)
        if self.memo and key in self._validated:
            return self._validated[key]
        report = self._validate(graph, knowledge, source)
        if self.memo:
            self._validated[key] = report
        return report

    def _validate(self, graph: Graph, knowledge: Knowledge, source: str) -> ValidationReport:
        if self.validation_data == "ontology":
            data = list(graph) + self.ontology_triples
        else:
            data = data_triples(graph, knowledge)
        return report_from_results(shape_results(data, knowledge, engine="pyshacl"), knowledge, source)

    def derive(self, current: Graph) -> Graph:
        """``current`` plus what the derive rules build over it and the schema (a new graph)."""
        key: frozenset[Triple] | None = frozenset(current) if self.memo else None
        if key is not None and key in self.derived:
            known = Graph()
            for triple in self.derived[key]:
                known.add(triple)
            return known
        view = ReadOnlyGraphAggregate([current, self.knowledge.schema])
        derived = Graph()
        for name in sorted(self.texts):
            if name.startswith(DERIVE_PREFIX):
                for triple in view.query(self.query(name)):
                    derived.add(triple)  # type: ignore[arg-type]
        derived += current
        if key is not None:
            self.derived[key] = frozenset(derived)
        return derived

    def owl_closure(self, graph: Graph) -> Graph:
        key = frozenset(graph)
        known = self.closures.get(key)
        if known is not None:
            result = Graph()
            for triple in known:
                result.add(triple)
            return result
        closed = owlrl_reference_infer(self.knowledge.schema, graph)
        self.closures[key] = frozenset(closed)
        return closed

    def close(self, graph: Iterable[Triple]) -> Graph:
        """Derive rules and a full OWL 2 RL closure, repeated until the derive rules add nothing."""
        key: frozenset[Triple] = frozenset(graph)
        if self.memo and key in self._closed:
            known = Graph()
            for triple in self._closed[key]:
                known.add(triple)
            return known
        closure = self._close(key)
        if self.memo:
            self._closed[key] = frozenset(closure)
        return closure

    def _close(self, graph: Iterable[Triple]) -> Graph:
        current = Graph()
        for triple in graph:
            current.add(triple)
        closed: Graph | None = None
        for _ in range(MAX_ROUNDS):
            derived = self.derive(current)
            if closed is not None and len(derived) == len(closed):
                break  # the graph is closed and the derive rules add nothing: the fixpoint
            closed = self.owl_closure(derived)
            current = closed
        return current

    def close_and_report(
        self, graph: Graph, knowledge: Knowledge, names: list[str] | None
    ) -> tuple[set[Triple], dict[str, list[Any]]]:
        closure = self.close(graph)
        wanted = names if names is not None else sorted(n for n in self.texts if n.startswith(REPORT_PREFIX))
        if self.report_engine == "oxigraph":
            return set(closure), engine_for(knowledge).report_store.run(wanted, closure)
        view = ReadOnlyGraphAggregate([closure, knowledge.ontology, self.class_tree])
        rows = {name: [tuple(row) for row in view.query(self.query(name))] for name in wanted if name in self.texts}  # type: ignore[arg-type]
        return set(closure), rows

    # ------------------------------------------------------------------ batching

    def prefill(self, graphs: Iterable[Graph], batch: int = 100) -> None:
        """Compute the OWL closures :meth:`close` will need for these graphs, many per owlrl run."""
        pending: list[tuple[Graph, Graph | None]] = [(graph, None) for graph in graphs]
        for _ in range(MAX_ROUNDS):
            todo: list[Graph] = []
            for current, closed in pending:
                derived = self.derive(current)
                if closed is not None and len(derived) == len(closed):
                    continue
                if frozenset(derived) not in self.closures:
                    todo.append(derived)
            if not todo:
                return
            unique = list({frozenset(g): g for g in todo}.values())
            results = owlrl_reference_infer_many(self.knowledge.schema, unique, batch=batch)
            next_round: list[tuple[Graph, Graph | None]] = []
            for derived, closed_graph in zip(unique, results, strict=True):
                self.closures[frozenset(derived)] = frozenset(closed_graph)
                next_round.append((closed_graph, closed_graph))
            pending = next_round
