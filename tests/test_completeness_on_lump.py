"""A completeness shape on the case that assumes its worst case on the case's lump
(``dx:assumeOnObjectsOf``): the position of a child's lump present since the neonatal period."""

from __future__ import annotations

from typing import Any

from rdflib import Graph

from reasoner import Knowledge, case_from_form, triage
from reasoner.knowledge import DX
from reasoner.pipeline.triage import worst_case_graph
from reasoner.pipeline.validate import validate_graph

LUMP = {"size_cm": 1, "depth": "superficial", "consistency": "soft", "mobility": "mobile", "growth": "stable"}


def _form(region: str, present: list[str], absent: list[str] | None = None, **age: Any) -> dict[str, Any]:
    return {"lump": {**LUMP, "region": region}, "present": present, "absent": absent or [], **age}


def _position_items(form: dict[str, Any], knowledge: Knowledge) -> list[Any]:
    case = case_from_form(form, knowledge, name="lump-position")
    return [item for item in validate_graph(case.graph, knowledge).missing if item.item == "position"]


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
    assert _position_items(_form("thoracic", ["neonatal_onset"], age_days=70), knowledge) == []
    assert _position_items(_form("sacral", [], ["neonatal_onset"], age_days=70), knowledge) == []
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
