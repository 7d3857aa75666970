"""The direct case-form reader gives the JSON-LD route's graph, and the same errors (issue 14).

``case_from_form`` reads a checked form straight into triples through the compiled case-form
context (reasoner.pipeline.form_graph) and leaves anything outside the subset it covers to
rdflib's JSON-LD parser (``case_from_form_json_ld``, the reference). Both routes read every
example form and its FHIR twin, every scenario, the hostile forms, 1,000 generated forms and
hand-made edge cases: the graphs must be isomorphic with the same literals (lexical form,
datatype, language), the same case node and name; an error must be the same error. The triage
results are compared on the examples, the scenarios and a sample of the generated forms. The
triples as read (before their literals are normalised) are compared with what rdflib's parser
adds to the bounded store, one for one (the triple limit counts them). Forms the reader must
leave to JSON-LD are checked to fall back.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from rdflib import Graph, Literal
from rdflib.compare import isomorphic

from reasoner import CaseInput, Knowledge
from reasoner.authoring.vignettes import load_vignette
from reasoner.batch.generate import generate_forms
from reasoner.errors import DorsumError
from reasoner.fhir.read import read_fhir
from reasoner.pipeline.form_graph import CASE_TYPE, MAX_NESTING, compile_form_context, form_context
from reasoner.pipeline.form_syntax import InputLimits, parse_json, parse_yaml
from reasoner.pipeline.read import (
    _BoundedMemory,
    _literals_as_written,
    case_from_form,
    case_from_form_json_ld,
)
from reasoner.pipeline.result import TriageResult
from reasoner.pipeline.triage import triage

from .conftest import CASES, EXAMPLES, PROOF_SLICE, ROOT, proof_sample, whole_proof

GENERATED = 1000
TRIAGED_GENERATED = 60  # of the generated forms, this many are also triaged by both routes
AS_OF = datetime.date(2026, 11, 30)  # the date the FHIR twins' birth dates are written for
_BNODE = re.compile(r"\bN[0-9a-f]{32}\b")
_READERS: dict[str, Callable[..., CaseInput]] = {"direct": case_from_form, "json-ld": case_from_form_json_ld}

Outcome = CaseInput | tuple[str, str]


def _outcome(route: str, form: Any, knowledge: Knowledge, name: str, limits: InputLimits | None = None) -> Outcome:
    try:
        return _READERS[route](form, knowledge, name=name, source="form", limits=limits)
    except DorsumError as error:  # blank-node labels are random: an error naming one names "_"
        return type(error).__name__, _BNODE.sub("_", str(error))


def _literals(graph: Graph) -> list[tuple[str, str, str]]:
    return sorted((str(o), str(o.datatype), str(o.language)) for o in graph.objects() if isinstance(o, Literal))


def _assert_same(direct: Outcome, reference: Outcome) -> None:
    if not isinstance(reference, CaseInput):
        assert direct == reference
        return
    assert isinstance(direct, CaseInput), direct
    assert (direct.name, direct.source, direct.case) == (reference.name, reference.source, reference.case)
    assert len(direct.graph) == len(reference.graph)
    assert isomorphic(direct.graph, reference.graph)
    assert _literals(direct.graph) == _literals(reference.graph)


def _compare(form: Any, knowledge: Knowledge, name: str, limits: InputLimits | None = None) -> Outcome:
    direct = _outcome("direct", form, knowledge, name, limits)
    _assert_same(direct, _outcome("json-ld", form, knowledge, name, limits))
    return direct


def _triaged(route: str, form: Any, knowledge: Knowledge, name: str) -> object:
    case = _outcome(route, form, knowledge, name)
    if not isinstance(case, CaseInput):
        return case
    try:
        return triage(case, knowledge)
    except DorsumError as error:
        return type(error).__name__, _BNODE.sub("_", str(error))


def _goes_direct(form: dict[str, Any], knowledge: Knowledge, name: str = "n") -> bool:
    compiled = form_context(knowledge)
    assert compiled is not None
    return compiled.triples({**form, "id": form.get("id", name)}) is not None


# ---------------------------------------------------------------- the forms dorsum reads


def _file_forms() -> Iterator[tuple[str, Any]]:
    """(name, parsed form): the example forms, the scenarios' forms and the hostile forms that parse."""
    limits = InputLimits()
    for path in sorted(EXAMPLES.iterdir()):
        if path.suffix in (".yaml", ".json"):
            parse = parse_json if path.suffix == ".json" else parse_yaml
            yield f"examples/{path.name}", parse(path.read_text(encoding="utf-8"), path.name, limits)
    for path in sorted(CASES.glob("*.yaml")):
        vignette = load_vignette(path)
        if vignette.case is not None:
            yield f"cases/{path.name}", vignette.case
        elif vignette.case_format in ("yaml", "json") and isinstance(vignette.case_text, str):
            parse = parse_json if vignette.case_format == "json" else parse_yaml
            try:
                yield f"cases/{path.name}", parse(vignette.case_text, path.name, limits)
            except DorsumError:
                continue  # a syntax error: neither route reads it
    for path in sorted((ROOT / "tests" / "hostile").iterdir()):
        if path.suffix in (".yaml", ".json") and path.name != "manifest.yaml":
            try:
                text = path.read_text(encoding="utf-8")
                parse = parse_json if path.suffix == ".json" else parse_yaml
                yield f"hostile/{path.name}", parse(text, path.name, limits)
            except (DorsumError, UnicodeDecodeError):
                continue


FILE_FORMS = list(_file_forms())


@pytest.mark.parametrize(("name", "form"), FILE_FORMS, ids=[name for name, _ in FILE_FORMS])
def test_every_example_scenario_and_hostile_form_reads_the_same(knowledge: Knowledge, name: str, form: Any) -> None:
    direct = _compare(form, knowledge, Path(name).stem)
    if name.startswith("examples/"):
        assert isinstance(direct, CaseInput), direct
    if isinstance(direct, CaseInput) and not name.startswith("hostile/"):  # a hostile one may fall back
        assert _goes_direct(form, knowledge)


@pytest.mark.proof
def test_the_examples_and_scenarios_triage_the_same(knowledge: Knowledge, request: pytest.FixtureRequest) -> None:
    """Whole results, both read routes: every example, and every scenario with ``--proof`` (every
    PROOF_SLICE-th without it; the test above compares the graphs read for every one)."""
    whole = whole_proof(request.config)
    picked = {name for name, _ in proof_sample(request.config, FILE_FORMS)}
    triaged = 0
    for name, form in FILE_FORMS:
        if not name.startswith("hostile/") and (name in picked or name.startswith("examples/")):
            direct, reference = (_triaged(route, form, knowledge, Path(name).stem) for route in _READERS)
            assert direct == reference, name
            triaged += isinstance(direct, TriageResult)
    assert triaged > (100 if whole else 100 // PROOF_SLICE)


def test_the_fhir_twins_read_the_same(knowledge: Knowledge) -> None:
    examples = [path for path in sorted(EXAMPLES.iterdir()) if path.suffix in (".yaml", ".json")]
    twins = [EXAMPLES / "fhir" / f"{path.stem}.json" for path in examples]
    assert len(twins) >= 5
    for path in twins:
        form = read_fhir(path, knowledge, AS_OF).form
        assert isinstance(_compare(form, knowledge, path.stem), CaseInput)
        assert _goes_direct(form, knowledge)


@pytest.fixture(scope="module")
def generated(knowledge: Knowledge) -> list[dict[str, Any]]:
    return list(generate_forms(GENERATED, seed=14, knowledge=knowledge))


def test_generated_forms_read_the_same(knowledge: Knowledge, generated: list[dict[str, Any]]) -> None:
    read = 0
    for form in generated:
        if isinstance(_compare(form, knowledge, str(form["id"])), CaseInput):
            read += 1
            assert _goes_direct(form, knowledge)
            if read <= 100:
                _assert_triples_as_parsed(form, knowledge)
    assert read > GENERATED * 0.9  # about 2% are invalid on purpose: those give the same errors


def test_generated_forms_as_jsonl_read_the_same(knowledge: Knowledge, generated: list[dict[str, Any]]) -> None:
    """As `dorsum batch` reads them: each form through strict JSON (numbers as Decimal)."""
    limits = InputLimits()
    for form in generated[: GENERATED // 4]:
        _compare(parse_json(json.dumps(form), "line", limits), knowledge, str(form["id"]))


def test_generated_forms_triage_the_same(knowledge: Knowledge, generated: list[dict[str, Any]]) -> None:
    for form in generated[:TRIAGED_GENERATED]:
        direct, reference = (_triaged(route, form, knowledge, str(form["id"])) for route in _READERS)
        assert direct == reference, form["id"]


# ---------------------------------------------------------------- edge cases, direct and not

BASE: dict[str, Any] = {"id": "edge", "age_years": 40, "lump": {"size_cm": 2, "depth": "deep"}, "present": ["fever"]}

#: Values the direct reader covers: each read both ways must agree (a graph or the same error).
DIRECT = [
    {"note": 5},
    {"note": True},
    {"note": 2.5},
    {"note": Decimal("1.50")},
    {"note": None},
    {"note": ["a", "b", "a"]},
    {"note": "two words, é"},
    {"note": {}},
    {"note": {"size_cm": 3}},  # a blank node the case may not describe: the same error
    {"age_years": "40"},
    {"age_years": "1_5"},
    {"age_years": "abc"},
    {"age_years": True},
    {"age_years": 1e20},
    {"age_years": -0.0},
    {"age_years": 40.25},
    {"age_years": Decimal("1E+2")},
    {"age_years": Decimal("NaN")},
    {"age_years": None},
    {"age_years": [1, 2]},
    {"age_years": {}},
    {"age_years": 40, "age_months": 3},
    {"age_years": 2**62},
    {"no_discrete_lump": True},
    {"no_discrete_lump": "yes"},
    {"present": ["fevr"]},
    {"present": ["dx:Fever"]},
    {"present": ["http://example.org/a"]},
    {"present": ["../x"]},
    {"present": ["@foo"]},
    {"present": [""]},
    {"present": "fever"},
    {"present": [None, "fever", "fever"]},
    {"present": [{}]},
    {"present": {}},
    {"present": [Decimal("1.5")]},
    {"present": ["Case"]},
    {"lump": [{"size_cm": 1}, {"size_cm": 2}]},
    {"lump": "abc"},
    {"lump": None},
    {"lump": {"lump": {"lump": {"size_cm": 1}}}},
    {"id": "a..b"},
    {"id": "fever"},
    {"id": "dx"},
]

#: Values outside the subset: they must take the JSON-LD route (and so read the same).
FALLBACK = [
    {"note": [[1]]},  # a nested list (JSON-LD flattens it)
    {"note": (1,)},
    {"note": datetime.date(2020, 1, 1)},
    {"note": float("nan")},
    {"age_years": float("inf")},
    {"age_years": 2**70},  # wider than some JSON libraries read
    {"note": "\ud800"},  # a lone surrogate
    {"note": MappingProxyType({"size_cm": 1})},  # a mapping that is not a dict: dumped as text
    {"present": ["_:b1"]},  # a blank node
    {"present": ["fe ver"]},  # a reference rdflib drops
    {"present": [1]},
    {"present": [True]},
    {"lump": {"id": "other", "size_cm": 2}},  # a named nested node
    {"lump": [[{"size_cm": 1}]]},
]


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"size_cm": 1}
    for _ in range(depth):
        node = {"lump": node}
    return node


@pytest.mark.parametrize("change", DIRECT, ids=repr)
def test_edge_values_read_directly_and_the_same(knowledge: Knowledge, change: dict[str, Any]) -> None:
    form = {**BASE, **change}
    assert _goes_direct(form, knowledge)
    _compare(form, knowledge, "edge")
    _assert_triples_as_parsed(form, knowledge)


@pytest.mark.parametrize("change", FALLBACK, ids=repr)
def test_values_outside_the_subset_fall_back(knowledge: Knowledge, change: dict[str, Any]) -> None:
    form = {**BASE, **change}
    assert not _goes_direct(form, knowledge)
    if change.get("note") == "\ud800":  # rdflib's isomorphism hashes UTF-8: compare the outcomes plainly
        form.pop("lump")
        direct, reference = _outcome("direct", form, knowledge, "e"), _outcome("json-ld", form, knowledge, "e")
        assert isinstance(direct, CaseInput) and isinstance(reference, CaseInput)
        assert set(direct.graph) == set(reference.graph)
        return
    _compare(form, knowledge, "edge")


def test_nesting_beyond_the_bound_falls_back(knowledge: Knowledge) -> None:
    assert _goes_direct({**BASE, "lump": _nested(MAX_NESTING - 1)}, knowledge)
    assert not _goes_direct({**BASE, "lump": _nested(MAX_NESTING)}, knowledge)
    for depth in (MAX_NESTING - 1, MAX_NESTING, 40):
        _compare({**BASE, "lump": _nested(depth)}, knowledge, "deep")


def test_limits_and_checks_give_the_same_errors(knowledge: Knowledge) -> None:
    many = {**BASE, "present": ["fever"] * 30}
    for limits in (InputLimits(max_nodes=20), InputLimits(max_nodes=36), InputLimits(max_nodes=37)):
        _compare(many, knowledge, "many", limits)
    for form in ([], "text", {**BASE, "bogus": 1}, {**BASE, "lump": {"bogus": 1}}, {**BASE, "id": 5}, {5: 1}):
        outcome = _compare(form, knowledge, "bad")
        assert not isinstance(outcome, CaseInput)


def _assert_triples_as_parsed(form: dict[str, Any], knowledge: Knowledge) -> None:
    """The direct triples, literals as written, are those rdflib's JSON-LD parser adds to the
    bounded store, one add for each (duplicates included: the triple limit counts adds)."""
    compiled = form_context(knowledge)
    assert compiled is not None
    triples = compiled.triples(form)
    assert triples is not None
    store = _BoundedMemory(10_000)
    parsed = Graph(store=store)
    document = {**form, "@context": dict(knowledge.context), "@type": CASE_TYPE}
    with _literals_as_written():
        parsed.parse(data=json.dumps(document, default=str), format="json-ld")
    assert store.added == len(triples)
    direct = Graph()
    for triple in triples:
        direct.add(triple)
    assert isomorphic(direct, parsed)
    assert _literals(direct) == _literals(parsed)


# ---------------------------------------------------------------- the compiled context


def test_the_shipped_context_compiles_every_form_key(knowledge: Knowledge) -> None:
    from reasoner.pipeline.read import form_terms

    compiled = form_context(knowledge)
    assert compiled is not None and compiled is form_context(knowledge)  # once per knowledge
    assert form_terms(knowledge.context) - {"id"} <= set(compiled.properties)


def test_contexts_beyond_the_subset_turn_the_reader_off_or_leave_a_term_out(knowledge: Knowledge) -> None:
    context = dict(knowledge.context)
    assert compile_form_context({**context, "@language": "en"}) is None
    assert compile_form_context({key: value for key, value in context.items() if key != "@base"}) is None
    assert compile_form_context({**context, "id": "dx:identifier"}) is None  # id no longer names the node
    listed = compile_form_context({**context, "present": {"@id": "dx:hasFinding", "@container": "@list"}})
    assert listed is not None and "present" not in listed.properties
    scoped = compile_form_context({**context, "lump": {"@id": "dx:hasLump", "@context": {"deep": "dx:Superficial"}}})
    assert scoped is not None and "lump" not in scoped.properties
    # a form that uses a left-out term takes the JSON-LD route, under a knowledge with that context
    other = replace(knowledge, context={**context, "present": {"@id": "dx:hasFinding", "@container": "@list"}})
    assert form_context(other) is not None and not _goes_direct(BASE, other)
    _compare(BASE, other, "edge")
