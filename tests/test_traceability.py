"""TRACEABILITY.md is current, every encoded statement has a scenario, and scenarios really cover
what they claim."""

from __future__ import annotations

from reasoner import Knowledge
from reasoner.authoring.traceability import local, render_markdown, trace_rows
from reasoner.authoring.vignettes import load_vignette, run_vignette

from .conftest import CASES, ROOT


def test_traceability_table_is_current(knowledge: Knowledge) -> None:
    expected = render_markdown(trace_rows(knowledge, CASES.glob("*.yaml")))
    # The generated element table comes first; the hand-written "Seed statements" table follows it.
    assert (ROOT / "TRACEABILITY.md").read_text().startswith(expected), (
        "regenerate the element table: python -m reasoner.authoring.traceability, keeping the Seed statements section"
    )


def test_every_encoded_statement_is_covered_by_a_scenario(knowledge: Knowledge) -> None:
    uncovered = [row.element for row in trace_rows(knowledge, CASES.glob("*.yaml")) if not row.scenarios]
    assert uncovered == []


def test_scenarios_exercise_what_they_claim_to_cover(knowledge: Knowledge) -> None:
    problems = []
    for path in sorted(CASES.glob("*.yaml")):
        vignette = load_vignette(path)
        if not vignette.covers:
            continue
        outcome = run_vignette(vignette, knowledge)
        assert outcome.result is not None, f"{path.name} covers elements but is invalid"
        result = outcome.result
        applied = result.next_steps + result.avoid + result.excepted  # an excepted avoid item applies too
        seen = {local(item.iri) for item in result.red_flags + result.situations + applied}
        seen |= {local(fact.value_iri) for item in result.red_flags + result.situations for fact in item.facts}
        seen |= {local(step.action_iri) for step in result.next_steps + result.avoid}  # an action a step takes
        seen |= set(outcome.derive_rules)  # a derive rule that produced facts
        # an element the scenario asserts does NOT fire is exercised too (a threshold not reached, say)
        seen |= {
            str(name)
            for key in ("not_steps", "not_red_flags", "not_situations", "not_avoid", "not_excepted")
            for name in vignette.expect.get(key) or []
        }
        problems += [f"{path.name}: {name}" for name in vignette.covers if name not in seen]
    assert problems == []
