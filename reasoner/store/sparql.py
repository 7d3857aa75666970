"""SPARQL text and answers: query answers as dataclasses, parameters bound with VALUES, the W3C
results formats (JSON, CSV, TSV) and a table, and query names resolved to text."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, cast

import pyoxigraph as ox

from reasoner.errors import UsageError, one_line
from reasoner.knowledge import default_kb_root
from reasoner.pipeline.query import resolve_query
from reasoner.pipeline.query_budget import AnswerMeter, QueryBudget
from reasoner.render.tables import render_boolean, render_select
from reasoner.render.turtle import PROV, RESULT
from reasoner.store.records import CASE_BASE, DSTORE, KNOWLEDGE_BASE, literal_text

PREFIXES: Final = f"""PREFIX dx: <https://w3id.org/dorsum/ontology#>
PREFIX res: <{RESULT}>
PREFIX prov: <{PROV}>
PREFIX dstore: <{DSTORE}>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""
SPARQL_FORMATS: Final = ("table", "csv", "json", "tsv")


# ---------------------------------------------------------------- answers


@dataclass(frozen=True)
class Term:
    """One RDF term of a query answer."""

    kind: Literal["uri", "bnode", "literal", "triple"]
    value: str
    datatype: str = ""
    language: str = ""

    @property
    def n3(self) -> str:
        """The term in N-Triples / SPARQL syntax."""
        if self.kind == "uri":
            return f"<{self.value}>"
        if self.kind == "bnode":
            return f"_:{self.value}"
        if self.kind == "triple":
            return self.value
        return str(_ox_literal(self))

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SelectResult:
    """The rows of a SELECT query (``None`` for an unbound variable)."""

    variables: tuple[str, ...]
    rows: tuple[tuple[Term | None, ...], ...]

    def column(self, name: str) -> list[str]:
        index = self.variables.index(name)
        return [row[index].value if row[index] is not None else "" for row in self.rows]  # type: ignore[union-attr]

    def as_dicts(self) -> list[dict[str, str]]:
        return [
            {name: cell.value for name, cell in zip(self.variables, row, strict=True) if cell is not None}
            for row in self.rows
        ]


@dataclass(frozen=True)
class AskResult:
    """The answer of an ASK query."""

    value: bool


@dataclass(frozen=True)
class GraphResult:
    """The triples of a CONSTRUCT or DESCRIBE query."""

    triples: tuple[tuple[Term, Term, Term], ...]

    def to_ntriples(self) -> str:
        return "".join(f"{s.n3} {p.n3} {o.n3} .\n" for s, p, o in self.triples)

    def to_turtle(self) -> str:
        triples = [ox.Triple(_ox_term(s), _ox_term(p), _ox_term(o)) for s, p, o in self.triples]  # type: ignore[arg-type]
        prefixes = {
            "dx": "https://w3id.org/dorsum/ontology#",
            "res": str(RESULT),
            "prov": str(PROV),
            "dstore": DSTORE,
            "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
            "skos": "http://www.w3.org/2004/02/skos/core#",
        }
        data = ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes)
        return data.decode("utf-8") if data else ""


SparqlResult = SelectResult | AskResult | GraphResult


def from_ox_term(term: object) -> Term:
    if isinstance(term, ox.NamedNode):
        return Term("uri", term.value)
    if isinstance(term, ox.BlankNode):
        return Term("bnode", term.value)
    if isinstance(term, ox.Literal):
        return Term("literal", term.value, term.datatype.value, term.language or "")
    return Term("triple", str(term))


def _ox_literal(term: Term) -> ox.Literal:
    if term.language:
        return ox.Literal(term.value, language=term.language)
    if term.datatype:
        return ox.Literal(term.value, datatype=ox.NamedNode(term.datatype))
    return ox.Literal(term.value)


def _ox_term(term: Term) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if term.kind == "uri":
        return ox.NamedNode(term.value)
    if term.kind == "bnode":
        return ox.BlankNode(term.value)
    if term.kind == "literal":
        return _ox_literal(term)
    raise UsageError("RDF-star triple terms cannot be written as Turtle here")


def from_ox_triples(triples: object, meter: AnswerMeter | None = None) -> GraphResult:
    """Triples as a GraphResult; ``meter`` counts them and stops at its cap."""
    converted = []
    for t in cast("list[ox.Triple]", triples):
        row = (from_ox_term(t.subject), from_ox_term(t.predicate), from_ox_term(t.object))
        if meter is not None:
            meter.add(*(term.value for term in row))
        converted.append(row)
    return GraphResult(tuple(converted))


def from_ox_answer(
    answer: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples, meter: AnswerMeter | None = None
) -> SparqlResult:
    """A pyoxigraph query answer as a dataclass; ``meter`` counts rows and bytes as they are
    read and raises AnswerTooLargeError at its cap (so a huge answer is never built)."""
    if isinstance(answer, ox.QueryBoolean):
        return AskResult(bool(answer))
    if isinstance(answer, ox.QueryTriples):
        return from_ox_triples(answer, meter)
    variables = tuple(v.value for v in answer.variables)
    rows = []
    for solution in answer:
        row = tuple(from_ox_term(solution[name]) if solution[name] is not None else None for name in variables)
        if meter is not None:
            meter.add(*(cell.value if cell is not None else None for cell in row))
        rows.append(row)
    return SelectResult(variables, tuple(rows))


def answer_size(answer: SparqlResult, budget: QueryBudget) -> None:
    """Raise AnswerTooLargeError if an answer already read is over the budget's caps."""
    meter = AnswerMeter(budget)
    rows: tuple[tuple[Term | None, ...], ...] = ()
    if isinstance(answer, SelectResult):
        rows = answer.rows
    elif isinstance(answer, GraphResult):
        rows = answer.triples
    for row in rows:
        meter.add(*(cell.value if cell is not None else None for cell in row))


_JSON_KINDS: Final = {"uri": "uri", "bnode": "bnode", "literal": "literal", "typed-literal": "literal"}


def from_json_results(document: Mapping[str, Any]) -> SparqlResult:
    """An answer in the W3C SPARQL 1.1 Query Results JSON format as a dataclass."""
    if "boolean" in document:
        return AskResult(bool(document["boolean"]))
    variables = tuple(str(v) for v in document["head"].get("vars", []))
    rows: list[tuple[Term | None, ...]] = []
    for binding in document["results"]["bindings"]:
        rows.append(tuple(_json_term(binding.get(name)) for name in variables))
    return SelectResult(variables, tuple(rows))


def _json_term(cell: Mapping[str, Any] | None) -> Term | None:
    if cell is None:
        return None
    kind = _JSON_KINDS.get(cell["type"], "triple")
    return Term(
        cast(Any, kind),
        str(cell["value"]) if kind != "triple" else json.dumps(cell["value"]),
        str(cell.get("datatype", "")) if kind == "literal" else "",
        str(cell.get("xml:lang", "")),
    )


# ---------------------------------------------------------------- query text


def resolve_sparql(query: str, kb: Path | None = None) -> str:
    """QUERY as text: SPARQL text as given, else the file or named query it names (found by
    :func:`reasoner.pipeline.query.resolve_query`, as for ``dorsum query``)."""
    if _is_sparql_text(query):
        return query
    path = resolve_query(query, kb if kb is not None else default_kb_root())
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read: {one_line(error)}") from error


def _is_sparql_text(query: str) -> bool:
    """Whether QUERY is SPARQL text rather than a file or a query name: several lines, long, or
    with spaces or braces (and not a file of that name)."""
    if "\n" in query or len(query) >= 200:
        return True
    if query.endswith(".rq") or not (any(c.isspace() for c in query) or "{" in query):
        return False
    try:
        return not Path(query).is_file()
    except (OSError, ValueError):
        return True


def with_values(text: str, params: Mapping[str, str]) -> str:
    """Bind query variables to values (an IRI when written ``<...>``, else a plain literal).

    A query may mark where a variable is bound with the placeholder ``VALUES ?name { UNDEF }``
    (standard SPARQL for "any value"): every placeholder is filled in, so that each UNION branch
    is restricted early. Otherwise a VALUES block is put at the start of the outer WHERE group
    (so it restricts GROUP BY queries too), or at the end of a query without ``WHERE {``.
    """
    terms: dict[str, str] = {}
    for name, value in params.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UsageError(f"'{name}' is not a SPARQL variable name")
        if value.startswith("<") and value.endswith(">"):
            try:
                terms[name] = str(ox.NamedNode(value[1:-1]))
            except ValueError as error:
                raise UsageError(f"parameter {name}: {value} is not a valid IRI") from error
        else:
            terms[name] = literal_text(value)
    rest: dict[str, str] = {}
    for name, term in terms.items():
        placeholder = re.compile(r"VALUES\s+[?$]" + name + r"\s*\{\s*UNDEF\s*\}", re.IGNORECASE)
        filled = f"VALUES ?{name} {{ {term} }}".replace("\\", "\\\\")  # a template for re.subn
        text, count = placeholder.subn(filled, text)
        if not count:
            rest[name] = term
    if not rest:
        return text
    block = f"VALUES ({' '.join('?' + n for n in rest)}) {{ ({' '.join(rest.values())}) }}"
    offset = 0
    for line in text.splitlines(keepends=True):
        if not line.lstrip().startswith("#"):
            found = _WHERE.search(line)
            if found:
                at = offset + found.end()
                return f"{text[:at]}\n  {block}\n{text[at:]}"
        offset += len(line)
    return f"{text.rstrip()}\n{block}\n"


_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


# ---------------------------------------------------------------- rendering


_SHORT_NAMES: Final = (
    ("https://w3id.org/dorsum/ontology#", "dx:"),
    (CASE_BASE, "case:"),
    (KNOWLEDGE_BASE, "knowledge:"),
)


def render_sparql(answer: SparqlResult, fmt: str = "table") -> str:
    """Render a query answer with :mod:`reasoner.render.tables`: an aligned table, W3C SPARQL
    CSV / TSV / JSON results, or for a CONSTRUCT, Turtle (table), N-Triples (tsv), or
    subject/predicate/object rows (csv, json)."""
    if fmt not in SPARQL_FORMATS:
        raise UsageError(f"unknown format '{fmt}' (use one of {', '.join(SPARQL_FORMATS)})")
    if isinstance(answer, AskResult):
        return render_boolean(answer.value, fmt)
    if isinstance(answer, GraphResult):
        if fmt == "table":
            return answer.to_turtle()
        if fmt == "tsv":
            return answer.to_ntriples()
        return render_select(("subject", "predicate", "object"), answer.triples, fmt, _SHORT_NAMES)
    return render_select(answer.variables, answer.rows, fmt, _SHORT_NAMES)


__all__ = [
    "PREFIXES",
    "SPARQL_FORMATS",
    "AskResult",
    "GraphResult",
    "SelectResult",
    "SparqlResult",
    "Term",
    "answer_size",
    "from_json_results",
    "from_ox_answer",
    "from_ox_term",
    "from_ox_triples",
    "render_sparql",
    "resolve_sparql",
    "with_values",
]
