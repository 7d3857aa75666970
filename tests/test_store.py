"""The case store: graphs per case, example queries across cases, replace, remove, export, crash
safety, and one-line CLI errors."""

from __future__ import annotations

import dataclasses
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("pyoxigraph")

import pyoxigraph as ox
from click.testing import CliRunner
from rdflib import RDF, BNode, Literal, URIRef

from reasoner import Knowledge, TriageResult, case_from_form, read_case, triage
from reasoner.authoring.vignettes import SUFFIXES, load_vignette
from reasoner.cli.store import serve, sparql, store
from reasoner.errors import CaseError, QueryRefusedError, UsageError
from reasoner.pipeline.read import CaseInput
from reasoner.pipeline.triage import CaseTrace
from reasoner.store import (
    CASE_BASE,
    DSTORE,
    AskResult,
    CaseNotFoundError,
    CaseRecord,
    CaseStore,
    GraphResult,
    LocalStore,
    SelectResult,
    SparqlError,
    StoreBusyError,
    StoredCase,
    StoreNotFoundError,
    case_graph_iri,
    case_record,
    open_store,
    render_sparql,
    with_values,
)
from reasoner.store.case_store import WRITE_GROUP

from .conftest import CASES, EXAMPLES, ROOT

QUERIES = ROOT / "queries" / "examples"
DX = "https://w3id.org/dorsum/ontology#"


@dataclass(frozen=True)
class Filled:
    path: Path
    results: dict[str, TriageResult]
    inputs: dict[str, CaseInput]


def _vignette_case(path: Path, knowledge: Knowledge, folder: Path) -> CaseInput:
    vignette = load_vignette(path)
    if vignette.case_text is not None:
        file = folder / f"{path.stem}{SUFFIXES[vignette.case_format]}"
        file.write_text(vignette.case_text, encoding="utf-8")
        return read_case(file, knowledge)
    return case_from_form(vignette.case, knowledge, name=path.stem, source=str(path))


def _all_cases(knowledge: Knowledge, folder: Path) -> list[CaseInput]:
    """Every example and every valid vignette, as case inputs (invalid ones are skipped)."""
    cases = []
    for path in sorted(p for p in EXAMPLES.iterdir() if p.is_file()):
        cases.append(read_case(path, knowledge))
    for path in sorted(CASES.glob("*.yaml")):
        try:
            cases.append(_vignette_case(path, knowledge, folder))
        except CaseError:
            continue
    return cases


@pytest.fixture(scope="module")
def filled(knowledge: Knowledge, tmp_path_factory: pytest.TempPathFactory) -> Filled:
    folder = tmp_path_factory.mktemp("store")
    results: dict[str, TriageResult] = {}
    inputs: dict[str, CaseInput] = {}
    records: list[CaseRecord] = []
    for case in _all_cases(knowledge, folder):
        try:
            result = triage(case, knowledge, keep_trace=True)
        except CaseError:
            continue
        record = case_record(result)  # stored under the case's own id (form id or IRI)
        assert record.case_id not in results, f"two cases with the id {record.case_id}"
        records.append(record)
        results[record.case_id] = result
        inputs[record.case_id] = case
    with open_store(folder / "db") as case_store:
        case_store.ensure_knowledge(knowledge)
        for start in range(0, len(records), WRITE_GROUP):  # as `dorsum store add` writes: a case costs
            case_store.put_many(records[start : start + WRITE_GROUP])  # a third of a write of its own
    return Filled(folder / "db", results, inputs)


def _triaged(paths: list[Path], knowledge: Knowledge) -> list[TriageResult]:
    """Each case file triaged with its trace kept, ready for CaseStore.add."""
    return [triage(read_case(path, knowledge), knowledge, keep_trace=True) for path in paths]


def _add_case(case_store: CaseStore, case: CaseInput, knowledge: Knowledge, *, replace: bool = False) -> StoredCase:
    report = case_store.add([triage(case, knowledge, keep_trace=True)], knowledge, replace=replace)
    assert not report.failed
    return report.stored[0]


def _query(path: Path, name: str, **params: str) -> SelectResult | AskResult | GraphResult:
    with open_store(path, read_only=True) as case_store:
        return case_store.query((QUERIES / f"{name}.rq").read_text(encoding="utf-8"), params=params)


def _rows(answer: object) -> list[dict[str, str]]:
    assert isinstance(answer, SelectResult)
    return answer.as_dicts()


# ---------------------------------------------------------------- layout


def test_every_valid_case_is_stored_with_its_three_graphs(filled: Filled) -> None:
    assert len(filled.results) >= 40  # the examples plus the valid vignettes
    with open_store(filled.path, read_only=True) as case_store:
        listed = case_store.list_cases()
        assert [case.case_id for case in listed] == sorted(filled.results)
        raw = case_store.store  # type: ignore[attr-defined]
        for case in listed:
            result = filled.results[case.case_id]
            assert case.status == result.status
            assert case.effective_urgency == (result.effective_urgency.iri if result.effective_urgency else "")
            assert case.content_hash == result.knowledge.content_hash
            for kind in ("asserted", "result"):
                assert raw.contains_named_graph(ox.NamedNode(case_graph_iri(case.case_id, kind)))
        assert case_store.current_knowledge() == listed[0].knowledge_graph


def test_asserted_graph_holds_the_facts_as_given_and_inferred_only_the_rest(filled: Filled) -> None:
    case_id = "growing-firm-lump"
    case = filled.inputs[case_id]
    with open_store(filled.path, read_only=True) as case_store:
        raw: ox.Store = case_store.store  # type: ignore[attr-defined]
        asserted = list(raw.quads_for_pattern(None, None, None, ox.NamedNode(case_graph_iri(case_id, "asserted"))))
        inferred = list(raw.quads_for_pattern(None, None, None, ox.NamedNode(case_graph_iri(case_id, "inferred"))))
    assert len(asserted) == len(case.graph)
    assert not {(q.subject, q.predicate, q.object) for q in asserted} & {
        (q.subject, q.predicate, q.object) for q in inferred
    }
    # blank nodes became skolem IRIs of this case, so its graphs join on the same lump node
    assert all(not isinstance(q.subject, ox.BlankNode) for q in asserted + inferred)
    lump = {q.object for q in asserted if q.predicate.value == f"{DX}hasLump"}
    assert lump and all(str(node.value).startswith(f"{CASE_BASE}{case_id}/node/") for node in lump)  # type: ignore[union-attr]


def test_result_graph_carries_prov_provenance(filled: Filled) -> None:
    query = f"""
        PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX dstore: <{DSTORE}>
        SELECT ?kg ?version ?ended ?dorsum WHERE {{
          GRAPH <{case_graph_iri("growing-firm-lump", "result")}> {{
            ?result prov:wasGeneratedBy ?activity ; dstore:knowledgeGraph ?kg .
            ?activity prov:used ?kg , ?version ; prov:endedAtTime ?ended ;
                      <https://w3id.org/dorsum/result#dorsumVersion> ?dorsum .
            FILTER (?version != ?kg)
          }}
        }}"""
    with open_store(filled.path, read_only=True) as case_store:
        rows = _rows(case_store.query(query))
    result = filled.results["growing-firm-lump"]
    assert rows and rows[0]["version"] == result.knowledge.version_iri
    assert rows[0]["kg"].endswith(result.knowledge.content_hash[:12])
    assert rows[0]["dorsum"] == result.knowledge.dorsum_version


def test_inferred_graph_holds_what_the_trace_added_about_named_classes(filled: Filled) -> None:
    """The store writes triage's own closure: the inferred graph is the trace's inferred set, less
    the types by the ontology's anonymous class expressions, which would be IRIs of this case that
    nothing else names; every node of the case's graphs is a node of its facts or a named term."""
    case_id = "growing-firm-lump"
    trace = filled.results[case_id].trace
    assert trace is not None and trace.inferred
    anonymous = {(s, p, o) for s, p, o in trace.inferred if p == RDF.type and isinstance(o, BNode)}
    assert anonymous  # the ontology's restrictions and intersections classify the case
    with open_store(filled.path, read_only=True) as case_store:
        raw: ox.Store = case_store.store  # type: ignore[attr-defined]
        asserted = list(raw.quads_for_pattern(None, None, None, ox.NamedNode(case_graph_iri(case_id, "asserted"))))
        inferred = list(raw.quads_for_pattern(None, None, None, ox.NamedNode(case_graph_iri(case_id, "inferred"))))
    assert len(inferred) == len(trace.inferred) - len(anonymous)
    typed = {q.object.value for q in inferred if q.predicate.value.endswith("#type")}  # type: ignore[union-attr]
    assert {flag.iri for flag in filled.results[case_id].red_flags} <= typed
    own = {term.value for q in asserted for term in (q.subject, q.object) if isinstance(term, ox.NamedNode)}
    case_nodes = {
        term.value  # type: ignore[union-attr]
        for q in inferred
        for term in (q.subject, q.object)
        if str(term.value).startswith(f"{CASE_BASE}{case_id}/node/")  # type: ignore[union-attr]
    }
    assert case_nodes and case_nodes <= own  # the lump, as in the asserted graph


def test_a_result_without_its_trace_cannot_be_stored(knowledge: Knowledge) -> None:
    result = triage(read_case(EXAMPLES / "growing-firm-lump.yaml", knowledge), knowledge)
    with pytest.raises(UsageError, match="keep_trace"):
        case_record(result)


def test_literal_subjects_never_reach_the_store(knowledge: Knowledge) -> None:
    case = read_case(EXAMPLES / "growing-firm-lump.yaml", knowledge)
    result = triage(case, knowledge, keep_trace=True)
    assert result.trace is not None
    odd = (Literal("x"), URIRef(f"{DX}p"), Literal("y"))  # what owlrl can produce
    result = dataclasses.replace(result, trace=CaseTrace(result.trace.facts, result.trace.closure | {odd}))
    record = case_record(result)
    assert not any(line.startswith('"') for line in record.inferred + record.asserted + record.result)
    with tempfile.TemporaryDirectory() as folder, open_store(Path(folder) / "db") as case_store:
        case_store.ensure_knowledge(knowledge)
        case_store.put(record)
        assert [c.case_id for c in case_store.list_cases()] == ["growing-firm-lump"]


def test_a_blank_case_node_is_linked_from_its_result(knowledge: Knowledge, tmp_path: Path) -> None:
    text = (EXAMPLES / "lumbar-mass.ttl").read_text(encoding="utf-8")
    file = tmp_path / "blank-case.ttl"
    file.write_text(text.replace("<https://w3id.org/dorsum/case/lumbar-mass-rdf>", "[]", 1), encoding="utf-8")
    with open_store(tmp_path / "db") as case_store:
        stored = _add_case(case_store, read_case(file, knowledge), knowledge)
        ask = case_store.query(
            f"""ASK {{ GRAPH <{case_graph_iri("blank-case", "result")}> {{ ?r <https://w3id.org/dorsum/result#forCase> ?c }}
                     GRAPH <{case_graph_iri("blank-case", "asserted")}> {{ ?c a <{DX}Case> }} }}"""
        )
    assert stored.case_iri.startswith(f"{CASE_BASE}blank-case/node/")
    assert isinstance(ask, AskResult) and ask.value


def test_a_blank_case_named_by_a_file_name_that_is_no_id_is_refused_naming_the_file(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    """A blank case node takes its file's name, which may be no id ("a case #1"): the error says
    which file, not only the name."""
    text = (EXAMPLES / "lumbar-mass.ttl").read_text(encoding="utf-8")
    file = tmp_path / "a case #1.ttl"
    file.write_text(text.replace("<https://w3id.org/dorsum/case/lumbar-mass-rdf>", "[]", 1), encoding="utf-8")
    result = triage(read_case(file, knowledge), knowledge, keep_trace=True)
    with pytest.raises(UsageError, match=f"^{file}: the case is named 'a case #1', which is not a case id"):
        case_record(result)


# ---------------------------------------------------------------- example queries


def test_red_flag_frequency_matches_the_triage_results(filled: Filled) -> None:
    expected = Counter(flag.iri for result in filled.results.values() for flag in result.red_flags)
    rows = _rows(_query(filled.path, "red-flag-frequency"))
    assert {row["redFlag"]: int(row["cases"]) for row in rows} == dict(expected)
    assert all(row.get("label") for row in rows)
    counts = [int(row["cases"]) for row in rows]
    assert counts == sorted(counts, reverse=True)


def test_cases_by_urgency_gives_each_case_its_tier_to_act_on(filled: Filled) -> None:
    rows = _rows(_query(filled.path, "cases-by-urgency"))
    assert sorted(row["caseId"] for row in rows) == sorted(filled.results)
    for row in rows:
        tier = filled.results[row["caseId"]].effective_urgency
        assert row.get("tierIri", "") == (tier.iri if tier else "")
        if tier:
            assert int(row["rank"]) == tier.rank and row["tierLabel"] == tier.label
    ranks = [int(row.get("rank") or 0) for row in rows]
    assert ranks == sorted(ranks, reverse=True)
    one = _rows(_query(filled.path, "cases-by-urgency", tier=f"<{DX}Within24h>"))
    assert one and {row["tierIri"] for row in one} == {f"{DX}Within24h"}
    assert len(one) == sum(
        1 for r in filled.results.values() if r.effective_urgency and r.effective_urgency.iri == f"{DX}Within24h"
    )


def test_cases_by_missing_item_matches_the_triage_results(filled: Filled) -> None:
    expected = {(item.item, case_id) for case_id, r in filled.results.items() for item in r.missing}
    rows = _rows(_query(filled.path, "cases-by-missing-item"))
    assert expected and {(row["item"], row["caseId"]) for row in rows} == expected
    fever = _rows(_query(filled.path, "cases-by-missing-item", item="fever"))
    assert {(row["item"], row["caseId"]) for row in fever} == {pair for pair in expected if pair[0] == "fever"}


def test_cases_per_source_matches_the_triage_results(filled: Filled) -> None:
    expected: Counter[str] = Counter()
    for result in filled.results.values():
        elements = result.red_flags + result.situations
        cited = {c.iri for item in elements for c in item.sources if c.relation == "source"}
        cited |= {c.iri for step in result.next_steps + result.avoid for c in step.sources if c.relation == "source"}
        expected.update(cited)
    rows = _rows(_query(filled.path, "cases-per-source"))
    assert {row["source"]: int(row["cases"]) for row in rows} == dict(expected)
    assert all(row.get("short") and row.get("citation") for row in rows)


def test_cases_with_conflicts_matches_the_triage_results(filled: Filled) -> None:
    expected = {(case_id, c.subject) for case_id, r in filled.results.items() for c in r.conflicts}
    rows = _rows(_query(filled.path, "cases-with-conflicts"))
    assert expected and {(row["caseId"], row["conflict"]) for row in rows} == expected
    one = _rows(_query(filled.path, "cases-with-conflicts", caseId="growing-firm-lump"))
    assert {row["caseId"] for row in one} == {"growing-firm-lump"}


def test_case_explanation_links_facts_flags_advice_and_sources(filled: Filled) -> None:
    case_id = "growing-firm-lump"
    result = filled.results[case_id]
    answer = _query(filled.path, "case-explanation", caseId=case_id)
    assert isinstance(answer, GraphResult)
    triples = {(s.value, p.value, o.value) for s, p, o in answer.triples}
    node = f"https://w3id.org/dorsum/result/{case_id}"
    res = "https://w3id.org/dorsum/result#"
    for flag in result.red_flags:
        assert (node, f"{res}redFlag", flag.iri) in triples
        assert (result.case_iri, "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", flag.iri) in triples
    for step in result.next_steps:
        assert (node, f"{res}recommendation", step.iri) in triples
        for citation in step.sources:
            if citation.relation == "source":
                assert (step.iri, f"{DX}source", citation.iri) in triples
                assert any(s == citation.iri and p == f"{DX}citation" for s, p, _o in triples)
    facts = {(p, o) for s, p, o in triples if s.startswith(f"{CASE_BASE}{case_id}/node/")}
    assert (f"{DX}growth", f"{DX}Increasing") in facts  # the lump fact behind "growing lump"
    others = {s for s, _p, _o in triples if s.startswith(CASE_BASE) and not s.startswith(f"{CASE_BASE}{case_id}")}
    assert not others
    assert render_sparql(answer, "table").startswith("@prefix")


def test_every_example_query_runs_in_the_store(filled: Filled) -> None:
    names = sorted(path.stem for path in QUERIES.glob("*.rq"))
    assert len(names) >= 9
    for name in names:
        text = (QUERIES / f"{name}.rq").read_text(encoding="utf-8")
        assert text.startswith("#"), f"{name}: needs a comment header"
        header = text.split("PREFIX", 1)[0]
        if name not in ("red-flags-by-case", "recommendations-with-sources"):
            assert "Example output" in header and "Run:" in header and "Param" in header, name
        answer = _query(filled.path, name)
        if isinstance(answer, SelectResult):
            if name != "cases-under-other-knowledge":
                assert answer.rows, f"{name}: no rows"
        else:
            assert isinstance(answer, GraphResult) and answer.triples
        for fmt in ("table", "csv", "json", "tsv"):
            assert render_sparql(answer, fmt)


def test_cases_under_other_knowledge(knowledge: Knowledge, tmp_path: Path) -> None:
    """A case triaged with another knowledge version is reported; re-adding it clears it."""
    # The same knowledge under another content hash stands for an edited knowledge base (loading
    # a real edited copy would compile its rules again, which takes seconds).
    edited = dataclasses.replace(knowledge, content_hash="f" * 64)
    with open_store(tmp_path / "db") as case_store:
        case_store.add(_triaged([EXAMPLES / "growing-firm-lump.yaml"], knowledge), knowledge)
        case_store.add(_triaged([EXAMPLES / "small-soft-lump.yaml"], edited), edited)
        query = (QUERIES / "cases-under-other-knowledge.rq").read_text(encoding="utf-8")
        rows = _rows(case_store.query(query))
        assert [row["caseId"] for row in rows] == ["growing-firm-lump"]
        assert rows[0]["currentKnowledge"].endswith("f" * 12)
        assert rows[0]["knowledgeGraph"].endswith(knowledge.content_hash[:12])
        case_store.add(_triaged([EXAMPLES / "growing-firm-lump.yaml"], edited), edited)
        assert _rows(case_store.query(query)) == []


def test_the_first_two_examples_still_run_over_one_case(knowledge: Knowledge) -> None:
    from reasoner import run_query

    case = read_case(EXAMPLES / "growing-firm-lump.yaml", knowledge)
    for name in ("red-flags-by-case", "recommendations-with-sources"):
        assert run_query(name, case, knowledge).rows


def test_params_fill_placeholders_or_bind_in_the_outer_where() -> None:
    filled = with_values("SELECT * WHERE { VALUES ?x { UNDEF } ?s ?p ?x }", {"x": "a"})
    assert 'VALUES ?x { "a" }' in filled and "UNDEF" not in filled
    outer = with_values("# WHERE { in a comment\nSELECT ?s WHERE {\n ?s ?p ?o }", {"o": "<http://e/x>"})
    assert outer.index("VALUES (?o) { (<http://e/x>) }") > outer.index("SELECT")
    with pytest.raises(Exception, match="variable name"):
        with_values("SELECT * {}", {"x y": "1"})


# ---------------------------------------------------------------- writes


def test_re_adding_a_case_replaces_all_its_graphs(knowledge: Knowledge, tmp_path: Path) -> None:
    form = {"id": "replace-me", "age_years": 50, "lump": {"size_cm": 2, "region": "lumbar"}}
    with open_store(tmp_path / "db") as case_store:
        first = _add_case(case_store, case_from_form(form, knowledge, name="replace-me"), knowledge)
        again = _add_case(case_store, case_from_form(form, knowledge, name="replace-me"), knowledge)  # idempotent
        changed = {**form, "lump": {"size_cm": 6, "region": "thoracic"}}
        refused = case_store.add(
            [triage(case_from_form(changed, knowledge, name="x"), knowledge, keep_trace=True)], knowledge
        )
        assert not refused.stored and "already stored" in refused.failed[0].error  # another case, same id
        second = _add_case(case_store, case_from_form(changed, knowledge, name="replace-me"), knowledge, replace=True)
        assert [c.case_id for c in case_store.list_cases()] == ["replace-me"]
        sizes = _rows(
            case_store.query(
                f"SELECT ?size WHERE {{ GRAPH <{case_graph_iri('replace-me', 'asserted')}> {{ ?l <{DX}sizeCm> ?size }} }}"
            )
        )
        assert [float(row["size"]) for row in sizes] == [6.0]
        ids = _rows(
            case_store.query(
                f"SELECT ?id WHERE {{ GRAPH <{case_graph_iri('replace-me', 'result')}> {{ ?r <{DSTORE}caseId> ?id }} }}"
            )
        )
        assert len(ids) == 1
        lumps = _rows(
            case_store.query(
                f"SELECT ?l WHERE {{ GRAPH ?g {{ ?c <{DX}hasLump> ?l }} FILTER(STRSTARTS(STR(?g), '{CASE_BASE}replace-me/')) }}"
            )
        )
        assert len({row["l"] for row in lumps}) == 1
    assert first.case_id == again.case_id == second.case_id


def test_replace_never_drops_another_case_of_the_same_add(knowledge: Knowledge, tmp_path: Path) -> None:
    """--replace replaces a case stored before; two different inputs of one add with one id
    collide (the first was stored, then replaced by the second, both reported stored)."""
    form = {"id": "twice", "age_years": 50, "lump": {"size_cm": 2, "region": "lumbar"}}
    other = {**form, "lump": {"size_cm": 6, "region": "thoracic"}}
    with open_store(tmp_path / "db") as case_store:
        cases = [case_from_form(f, knowledge, name="twice", source=s) for f, s in ((form, "a"), (other, "b"))]
        report = case_store.add([triage(c, knowledge, keep_trace=True) for c in cases], knowledge, replace=True)
        assert [c.source for c in report.stored] == ["a"]
        assert "b: case id 'twice' is already stored from a" in report.failed[0].error
        sizes = case_store.query(f"SELECT ?size WHERE {{ GRAPH ?g {{ ?l <{DX}sizeCm> ?size }} }}")
        assert [float(row["size"]) for row in _rows(sizes)] == [2.0]


def test_remove_drops_every_graph_of_the_case(knowledge: Knowledge, tmp_path: Path) -> None:
    with open_store(tmp_path / "db") as case_store:
        case_store.add(
            _triaged([EXAMPLES / "growing-firm-lump.yaml", EXAMPLES / "small-soft-lump.yaml"], knowledge), knowledge
        )
        case_store.remove("growing-firm-lump")
        assert [c.case_id for c in case_store.list_cases()] == ["small-soft-lump"]
        assert not case_store.has_case("growing-firm-lump")
        leftovers = case_store.query("ASK { GRAPH ?g { ?s ?p ?o } FILTER(CONTAINS(STR(?g), 'growing-firm-lump')) }")
        assert isinstance(leftovers, AskResult) and not leftovers.value
        with pytest.raises(CaseNotFoundError):
            case_store.remove("growing-firm-lump")


def test_export_round_trips(filled: Filled, tmp_path: Path) -> None:
    with open_store(filled.path, read_only=True) as case_store:
        original = ox.Dataset(case_store.store)  # type: ignore[attr-defined]
        original.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)  # once: the blank nodes relabelled
        expected = set(original)
        for fmt, rdf_format in (("nquads", ox.RdfFormat.N_QUADS), ("trig", ox.RdfFormat.TRIG)):
            out = tmp_path / f"dump.{fmt}"
            with out.open("wb") as stream:
                case_store.export(stream, fmt)  # type: ignore[arg-type]
            copy = ox.Store()  # in memory: what is read back is the question, not the disk (5 times faster)
            copy.load(path=str(out), format=rdf_format)
            reloaded = ox.Dataset(copy)
            assert len(reloaded) == len(expected)
            reloaded.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
            assert set(reloaded) == expected
            cases = {q.graph_name.value for q in reloaded if str(q.graph_name).startswith(f"<{CASE_BASE}")}  # type: ignore[union-attr]
            assert len(cases) >= 2 * len(filled.results)


def test_a_writer_locks_out_other_writers_and_readers(knowledge: Knowledge, tmp_path: Path) -> None:
    with open_store(tmp_path / "db") as writer:
        writer.add(_triaged([EXAMPLES / "small-soft-lump.yaml"], knowledge), knowledge)
        with pytest.raises(StoreBusyError):
            LocalStore(tmp_path / "db")
        with pytest.raises(StoreBusyError):
            LocalStore(tmp_path / "db", read_only=True)
    with open_store(tmp_path / "db", read_only=True) as one, open_store(tmp_path / "db", read_only=True) as two:
        assert one.list_cases() == two.list_cases()
    with pytest.raises(StoreNotFoundError):
        LocalStore(tmp_path / "nowhere", read_only=True)


def _write_forms(folder: Path, count: int) -> list[Path]:
    import yaml

    base = yaml.safe_load((EXAMPLES / "growing-firm-lump.yaml").read_text(encoding="utf-8"))
    paths = []
    for index in range(count):
        form = {**base, "id": f"bulk-{index:03d}", "age_years": 20 + index}
        path = folder / f"bulk-{index:03d}.yaml"
        path.write_text(yaml.safe_dump(form), encoding="utf-8")
        paths.append(path)
    return paths


def _cli(*args: str) -> list[str]:
    program = "import sys; from reasoner.cli.store import store; sys.argv[0] = 'dorsum store'; store()"
    return [sys.executable, "-c", program, *args]


def test_kill_9_mid_batch_keeps_every_committed_case(tmp_path: Path) -> None:
    from reasoner.store.case_store import WRITE_GROUP

    # Several write groups' worth: the first is committed (and reported) long before the last.
    paths = _write_forms(tmp_path, 4 * WRITE_GROUP)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    writer = subprocess.Popen(
        _cli("add", *map(str, paths), "--store", str(tmp_path / "db")),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    committed: list[str] = []
    assert writer.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(writer.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 60
    buffer = b""
    try:
        while len(committed) < 4 and time.monotonic() < deadline:
            if not selector.select(timeout=1):
                continue
            chunk = os.read(writer.stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            *lines, rest = buffer.split(b"\n")
            buffer = rest
            committed += [line.split()[1].decode() for line in lines if line.startswith(b"stored ")]
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
        selector.close()
    assert len(committed) >= 4, "the writer did not commit cases in time"
    assert writer.returncode == -signal.SIGKILL
    with open_store(tmp_path / "db") as case_store:  # opens for writing: the lock died with the writer
        stored = {case.case_id for case in case_store.list_cases()}
        assert set(committed) <= stored
        assert len(stored) < len(paths)
        for case_id in stored:  # no half-written case: each has its result and asserted graphs
            ask = case_store.query(
                f"ASK {{ GRAPH <{case_graph_iri(case_id, 'asserted')}> {{ ?s ?p ?o }} "
                f"GRAPH <{case_graph_iri(case_id, 'inferred')}> {{ ?a ?b ?c }} }}"
            )
            assert isinstance(ask, AskResult) and ask.value


# ---------------------------------------------------------------- CLI


def test_cli_add_list_sparql_remove_export(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "db")
    added = runner.invoke(
        store, ["add", str(EXAMPLES / "growing-firm-lump.yaml"), str(EXAMPLES / "incomplete-lump.json"), "--store", db]
    )
    assert added.exit_code == 0, added.output
    assert "stored growing-firm-lump" in added.output
    listed = runner.invoke(store, ["list", "--store", db, "--format", "csv"])
    assert listed.exit_code == 0 and listed.output.splitlines()[0].startswith("case_id,status,tier")
    assert len(listed.output.splitlines()) == 3
    freq = runner.invoke(sparql, ["red-flag-frequency", "--store", db, "--format", "json"])
    assert freq.exit_code == 0 and '"bindings"' in freq.output
    text = runner.invoke(sparql, ["ASK { GRAPH ?g { ?s ?p ?o } }", "--store", db])
    assert text.exit_code == 0 and text.output.strip() == "true"
    rq = tmp_path / "count.rq"
    rq.write_text("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", encoding="utf-8")
    counted = runner.invoke(sparql, [str(rq), "--store", db, "--format", "tsv"])
    assert counted.exit_code == 0 and counted.output.startswith("?n\n")
    explained = runner.invoke(
        sparql, ["case-explanation", "-p", "caseId=growing-firm-lump", "--store", db, "-f", "tsv"]
    )
    assert explained.exit_code == 0 and "growing-firm-lump" in explained.output
    out = tmp_path / "dump.trig"
    exported = runner.invoke(store, ["export", "--format", "trig", "--out", str(out), "--store", db])
    assert exported.exit_code == 0 and out.stat().st_size > 1000
    removed = runner.invoke(store, ["remove", "incomplete-lump", "--store", db])
    assert removed.exit_code == 0
    invalid = tmp_path / "bad.json"
    invalid.write_text('{"lump": {"size_cm": -1}}', encoding="utf-8")
    partly = runner.invoke(store, ["add", str(invalid), str(EXAMPLES / "small-soft-lump.yaml"), "--store", db])
    assert partly.exit_code == 3 and "stored small-soft-lump" in partly.output


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        (sparql, ["SELECT * WHERE {", "--store", "{db}"], "SPARQL syntax error"),
        (sparql, ["no-such-query", "--store", "{db}"], "no query file or named query"),
        (sparql, ["red-flag-frequency", "--store", "{tmp}/missing"], "no store at"),
        (
            sparql,
            ["INSERT DATA { <http://a> <http://b> <http://c> }", "--store", "{db}"],
            "updates (INSERT) are refused",
        ),
        (sparql, ["SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", "--store", "{db}"], "is refused"),
        (sparql, ["case-explanation", "--param", "caseid=x", "--store", "{db}"], "did you mean caseId"),
        (sparql, ["ASK {}", "--param", "novalue", "--store", "{db}"], "NAME=VALUE"),
        (store, ["remove", "nobody", "--store", "{db}"], "no case 'nobody'"),
        (store, ["remove", "../etc", "--store", "{db}"], "is not a case id"),
        (store, ["list", "--store", "{tmp}/missing"], "no store at"),
        (store, ["add", "{tmp}/nothing.yaml", "--store", "{db}"], "file not found"),
        (store, ["export", "--store", "http://127.0.0.1:9/"], "cannot reach"),
        (serve, ["--store", "{tmp}/missing"], "no store at"),
        (serve, ["--store", "{db}", "--host", "0.0.0.0", "--writable"], "refusing"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(
    command: object, args: list[str], message: str, filled: Filled, tmp_path: Path
) -> None:
    db = tmp_path / "db"
    shutil.copytree(filled.path, db, ignore=shutil.ignore_patterns("LOCK", "dorsum.lock"))
    args = [a.replace("{db}", str(db)).replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(command, args)  # type: ignore[arg-type]
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dorsum: error: "), result.output
    assert message in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [store, sparql, serve, *store.commands.values()])  # type: ignore[attr-defined]
def test_every_command_has_help_with_an_example(command: object) -> None:
    result = CliRunner().invoke(command, ["--help"])  # type: ignore[arg-type]
    assert result.exit_code == 0
    assert "Example:" in result.output and "Exit codes:" in result.output


def test_sparql_query_errors_are_typed(filled: Filled) -> None:
    with open_store(filled.path, read_only=True) as case_store:
        with pytest.raises(SparqlError):
            case_store.query("SELECT * WHERE { ?s ?p }")
        with pytest.raises(QueryRefusedError, match="updates"):
            case_store.query("DROP ALL")


@pytest.fixture(autouse=True)
def _no_store_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("DORSUM_STORE", raising=False)
    yield


def test_same_file_name_in_two_folders_is_two_cases_or_a_loud_collision(tmp_path: Path) -> None:
    """The id is the case's own (form id or case IRI), never the file name: two patient.yaml
    files with their own ids are both kept; without ids they collide loudly, naming both files,
    and the first stays; re-adding the same content is idempotent; --replace replaces."""
    growing = (EXAMPLES / "growing-firm-lump.yaml").read_text(encoding="utf-8")
    soft = (EXAMPLES / "small-soft-lump.yaml").read_text(encoding="utf-8")
    for folder, text in (("a", growing), ("b", soft)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "patient.yaml").write_text(text, encoding="utf-8")
        (tmp_path / folder / "anonymous").mkdir()
        without_id = "\n".join(line for line in text.splitlines() if not line.startswith("id:"))
        (tmp_path / folder / "anonymous" / "patient.yaml").write_text(without_id, encoding="utf-8")
    runner, db = CliRunner(), str(tmp_path / "db")
    both = runner.invoke(
        store, ["add", str(tmp_path / "a" / "patient.yaml"), str(tmp_path / "b" / "patient.yaml"), "--store", db]
    )
    assert both.exit_code == 0, both.output
    assert "stored growing-firm-lump" in both.output and "stored small-soft-lump" in both.output
    a, b = tmp_path / "a" / "anonymous" / "patient.yaml", tmp_path / "b" / "anonymous" / "patient.yaml"
    clash = runner.invoke(store, ["add", str(a), str(b), "--store", db])
    assert clash.exit_code == 2 and "stored patient" in clash.output
    assert f"{b}: case id 'patient' is already stored from {a} with other facts" in clash.output
    again = runner.invoke(store, ["add", str(a), "--store", db])
    assert again.exit_code == 0 and "stored patient" in again.output
    replaced = runner.invoke(store, ["add", str(b), "--replace", "--store", db])
    assert replaced.exit_code == 0, replaced.output
    with open_store(db, read_only=True) as case_store:
        cases = {case.case_id: case for case in case_store.list_cases()}
    assert sorted(cases) == ["growing-firm-lump", "patient", "small-soft-lump"]
    assert cases["patient"].source == str(b)
