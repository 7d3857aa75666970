"""Safety properties, checked on generated cases (hypothesis).

- Marking a further finding present never lowers the urgency.
- Turning a recorded fact into an unknown one never lowers the urgency.

"Urgency" here is what a clinician must act on: the tier for a complete case, and for an
incomplete one the worst case until the missing items are recorded.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoner import Knowledge, case_from_form, load_knowledge, triage
from reasoner.batch.generate import form_vocabulary

KNOWLEDGE = load_knowledge()
FINDINGS = sorted(
    key
    for key, value in KNOWLEDGE.context.items()
    if isinstance(value, str)
    and value.startswith("dx:")
    and key not in ("Case",)
    and key
    not in {
        "superficial",
        "deep",
        "soft",
        "firm",
        "cystic",
        "mobile",
        "fixed",
        "increasing",
        "stable",
        "decreasing",
        "lumbar",
        "thoracolumbar",
        "lumbosacral",
        "thoracic",
        "sacral",
        "midline",
        "paraspinal",
        "lateral",
    }
)
LUMP_VALUES: dict[str, list[Any]] = {
    "size_cm": [0.5, 1.5, 2, 3, 4, 6],
    "depth": ["superficial", "deep"],
    "consistency": ["soft", "firm", "cystic"],
    "mobility": ["mobile", "fixed"],
    "growth": ["increasing", "stable", "decreasing"],
    "region": ["lumbar", "thoracolumbar", "lumbosacral", "thoracic", "sacral"],
}
# A finding that implies another (dx:impliesFinding: a worsening deficit or weakness of both legs is a
# neurological deficit; NG234's straining or mechanical pain is back pain): recording it present while
# the implied finding is absent is a contradiction the well-formedness shapes reject.
IMPLIES = form_vocabulary(KNOWLEDGE).implies


def _without_contradictions(present: list[str], absent: list[str]) -> list[str]:
    """The absent list without any finding that a present one implies."""
    implied = {other for finding in present for other in IMPLIES.get(finding, ())}
    return [f for f in absent if f not in implied]


AGES = [{"age_days": 10}, {"age_months": 2}, {"age_years": 8}, {"age_years": 30}, {"age_years": 65}, {}]


@st.composite
def case_forms(draw: st.DrawFn) -> dict[str, Any]:
    form: dict[str, Any] = dict(draw(st.sampled_from(AGES)))
    lump = {key: draw(st.sampled_from(values)) for key, values in LUMP_VALUES.items() if draw(st.booleans())}
    form["lump"] = lump
    states = {finding: draw(st.sampled_from(["present", "absent", "absent", "omitted"])) for finding in FINDINGS}
    form["present"] = [f for f, s in states.items() if s == "present"]
    form["absent"] = [f for f, s in states.items() if s == "absent"]
    form["absent"] = _without_contradictions(form["present"], form["absent"])
    return form


def effective_rank(form: dict[str, Any], knowledge: Knowledge = KNOWLEDGE) -> int:
    result = triage(case_from_form(form, knowledge, name="generated"), knowledge)
    tier = result.effective_urgency
    return tier.rank if tier else 0


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(form=case_forms(), data=st.data())
def test_marking_a_finding_present_never_lowers_urgency(form: dict[str, Any], data: st.DataObject) -> None:
    finding = data.draw(st.sampled_from([f for f in FINDINGS if f not in form["present"]] or FINDINGS))
    more = {
        **form,
        "present": sorted({*form["present"], finding}),
        "absent": _without_contradictions([finding], [f for f in form["absent"] if f != finding]),
    }
    assert effective_rank(more) >= effective_rank(form)


@SETTINGS
@given(form=case_forms(), data=st.data())
def test_making_a_recorded_fact_unknown_never_lowers_urgency(form: dict[str, Any], data: st.DataObject) -> None:
    recorded = [("finding", f) for f in form["present"] + form["absent"]]
    recorded += [("lump", key) for key in form["lump"]]
    recorded += [("age", key) for key in form if key.startswith("age_")]
    if not recorded:
        return
    kind, key = data.draw(st.sampled_from(recorded))
    less = {**form, "lump": dict(form["lump"]), "present": list(form["present"]), "absent": list(form["absent"])}
    if kind == "finding":
        less["present"] = [f for f in less["present"] if f != key]
        less["absent"] = [f for f in less["absent"] if f != key]
    elif kind == "lump":
        del less["lump"][key]
    else:
        del less[key]
    assert effective_rank(less) >= effective_rank(form)
