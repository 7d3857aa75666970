"""The naive reference pipeline, kept to prove that the fast one gives the same answers.

It does each step the slow, obvious way:

- validation: pyshacl over the case merged with the WHOLE ontology (production uses the compiled
  validator over the case plus only the ontology triples ``sh:class`` needs);
- derive rules: rdflib SPARQL, each query parsed again at every use (production: compiled);
- OWL 2 RL: a full owlrl closure of ontology + case (production: rules compiled from the closed
  ontology, run over the case only);
- report queries: rdflib SPARQL parsed at every use, over the closure merged with the whole ontology
  and the class tree, or the production Oxigraph runner (``report_engine``), which lets the
  equivalence test check many cases in CI time.

``ReferencePipeline.prefill`` closes many cases in batched owlrl runs
(:func:`reasoner.engines.owl_rl.owlrl_reference_infer_many`, which proves each batch gives the same
as closing each case alone), and ``ReferencePipeline.validate_many`` validates many cases in one
pyshacl run where that gives each case the report it gets alone, so that a thousand-case
equivalence test takes minutes, not an hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import Any

from rdflib import BNode, Graph, URIRef
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.namespace import RDF, RDFS, SH
from rdflib.plugins.sparql import prepareQuery
from rdflib.term import Node

from reasoner.engines.owl_rl import Triple, owlrl_reference_infer, owlrl_reference_infer_many
from reasoner.engines.shacl_core import ShapeResult
from reasoner.engines.sparql_store import REPORT_PREFIX
from reasoner.knowledge import DX, Knowledge
from reasoner.pipeline.engine import DERIVE_PREFIX, engine_for
from reasoner.pipeline.infer import MAX_ROUNDS
from reasoner.pipeline.triage import Pipeline, worst_case_graph
from reasoner.pipeline.validate import ValidationReport, report_from_results, shape_results

__all__ = ["ReferencePipeline"]

#: The class tree of each knowledge (by content hash), for the pipelines with ``memo``.
_CLASS_TREES: dict[str, Graph] = {}

#: SHACL terms that let a shape read more than what lies forward of its focus node, or pick focus
#: nodes the data does not hold: with any of them in the shapes, cases are validated one at a time.
NONLOCAL_SHACL = (SH.inversePath, SH.sparql, SH.target, SH.targetNode)


class _NotValidatedYet(Exception):
    """A validation :meth:`ReferencePipeline.worst_case_graphs` has not run yet."""

    def __init__(self, graph: Graph, source: str) -> None:
        super().__init__(source)
        self.graph = graph
        self.source = source


class ReferencePipeline:
    """The naive pipeline for one knowledge base, as a :class:`reasoner.triage.Pipeline`."""

    def __init__(
        self,
        knowledge: Knowledge,
        *,
        report_engine: str = "rdflib",
        completions_on: str | None = None,
        parse_each_use: bool = True,
        memo: bool = False,
    ) -> None:
        """``report_engine``: ``"rdflib"`` or ``"oxigraph"`` (the production runner).
        ``completions_on``: the engine for the report queries of the graphs :func:`triage` completes
        (the worst case and each missing item at its worst: the calls that name their queries), if not
        ``report_engine``; the case as recorded is always queried on ``report_engine``.
        ``parse_each_use``: parse each SPARQL query at every use (the naive timing) or once (when
        only the answers matter). ``memo``: remember each validation, derive step and closure, so a
        test that asks twice about a graph (or :meth:`prefill` and then :meth:`close`) pays once."""
        for engine in (report_engine, completions_on or report_engine):
            if engine not in ("rdflib", "oxigraph"):
                raise ValueError(f"unknown report engine {engine!r}")
        self.knowledge = knowledge
        self.report_engine = report_engine
        self.completions_on = completions_on or report_engine
        self.parse_each_use = parse_each_use
        self.texts = {name: knowledge.queries.text(name) for name in knowledge.queries}
        self.ontology_triples: list[Triple] = list(knowledge.ontology)
        self.closures: dict[frozenset[Triple], frozenset[Triple]] = {}
        self._prepared: dict[str, Any] = {}
        self.memo = memo
        self._validated: dict[tuple[frozenset[Triple], str], ValidationReport] = {}
        self._closed: dict[frozenset[Triple], frozenset[Triple]] = {}
        self.derived: dict[frozenset[Triple], frozenset[Triple]] = {}  # filled only with ``memo``
        self._report_graphs: dict[str, Graph] = {}

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
        data = list(graph) + self.ontology_triples
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
        engine = self.report_engine if names is None else self.completions_on
        if engine == "oxigraph":
            return set(closure), engine_for(knowledge).report_store.run(wanted, closure)
        data = self._report_data(knowledge)
        added = [triple for triple in closure if triple not in data]
        for triple in added:
            data.add(triple)
        try:
            rows = {name: [tuple(row) for row in data.query(self.query(name))] for name in wanted if name in self.texts}  # type: ignore[arg-type]
        finally:
            for triple in added:
                data.remove(triple)
        return set(closure), rows

    def _report_data(self, knowledge: Knowledge) -> Graph:
        """What the report queries read besides the closure: the ontology and the class tree, merged
        into one graph (rdflib answers faster over one graph than over an aggregate of three). Each
        query adds the closure to it and removes it again, so it holds the same triples between uses."""
        key = knowledge.content_hash
        if key not in self._report_graphs:
            merged = Graph()
            for source in (knowledge.ontology, self.class_tree):
                for triple in source:
                    merged.add(triple)
            self._report_graphs[key] = merged
        return self._report_graphs[key]

    def with_reports_on(self, report_engine: str) -> ReferencePipeline:
        """This reference with its report queries run on ``report_engine``, sharing every memo (the
        validations, derive steps and closures do not depend on how the reports are queried)."""
        other = ReferencePipeline(
            self.knowledge, report_engine=report_engine, parse_each_use=self.parse_each_use, memo=self.memo
        )  # its completions on the same engine too
        other.closures, other.derived = self.closures, self.derived
        other._validated, other._closed = self._validated, self._closed
        return other

    # ------------------------------------------------------------------ batching

    def validate_many(self, items: Iterable[tuple[Graph, str]], batch: int = 200) -> None:
        """Validate these (graph, source) pairs ahead, remembering each report for :meth:`validate`
        (needs ``memo``). Up to ``batch`` cases share one pyshacl run over their union and the whole
        ontology when that gives each case exactly the report it gets alone, that is when
        - the shapes read only forward from their focus nodes and take them from the data (none of
          :data:`NONLOCAL_SHACL`);
        - the case states nothing about a node of the ontology, and shares none of its own nodes
          (the nodes not in the ontology) with another case of the run.
        Every triple a shape can then reach from a case's node is the case's own or the ontology's,
        as when the case is validated alone. Each result goes to the case that owns its focus node;
        a result about a node no case owns makes the cases of that run validated one at a time."""
        if not self.memo:
            raise ValueError("validate_many needs a reference pipeline with memo")
        pending = {(frozenset(graph), source): (graph, source) for graph, source in items}
        runs: list[tuple[list[tuple[Graph, str, set[Node]]], set[Node]]] = []
        for key, (graph, source) in pending.items():
            if key in self._validated:
                continue
            owned = self._owned_nodes(graph)
            if owned is None:
                self._validated[key] = self._validate(graph, self.knowledge, source)
                continue
            run = next((run for run in runs if len(run[0]) < batch and not run[1] & owned), None)
            if run is None:
                run = ([], set())
                runs.append(run)
            run[0].append((graph, source, owned))
            run[1].update(owned)
        for cases, _nodes in runs:
            reports = self._validate_together(cases)
            for index, (graph, source, _owned) in enumerate(cases):
                report = reports[index] if reports is not None else self._validate(graph, self.knowledge, source)
                self._validated[(frozenset(graph), source)] = report

    @cached_property
    def _ontology_nodes(self) -> frozenset[Node]:
        return frozenset(node for triple in self.ontology_triples for node in triple)

    @cached_property
    def _shapes_read_locally(self) -> bool:
        return not any((None, term, None) in self.knowledge.shapes for term in NONLOCAL_SHACL)

    def _owned_nodes(self, graph: Graph) -> set[Node] | None:
        """The nodes of the case that are not in the ontology, or None if it cannot share a pyshacl
        run (it states something about a node of the ontology, or the shapes are not local)."""
        subjects: set[Node] = set(graph.subjects())
        if not self._shapes_read_locally or subjects & self._ontology_nodes:
            return None
        objects = {o for o in graph.objects() if isinstance(o, (URIRef, BNode)) and o not in self._ontology_nodes}
        return subjects | objects

    def _validate_together(self, cases: list[tuple[Graph, str, set[Node]]]) -> list[ValidationReport] | None:
        owner = {node: index for index, (_graph, _source, owned) in enumerate(cases) for node in owned}
        data = [triple for graph, _source, _owned in cases for triple in graph] + self.ontology_triples
        found: list[list[ShapeResult]] = [[] for _ in cases]
        for result in shape_results(data, self.knowledge, engine="pyshacl"):
            index = owner.get(result.focus)
            if index is None:
                return None  # a result about a node no case owns
            found[index].append(result)
        return [
            report_from_results(results, self.knowledge, source)
            for results, (_graph, source, _owned) in zip(found, cases, strict=True)
        ]

    def worst_case_graphs(self, incomplete: list[tuple[Graph, ValidationReport]]) -> list[Graph]:
        """``worst_case_graph(graph, report, knowledge, self.pipeline)`` for each pair (needs
        ``memo``), with the validations each needs run ahead by :meth:`validate_many`, many cases
        per pyshacl run: each round validates the graphs the completions reach next."""
        if not self.memo:
            raise ValueError("worst_case_graphs needs a reference pipeline with memo")

        def validated_already(graph: Graph, knowledge: Knowledge, source: str) -> ValidationReport:
            known = self._validated.get((frozenset(graph), source))
            if known is None:
                raise _NotValidatedYet(graph, source)
            return known

        ahead = Pipeline(
            name="reference (validated ahead)", validate=validated_already, close_and_report=self.close_and_report
        )
        while True:
            needed = []
            for graph, report in incomplete:
                try:
                    worst_case_graph(graph, report, self.knowledge, ahead)
                except _NotValidatedYet as missing:
                    needed.append((missing.graph, missing.source))
            if not needed:
                return [worst_case_graph(graph, report, self.knowledge, self.pipeline) for graph, report in incomplete]
            self.validate_many(needed)

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
