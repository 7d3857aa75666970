"""Conformance of reasoner.render.tables with the W3C SPARQL 1.1 Query Results formats
(JSON: https://www.w3.org/TR/sparql11-results-json/, CSV and TSV:
https://www.w3.org/TR/sparql11-results-csv-tsv/), for answers from pyoxigraph (dorsum sparql) and
from rdflib (dorsum query), and the one query-name resolver both commands use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import rdflib

from reasoner.errors import UsageError
from reasoner.knowledge import default_kb_root
from reasoner.pipeline.query import resolve_query
from reasoner.render.tables import (
    TABLE_CELL,
    csv_table,
    render_boolean,
    render_query,
    render_select,
    results_document,
    select_table,
    text_table,
)
from reasoner.store.sparql import from_ox_answer, resolve_sparql

XSD = "http://www.w3.org/2001/XMLSchema#"
DATA = r"""@prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:a ex:p _:b0 .
_:b0 ex:plain "tab	and, \"quoted\"" ; ex:date "2024-01-31"^^xsd:date ; ex:n 42 ; ex:lang "bonjour"@fr .
"""
QUERY = """PREFIX ex: <http://example.org/>
SELECT ?iri ?b ?plain ?typed ?number ?lang ?none WHERE {
  ?iri ex:p ?b . ?b ex:plain ?plain ; ex:date ?typed ; ex:n ?number ; ex:lang ?lang .
  OPTIONAL { ?b ex:missing ?none }
}"""
VARIABLES = ("iri", "b", "plain", "typed", "number", "lang", "none")
Rows = list[tuple[Any, ...]]


def _oxigraph_store() -> ox.Store:
    store = ox.Store()
    store.load(DATA.encode(), format=ox.RdfFormat.TURTLE)
    return store


def _oxigraph_answer() -> tuple[Rows, str]:
    """The answer as pyoxigraph terms, and the blank node's label."""
    solutions = _oxigraph_store().query(QUERY)
    assert isinstance(solutions, ox.QuerySolutions)
    rows = [tuple(solution[name] for name in VARIABLES) for solution in solutions]
    return rows, rows[0][1].value


def _rdflib_answer() -> tuple[Rows, str]:
    """The answer as rdflib terms (as run_query's QueryResult holds them)."""
    graph = rdflib.Graph().parse(data=DATA, format="turtle")
    rows = [tuple(solution[name] for name in VARIABLES) for solution in graph.query(QUERY)]  # type: ignore[index]
    return rows, str(rows[0][1])


def _store_answer() -> tuple[Rows, str]:
    """The answer as dorsum sparql holds it (reasoner.store.sparql.Term)."""
    solutions = _oxigraph_store().query(QUERY)
    assert isinstance(solutions, ox.QuerySolutions)
    answer = from_ox_answer(solutions)
    rows = list(answer.rows)  # type: ignore[union-attr]
    return rows, rows[0][1].value


SOURCES = {"pyoxigraph": _oxigraph_answer, "rdflib": _rdflib_answer, "store": _store_answer}


def _expected_json(bnode: str) -> dict[str, Any]:
    return {
        "head": {"vars": list(VARIABLES)},
        "results": {
            "bindings": [
                {
                    "iri": {"type": "uri", "value": "http://example.org/a"},
                    "b": {"type": "bnode", "value": bnode},
                    "plain": {"type": "literal", "value": 'tab\tand, "quoted"'},
                    "typed": {"type": "literal", "value": "2024-01-31", "datatype": f"{XSD}date"},
                    "number": {"type": "literal", "value": "42", "datatype": f"{XSD}integer"},
                    "lang": {"type": "literal", "value": "bonjour", "xml:lang": "fr"},
                }
            ]
        },
    }


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_json_is_the_w3c_results_json(source: str) -> None:
    """Unbound ?none is left out of the binding; a literal keeps its datatype or language."""
    rows, bnode = SOURCES[source]()
    out = render_select(VARIABLES, rows, "json")
    assert json.loads(out) == _expected_json(bnode)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_csv_is_the_w3c_results_csv(source: str) -> None:
    """CRLF line ends; IRIs bare, blank nodes _:label, literals as their lexical form with no
    datatype or language; a field with a comma or quote in quotes, quotes doubled; unbound empty."""
    rows, bnode = SOURCES[source]()
    out = render_select(VARIABLES, rows, "csv")
    assert out == (
        "iri,b,plain,typed,number,lang,none\r\n"
        f'http://example.org/a,_:{bnode},"tab\tand, ""quoted""",2024-01-31,42,bonjour,\r\n'
    )


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_tsv_is_the_w3c_results_tsv(source: str) -> None:
    """A ?var header; IRIs in <...>, literals in Turtle syntax (tab escaped, language and
    datatype kept, an integer abbreviated); unbound empty; LF line ends."""
    rows, bnode = SOURCES[source]()
    out = render_select(VARIABLES, rows, "tsv")
    assert out == (
        "?iri\t?b\t?plain\t?typed\t?number\t?lang\t?none\n"
        f'<http://example.org/a>\t_:{bnode}\t"tab\\tand, \\"quoted\\""\t"2024-01-31"^^<{XSD}date>\t42\t"bonjour"@fr\t\n'
    )


def test_every_format_equals_pyoxigraph_own_serialiser() -> None:
    """What pyoxigraph itself writes for the same query, byte for byte (CSV, TSV) or parsed (JSON)."""
    rows, _bnode = _oxigraph_answer()
    for fmt, target in (("csv", ox.QueryResultsFormat.CSV), ("tsv", ox.QueryResultsFormat.TSV)):
        solutions = _oxigraph_store().query(QUERY)
        assert isinstance(solutions, ox.QuerySolutions)
        own = solutions.serialize(format=target)
        assert own is not None
        # blank node labels differ between two runs of the query: compare with ours relabelled
        ours = render_select(VARIABLES, rows, fmt)
        assert _relabel(ours) == _relabel(own.decode("utf-8")), fmt
    solutions = _oxigraph_store().query(QUERY)
    assert isinstance(solutions, ox.QuerySolutions)
    own_json = json.loads(solutions.serialize(format=ox.QueryResultsFormat.JSON) or b"{}")
    ours_json = json.loads(render_select(VARIABLES, rows, "json"))
    own_json["results"]["bindings"][0]["b"]["value"] = ours_json["results"]["bindings"][0]["b"]["value"]
    assert ours_json == own_json


def _relabel(text: str) -> str:
    import re

    return re.sub(r"_:\w+", "_:b", text)


def test_json_round_trips_through_a_w3c_parser() -> None:
    """pyoxigraph's parser reads our JSON back to the very terms of the answer."""
    rows, _bnode = _oxigraph_answer()
    parsed = ox.parse_query_results(render_select(VARIABLES, rows, "json"), ox.QueryResultsFormat.JSON)
    assert isinstance(parsed, ox.QuerySolutions)
    assert [tuple(solution[name] for name in VARIABLES) for solution in parsed] == rows


def test_an_empty_answer_has_its_header_only() -> None:
    assert render_select(("a", "b"), [], "csv") == "a,b\r\n"
    assert render_select(("a", "b"), [], "tsv") == "?a\t?b\n"
    assert json.loads(render_select(("a", "b"), [], "json")) == {
        "head": {"vars": ["a", "b"]},
        "results": {"bindings": []},
    }
    assert results_document((), []) == {"head": {"vars": []}, "results": {"bindings": []}}


def test_ask_is_a_w3c_boolean() -> None:
    assert json.loads(render_boolean(True, "json")) == {"head": {}, "boolean": True}
    assert render_boolean(False, "text") == "false\n"
    with pytest.raises(UsageError, match="unknown format"):
        render_boolean(True, "xml")


def test_the_table_shortens_cuts_and_counts() -> None:
    dx = "https://w3id.org/dorsum/ontology#"
    long_text = "word " * 40
    rows = [
        (rdflib.URIRef(f"{dx}RedFlag"), rdflib.Literal(long_text), None),
        (rdflib.URIRef("http://example.org/x"), rdflib.Literal("two\n lines"), rdflib.BNode("n1")),
    ]
    lines = select_table(("what", "text", "node"), rows).splitlines()
    assert lines[0].split() == ["what", "text", "node"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].startswith("dx:RedFlag ")
    cell = lines[2].split("  ", 1)[1].strip()
    assert len(cell) == TABLE_CELL and cell.endswith("...")
    assert "two lines" in lines[3] and lines[3].endswith("_:n1")
    assert lines[-1] == "(2 rows)"
    for fmt in ("text", "table"):  # dorsum query says text, dorsum sparql table: the same table
        assert render_select(("what", "text", "node"), rows, fmt) == "\n".join(lines) + "\n"
    assert text_table((), []) == "(no columns)"
    with pytest.raises(UsageError, match="unknown format"):
        render_select(("x",), [], "xml")


def test_csv_table_is_rfc_4180() -> None:
    assert csv_table(("id", "note"), [("a", 'x, "y"'), ("b", "")]) == 'id,note\r\na,"x, ""y"""\r\nb,\r\n'


# ---------------------------------------------------------------- query names


def test_one_resolver_finds_names_in_both_folders() -> None:
    root = default_kb_root()
    assert resolve_query("report-red-flags", root) == root / "queries" / "report-red-flags.rq"
    examples = root / "queries" / "examples"
    for spelling in ("red-flags-by-case", "red-flags-by-case.rq", "examples/red-flags-by-case"):
        assert resolve_query(spelling, root) == examples / "red-flags-by-case.rq", spelling
    # dorsum sparql reads the file dorsum query would run
    for name in ("red-flag-frequency", "report-red-flags"):
        assert resolve_sparql(name, root) == resolve_query(name, root).read_text(encoding="utf-8")


def test_a_file_path_wins_and_text_stays_text(tmp_path: Path) -> None:
    query = tmp_path / "mine.sparql"
    query.write_text("ASK {}", encoding="utf-8")
    assert resolve_query(str(query), default_kb_root()) == query
    assert resolve_sparql(str(query)) == "ASK {}"
    assert resolve_sparql("ASK { ?s ?p ?o }") == "ASK { ?s ?p ?o }"
    assert resolve_sparql("SELECT *\nWHERE { ?s ?p ?o }").startswith("SELECT")


@pytest.mark.parametrize("name", ["no-such-query", "missing/dir/q.rq", "x" * 5000])
def test_an_unknown_name_lists_the_names_there_are(name: str) -> None:
    root = default_kb_root()
    for resolve in (lambda n: resolve_query(n, root), lambda n: resolve_sparql(n, root)):
        if len(name) >= 200:  # long text is SPARQL for dorsum sparql, never a name
            continue
        with pytest.raises(UsageError) as raised:
            resolve(name)
        message = str(raised.value)
        assert message.startswith(f"no query file or named query '{name}'")
        assert "queries/: " in message and "report-red-flags" in message
        assert "queries/examples/: " in message and "red-flag-frequency" in message
    with pytest.raises(UsageError, match="no query file or named query"):
        resolve_query(name, root)


def test_a_term_the_serialiser_refuses_is_a_usage_error() -> None:
    from reasoner.store.sparql import Term

    with pytest.raises(UsageError, match="cannot be written as tsv"):
        render_select(("a",), [(Term("bnode", "not a label!"),)], "tsv")


def test_render_query_writes_run_query_answers() -> None:
    from rdflib import Literal, URIRef

    from reasoner.pipeline.query import QueryResult

    ask = QueryResult((), (), boolean=False)
    assert render_query(ask, "text") == "false\n"
    assert json.loads(render_query(ask, "json")) == {"head": {}, "boolean": False}
    select = QueryResult(("s", "n"), ((URIRef("http://example.org/s"), Literal(3)), (None, Literal("x", lang="en"))))
    assert render_query(select, "csv") == "s,n\r\nhttp://example.org/s,3\r\n,x\r\n"
    assert render_query(select, "text").splitlines()[-1] == "(2 rows)"
