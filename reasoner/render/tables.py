"""Tables and SPARQL answers as text: the one table, CSV, TSV and JSON writer of dorsum.

A SELECT answer (variables and rows of RDF terms, ``None`` for unbound) is written as

- JSON in the W3C SPARQL 1.1 Query Results JSON format (https://www.w3.org/TR/sparql11-results-json/),
  built here (:func:`results_document`): it is the answer's one model;
- CSV and TSV in the W3C SPARQL 1.1 Query Results CSV and TSV formats
  (https://www.w3.org/TR/sparql11-results-csv-tsv/), written by pyoxigraph's own serialisers from
  that document (CSV: CRLF line ends, IRIs bare, blank nodes ``_:id``, literals as their text; TSV:
  ``?var`` header, terms in Turtle syntax);
- an aligned text table for people, with long IRIs shortened and long cells cut.

An ASK answer is ``true`` / ``false``, or ``{"head": {}, "boolean": ...}`` in JSON. A table that is
not a SPARQL answer (``dorsum store list``) is written by :func:`text_table` and :func:`csv_table`.

Terms may be rdflib terms, pyoxigraph terms, or any object with ``kind`` (uri, bnode, literal,
triple), ``value``, ``datatype`` and ``language`` (:class:`reasoner.store.sparql.Term`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, cast

from rdflib.term import BNode, Literal, URIRef

from reasoner.errors import UsageError, one_line
from reasoner.knowledge import DX
from reasoner.pipeline.query import QueryResult

TABLE_CELL: Final = 100  # longer cells are cut in the text table (csv, tsv and json are complete)
XSD_STRING: Final = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
DX_SHORT_NAME: Final = ((str(DX), "dx:"),)
TABLE_FORMATS: Final = ("text", "table")  # two names of the aligned table ('text' in dorsum query)
ANSWER_FORMATS: Final = (*TABLE_FORMATS, "csv", "tsv", "json")

Binding = dict[str, str]  # one W3C JSON term object: type, value, and datatype or xml:lang


# ---------------------------------------------------------------- terms


def w3c_term(term: object) -> Binding | None:
    """``term`` as a W3C SPARQL JSON term object (``None`` when unbound).

    A simple literal (xsd:string) has no datatype and a language-tagged literal has ``xml:lang``
    only, as pyoxigraph writes them. An RDF-star triple term, outside SPARQL 1.1, is written as
    a literal holding its N-Triples text.
    """
    if term is None:
        return None
    kind, value, datatype, language = _term_parts(term)
    if kind in ("uri", "bnode"):
        return {"type": kind, "value": value}
    entry = {"type": "literal", "value": value}
    if language:
        entry["xml:lang"] = language
    elif datatype and datatype not in (XSD_STRING, RDF_LANG_STRING):
        entry["datatype"] = datatype
    return entry


def _term_parts(term: object) -> tuple[str, str, str, str]:
    """(kind, value, datatype, language) of a store Term, an rdflib term or a pyoxigraph term."""
    kind = getattr(term, "kind", None)
    if isinstance(kind, str):  # reasoner.store.sparql.Term (checked first: the most numerous)
        value = str(getattr(term, "value", ""))
        if kind in ("uri", "bnode", "literal"):
            return kind, value, str(getattr(term, "datatype", "")), str(getattr(term, "language", ""))
        return "literal", value, "", ""  # an RDF-star triple term, as its text
    if isinstance(term, URIRef):
        return "uri", str(term), "", ""
    if isinstance(term, Literal):
        return "literal", str(term), str(term.datatype or ""), term.language or ""
    if isinstance(term, BNode):
        return "bnode", str(term), "", ""
    return _ox_term_parts(term)


def _ox_term_parts(term: object) -> tuple[str, str, str, str]:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return "uri", term.value, "", ""
    if isinstance(term, ox.BlankNode):
        return "bnode", term.value, "", ""
    if isinstance(term, ox.Literal):
        return "literal", term.value, term.datatype.value, term.language or ""
    return "literal", str(term), "", ""


# ---------------------------------------------------------------- W3C results formats


def results_document(variables: Sequence[str], rows: Iterable[Sequence[object | None]]) -> dict[str, Any]:
    """A SELECT answer as a W3C SPARQL 1.1 Query Results JSON document (unbound cells omitted)."""
    bindings = []
    for row in rows:
        binding: dict[str, Binding] = {}
        for name, term in zip(variables, row, strict=True):
            entry = w3c_term(term)
            if entry is not None:
                binding[name] = entry
        bindings.append(binding)
    return {"head": {"vars": list(variables)}, "results": {"bindings": bindings}}


def boolean_document(value: bool) -> dict[str, Any]:
    """An ASK answer as a W3C SPARQL 1.1 Query Results JSON document."""
    return {"head": {}, "boolean": value}


def _serialised(document: Mapping[str, Any], fmt: str) -> str:
    """The W3C JSON ``document`` of a SELECT rewritten as CSV or TSV by pyoxigraph's serialisers."""
    import pyoxigraph as ox

    target = ox.QueryResultsFormat.CSV if fmt == "csv" else ox.QueryResultsFormat.TSV
    try:
        parsed = ox.parse_query_results(json.dumps(document), ox.QueryResultsFormat.JSON)
        data = cast("ox.QuerySolutions", parsed).serialize(format=target)
    except (SyntaxError, ValueError) as error:  # a term pyoxigraph does not accept (a blank node label)
        raise UsageError(f"the answer cannot be written as {fmt}: {one_line(error)}") from error
    return data.decode("utf-8") if data else ""


def select_json(variables: Sequence[str], rows: Iterable[Sequence[object | None]]) -> str:
    """W3C SPARQL 1.1 Query Results JSON (indented, with a final newline)."""
    return json.dumps(results_document(variables, rows), indent=2) + "\n"


def select_csv(variables: Sequence[str], rows: Iterable[Sequence[object | None]]) -> str:
    """W3C SPARQL 1.1 Query Results CSV: CRLF line ends, IRIs bare, literals as their text."""
    return _serialised(results_document(variables, rows), "csv")


def select_tsv(variables: Sequence[str], rows: Iterable[Sequence[object | None]]) -> str:
    """W3C SPARQL 1.1 Query Results TSV: a ``?var`` header, terms in Turtle / SPARQL syntax."""
    return _serialised(results_document(variables, rows), "tsv")


# ---------------------------------------------------------------- text tables


def text_table(columns: Sequence[str], rows: Sequence[Sequence[str]], unit: str = "rows") -> str:
    """An aligned table of text cells under a header and a rule, with a count ``(N unit)``."""
    if not columns:
        return "(no columns)"
    widths = [len(column) for column in columns]
    for cells in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, cells, strict=True)]
    header = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() for cells in rows]
    return "\n".join([header, rule, *body, f"({len(rows)} {unit})"])


def csv_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of text cells as CSV (RFC 4180: CRLF line ends, the same dialect as the W3C CSV)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def cell_text(term: object | None, short_names: Sequence[tuple[str, str]] = DX_SHORT_NAME) -> str:
    """A term as a table cell: an IRI shortened by ``short_names`` (namespace, prefix), a blank
    node as ``_:id``, a literal as its text; whitespace runs as one space, cut at TABLE_CELL."""
    if term is None:
        return ""
    kind, text, _datatype, _language = _term_parts(term)
    if kind == "uri":
        for long, short in short_names:
            if text.startswith(long):
                text = short + text[len(long) :]
                break
    elif kind == "bnode":
        text = f"_:{text}"
    text = " ".join(text.split())
    return text if len(text) <= TABLE_CELL else text[: TABLE_CELL - 3] + "..."


def select_table(
    variables: Sequence[str],
    rows: Iterable[Sequence[object | None]],
    short_names: Sequence[tuple[str, str]] = DX_SHORT_NAME,
) -> str:
    """A SELECT answer as an aligned text table (with a final newline)."""
    cells = [[cell_text(term, short_names) for term in row] for row in rows]
    return text_table(variables, cells) + "\n"


# ---------------------------------------------------------------- one entry point


def render_select(
    variables: Sequence[str],
    rows: Iterable[Sequence[object | None]],
    fmt: str,
    short_names: Sequence[tuple[str, str]] = DX_SHORT_NAME,
) -> str:
    """A SELECT answer in ``fmt``: text / table, csv, tsv or json (the W3C formats but the table)."""
    if fmt == "json":
        return select_json(variables, rows)
    if fmt == "csv":
        return select_csv(variables, rows)
    if fmt == "tsv":
        return select_tsv(variables, rows)
    if fmt in TABLE_FORMATS:
        return select_table(variables, rows, short_names)
    raise UsageError(f"unknown format '{fmt}' (use one of {', '.join(ANSWER_FORMATS)})")


def render_boolean(value: bool, fmt: str) -> str:
    """An ASK answer: W3C JSON for json, else ``true`` or ``false`` on one line."""
    if fmt == "json":
        return json.dumps(boolean_document(value), indent=2) + "\n"
    if fmt not in ANSWER_FORMATS:
        raise UsageError(f"unknown format '{fmt}' (use one of {', '.join(ANSWER_FORMATS)})")
    return ("true" if value else "false") + "\n"


def render_query(result: QueryResult, fmt: str) -> str:
    """The answer of :func:`reasoner.pipeline.query.run_query` in ``fmt`` (text, csv, tsv, json):
    an ASK's boolean, or the rows of a SELECT (a CONSTRUCT's as subject, predicate, object)."""
    if result.boolean is not None:
        return render_boolean(result.boolean, fmt)
    return render_select(result.variables, result.rows, fmt)


__all__ = [
    "ANSWER_FORMATS",
    "TABLE_CELL",
    "boolean_document",
    "cell_text",
    "csv_table",
    "render_boolean",
    "render_query",
    "render_select",
    "results_document",
    "select_csv",
    "select_json",
    "select_table",
    "select_tsv",
    "text_table",
    "w3c_term",
]
