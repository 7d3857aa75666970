"""Clinical scenarios: one vignette per file in tests/cases/, the expected outcome beside the case."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoner import Knowledge
from reasoner.authoring.vignettes import load_vignette, run_vignette

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def test_there_are_at_least_thirty_scenarios() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_scenario(path: Path, knowledge: Knowledge) -> None:
    outcome = run_vignette(load_vignette(path), knowledge)
    assert outcome.passed, "\n".join(outcome.mismatches)


def test_every_scenario_states_an_outcome() -> None:
    for path in CASES:
        expect = load_vignette(path).expect
        assert "status" in expect, f"{path.name}: expect.status is required"
        if expect["status"] != "invalid":
            assert "urgency" in expect, f"{path.name}: expect.urgency is required"
