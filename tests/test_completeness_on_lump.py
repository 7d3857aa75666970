"""Completeness shapes on the case that assume their worst case on the case's lump
(``dx:assumeOnObjectsOf``): the position of a child's lump present since the neonatal period, or that
may look fatty; and the fatty look of a child's lump that may lie in the midline, or of a deep lump.
Two facts that only together make a finding (a child's midline fatty mass) are each asked while the
other is unrecorded, never only once the other is known."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rdflib import Graph

from reasoner import Knowledge, case_from_form, triage
from reasoner.authoring.vignettes import load_vignette, vignette_case
from reasoner.knowledge import DX
from reasoner.pipeline.triage import worst_case_graph
from reasoner.pipeline.validate import validate_graph

LUMP = {"size_cm": 1, "depth": "superficial", "consistency": "soft", "mobility": "mobile", "growth": "stable"}


def _form(region: str, present: list[str], absent: list[str] | None = None, **age: Any) -> dict[str, Any]:
    return {"lump": {**LUMP, "region": region}, "present": present, "absent": absent or [], **age}


def _position_items(form: dict[str, Any], knowledge: Knowledge) -> list[Any]:
    return _items(form, knowledge, "position")


def _items(form: dict[str, Any], knowledge: Knowledge, name: str) -> list[Any]:
    case = case_from_form(form, knowledge, name="lump-items")
    return [item for item in validate_graph(case.graph, knowledge).missing if item.item == name]


def test_a_childs_lump_since_birth_is_asked_its_position_and_assumed_midline_on_the_lump(
    knowledge: Knowledge,
) -> None:
    case = case_from_form(_form("sacral", ["neonatal_onset"], age_days=70), knowledge, name="infant")
    before = Graph()
    before += case.graph
    report = validate_graph(case.graph, knowledge)
    [item] = [entry for entry in report.missing if entry.item == "position"]
    lump = case.graph.value(case.case, DX.hasLump)
    assert item.focus == case.case and lump is not None
    assert item.facts(case.graph) == [(lump, DX.position, DX.Midline)]  # on the lump, not on the case
    worst = worst_case_graph(case.graph, report, knowledge)
    assert (lump, DX.position, DX.Midline) in worst
    assert (case.case, DX.position, DX.Midline) not in worst
    assert set(case.graph) == set(before)  # neither reading nor completing modifies the case


def test_the_position_is_not_asked_of_an_adult_a_thoracic_lump_or_a_lump_not_present_since_birth(
    knowledge: Knowledge,
) -> None:
    assert _position_items(_form("sacral", ["neonatal_onset"], age_years=30), knowledge) == []
    # (not fatty-looking: a child's lump that may be fatty is asked its position whatever its onset, below)
    assert _position_items(_form("thoracic", ["neonatal_onset"], ["lipomatous"], age_days=70), knowledge) == []
    assert _position_items(_form("sacral", [], ["neonatal_onset", "lipomatous"], age_days=70), knowledge) == []
    recorded = _form("sacral", ["neonatal_onset"], age_days=70)
    recorded["lump"]["position"] = "paraspinal"
    assert _position_items(recorded, knowledge) == []
    # a child of unrecorded age may be any age: asked
    assert len(_position_items(_form("lumbar", ["neonatal_onset"]), knowledge)) == 1


def test_neonatal_onset_unrecorded_asks_the_position_too(knowledge: Knowledge) -> None:
    """While neonatal onset is unrecorded its worst case is onset in the neonatal period, so a
    child's lump is asked its position as well, and its worst case is the midline."""
    case = case_from_form(_form("sacral", [], age_days=70), knowledge, name="onset-unknown")
    report = validate_graph(case.graph, knowledge)
    assert {"neonatal_onset", "position"} <= {item.item for item in report.missing}
    lump = case.graph.value(case.case, DX.hasLump)
    assert (lump, DX.position, DX.Midline) in worst_case_graph(case.graph, report, knowledge)
    result = triage(case, knowledge)
    assert result.status == "incomplete"
    assert "position" in {item.item for item in result.missing if item.needed}


def test_a_childs_lump_with_neither_position_nor_fatty_look_is_asked_both(knowledge: Knowledge) -> None:
    """Each is asked while the other is unrecorded (not only once it is known), the worst case is a
    midline fatty mass, and each item's explanation says what it changes with the other at its worst."""
    # scenario 535: everything else recorded (with many items unrecorded, another item's worst case
    # could hold the same first test, and neither would change it on its own or with the others)
    [path] = (Path(__file__).parent / "cases").glob("535-*.yaml")
    case = vignette_case(load_vignette(path), knowledge)
    report = validate_graph(case.graph, knowledge)
    assert {"lipomatous", "position"} <= {item.item for item in report.missing}
    lump = case.graph.value(case.case, DX.hasLump)
    worst = worst_case_graph(case.graph, report, knowledge)
    assert (lump, DX.position, DX.Midline) in worst
    assert (case.case, DX.hasFinding, DX.LipomatousAppearance) in worst
    without = worst_case_graph(case.graph, report, knowledge, leave_out=frozenset({"position"}))
    assert (lump, DX.position, DX.Midline) not in without  # left unrecorded, in every round
    assert (case.case, DX.hasFinding, DX.LipomatousAppearance) in without
    result = triage(case, knowledge, explain_missing=True)
    assert result.status == "incomplete"
    changes = {item.item: item.would_change for item in result.missing}
    for name in ("lipomatous", "position"):
        assert changes[name].startswith("with the other unrecorded items at their worst, changes first imaging test")


def test_either_fact_recorded_against_a_fatty_midline_mass_stops_the_other_question(knowledge: Knowledge) -> None:
    not_fatty = _form("lumbar", [], ["neonatal_onset", "lipomatous"], age_years=8)
    assert _items(not_fatty, knowledge, "position") == []
    off_midline = _form("lumbar", [], ["neonatal_onset"], age_years=8)
    off_midline["lump"]["position"] = "paraspinal"
    assert _items(off_midline, knowledge, "lipomatous") == []
    midline = _form("lumbar", [], ["neonatal_onset"], age_years=8)
    midline["lump"]["position"] = "midline"
    assert len(_items(midline, knowledge, "lipomatous")) == 1
    fatty = _form("lumbar", [], ["neonatal_onset"], age_years=8)
    fatty["present"] = ["lipomatous"]
    assert len(_items(fatty, knowledge, "position")) == 1
    adult = _form("lumbar", [], ["neonatal_onset"], age_years=30)
    assert _items(adult, knowledge, "position") == [] and _items(adult, knowledge, "lipomatous") == []


def test_a_deep_lump_is_asked_whether_it_looks_fatty(knowledge: Knowledge) -> None:
    """A deep lipomatous lump is referred for specialist evaluation whatever its size (Seed 001), so the
    fatty look of a deep lump is asked as that of a lump over 5 cm is; with the depth unrecorded, its
    worst case (deep) brings the fatty look into the worst case too."""
    deep = _form("thoracic", [], ["neonatal_onset"], age_years=47)
    deep["lump"].update(depth="deep", position="paraspinal")
    assert len(_items(deep, knowledge, "lipomatous")) == 1
    superficial = _form("thoracic", [], ["neonatal_onset"], age_years=47)
    superficial["lump"]["position"] = "paraspinal"
    assert _items(superficial, knowledge, "lipomatous") == []
    unknown = _form("thoracic", [], ["neonatal_onset"], age_years=47)
    unknown["lump"]["position"] = "paraspinal"
    del unknown["lump"]["depth"]
    case = case_from_form(unknown, knowledge, name="depth-unknown")
    report = validate_graph(case.graph, knowledge)
    assert "lipomatous" not in {item.item for item in report.missing}
    assert (case.case, DX.hasFinding, DX.LipomatousAppearance) in worst_case_graph(case.graph, report, knowledge)


def test_ng234_pain_characteristics_are_not_asked_when_back_pain_is_recorded_absent(knowledge: Knowledge) -> None:
    """Mechanical spinal pain and pain aggravated by straining are back pain (recording either present
    beside back_pain absent is a contradiction): back_pain absent answers them (scenario 882). Unknown
    is not absent: with back_pain unrecorded, or present, both are still asked of a cancer history."""
    names = ("mechanical_spinal_pain", "pain_aggravated_by_straining")
    absent = _form("sacral", ["cancer_history"], ["back_pain"], age_years=60)
    assert [item for name in names for item in _items(absent, knowledge, name)] == []
    for present in (["cancer_history"], ["cancer_history", "back_pain"]):
        form = _form("sacral", present, age_years=60)
        assert all(_items(form, knowledge, name) for name in names), present
