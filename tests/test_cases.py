"""Clinical scenarios: one vignette per file in tests/cases/, the expected outcome beside the case."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from reasoner import Knowledge
from reasoner.authoring.vignettes import load_vignette, run_vignette
from reasoner.errors import DorsumError

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


SEED_CASES = [path for path in CASES if not yaml.safe_load(path.read_text(encoding="utf-8")).get("pack")]


@pytest.mark.parametrize("path", SEED_CASES, ids=[path.stem for path in SEED_CASES])
def test_seed_scenario_under_the_seeds_profile(path: Path, knowledge: Knowledge) -> None:
    """The seed articles alone still give each seed scenario's answer; where a guideline pack changes
    it, the scenario states the seeds' answer in ``expect_seeds`` (a partial override of ``expect``)."""
    vignette = load_vignette(path)
    overrides = yaml.safe_load(path.read_text(encoding="utf-8")).get("expect_seeds") or {}
    seeds = replace(vignette, profile="seeds", expect={**vignette.expect, **overrides})
    outcome = run_vignette(seeds, knowledge)
    assert outcome.passed, "\n".join(outcome.mismatches)


def test_a_vignette_expecting_a_result_fails_when_its_case_is_invalid(knowledge: Knowledge, tmp_path: Path) -> None:
    """An invalid case has no tier to compare: a vignette expecting one passed, whatever the tier."""
    path = tmp_path / "invalid.yaml"
    path.write_text("case: {age_years: -5}\nexpect: {urgency: Within24h}\n", encoding="utf-8")
    outcome = run_vignette(load_vignette(path), knowledge)
    assert not outcome.passed and "urgency: not checked, the case was not triaged" in outcome.mismatches[0]
    path.write_text("case: {age_years: -5}\nexpect: {status: invalid, error: age_years}\n", encoding="utf-8")
    assert run_vignette(load_vignette(path), knowledge).passed


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("case: {age_years: 40}\nexpect: {status: complete, urgncy: Within24h}\n", "expect.urgncy"),
        ("case: {age_years: 40}\nexpect: {status: complete}\nexpect_seeds: {plan_time: x}\n", "expect_seeds.plan_time"),
        ("case: {age_years: 40}\nexpected: {urgency: Within24h}\nexpect: {status: complete}\n", "expected"),
    ],
)
def test_a_vignette_key_no_test_checks_is_refused(tmp_path: Path, text: str, named: str) -> None:
    """A misspelt or unknown expectation was skipped silently, so its scenario passed unchecked."""
    path = tmp_path / "typo.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DorsumError, match=f"unknown vignette key {named}"):
        load_vignette(path)


def test_a_later_step_time_frame_expectation_is_checked(knowledge: Knowledge, tmp_path: Path) -> None:
    """``later_due`` and ``later_kept_from`` are compared, not ignored: scenario 334's case with the
    2 weeks the sarcoma MDT referral had before a dropped later step's time frame was kept fails."""
    source = next(path for path in CASES if path.name.startswith("334-"))
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["expect"] = {
        "status": "complete",
        "urgency": "Within24to48h",
        "later_due": {"Rec001_SpecialistAfterImaging": "Urgent2Weeks", "Rec001_SarcomaMDT": "Urgent2Weeks"},
        "later_kept_from": {"Rec001_SpecialistAfterImaging": "none"},
    }
    path = tmp_path / "stale.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    mismatches = run_vignette(load_vignette(path), knowledge).mismatches
    assert "later_due: Rec001_SpecialistAfterImaging: expected Urgent2Weeks, got Within24to48h" in mismatches
    assert "later_due: Rec001_SarcomaMDT: expected Urgent2Weeks, got not shown" in mismatches  # dropped
    assert any(m.startswith("later_kept_from: Rec001_SpecialistAfterImaging: expected none") for m in mismatches)


def test_whose_authority_a_primary_step_claims_is_checked(knowledge: Knowledge, tmp_path: Path) -> None:
    """``plan_sources`` compares the exact sources a topic's primary step cites: scenario 855's
    16-year-old is outside NICE NG234's population, so a vignette claiming NG234's authority for the
    whole-spine MRI fails, and one naming the seeds alone passes."""
    source = next(path for path in CASES if path.name.startswith("855-"))
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    path = tmp_path / "authority.yaml"
    for cited, passed in ((["NICE NG234", "Seed 002", "Seed 003"], False), (["Seed 002", "Seed 003"], True)):
        data["expect"] = {"status": "complete", "plan_sources": {"FirstImagingTopic": cited}}
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        outcome = run_vignette(load_vignette(path), knowledge)
        assert outcome.passed == passed, outcome.mismatches
    assert not outcome.mismatches
    data["expect"] = {
        "status": "complete",
        "plan_sources": {"FirstImagingTopic": ["NICE NG234", "Seed 002", "Seed 003"]},
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert list(run_vignette(load_vignette(path), knowledge).mismatches) == [
        "plan_sources: FirstImagingTopic: expected ['NICE NG234', 'Seed 002', 'Seed 003'], got ['Seed 002', 'Seed 003']"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("case: {age_years: 40}\nexpect: {later_due: [Rec001_SarcomaMDT]}\n", "expect.later_due must be a mapping"),
        ("case: {age_years: 40}\nexpect: {kept_from: 5}\n", "expect.kept_from must be a mapping"),
        ("case: {age_years: 40}\nexpect: {plan_sources: [Seed 002]}\n", "expect.plan_sources must be a mapping"),
        ("case: {age_years: 40}\nexpect: {status: complete}\nexpect_seeds: {plan: x}\n", "expect_seeds.plan must be"),
        ("case: {age_years: 40}\nexpect: {steps: Rec000_GrowingLumpUltrasound}\n", "expect.steps must be a list"),
        ("case: {age_years: 40}\nexpect: null\n", "'expect' states nothing"),
        ("case: {age_years: 40}\nexpect: {}\n", "'expect' states nothing"),
    ],
)
def test_a_vignette_expectation_of_the_wrong_shape_is_refused(tmp_path: Path, text: str, message: str) -> None:
    """A mapping expectation written as a list was an internal error (exit 70, AttributeError), a
    list written as one name was compared letter by letter, and an empty ``expect`` passed with
    nothing checked: each is refused with one line when the vignette is read."""
    path = tmp_path / "shape.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DorsumError, match=re.escape(message)):
        load_vignette(path)
