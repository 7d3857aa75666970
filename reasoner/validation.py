"""Validate a case against the SHACL shapes in ``shapes/``.

Violations mean the case is malformed and is rejected. Warnings are the items that safe triage
needs but the case does not record; each carries the worst-case facts (``dx:assume``) that
triage assumes while the item is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyshacl import validate as shacl_validate
from rdflib import Graph, Node, URIRef
from rdflib.namespace import SH

from .case_input import CaseInput
from .errors import CaseError
from .knowledge import DX, Knowledge


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
    """An item safe triage needs that the case does not record."""

    item: str
    message: str
    focus: Node
    assumptions: tuple[tuple[URIRef, Node], ...]


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
    data = Graph()
    data += graph
    support = knowledge.validation_support
    for term in {node for triple in graph for node in triple}:
        for triple in support.get(term, ()):
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
    problems: set[Problem] = set()
    missing: dict[tuple[str, str], MissingItem] = {}
    for result in results.subjects(SH.resultSeverity, None):
        severity = results.value(result, SH.resultSeverity)
        shape = results.value(result, SH.sourceShape)
        message = _message(results, result, knowledge, shape)
        name = _name(knowledge, shape, results.value(result, SH.resultPath))
        focus = results.value(result, SH.focusNode)
        if severity == SH.Violation:
            value = results.value(result, SH.value)
            problems.add(Problem(field=name, message=message, value=_show(value, knowledge)))
        elif focus is not None:
            assumptions = _assumptions(knowledge, shape)
            key = (str(focus), name)
            missing.setdefault(key, MissingItem(item=name, message=message, focus=focus, assumptions=assumptions))
    ordered_missing = tuple(sorted(missing.values(), key=lambda item: (item.item, str(item.focus))))
    return ValidationReport(
        source=source,
        problems=tuple(sorted(problems, key=lambda p: (p.field, p.message, p.value))),
        missing=ordered_missing,
    )


def _assumptions(knowledge: Knowledge, shape: Node | None) -> tuple[tuple[URIRef, Node], ...]:
    """The worst-case facts (dx:assume) a completeness shape declares for its missing item."""
    found = []
    for assumption in knowledge.shapes.objects(shape, DX.assume):
        prop = knowledge.shapes.value(assumption, DX.onProperty)
        value = knowledge.shapes.value(assumption, DX.value)
        if isinstance(prop, URIRef) and value is not None:
            found.append((prop, value))
    return tuple(sorted(found))


def _message(results: Graph, result: Node, knowledge: Knowledge, shape: Node | None) -> str:
    if shape is not None:
        authored = knowledge.shapes.value(shape, SH.message)
        if authored is not None:
            return str(authored)
    text = results.value(result, SH.resultMessage)
    return str(text) if text is not None else "does not conform to the case shapes"


def _name(knowledge: Knowledge, shape: Node | None, path: Node | None) -> str:
    if shape is not None:
        name = knowledge.shapes.value(shape, SH.name)
        if name is not None:
            return str(name)
    if isinstance(path, URIRef):
        return knowledge.label(path)
    return ""


def _show(value: Node | None, knowledge: Knowledge) -> str:
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, URIRef) and text.startswith(str(DX)):
        return text[len(str(DX)) :]
    return text
