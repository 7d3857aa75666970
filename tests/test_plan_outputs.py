"""The plan's newer fields in every output, not only the text (plan rules 10 and 11, LATER starts).

The text says that a step is due sooner than its tier (the cauda equina pathway's 4-hour MRI under
the 12-hour tier), which fallback it shows where two sources name one for the same step, and what
each LATER time frame counts from. The Turtle result and the CDS Hooks plan card said none of it:
the card's urgency line gave the 12 hours alone and listed no later step, and Turtle's kept time
frame of the CT fallback was the 12-hour tier (the 4 hours only in a comment).
"""

from __future__ import annotations

from pathlib import Path

from rdflib import Literal, URIRef

from reasoner import Knowledge, render_text, triage
from reasoner.hooks.cards import CardLinks, plan_markdown, triage_cards
from reasoner.knowledge import DX
from reasoner.pipeline.result import TriageResult
from reasoner.render.turtle import RESULT, result_graph

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
LINKS = CardLinks(questionnaire="https://example.org/q", patient_reference="Patient/1")


def _scenario(knowledge: Knowledge, number: str) -> TriageResult:
    from reasoner.authoring.vignettes import load_vignette, vignette_case

    path = next(path for path in CASES if path.name.startswith(f"{number}-"))
    return triage(vignette_case(load_vignette(path), knowledge), knowledge)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_card_says_a_step_is_due_sooner_and_its_fallback(knowledge: Knowledge) -> None:
    result = _scenario(knowledge, "502")
    assert result.urgency is not None and result.urgency.time_frame == "PT12H"
    detail = _flat(plan_markdown(result))
    urgency = detail.split("**Plan**", 1)[0]
    assert "a step is due sooner: within 4 hours (PT4H)" in urgency, urgency
    # suspected CES with a lumbar mass: the pathway's 4 hours, with Seed 003's contrast (since 2026-12-03)
    assert "within 4 hours of the request (GIRFT CES pathway, Seed 002, Seed 003, due within 4 hours (PT4H))" in detail
    later = detail.split("**Later, depending on results**", 1)[1]
    assert "if MRI is contraindicated or unavailable: CT with contrast (due within 4 hours (PT4H)" in later, later
    # the imaging order the card suggests says the 4 hours too
    card = triage_cards(result, knowledge, LINKS)[0]
    reasons = [
        code["text"]
        for suggestion in card.suggestions or []
        for action in suggestion.actions or []
        for code in (action.resource or {}).get("reasonCode", [])
    ]
    assert any("due within 4 hours (PT4H)" in reason for reason in reasons), reasons


def _later_lines(text: str) -> list[str]:
    """The text's LATER lines, each joined from its wrapped lines."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("LATER "):
            lines.append(line[len("LATER ") :])
        elif lines and line.startswith(" " * 9) and not line.lstrip().startswith("(+") and lines[-1] is not None:
            lines[-1] += " " + line
        else:
            lines.append(None)  # type: ignore[arg-type]
    return [_flat(line) for line in lines if line is not None]


def test_the_card_lists_the_later_steps_as_the_text_does(knowledge: Knowledge) -> None:
    """Each LATER line of the text is on the card: what it counts from, the fallback chosen over another."""
    for number, wanted in [
        ("503", "counted from the result of ultrasound of the lump"),
        ("455", "instead of: CT with contrast [Seed 000, Seed 003]"),
        ("502", "(due within 4 hours (PT4H): the time frame of emergency MRI"),
    ]:
        result = _scenario(knowledge, number)
        later = _later_lines(render_text(result, "brief"))
        card = _flat(plan_markdown(result))
        assert later and any(wanted in line for line in later), (number, later)
        for line in later:
            assert f"- {line}" in card, (number, line, card)


def test_the_summary_shows_the_screening_before_gadolinium_beside_the_contrast_mri(knowledge: Knowledge) -> None:
    """Advice for every case is left to --detail, but not a fallback that guards a step of the plan:
    the MRI without contrast if the screening before the gadolinium finds a pregnancy."""
    with_contrast = _scenario(knowledge, "961")
    assert any(
        "gadolinium" in option.action.lower() or "contrast" in option.action.lower()
        for entry in with_contrast.plan.topics
        for option in entry.chosen
    )
    later = _later_lines(render_text(with_contrast, "summary"))
    assert any(line.startswith("if the screening before the contrast finds a pregnancy") for line in later), later
    # a generic step of the same action as a specific one, due as soon: the specific one's words
    lumbar = _later_lines(render_text(_scenario(knowledge, "427"), "summary"))
    assert not any(line.startswith("if MRI is contraindicated: CT with contrast") for line in lumbar), lumbar


def test_a_card_without_a_sooner_step_does_not_say_so(knowledge: Knowledge) -> None:
    for result in (_scenario(knowledge, "503"), _scenario(knowledge, "455")):
        assert "due sooner" not in plan_markdown(result)
        assert "due sooner" not in render_text(result, "brief")


def test_turtle_carries_the_own_time_frame_the_fallback_keeps_and_the_later_starts(knowledge: Knowledge) -> None:
    result = _scenario(knowledge, "502")
    graph = result_graph(result)
    four = Literal("PT4H", datatype=URIRef("http://www.w3.org/2001/XMLSchema#duration"))
    owns = [
        own
        for topic in graph.objects(None, RESULT.planTopic)
        for own in graph.objects(topic, RESULT.ownTimeFrame)
        if (own, RESULT.timeFrame, four) in graph
    ]
    assert owns and (owns[0], RESULT.primaryAction, DX.EmergencyMRIWholeSpineWithContrast4h) in graph
    frames = {
        graph.value(frame, RESULT.laterStep): graph.value(frame, RESULT.timeFrame)
        for frame in graph.objects(None, RESULT.keptLaterTimeFrame)
    }
    assert frames.get(DX.Rec003_CTIfMRIContraindicated) == four, frames
    starts = {
        graph.value(start, RESULT.laterStep): set(graph.objects(start, RESULT.countedFrom))
        for start in graph.objects(None, RESULT.laterStart)
    }
    for start in result.plan.later_starts:
        assert starts[URIRef(start.step)] == {URIRef(iri) for iri in start.after_iris}, start


def test_turtle_carries_the_fallback_chosen_and_its_alternatives(knowledge: Knowledge) -> None:
    result = _scenario(knowledge, "455")
    assert result.plan.fallback_choices
    graph = result_graph(result)
    nodes = list(graph.objects(None, RESULT.fallbackChoice))
    assert len(nodes) == len(result.plan.fallback_choices)
    for choice, node in zip(result.plan.fallback_choices, nodes, strict=True):
        assert set(graph.objects(node, RESULT.chosenStep)) == {URIRef(s) for s in choice.chosen.steps}
        lost = {URIRef(s) for a in choice.alternatives for s in a.option.steps}
        assert set(graph.objects(node, RESULT.alternativeStep)) == lost
        assert not lost & set(graph.objects(None, RESULT.laterStep))  # an alternative is not a later step shown
        assert set(graph.objects(node, RESULT.replacedAction)) == {URIRef(a) for a in choice.replaces_iris}


def test_a_step_that_replaces_the_4_hour_mri_keeps_its_4_hours_everywhere(knowledge: Knowledge) -> None:
    """Recording MRI contraindicated for suspected cauda equina syndrome made CT myelography due
    within the 12-hour tier, where the same case without the record had its CT fallback due within
    the MRI's 4 hours: recording a contraindication made the patient wait longer. Now the CT
    myelography keeps the 4 hours (rule 7 with rule 11) in the text, the headline, JSON, Turtle and
    the card (scenario 530)."""
    from reasoner import render_json

    result = _scenario(knowledge, "530")
    entry = result.plan.topic("FirstImagingTopic")
    assert entry is not None and entry.primary is not None and entry.primary.action == "CT myelography"
    assert entry.sooner_time_frame(entry.primary) == "PT4H"
    text = _flat(render_text(result, "brief"))
    assert "a step is due sooner: within 4 hours (PT4H" in text.split(" DO NOW ", 1)[0], text
    assert "CT myelography (due within 4 hours (PT4H): GIRFT CES pathway" in text, text
    assert '"time_frame": "PT4H"' in render_json(result)
    card = _flat(plan_markdown(result))
    assert "a step is due sooner: within 4 hours (PT4H)" in card and "due within 4 hours (PT4H): GIRFT" in card, card
    graph = result_graph(result)
    four = Literal("PT4H", datatype=URIRef("http://www.w3.org/2001/XMLSchema#duration"))
    kept = [k for t in graph.objects(None, RESULT.planTopic) for k in graph.objects(t, RESULT.keptTimeFrame)]
    assert any((k, RESULT.timeFrame, four) in graph for k in kept), kept


def test_a_fallback_counts_its_time_frame_as_the_step_it_replaces_not_from_its_result(knowledge: Knowledge) -> None:
    """The text gives the CT fallback "within 4 hours: the time frame of <the MRI>, which it replaces"
    (from now), while JSON and Turtle said it counted from the MRI's result: a program adding the 4
    hours to that result would delay the CT by the MRI it stands in for."""
    result = _scenario(knowledge, "502")
    steps = {s.iri.rsplit("#", 1)[-1]: s for s in result.next_steps}
    start = result.plan.later_start(steps["Rec003_CTIfMRIContraindicated"])
    assert (
        start is not None
        and start.after_iris == ()
        and start.instead_of_iri.endswith("#EmergencyMRIWholeSpineWithContrast4h")
    )
    assert "from now" in start.text
    decompression = result.plan.later_start(steps["RecCES_DecompressionIfConfirmed"])
    assert decompression is not None and decompression.after_iris and not decompression.instead_of
    graph = result_graph(result)
    for node in graph.objects(None, RESULT.laterStart):
        if graph.value(node, RESULT.laterStep) == DX.Rec003_CTIfMRIContraindicated:
            assert graph.value(node, RESULT.countedFrom) is None
            assert graph.value(node, RESULT.countedAs) == DX.EmergencyMRIWholeSpineWithContrast4h
            break
    else:
        raise AssertionError("no res:laterStart for the CT fallback")
