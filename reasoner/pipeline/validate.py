"""Validate a case against the SHACL shapes in ``shapes/``.

Violations mean the case is malformed and is rejected. Warnings are the items that safe triage
needs but the case does not record; each carries the worst-case facts (``dx:assume``) that
triage assumes while the item is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rdflib import Graph, Literal, Node, URIRef
from rdflib.namespace import SH

from reasoner.engines.shacl_core import CompiledShapes, ShapeResult, Triple, UnsupportedShape
from reasoner.errors import CaseError
from reasoner.knowledge import DX, Knowledge
from reasoner.pipeline.engine import engine_for
from reasoner.pipeline.read import CaseInput


@dataclass(frozen=True)
class Problem:
    """One well-formedness violation."""

    field: str
    message: str
    value: str = ""

    def __str__(self) -> str:
        value = f" (got {self.value})" if self.value else ""
        return f"{self.field}: {self.message}{value}" if self.field else f"{self.message}{value}"


@dataclass(frozen=True)
class MissingItem:
    """An item safe triage needs that the case does not record.

    ``assumptions`` are the worst-case facts (property, value) assumed while it is missing: on the
    focus node, or, where the shape names ``dx:assumeOnObjectsOf`` (``on_objects_of``), on each object
    of that property of the focus node (a shape on the case that assumes a fact about its lump)."""

    item: str
    message: str
    focus: Node
    assumptions: tuple[tuple[URIRef, Node], ...]
    on_objects_of: URIRef | None = None

    def facts(self, graph: Graph) -> list[Triple]:
        """The worst-case triples this item adds to ``graph`` (which is not modified)."""
        if self.on_objects_of is None:
            nodes: list[Node] = [self.focus]
        else:
            nodes = sorted(graph.objects(self.focus, self.on_objects_of), key=str)
        return [(node, prop, value) for node in nodes for prop, value in self.assumptions]


@dataclass(frozen=True)
class ValidationReport:
    source: str
    problems: tuple[Problem, ...]
    missing: tuple[MissingItem, ...]

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def complete(self) -> bool:
        return self.valid and not self.missing


def validate_case(case: CaseInput, knowledge: Knowledge) -> ValidationReport:
    """Check a case against the shapes. Does not modify the case graph."""
    return _validate(case.graph, knowledge, case.source)


def validate_graph(graph: Graph, knowledge: Knowledge, source: str = "<graph>") -> ValidationReport:
    """Check any case graph (for example one with worst-case facts added) against the shapes."""
    return _validate(graph, knowledge, source)


def require_valid(report: ValidationReport) -> None:
    """Raise CaseError listing every violation, if there is any."""
    if report.problems:
        raise CaseError(report.source, [str(problem) for problem in report.problems])


def _validate(graph: Graph, knowledge: Knowledge, source: str) -> ValidationReport:
    return report_from_results(shape_results(data_triples(graph, knowledge), knowledge), knowledge, source)


def data_triples(graph: Graph, knowledge: Knowledge) -> list[Triple]:
    """The data the shapes see: the case, plus the ontology's types (and their superclasses) of
    every term the case mentions, which is what ``sh:class`` needs. Nothing is inferred."""
    triples: list[Triple] = list(graph)
    support = knowledge.validation_support
    for term in {node for triple in triples for node in triple}:
        triples.extend(support.get(term, ()))
    return triples


def shape_results(triples: list[Triple], knowledge: Knowledge, *, engine: str = "auto") -> tuple[ShapeResult, ...]:
    """Validate the data with the case shapes.

    ``engine`` is ``"auto"`` (the compiled validator, or pyshacl if the shapes use SHACL it does
    not implement), ``"compiled"`` or ``"pyshacl"``. Both give the same results.
    """
    if engine not in ("auto", "compiled", "pyshacl"):
        raise ValueError(f"unknown validation engine {engine!r}")
    if engine != "pyshacl":
        compiled = compiled_shapes(knowledge)
        if isinstance(compiled, CompiledShapes):
            return compiled.validate(triples)
        if engine == "compiled":
            raise UnsupportedShape(compiled)
    return _pyshacl_results(triples, knowledge)


def compiled_shapes(knowledge: Knowledge) -> CompiledShapes | str:
    """The knowledge's case shapes compiled (once per loaded knowledge), or why they cannot be."""
    return engine_for(knowledge).shapes


def _pyshacl_results(triples: list[Triple], knowledge: Knowledge) -> tuple[ShapeResult, ...]:
    from pyshacl import validate as shacl_validate  # the fallback only: pyshacl is slow to import

    data = Graph()
    for triple in triples:
        data.add(triple)
    _conforms, results, _text = shacl_validate(
        data,
        shacl_graph=knowledge.shapes,
        inference="none",
        abort_on_first=False,
        allow_infos=True,
        allow_warnings=True,
    )
    assert isinstance(results, Graph)
    found = []
    for result in results.subjects(SH.resultSeverity, None):
        path = results.value(result, SH.resultPath)
        message = results.value(result, SH.resultMessage)
        found.append(
            ShapeResult(
                severity=results.value(result, SH.resultSeverity),  # type: ignore[arg-type]
                focus=results.value(result, SH.focusNode),  # type: ignore[arg-type]
                path=path if isinstance(path, URIRef) else None,
                value=results.value(result, SH.value),
                source_shape=results.value(result, SH.sourceShape),  # type: ignore[arg-type]
                message=str(message) if message is not None else None,
            )
        )
    return tuple(found)


def report_from_results(results: Iterable[ShapeResult], knowledge: Knowledge, source: str) -> ValidationReport:
    """Sort validation results into violations (the case is rejected) and missing items.

    Several shapes may ask one item of one focus node, each in its own situation (a child's lump is
    asked its position if it may have been there since birth, and if it may look fatty): the item is
    reported once, with the message of the first such shape by IRI (whatever order the validator
    gave the results in) and every worst-case fact any of them assumes on the same nodes."""
    problems: set[Problem] = set()
    missing: dict[tuple[str, str], MissingItem] = {}
    for result in sorted(results, key=_shape_order):
        shape = result.source_shape
        message = _message(result, knowledge)
        name = _name(knowledge, shape, result.path)
        if result.severity == SH.Violation:
            problems.add(Problem(field=name, message=message, value=_show(result.value, knowledge)))
        elif result.focus is not None:
            assumptions = _assumptions(knowledge, shape)
            found = knowledge.shapes.value(shape, DX.assumeOnObjectsOf) if shape is not None else None
            on = found if isinstance(found, URIRef) else None
            key = (str(result.focus), name)
            first = missing.get(key)
            if first is None:
                missing[key] = MissingItem(
                    item=name, message=message, focus=result.focus, assumptions=assumptions, on_objects_of=on
                )
            elif first.on_objects_of == on and not set(assumptions) <= set(first.assumptions):
                merged = tuple(sorted(set(first.assumptions) | set(assumptions)))
                missing[key] = MissingItem(first.item, first.message, first.focus, merged, on)
    ordered_missing = tuple(sorted(missing.values(), key=lambda item: (item.item, str(item.focus))))
    return ValidationReport(
        source=source,
        problems=tuple(sorted(problems, key=lambda p: (p.field, p.message, p.value))),
        missing=ordered_missing,
    )


def _shape_order(result: ShapeResult) -> tuple[bool, str]:
    """Named shapes first, by IRI: an order that does not depend on the validator."""
    shape = result.source_shape
    return (not isinstance(shape, URIRef), str(shape))


def _assumptions(knowledge: Knowledge, shape: Node | None) -> tuple[tuple[URIRef, Node], ...]:
    """The worst-case facts (dx:assume) a completeness shape declares for its missing item."""
    found = []
    for assumption in knowledge.shapes.objects(shape, DX.assume):
        prop = knowledge.shapes.value(assumption, DX.onProperty)
        value = knowledge.shapes.value(assumption, DX.value)
        if isinstance(prop, URIRef) and value is not None:
            found.append((prop, value))
    return tuple(sorted(found))


def _message(result: ShapeResult, knowledge: Knowledge) -> str:
    authored = knowledge.shapes.value(result.source_shape, SH.message)
    if authored is not None:
        return str(authored)
    return result.message or "does not conform to the case shapes"


def _name(knowledge: Knowledge, shape: Node | None, path: Node | None) -> str:
    if shape is not None:
        name = knowledge.shapes.value(shape, SH.name)
        if name is not None:
            return str(name)
    if isinstance(path, URIRef):
        return knowledge.label(path)
    return ""


def _show(value: Node | None, knowledge: Knowledge) -> str:
    """The offending value as the user wrote it: a term's form key where it has one (``fever``, not
    ``Fever``); nothing for a node of the case itself (the case or its lump), which the user never
    wrote and whose IRI says nothing."""
    if value is None or not isinstance(value, (URIRef, Literal)):
        return ""
    text = str(value)
    if isinstance(value, URIRef):
        key = knowledge.ontology.value(value, DX.formKey)
        if key is not None:
            return str(key)
        if not text.startswith(str(DX)):
            return ""
        return text[len(str(DX)) :]
    return text
