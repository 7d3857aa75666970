"""The fast production pipeline gives exactly the answers of the naive reference pipeline.

Runs every scenario in ``tests/cases/``, every example and 1,000 generated cases through both
pipelines (``reasoner.pipeline.triage.PRODUCTION`` and ``tests.reference.ReferencePipeline``) and
asserts, for each case:

- the same inferred A-box: every triple about the case and its lump after derive rules and OWL 2 RL,
  for the recorded case and for its worst-case completion when items are missing;
- the same validation report (pyshacl over case + whole ontology against the compiled validator);
- the same triage result, field for field (or the same error for an invalid case).

The sample is checked in CHUNKS chunks, each a unit of work for the pytest-xdist workers; together
they are the whole sample. The chunk tests are marked ``proof``: the README's test command checks the
first chunk (every CHUNKS-th case), ``--proof`` every chunk (``.ci/run`` does both, see
tests/conftest.py). In each chunk the reference validates the cases with pyshacl and closes
them with owlrl in batched runs (each batch gives what validating or closing its cases one by one
gives, see ``ReferencePipeline.validate_many`` and ``owlrl_reference_infer_many``). Its report
queries run on rdflib for the examples and every ninth scenario as recorded, and on Oxigraph for
the other scenarios, for the worst-case completions and for the generated cases (production runs
them on the compiled SPARQL evaluator, so both are independent of it), which keeps the test to a
few minutes: rdflib takes over a second a graph, most of it on report-plan-supersedes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reasoner import CaseError, case_from_form, load_knowledge, read_case, triage
from reasoner.authoring.vignettes import find_vignettes, load_vignette, vignette_case
from reasoner.batch.generate import form_vocabulary, generate_forms
from reasoner.knowledge import Knowledge
from reasoner.pipeline.infer import infer_case
from reasoner.pipeline.read import CaseInput
from reasoner.pipeline.triage import PRODUCTION, TriageResult, worst_case_graph
from reasoner.pipeline.validate import shape_results, validate_graph
from tests.conftest import PROOF_SLICE, whole_proof
from tests.reference import ReferencePipeline

ROOT = Path(__file__).resolve().parent.parent
GENERATED = 1000
SEED = 20261122


@dataclass(frozen=True)
class Named:
    name: str
    case: CaseInput
    thorough: bool  # rdflib report queries in the reference (slower; see RDFLIB_EVERY)
    generated: bool = False


def _cases(knowledge: Knowledge) -> Iterator[Named]:
    for index, path in enumerate(find_vignettes([ROOT / "tests" / "cases"])):
        try:
            case = vignette_case(load_vignette(path), knowledge)
        except CaseError:
            continue  # unreadable input: no pipeline runs
        yield Named(path.name, case, index % RDFLIB_EVERY == 0)
    for path in sorted((ROOT / "examples").iterdir()):
        if path.suffix in (".json", ".yaml", ".ttl", ".jsonld", ".nt") and path.is_file():
            yield Named(path.name, read_case(path, knowledge), True)
    for form in generate_forms(GENERATED, SEED, knowledge=knowledge):
        try:
            yield Named(str(form["id"]), case_from_form(form, knowledge, name=str(form["id"])), False, True)
        except CaseError:
            continue


#: Every RDFLIB_EVERY-th scenario (and every example) has its report queries run on rdflib in the
#: reference, the others on Oxigraph: rdflib takes over a second a case, and the two engines agree
#: on every case where both run. Prime to CHUNKS, so that each chunk gets its share.
RDFLIB_EVERY = 9
#: The sample is checked in this many chunks (every CHUNKS-th case from the k-th on), each with its
#: own reference closures, so that the pytest-xdist workers share the work (each chunk is a unit
#: of work, see tests/conftest.py). Together the chunks are the whole sample: every case is
#: checked exactly once with ``--proof``; without it, the first chunk is checked.
CHUNKS = PROOF_SLICE
#: Graphs per owlrl run of the reference: a run costs the ontology's closure once (about 9 s), and
#: each case costs more the more cases share the run (owlrl looks up every instance of a class), so
#: a few hundred is the cheapest (measured: 200 cases in 41 s in one run, 57 s in two, 400 in 102 s).
BATCH = 300


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge(ROOT)


@pytest.fixture(scope="session")
def cases(knowledge: Knowledge) -> list[Named]:
    return list(_cases(knowledge))


@dataclass
class Chunk:
    index: int
    cases: list[Named]
    reference: dict[str, ReferencePipeline]


def _chunk_of(cases: list[Named], index: int) -> list[Named]:
    return cases[index::CHUNKS]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every chunk with ``--proof``, the first without."""
    if "chunk" in metafunc.fixturenames:
        indices = range(CHUNKS) if whole_proof(metafunc.config) else range(1)
        ids = [f"chunk{index + 1}of{CHUNKS}" for index in indices]
        metafunc.parametrize("chunk", indices, ids=ids, indirect=True, scope="module")


@pytest.fixture(scope="module")
def chunk(request: pytest.FixtureRequest, knowledge: Knowledge, cases: list[Named]) -> Chunk:
    """One chunk of the sample with the reference pipelines for it, its validations and OWL closures
    computed ahead in batched pyshacl and owlrl runs."""
    mine = _chunk_of(cases, request.param)
    thorough = ReferencePipeline(
        knowledge, report_engine="rdflib", completions_on="oxigraph", parse_each_use=False, memo=True
    )
    quick = thorough.with_reports_on("oxigraph")  # the same validations and closures
    thorough.validate_many([(named.case.graph, named.case.source) for named in mine])
    graphs = []
    incomplete = []
    for named in mine:
        report = thorough.validate(named.case.graph, knowledge, named.case.source)
        if report.valid:  # an invalid case is rejected before any inference
            graphs.append(named.case.graph)
        if report.valid and report.missing:
            incomplete.append((named.case.graph, report))
    graphs += thorough.worst_case_graphs(incomplete)
    thorough.prefill(graphs, batch=BATCH)
    return Chunk(request.param, mine, {"thorough": thorough, "quick": quick})


def _run(case: CaseInput, knowledge: Knowledge, pipeline: object | None) -> TriageResult | str:
    try:
        if pipeline is None:
            return triage(case, knowledge)
        return triage(case, knowledge, pipeline=pipeline)  # type: ignore[arg-type]
    except CaseError as exc:
        return f"CaseError: {exc}"


def test_the_sample_is_large_and_covers_every_finding_value(knowledge: Knowledge, cases: list[Named]) -> None:
    generated = [c for c in cases if c.generated]
    assert len(generated) >= 0.9 * GENERATED, "the generator should give mostly readable cases"
    assert len(cases) - len(generated) >= 60  # the scenarios and examples
    # report queries on rdflib too: every RDFLIB_EVERY-th scenario and every example (test_engine_sparql
    # compares rdflib with Oxigraph on every scenario)
    assert sum(named.thorough for named in cases) >= 60
    vocabulary = form_vocabulary(knowledge)
    states = [key for key in (vocabulary.present_key, vocabulary.absent_key, vocabulary.unknown_key) if key]
    seen: dict[str, set[str]] = {}
    for form in generate_forms(GENERATED, SEED, knowledge=knowledge):
        for state in states:
            for key in form.get(state, []) or []:
                seen.setdefault(str(key), set()).add(state)
    assert len(states) == 3
    missing = {key: set(states) - seen.get(key, set()) for key in vocabulary.findings}
    assert not {key: states for key, states in missing.items() if states}


def test_the_chunks_are_the_whole_sample(cases: list[Named]) -> None:
    chunked = [named.name for index in range(CHUNKS) for named in _chunk_of(cases, index)]
    assert sorted(chunked) == sorted(named.name for named in cases)
    assert len(set(chunked)) == len(chunked)


def test_the_sample_exercises_every_path(knowledge: Knowledge, cases: list[Named]) -> None:
    """Complete, incomplete and invalid: each more than 20 times in the whole sample (the chunks
    check that both pipelines agree on every case). Once complete and incomplete have both been
    seen often enough, only the cases that fail validation are still triaged: a count can only grow,
    so this gives the same answer as triaging every case, or a stricter one."""
    outcomes = {"complete": 0, "incomplete": 0, "invalid": 0}
    for named in cases:
        enough = min(outcomes["complete"], outcomes["incomplete"]) > 20
        if enough and validate_graph(named.case.graph, knowledge, named.case.source).valid:
            continue
        fast = _run(named.case, knowledge, None)
        outcomes["invalid" if isinstance(fast, str) else fast.status] += 1
    assert all(count > 20 for count in outcomes.values()), outcomes


def test_batched_validation_gives_each_case_the_report_it_gets_alone(
    knowledge: Knowledge, cases: list[Named], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ReferencePipeline.validate_many`` (which the chunks use) against pyshacl run on each graph
    alone: on three complete, three incomplete and three invalid cases among the scenarios and examples
    and as many among the generated cases, and on the worst-case completions they reach."""
    import tests.reference

    picked: dict[tuple[bool, str], list[Named]] = {}
    for named in cases:
        if named.generated and len(picked) == 6 and all(len(group) == 3 for group in picked.values()):
            break
        report = validate_graph(named.case.graph, knowledge, named.case.source)
        kind = "invalid" if not report.valid else "incomplete" if report.missing else "complete"
        group = picked.setdefault((named.generated, kind), [])
        if len(group) < 3:
            group.append(named)
    assert len(picked) == 6 and all(len(group) == 3 for group in picked.values())
    sample = [(named.case.graph, named.case.source) for group in picked.values() for named in group]
    batched = ReferencePipeline(knowledge, memo=True)
    runs: list[int] = []

    def counted(data: list[object], *args: object, **kwargs: object) -> object:
        runs.append(len(data))
        return shape_results(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tests.reference, "shape_results", counted)
    batched.validate_many(sample)
    incomplete = [(graph, batched.validate(graph, knowledge, source)) for graph, source in sample]
    incomplete = [(graph, report) for graph, report in incomplete if report.valid and report.missing]
    worst = batched.worst_case_graphs(incomplete)
    monkeypatch.undo()
    checked = sample + [(graph, report.source) for graph, (_, report) in zip(worst, incomplete, strict=True)]
    assert len(runs) < len(checked) // 3, "the cases were not validated together"
    alone = ReferencePipeline(knowledge)
    for graph, source in checked:
        assert batched.validate(graph, knowledge, source) == alone.validate(graph, knowledge, source), source


@pytest.mark.proof
def test_inferred_a_box_is_identical(knowledge: Knowledge, chunk: Chunk) -> None:
    differences = []
    checked = 0
    for named in chunk.cases:
        ref = chunk.reference["thorough" if named.thorough else "quick"]
        report = validate_graph(named.case.graph, knowledge, named.case.source)
        if not report.valid:
            continue  # rejected before any inference
        graphs = [named.case.graph]
        if report.missing:
            graphs.append(worst_case_graph(named.case.graph, report, knowledge, PRODUCTION))
        for graph in graphs:
            fast = set(infer_case(graph, knowledge))
            slow = set(ref.close(graph))
            checked += 1
            if fast != slow:
                differences.append((named.name, sorted(map(str, fast - slow))[:5], sorted(map(str, slow - fast))[:5]))
    assert checked * CHUNKS >= GENERATED  # every chunk its share: at least GENERATED graphs in all
    assert not differences, differences[:3]


@pytest.mark.proof
def test_validation_reports_are_identical(knowledge: Knowledge, chunk: Chunk) -> None:
    differences = [
        named.name
        for named in chunk.cases
        if validate_graph(named.case.graph, knowledge, named.case.source)
        != chunk.reference["thorough" if named.thorough else "quick"].validate(
            named.case.graph, knowledge, named.case.source
        )
    ]
    assert not differences, differences[:5]


@pytest.mark.proof
def test_triage_results_are_identical(knowledge: Knowledge, chunk: Chunk) -> None:
    differences = []
    for named in chunk.cases:
        ref = chunk.reference["thorough" if named.thorough else "quick"]
        fast = _run(named.case, knowledge, None)
        slow = _run(named.case, knowledge, ref.pipeline)
        if fast != slow:
            differences.append((named.name, fast, slow))
    assert not differences, differences[:2]
