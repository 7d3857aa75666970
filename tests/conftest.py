from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()


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
