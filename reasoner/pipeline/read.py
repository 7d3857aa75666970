"""Read a case: an RDF file (Turtle, JSON-LD, N-Triples) or a JSON/YAML case form.

A case form maps to RDF through the JSON-LD context shipped with the knowledge
(``ontology/case-form.context.jsonld``): this module holds no per-field code. It only checks
that every key of the form is a term of that context, so that a misspelt key is reported
instead of being dropped silently by JSON-LD processing.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF

from reasoner.errors import CaseError, UsageError, one_line
from reasoner.knowledge import DX, Knowledge

RDF_FORMATS = {".ttl": "turtle", ".turtle": "turtle", ".nt": "nt", ".jsonld": "json-ld"}
FORM_SUFFIXES = {".json", ".yaml", ".yml"}
SUPPORTED = sorted(set(RDF_FORMATS) | FORM_SUFFIXES)
CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, eq=False)
class CaseInput:
    """One case as an RDF graph. ``graph`` is never modified by dorsum."""

    name: str
    source: str
    graph: Graph
    case: URIRef | BNode


def read_case(path: Path | str, knowledge: Knowledge) -> CaseInput:
    """Read one case file, choosing the parser by file extension."""
    file = Path(path)
    if not file.exists():
        raise UsageError(f"{file}: file not found")
    if file.is_dir():
        raise UsageError(f"{file}: is a directory, expected a case file")
    suffix = file.suffix.lower()
    if suffix not in RDF_FORMATS and suffix not in FORM_SUFFIXES:
        raise UsageError(f"{file}: unsupported file type '{suffix}' (use one of {', '.join(SUPPORTED)})")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CaseError(str(file), ["not UTF-8 text"]) from exc
    except OSError as exc:
        raise UsageError(f"{file}: cannot read: {exc.strerror}") from exc
    if not text.strip():
        raise CaseError(str(file), ["the file is empty"])
    if suffix in FORM_SUFFIXES:
        document = _parse_json(text, str(file)) if suffix == ".json" else _parse_yaml(text, str(file))
        if isinstance(document, Mapping) and "@context" in document:
            return case_from_rdf_text(json.dumps(document), "json-ld", knowledge, name=file.stem, source=str(file))
        return case_from_form(document, knowledge, name=file.stem, source=str(file))
    return case_from_rdf_text(text, RDF_FORMATS[suffix], knowledge, name=file.stem, source=str(file))


def case_from_rdf_text(
    text: str, rdf_format: str, knowledge: Knowledge, *, name: str, source: str = "<text>"
) -> CaseInput:
    """Parse RDF text holding exactly one dx:Case."""
    graph = Graph()
    try:
        graph.parse(data=text, format=rdf_format)
    except Exception as exc:  # rdflib's parsers raise many exception types
        raise CaseError(source, [f"{rdf_format} syntax error: {one_line(exc)}"]) from exc
    return case_from_graph(_normalise_literals(graph), name=name, source=source)


def case_from_form(form: Any, knowledge: Knowledge, *, name: str, source: str = "<form>") -> CaseInput:
    """Turn a case form (a mapping, as read from JSON or YAML) into a case graph."""
    if not isinstance(form, Mapping):
        raise CaseError(source, ["a case form must be a JSON object or YAML mapping of fields"])
    problems = list(_unknown_keys(form, knowledge.context, where=""))
    if problems:
        raise CaseError(source, problems)
    document = dict(form)
    document.setdefault("id", name)
    if not isinstance(document["id"], str) or not CASE_ID.fullmatch(document["id"]):
        raise CaseError(source, ["'id' must be text of letters, digits, '.', '_' or '-'"])
    document["@context"] = dict(knowledge.context)
    document["@type"] = "Case"
    try:
        text = json.dumps(document, default=str)
    except (TypeError, ValueError) as exc:
        raise CaseError(source, [f"cannot read the form: {one_line(exc)}"]) from exc
    return case_from_rdf_text(text, "json-ld", knowledge, name=name, source=source)


def case_from_graph(graph: Graph, *, name: str, source: str = "<graph>") -> CaseInput:
    """Wrap an RDF graph holding exactly one dx:Case."""
    cases = sorted(set(graph.subjects(RDF.type, DX.Case)), key=str)
    if not cases:
        raise CaseError(source, ["no dx:Case found (a case graph needs a node typed dx:Case)"])
    if len(cases) > 1:
        raise CaseError(source, [f"{len(cases)} cases in one file; put one case in each file"])
    case = cases[0]
    if not isinstance(case, (URIRef, BNode)):
        raise CaseError(source, ["the dx:Case node must be an IRI or a blank node"])
    described = {case, *graph.objects(case, DX.hasLump)}
    strangers = sorted({str(s) for s in graph.subjects() if s not in described})
    if strangers:
        raise CaseError(
            source,
            [f"statements about {', '.join(strangers[:3])}: a case file may only describe the case and its lump"],
        )
    return CaseInput(name=name, source=source, graph=graph, case=case)


def _normalise_literals(graph: Graph) -> Graph:
    """Rebuild each literal from its lexical form.

    rdflib's JSON-LD parser keeps a JSON number's Python type (63 stays an int even when the
    context types it xsd:decimal), which datatype checks then reject.
    """
    normalised = Graph()
    for s, p, o in graph:
        if isinstance(o, Literal) and o.datatype is not None:
            o = Literal(str(o), datatype=o.datatype)
        normalised.add((s, p, o))
    return normalised


def form_terms(context: Mapping[str, Any]) -> set[str]:
    """The keys a case form may use: the property terms of the context."""
    return {key for key, value in context.items() if not key.startswith("@") and isinstance(value, dict)} | {"id"}


def _unknown_keys(form: Mapping[Any, Any], context: Mapping[str, Any], where: str) -> list[str]:
    allowed = form_terms(context)
    problems: list[str] = []
    for key, value in form.items():
        label = f"{where}{key}"
        if not isinstance(key, str) or key not in allowed:
            hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            suggestion = f" (did you mean '{where}{hint[0]}'?)" if hint else ""
            problems.append(f"unknown field '{label}'{suggestion}")
            continue
        if isinstance(value, Mapping):
            problems.extend(_unknown_keys(value, context, where=f"{label}."))
    return problems


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseError(source, [f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}"]) from exc


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise CaseError(source, [f"YAML syntax error{where}: {exc.problem}"]) from exc
    except yaml.YAMLError as exc:
        raise CaseError(source, [f"YAML syntax error: {one_line(exc)}"]) from exc
