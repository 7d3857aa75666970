"""The compiled SPARQL evaluator (reasoner.engines.sparql_compiled) against general engines.

- SPARQL features, one query each, against rdflib over the union of a small knowledge graph and a
  case (rows compared as multisets, or in order where the query orders them);
- every report query of the knowledge against Oxigraph, and every derive rule against rdflib, on
  every scenario and 300 generated cases (their closures and worst-case completions);
- expressions compiled to closures (reasoner.engines.sparql_functions) against the tree-walking
  interpreter they replaced (tests/reference_expressions.py);
- queries outside the evaluated subset are refused when compiled, and a QuerySet runs them with
  its fallback engine.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import rdflib.plugins.sparql
from rdflib import Graph
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.plugins.sparql import prepareQuery

from reasoner import CaseError, case_from_form, load_knowledge
from reasoner.authoring.vignettes import load_vignette, vignette_case
from reasoner.batch.generate import generate_forms
from reasoner.engines.sparql_compiled import Dataset, QuerySet, TripleIndex, UnsupportedQuery, compile_query
from reasoner.engines.sparql_prepare import structure
from reasoner.engines.sparql_store import from_oxigraph, quads
from reasoner.pipeline.engine import engine_for
from reasoner.pipeline.infer import close_case
from reasoner.pipeline.triage import worst_case_graph
from reasoner.pipeline.validate import validate_graph
from tests.conftest import PROOF_SLICE, proof_sample, whole_proof

CASES = Path(__file__).parent / "cases"

KNOWLEDGE = """
@prefix : <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
:Red rdfs:subClassOf :Flag . :Amber rdfs:subClassOf :Flag . :Flag rdfs:subClassOf :Thing .
:a1 :appliesTo :Red ; :action :mri ; :rank 3 ; :label "scan" .
:a2 :appliesTo :Amber ; :action :us ; :rank 1 .
:a3 :appliesTo :Red ; :action :us ; :rank 2 ; :exceptIn :Child .
:a4 :appliesTo :Other ; :action :xray .
:a5 :appliesTo :Amber ; :action :mri ; :exceptIn :Red .
:mri :variantOf :imaging . :us :variantOf :imaging . :imaging :variantOf :test .
:list :first :x ; :rest ( :y :z ) .
"""

CASE = """
@prefix : <http://example.org/> .
:case a :Case, :Red, :Amber ; :age 43 ; :size 2.5 ; :hasLump :lump .
:lump :depth "deep" ; :size 3.0 .
"""

PREFIX = "PREFIX : <http://example.org/>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"

FEATURES = {
    "bgp": "SELECT ?a ?v WHERE { ?case a :Case ; a ?v . ?a :appliesTo ?v }",
    "optional": "SELECT ?a ?r ?l WHERE { ?a :appliesTo ?v OPTIONAL { ?a :rank ?r } OPTIONAL { ?a :label ?l } }",
    "optional filter": "SELECT ?a ?r WHERE { ?a :appliesTo ?v OPTIONAL { ?a :rank ?r FILTER (?r > 1) } }",
    "union": "SELECT ?x WHERE { { :case :age ?x } UNION { :lump :size ?x } UNION { :case :size ?x } }",
    "not exists": "SELECT ?a WHERE { :case a ?v . ?a :appliesTo ?v FILTER NOT EXISTS { ?a :exceptIn ?e . :case a ?e } }",
    "exists with case": "SELECT ?a WHERE { ?a :appliesTo ?v FILTER EXISTS { :case a ?v } }",
    # a FILTER inside an EXISTS (rdflib's translation takes it out of the parse it keeps)
    "filter in exists": "SELECT ?a WHERE { ?a :appliesTo ?v FILTER EXISTS { ?a :rank ?r FILTER (?r > 1) } }",
    "not exists in not exists": "SELECT ?a WHERE { ?case a :Case ; a ?v . ?a :appliesTo ?v "
    "FILTER NOT EXISTS { ?a :exceptIn ?e FILTER NOT EXISTS { ?case a ?e } } }",
    "path plus": "SELECT ?x ?y WHERE { ?x :variantOf+ ?y }",
    "path star bound": "SELECT ?y WHERE { :mri :variantOf* ?y }",
    "path star unbound": "SELECT ?x ?y WHERE { ?x :variantOf* ?y }",
    "path sequence": "SELECT ?m WHERE { :list :rest*/:first ?m }",
    "path inverse": "SELECT ?x WHERE { :imaging ^:variantOf ?x }",
    "path alternative": "SELECT ?x WHERE { :a1 (:action|:appliesTo) ?x }",
    "variable predicate": "SELECT ?p ?o WHERE { :case ?p ?o }",
    "arithmetic": "SELECT ?x WHERE { :case :age ?a BIND (?a / 12 + 1 AS ?x) }",
    "comparison": "SELECT ?s WHERE { ?s :size ?z FILTER (?z >= 2.5 && ?z < 3) }",
    "in": "SELECT ?a WHERE { ?a :action ?x FILTER (?x IN (:mri, :xray)) }",
    "not in": "SELECT ?a WHERE { ?a :action ?x FILTER (?x NOT IN (:mri, :xray)) }",
    "error in filter": "SELECT ?a WHERE { ?a :appliesTo ?v OPTIONAL { ?a :rank ?r } FILTER (!(?r > 1)) }",
    "or with error": "SELECT ?a WHERE { ?a :appliesTo ?v OPTIONAL { ?a :rank ?r } FILTER (?r > 2 || ?v = :Amber) }",
    "if bound": 'SELECT ?a ?k WHERE { ?a :appliesTo ?v OPTIONAL { ?a :rank ?r } BIND (IF(BOUND(?r), "ranked", "not") AS ?k) }',
    "concat str": 'SELECT ?k WHERE { ?a :action ?x BIND (CONCAT(STR(?a), " ", STR(?x)) AS ?k) }',
    "is functions": "SELECT ?o ?i ?l WHERE { :case ?p ?o BIND (isIRI(?o) AS ?i) BIND (isLiteral(?o) AS ?l) }",
    "count group": "SELECT ?x (COUNT(DISTINCT ?a) AS ?n) WHERE { ?a :action ?x } GROUP BY ?x",
    "count no group": "SELECT (COUNT(*) AS ?n) WHERE { ?a :nothing ?x }",
    "sum having": "SELECT ?v (SUM(?r) AS ?s) WHERE { ?a :appliesTo ?v ; :rank ?r } GROUP BY ?v HAVING (SUM(?r) > 2)",
    "subquery": "SELECT ?a ?y WHERE { { SELECT DISTINCT ?a WHERE { ?a :appliesTo :Red } } ?a :action/:variantOf* ?y }",
    "order limit": "SELECT ?a ?r WHERE { ?a :rank ?r } ORDER BY DESC(?r) ?a LIMIT 2",
    "order offset": "SELECT ?a WHERE { ?a :appliesTo ?v } ORDER BY ?a OFFSET 1",
    "distinct": "SELECT DISTINCT ?v WHERE { ?a :appliesTo ?v }",
    "filter not equal": "SELECT ?a ?b WHERE { ?a :action ?x . ?b :action ?x FILTER (?a != ?b) }",
}


RDFLIB_ARITHMETIC = {"arithmetic"}


def _graphs() -> tuple[Graph, Graph]:
    return Graph().parse(data=KNOWLEDGE, format="turtle"), Graph().parse(data=CASE, format="turtle")


def _rdflib_rows(query: str, knowledge: Graph, case: Graph) -> list[tuple[Any, ...]]:
    view = ReadOnlyGraphAggregate([knowledge, case])
    return [tuple(row) for row in view.query(query)]  # type: ignore[arg-type]


def _oxigraph_rows(query: str, knowledge: Graph, case: Graph) -> list[tuple[Any, ...]]:
    store = ox.Store()
    store.extend(quads(set(knowledge) | set(case), ox.DefaultGraph()))
    solutions = store.query(query)
    return [tuple(from_oxigraph(row[i]) for i in range(len(solutions.variables))) for row in solutions]


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_feature_matches_oxigraph_and_rdflib(name: str) -> None:
    """Rows as Oxigraph gives them (rdflib repeats some path answers: the same rows as a set)."""
    knowledge, case = _graphs()
    text = PREFIX + FEATURES[name]
    index = TripleIndex(knowledge)
    rows = compile_query(text).select(Dataset(index, TripleIndex(case, index)))
    expected = _oxigraph_rows(text, knowledge, case)
    if name in RDFLIB_ARITHMETIC:  # Oxigraph keeps 18 decimal digits; rdflib, like us, 28
        expected = _rdflib_rows(text, knowledge, case)
    if "ORDER BY" in text:
        assert rows == expected
    else:
        assert Counter(_lexical(rows)) == Counter(_lexical(expected))
    assert set(_lexical(rows)) == set(_lexical(_rdflib_rows(text, knowledge, case)))
    assert rows


def _lexical(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows with numbers by value (Oxigraph writes 3.0 as 3)."""
    return [tuple(term.toPython() if hasattr(term, "toPython") else term for term in row) for row in rows]


def test_construct_matches_rdflib() -> None:
    knowledge, case = _graphs()
    text = PREFIX + "CONSTRUCT { ?case :flagged ?v } WHERE { ?case a ?v . ?v rdfs:subClassOf+ :Thing }"
    index = TripleIndex(knowledge)
    built = compile_query(text).construct(Dataset(index, TripleIndex(case, index)))
    view = ReadOnlyGraphAggregate([knowledge, case])
    assert built == {tuple(triple) for triple in view.query(text)}  # type: ignore[arg-type]
    assert len(built) == 2


def test_memoised_knowledge_parts_do_not_leak_between_cases() -> None:
    """The same query over two cases: the knowledge-only parts are memoised, the answers differ."""
    knowledge, case = _graphs()
    other = Graph().parse(data="@prefix : <http://example.org/> . :case2 a :Case, :Amber .", format="turtle")
    query = compile_query(PREFIX + FEATURES["not exists"])
    index = TripleIndex(knowledge)
    first = query.select(Dataset(index, TripleIndex(case, index)))
    second = query.select(Dataset(index, TripleIndex(other, index)))
    again = query.select(Dataset(index, TripleIndex(case, index)))
    assert Counter(second) == Counter(_rdflib_rows(PREFIX + FEATURES["not exists"], knowledge, other))
    assert first == again and first != second


#: Queries whose case part is matched row by row from a memoised knowledge table
#: (``_Evaluator._seed_table``) once the knowledge holds more rdf:type triples than the table has
#: rows: table rows that leave an OPTIONAL variable unbound (the case part then binds it), a case
#: part that reads the case alone (``only_case``), a zero-length path, a FILTER and BIND in the table.
SEEDED = {
    "optional unbound in the table": "SELECT ?a ?v ?e ?case WHERE { ?a :appliesTo ?v OPTIONAL { ?a :exceptIn ?e } "
    "?case a ?v , ?e }",
    "optional shared with the case": "SELECT ?a ?r ?case WHERE { ?a :appliesTo ?v OPTIONAL { ?a :rank ?r } "
    "?case a ?v ; :age ?r }",
    "only the case": "SELECT ?s ?p ?a WHERE { { ?s ?p ?v } { ?a :appliesTo ?v } }",
    "path in the case part": "SELECT ?a ?case WHERE { ?a :appliesTo ?v . ?case a ?w . ?w rdfs:subClassOf* ?v }",
    "filter in the table": "SELECT ?a ?r ?case WHERE { ?a :rank ?r FILTER (?r > 1) ?a :appliesTo ?v . ?case a ?v }",
    "bind in the table": "SELECT ?a ?w ?case WHERE { ?a :appliesTo ?v BIND (:Red AS ?w) ?case a ?w , ?v }",
}


@pytest.mark.parametrize("name", sorted(SEEDED))
def test_a_case_part_seeded_from_a_knowledge_table_matches_oxigraph(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seeded match is a join: rows of the table that bind a variable restrict the case part,
    rows that leave it unbound (OPTIONAL) let the case part bind it."""
    from reasoner.engines import sparql_compiled

    knowledge, case = _graphs()
    things = "".join(f":t{i} a :Thing ; :age {i} ; :rank {i % 4} .\n" for i in range(60))  # many rdf:type rows
    knowledge.parse(data=f"@prefix : <http://example.org/> .\n:a5 :appliesTo :Red .\n{things}", format="turtle")
    seeded = []
    original = sparql_compiled._Evaluator._seed_table

    def spy(self: Any, first: Any, pending: Any, seed: Any) -> Any:
        table = original(self, first, pending, seed)
        seeded.append(table is not None)
        return table

    monkeypatch.setattr(sparql_compiled._Evaluator, "_seed_table", spy)
    text = PREFIX + SEEDED[name]
    index = TripleIndex(knowledge)
    rows = compile_query(text).select(Dataset(index, TripleIndex(case, index)))
    assert any(seeded)
    assert rows and Counter(_lexical(rows)) == Counter(_lexical(_oxigraph_rows(text, knowledge, case)))
    assert set(_lexical(rows)) == set(_lexical(_rdflib_rows(text, knowledge, case)))


EXISTS_IN_BIND = "SELECT ?a ?e WHERE { ?a :appliesTo ?v BIND (EXISTS { ?a :exceptIn ?x . :case a ?x } AS ?e) }"


@pytest.mark.parametrize("text", [EXISTS_IN_BIND, FEATURES["not exists"], FEATURES["subquery"]])
def test_a_parsed_query_compiles_as_its_text_and_is_left_as_rdflib_parsed_it(text: str) -> None:
    """compile_query given rdflib's parse (as the knowledge keeps it) answers as from the text and
    does not change the parse, even where it translates an EXISTS that rdflib leaves untranslated."""
    knowledge, case = _graphs()
    index = TripleIndex(knowledge)
    parsed = prepareQuery(PREFIX + text)
    before = repr(parsed.algebra)
    rows = compile_query(parsed).select(Dataset(index, TripleIndex(case, index)))
    assert repr(parsed.algebra) == before
    assert rows == compile_query(PREFIX + text).select(Dataset(index, TripleIndex(case, index)))
    assert Counter(rows) == Counter(_oxigraph_rows(PREFIX + text, knowledge, case)) and rows


def test_the_knowledge_queries_compile_from_their_parse_as_from_their_text() -> None:
    knowledge = load_knowledge()
    names = [name for name in knowledge.queries if name.split("-")[0] in ("derive", "report", "knowledge")]
    untranslated = 0
    for name in names:
        parsed = knowledge.queries[name]
        before = repr(parsed.algebra)
        untranslated += "GroupGraphPatternSub" in before
        try:
            compiled = compile_query(parsed)
        except UnsupportedQuery as exc:
            with pytest.raises(UnsupportedQuery, match=re.escape(str(exc))):
                compile_query(knowledge.queries.text(name))
            continue
        again = compile_query(knowledge.queries.text(name))
        assert structure(compiled.pattern) == structure(again.pattern), name
        assert (compiled.kind, compiled.variables, compiled.template) == (again.kind, again.variables, again.template)
        assert repr(parsed.algebra) == before, name
    assert len(names) > 20 and untranslated > 3  # EXISTS outside FILTER: translated on a copy


def test_a_query_set_given_the_parsed_queries_parses_none(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = {name: PREFIX + FEATURES[name] for name in ("bgp", "not exists")}
    parsed = {name: prepareQuery(text) for name, text in texts.items()}

    def refuse(_text: str) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(rdflib.plugins.sparql, "prepareQuery", refuse)  # what compile_query imports to parse
    knowledge, case = _graphs()
    queries = QuerySet.prepare(knowledge, texts, None, parsed)
    assert set(queries.compiled) == set(texts)
    assert queries.run(["bgp"], set(case))["bgp"]


def test_knowledge_queries_match_rdflib_over_the_knowledge_alone() -> None:
    """The ``knowledge-*`` queries run once per knowledge with no case (Engine.knowledge_rows):
    their EXISTS answers are memoised for that run only."""
    knowledge = load_knowledge()
    index = TripleIndex(knowledge.ontology)
    compared = 0
    slow = ("knowledge-conflicts-do-avoid", "knowledge-conflicts-topic")  # seconds each on rdflib
    for name in sorted(knowledge.queries):
        if not name.startswith("knowledge-") or name in slow:
            continue
        try:
            query = compile_query(knowledge.queries[name])
        except UnsupportedQuery:
            continue
        query.intern(index.canon)
        rows = query.select(Dataset(index, None))
        expected = [tuple(row) for row in knowledge.ontology.query(knowledge.queries[name])]  # type: ignore[arg-type]
        if "ORDER BY" in knowledge.queries.text(name):
            assert rows == expected, name
        else:
            assert Counter(rows) == Counter(expected), name
        compared += "EXISTS" in knowledge.queries.text(name) and bool(rows)
    assert compared >= 2


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
        "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }",
        "SELECT ?s WHERE { ?s !:p ?o }",
        "SELECT ?s WHERE { ?s :p ?o FILTER (REGEX(STR(?o), 'x')) }",
        "ASK { ?s ?p ?o }",
        "SELECT (GROUP_CONCAT(?o) AS ?g) WHERE { ?s :p ?o }",
    ],
)
def test_unsupported_queries_are_refused_and_fall_back(text: str) -> None:
    with pytest.raises(UnsupportedQuery):
        compile_query(PREFIX + text)
    calls: list[list[str]] = []

    def fallback(names: list[str], case: Any) -> dict[str, list[Any]]:
        calls.append(names)
        return {name: [] for name in names}

    queries = QuerySet.prepare((), {"q": PREFIX + text}, fallback)
    assert queries.run(["q"], set()) == {"q": []}
    assert calls == [["q"]] and "q" in queries.reasons


@pytest.fixture(scope="module")
def closures(request: pytest.FixtureRequest) -> list[set[Any]]:
    """The closures of every scenario and 300 generated cases, and their worst-case completions; of
    every PROOF_SLICE-th of those cases without ``--proof`` (tests/conftest.py)."""
    knowledge = load_knowledge()
    cases = []
    for path in sorted(CASES.glob("*.yaml")):
        try:
            cases.append(vignette_case(load_vignette(path), knowledge))
        except CaseError:
            continue
    for form in generate_forms(300, 20261130):
        try:
            cases.append(case_from_form(form, knowledge, name=form["id"]))
        except CaseError:
            continue
    whole = whole_proof(request.config)
    graphs = []
    for case in proof_sample(request.config, cases):
        report = validate_graph(case.graph, knowledge, case.source)
        if report.problems:
            continue
        graphs.append(case.graph)
        if report.missing:
            graphs.append(worst_case_graph(case.graph, report, knowledge))
    assert len(graphs) > (450 if whole else 450 // PROOF_SLICE)
    return [close_case(graph, knowledge) for graph in graphs]


@pytest.mark.proof
def test_report_queries_match_oxigraph(closures: list[set[Any]]) -> None:
    engine = engine_for(load_knowledge())
    compiled = engine.report_queries
    assert not compiled.reasons, compiled.reasons  # every report query of the knowledge is compiled
    names = sorted(compiled.texts)
    nonempty: Counter[str] = Counter()
    for closure in closures:
        ours = compiled.run(names, closure)
        theirs = engine.report_store.run(names, closure)
        for name in names:  # numbers by value: Oxigraph writes a recorded 3.0 as 3
            assert Counter(_lexical(ours[name])) == Counter(_lexical(theirs[name])), name
            if "ORDER BY" in compiled.texts[name]:
                assert _lexical(ours[name]) == _lexical(theirs[name]), name
            nonempty[name] += bool(ours[name])
    assert all(nonempty[name] for name in names if name != "report-conflicts-threshold")


@pytest.mark.proof
def test_derive_rules_match_rdflib(closures: list[set[Any]], request: pytest.FixtureRequest) -> None:
    knowledge = load_knowledge()
    engine = engine_for(knowledge)
    assert all(rule.compiled is not None for rule in engine.derive_rules)
    fired: Counter[str] = Counter()
    for closure in closures:
        data = engine.derive_data(closure)
        for rule in engine.derive_rules:
            built = rule.derive(data, closure, knowledge.schema)
            assert built == rule.run(closure, knowledge.schema), rule.name
            fired[rule.name] += bool(built)
    # Not vacuous: every rule builds triples for some case of the whole sample (the slice without
    # --proof holds no gestation, for one, so there most of them).
    whole = whole_proof(request.config)
    assert sum(bool(fired[rule.name]) for rule in engine.derive_rules) >= (
        len(engine.derive_rules) if whole else len(engine.derive_rules) // 2
    ), fired


# Every operator and function the evaluator supports, over values of every kind (IRIs, blank nodes,
# numbers of several datatypes, strings with and without a language, booleans, unbound).
EXPRESSIONS = [
    "?a = ?b",
    "?a != ?b",
    "?a < ?b",
    "?a > ?b",
    "?a <= ?b",
    "?a >= ?b",
    "?a IN (?b, 3, 'x')",
    "?a NOT IN (?b, :p)",
    "?a && ?b",
    "?a || ?b",
    "!?a",
    "?a + ?b",
    "?a - ?b * 2",
    "?a / ?b",
    "?a * ?b + 1",
    "BOUND(?a)",
    "IF(?a, ?b, 'no')",
    "CONCAT(STR(?a), '-', STR(?b))",
    "isIRI(?a)",
    "isURI(?b)",
    "isBLANK(?a)",
    "isLITERAL(?a)",
    "isNUMERIC(?b)",
    "STR(?a)",
    "EXISTS { ?a :q ?b }",
    "NOT EXISTS { ?a :q ?b } && isIRI(?a)",
    "(?a > 1) || (STR(?b) = 'x')",
]
VALUES = [
    None,
    "<http://example.org/p>",
    "_:blank",
    "1",
    "2.5",
    '"2"^^<http://www.w3.org/2001/XMLSchema#integer>',
    '"1.5e0"^^<http://www.w3.org/2001/XMLSchema#double>',
    "0",
    '"x"',
    '""',
    '"x"@en',
    "true",
    "false",
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_compiled_expressions_agree_with_the_interpreter(text: str) -> None:
    from rdflib.util import from_n3

    from reasoner.engines.sparql_expressions import ExprError, Var, to_ops
    from reasoner.engines.sparql_functions import expression_value

    from .reference_expressions import evaluate

    parsed = prepareQuery(f"{PREFIX}SELECT * WHERE {{ ?s ?p ?o FILTER ({text}) }}").algebra
    expr = to_ops(parsed).p.p.expr
    a, b = Var("a"), Var("b")
    asked: list[Any] = []

    def exists(pattern: Any, solution: Any, negated: bool) -> bool:  # a stand-in: true when ?a is bound
        asked.append(pattern)
        return (a in solution) != negated

    def outcome(function: Any, solution: dict[Any, Any]) -> tuple[str, Any]:
        try:
            return ("value", function(expr, solution, exists))
        except ExprError:
            return ("error", None)

    checked = 0
    for left in VALUES:
        for right in VALUES:
            solution = {var: from_n3(value) for var, value in ((a, left), (b, right)) if value is not None}
            expected, got = outcome(evaluate, solution), outcome(expression_value, solution)
            assert got == expected, (text, left, right)
            assert type(got[1]) is type(expected[1])  # the exact kind of value matters
            checked += 1
    assert checked == len(VALUES) ** 2
    assert ("EXISTS" in text) == bool(asked)


def test_an_expressions_closure_is_not_part_of_its_structure_nor_pickled() -> None:
    import pickle

    from rdflib import URIRef

    from reasoner.engines.sparql_expressions import Op, Var, to_ops
    from reasoner.engines.sparql_functions import expression_value

    parsed = prepareQuery(f"{PREFIX}SELECT * WHERE {{ ?s ?p ?o FILTER (isIRI(?o) && ?o != :x) }}").algebra
    expr = to_ops(parsed).p.p.expr
    before = structure(expr)
    bound = {Var("o"): URIRef("http://example.org/y")}
    assert expression_value(expr, bound, lambda *_: False) is True  # and compiles the closure
    assert Op.FUNCTION in vars(expr)
    assert structure(expr) == before  # memoised answers keyed by structure are still found
    copy = pickle.loads(pickle.dumps(expr))
    assert Op.FUNCTION not in vars(copy)
    assert structure(copy) == before
