from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from rdflib.namespace import RDF

from reasoner import CaseError, CaseInput, Knowledge, case_from_form, load_knowledge, triage
from reasoner.authoring.vignettes import load_vignette
from reasoner.batch.generate import generate_forms
from reasoner.knowledge import DX
from reasoner.pipeline.infer import close_case
from reasoner.pipeline.triage import TriageResult, worst_case_graph
from reasoner.pipeline.validate import validate_graph

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases"
EXAMPLES = ROOT / "examples"
HOSTILE_QUERIES = ROOT / "tests" / "hostile" / "queries"
#: Hostile queries that write a fetch so that a substring test misses it: rdflib expands
#: ``\\u0053ERVICE``, and both engines read ``true.SERVICE`` and ``1e5SERVICE`` as two tokens, and
#: ``SERVICE:sparql`` and ``FROM:passwd`` as a keyword and a prefixed name (``:sparql``), not as one
#: prefixed name.
ESCAPE_TRICKS = (
    "service-codepoint-escape",
    "from-codepoint-escape",
    "service-after-true-dot",
    "service-after-exponent",
    "service-keyword-before-prefixed-name",
    "from-keyword-before-prefixed-name",
)


def hostile_query(name: str) -> str:
    """The text of ``tests/hostile/queries/<name>.rq``."""
    return (HOSTILE_QUERIES / f"{name}.rq").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()


# ---------------------------------------------------------------- the proof against the naive references

#: The tests marked ``proof`` compare dorsum's engines with the naive reference engines (owlrl,
#: pyshacl, rdflib's SPARQL) case by case, over samples of every scenario and a thousand generated
#: cases; the references take about a second a case. The README's test command runs each of them on
#: a fixed slice of its sample (every PROOF_SLICE-th case, the same slice every run; the two rdflib
#: conflict queries that take a minute each, which have no sample, not at all), so that the suite
#: stays near ten minutes on two cores; ``--proof`` runs them on their whole samples, and
#: ``.ci/run`` does that too, as a second step (``python -m pytest -q --proof -m proof``).
PROOF_SLICE = 8
T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--proof",
        action="store_true",
        help="run the tests marked 'proof' (dorsum against the naive reference engines) on their whole "
        f"samples; without it, each runs on every {PROOF_SLICE}th case of its sample",
    )


def whole_proof(config: pytest.Config) -> bool:
    """Whether ``--proof`` was given: the proof tests run on their whole samples."""
    return bool(config.getoption("proof"))


def proof_sample(config: pytest.Config, sample: Sequence[T]) -> Sequence[T]:
    """A proof test's sample: the whole of it with ``--proof``, else every PROOF_SLICE-th item."""
    return sample if whole_proof(config) else sample[::PROOF_SLICE]


# ---------------------------------------------------------------- two workers (pytest-xdist)

#: The suite runs on two pytest-xdist workers (``addopts`` in pyproject.toml), which take one unit
#: of work at a time. A unit is a test file, so that its module fixtures are built on one worker
#: only, except that:
#: - the files that share the session's triaged sample are one unit (the sample is built once);
#: - in the files of PER_PARAMETER, the tests of each parameter are a unit (each parameter has its
#:   own expensive module fixture, as tests/test_pipeline_equivalence.py's chunks of its sample, or
#:   is a slow test of its own, as each query of tests/test_conflict_engines.py);
#: - in the files of PER_TEST (slow tests, no module fixture), each test is a unit.
SAMPLE_FILES = ("tests/test_plan.py", "tests/test_packs.py")
PER_PARAMETER = ("tests/test_pipeline_equivalence.py", "tests/test_conflict_engines.py")
PER_TEST = ("tests/test_authoring.py", "tests/test_knowledge_cache.py", "tests/test_cache.py")

#: The units that take minutes are handed out first, in this order, so that the short ones fill in
#: around them and the workers finish together. Only the order: every test runs either way.
SLOW_FIRST = (
    "triaged-sample",
    "tests/test_compiled_equivalence.py",
    "tests/test_pipeline_equivalence.py[",
    "tests/test_pipeline_equivalence.py",
    "tests/test_conflict_engines.py",
    "tests/test_authoring.py",
    "tests/test_knowledge_cache.py",
    "tests/test_cache.py",
    "tests/test_store.py",
    "tests/test_docs.py",
    "tests/test_batch.py",
    "tests/test_readme.py",
)


def unit_of_work(nodeid: str) -> str:
    """The unit of work (for the xdist scheduler) that the test with this node id belongs to."""
    file, _, name = nodeid.partition("::")
    if file in SAMPLE_FILES:
        return "triaged-sample"
    if file in PER_TEST:
        return nodeid
    if file in PER_PARAMETER and name.endswith("]") and "[" in name:
        return file + name[name.index("[") :]
    return file


def _rank(unit: str) -> int:
    return next((rank for rank, prefix in enumerate(SLOW_FIRST) if unit.startswith(prefix)), len(SLOW_FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow units first (a stable sort: the order within each rank is kept)."""
    items.sort(key=lambda item: _rank(unit_of_work(item.nodeid)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``--dist loadscope``: the scope of a test is its unit of work (:func:`unit_of_work`),
    and with ``--no-loadscope-reorder`` the units are handed out in collection order."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of_work(nodeid)

    return UnitScheduling(config, log)


#: Flags for headless Chromium on a machine with a closed network (no background connections).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_command(profile: Path | str) -> list[str] | None:
    """The Chromium binary with headless flags and a fresh profile, or None if not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return [found, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    if Path("/usr/bin/chromium").exists():
        return ["/usr/bin/chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    return None


# ---------------------------------------------------------------- a shared sample for the properties

GENERATED = 1000


@dataclass(frozen=True)
class Triaged:
    name: str
    case: CaseInput
    result: TriageResult
    red_flag_possible: bool  # present, or present in the worst-case completion


def _triaged(knowledge: Knowledge) -> Iterator[Triaged]:
    for path in sorted(CASES.glob("*.yaml")):
        vignette = load_vignette(path)
        if vignette.expect.get("status") != "invalid" and isinstance(vignette.case, dict):
            yield _one(path.stem, case_from_form(vignette.case, knowledge, name=path.stem, source=path.name), knowledge)
    for form in generate_forms(GENERATED, seed=11, knowledge=knowledge):
        try:
            case = case_from_form(form, knowledge, name=str(form["id"]), source=str(form["id"]))
            yield _one(str(form["id"]), case, knowledge)
        except CaseError:
            continue


def _one(name: str, case: object, knowledge: Knowledge) -> Triaged:
    assert case is not None
    result = triage(case, knowledge)  # type: ignore[arg-type]
    if result.red_flags or not result.missing:
        return Triaged(name, case, result, bool(result.red_flags))  # type: ignore[arg-type]
    graph = case.graph  # type: ignore[attr-defined]
    worst = worst_case_graph(graph, validate_graph(graph, knowledge, name), knowledge)
    closure = close_case(worst, knowledge)
    return Triaged(name, case, result, (case.case, RDF.type, DX.RedFlag) in closure)  # type: ignore[arg-type,attr-defined]


@pytest.fixture(scope="session")
def triaged_sample(knowledge: Knowledge) -> list[Triaged]:
    """Every valid scenario and 1,000 generated cases, triaged once for the plan and pack properties."""
    found = list(_triaged(knowledge))
    assert len(found) > GENERATED // 2
    return found
