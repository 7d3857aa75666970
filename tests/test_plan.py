"""Properties of the plan over every scenario and 1,000 generated cases (issue: one coherent plan).

- No primary step is also suppressed by an applicable avoid item.
- No observation, reassurance or conservative step is primary when any red flag is present, or
  would be present once the unrecorded items are completed at their worst case.
- Every triaged case has exactly one primary first-imaging step, or says explicitly that none is
  needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import URIRef

from reasoner import Knowledge, read_case, triage
from reasoner.knowledge import DX
from reasoner.pipeline.result import PlanOption

from .conftest import Triaged

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
GENERATED = 1000


@pytest.fixture(scope="module")
def triaged(triaged_sample: list[Triaged]) -> list[Triaged]:
    return triaged_sample


def _reassuring_actions(knowledge: Knowledge) -> set[str]:
    rows = knowledge.ontology.query(
        "PREFIX dx: <https://w3id.org/dorsum/ontology#> "
        "SELECT ?a WHERE { ?a dx:variantOf* dx:ReassuranceOrObservation }"
    )
    return {str(row[0]) for row in rows}  # type: ignore[index]


def test_no_primary_step_is_suppressed(triaged: list[Triaged]) -> None:
    bad = [
        (t.name, sorted(t.result.plan.primary_steps & {s.step for s in t.result.plan.suppressed}))
        for t in triaged
        if t.result.plan.primary_steps & {s.step for s in t.result.plan.suppressed}
    ]
    assert not bad, bad[:5]


def test_no_reassurance_when_a_red_flag_is_present_or_unknown(triaged: list[Triaged], knowledge: Knowledge) -> None:
    reassuring = _reassuring_actions(knowledge)
    assert URIRef(str(DX.ReassuranceOrObservation)) and len(reassuring) > 1
    bad = [
        t.name
        for t in triaged
        if t.red_flag_possible
        and any(option.action_iri in reassuring for entry in t.result.plan.topics for option in entry.chosen)
    ]
    assert not bad, bad[:5]


def test_reassurance_is_still_offered_when_nothing_is_wrong(triaged: list[Triaged], knowledge: Knowledge) -> None:
    """The property above must not hold vacuously: observation stays reachable."""
    reassuring = _reassuring_actions(knowledge)
    offered = [
        t.name
        for t in triaged
        if any(option.action_iri in reassuring for entry in t.result.plan.topics for option in entry.chosen)
    ]
    assert offered


def test_exactly_one_first_imaging_step_or_none_needed(triaged: list[Triaged], knowledge: Knowledge) -> None:
    """One primary first-imaging step, or an explicit "none needed"; a tie only where the knowledge
    itself leaves one (a pair `dorsum check` warns of), and then shown as a tie."""
    flagged = _flagged_ties(knowledge)
    bad = []
    for t in triaged:
        entry = t.result.plan.topic("FirstImagingTopic")
        if entry is None or (not entry.chosen and not entry.no_step_text):
            bad.append((t.name, "no entry"))
        elif len(entry.chosen) > 1 and not (entry.tie and _explained(entry.chosen, flagged)):
            bad.append((t.name, [o.action for o in entry.chosen]))
    assert not bad, bad[:5]


def _flagged_ties(knowledge: Knowledge) -> set[frozenset[str]]:
    text = (knowledge.root / "queries" / "qc" / "possible-plan-tie-violation.rq").read_text(encoding="utf-8")
    return {frozenset((str(row[0]), str(row[1]))) for row in knowledge.ontology.query(text)}  # type: ignore[index]


def _explained(chosen: tuple[PlanOption, ...], flagged: set[frozenset[str]]) -> bool:
    return all(
        any(frozenset((x, y)) in flagged for x in a.steps for y in b.steps)
        for i, a in enumerate(chosen)
        for b in chosen[i + 1 :]
    )


def test_read_case_examples_have_a_plan(knowledge: Knowledge) -> None:
    for path in sorted((Path(__file__).parent.parent / "examples").glob("*.yaml")):
        result = triage(read_case(path, knowledge), knowledge)
        assert result.plan.topics, path.name
