"""A triage result as RDF (Turtle), linked to the knowledge elements, with PROV-O provenance."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from reasoner.knowledge import DX
from reasoner.pipeline.result import ALONGSIDE, FallbackTimeFrame, KeptLaterTimeFrame, PlanOption, duration_words
from reasoner.pipeline.triage import TriageResult
from reasoner.terms import Triple

PROV = Namespace("http://www.w3.org/ns/prov#")
RESULT = Namespace("https://w3id.org/dorsum/result#")


def render_turtle(result: TriageResult) -> str:
    """The result as Turtle (see :func:`result_graph`)."""
    return result_graph(result).serialize(format="turtle")


def result_graph(result: TriageResult) -> Graph:
    """The result as an RDF graph, linked to the knowledge elements, with PROV-O provenance."""
    graph = Graph()
    graph.bind("dx", DX)
    graph.bind("prov", PROV)
    graph.bind("res", RESULT)
    for triple in result_triples(result):
        graph.add(triple)
    return graph


def result_triples(result: TriageResult) -> list[Triple]:
    """The triples of :func:`result_graph` (no graph built: the store writes them straight away)."""
    out: list[Triple] = []
    add = out.append
    # a case read from a file without an id is named by the file ("my case#2"): written into an IRI
    # as such, it made Turtle that rdflib refuses to serialise (an internal error)
    named = quote(result.case_id, safe="")
    node = URIRef(f"https://w3id.org/dorsum/result/{named}")
    activity = URIRef(f"https://w3id.org/dorsum/result/{named}/activity")
    knowledge = URIRef(result.knowledge.version_iri) if result.knowledge.version_iri else BNode()
    add((node, RDF.type, RESULT.TriageResult))
    add((node, RDF.type, PROV.Entity))
    add((node, RESULT.forCase, URIRef(result.case_iri) if ":" in result.case_iri else BNode()))  # else blank
    add((node, RESULT.status, Literal(result.status)))
    if result.urgency:
        add((node, RESULT.urgencyAtLeast if not result.complete else RESULT.urgency, URIRef(result.urgency.iri)))
    if result.possible_urgency and not result.complete:
        add((node, RESULT.possibleUrgency, URIRef(result.possible_urgency.iri)))
    for flag in result.red_flags:
        add((node, RESULT.redFlag, URIRef(flag.iri)))
    for situation in result.situations:
        add((node, RESULT.situation, URIRef(situation.iri)))
    for step in result.next_steps:
        add((node, RESULT.recommendation, URIRef(step.iri)))
    for step in result.avoid:
        add((node, RESULT.avoid, URIRef(step.iri)))
    for step in result.excepted:
        add((node, RESULT.exceptedAvoid, URIRef(step.iri)))
    for step in result.precautions:
        add((node, RESULT.precautionaryAvoid, URIRef(step.iri)))
    for item in result.missing:
        add((node, RESULT.missingItem, Literal(item.item)))
    for conflict in result.conflicts:
        c = BNode()
        add((node, RESULT.conflict, c))
        add((c, RDFS.label, Literal(conflict.subject)))
        add((c, RESULT.resolution, Literal(f"{conflict.policy}: {conflict.resolution}")))
    _add_plan(add, node, result)
    add((node, PROV.wasGeneratedBy, activity))
    add((activity, RDF.type, PROV.Activity))
    add((activity, PROV.used, knowledge))
    add((knowledge, RESULT.contentHash, Literal(result.knowledge.content_hash)))
    add((knowledge, RESULT.versionInfo, Literal(result.knowledge.version)))
    add((activity, RESULT.dorsumVersion, Literal(result.knowledge.dorsum_version)))
    add((activity, RESULT.source, Literal(result.source)))
    add((node, RESULT.exitCode, Literal(result.exit_code, datatype=XSD.integer)))
    return list(dict.fromkeys(out))  # each triple once, as in a graph


def _add_plan(add: Callable[[Triple], None], node: URIRef, result: TriageResult) -> None:
    """The plan: per topic the primary step(s), how they were chosen, and the steps that lost."""
    for entry in result.plan.topics:
        topic = BNode()
        add((node, RESULT.planTopic, topic))
        if entry.topic_iri:
            add((topic, RESULT.topic, URIRef(entry.topic_iri)))
        add((topic, RDFS.label, Literal(entry.topic)))
        add((topic, RESULT.decidedBy, Literal(entry.reason)))
        for option in entry.chosen:
            add((topic, RESULT.primaryAction, URIRef(option.action_iri)))
            for step in option.steps:
                add((topic, RESULT.primaryStep, URIRef(step)))
            if entry.kept_for(option) is None:
                _add_own_time_frame(add, topic, option)
        for alternative in entry.alternatives:
            for step in alternative.option.steps:
                add((topic, RESULT.alternativeStep, URIRef(step)))
        timing = entry.timing
        if timing is not None and any(entry.kept_for(option) is not None for option in entry.chosen):
            kept = BNode()  # the replaced step's time frame, kept for the step chosen (dx:timingResolvedBy)
            add((topic, RESULT.keptTimeFrame, kept))
            add((kept, RESULT.dueWithin, URIRef(timing.tier.iri)))
            relation = RESULT.alongsideAction if timing.reason == ALONGSIDE else RESULT.replacedAction
            add((kept, relation, URIRef(timing.action_iri)))  # a step on another topic, or the one replaced
            for step in timing.steps:
                add((kept, PROV.wasDerivedFrom, URIRef(step)))
            add((kept, RESULT.keptBy, URIRef(timing.policy_iri)))
            if timing.time_frame:  # the replaced action's own time frame, sooner than the tier (PT4H)
                add((kept, RESULT.timeFrame, Literal(timing.time_frame, datatype=XSD.duration)))
            add((kept, RDFS.comment, Literal(f"due {timing.text} ({timing.action}: {timing.detail})")))
    for suppression in result.plan.suppressed:
        add((node, RESULT.suppressedStep, URIRef(suppression.step)))
    for later in result.next_steps:
        if result.plan.shows_later(later):
            add((node, RESULT.laterStep, URIRef(later.iri)))
    for dropped in result.plan.dropped:
        add((node, RESULT.droppedStep, URIRef(dropped.step)))
    _add_later_timing(add, node, result)
    _add_fallback_choices(add, node, result)
    _add_later_starts(add, node, result)


def _add_later_starts(add: Callable[[Triple], None], node: URIRef, result: TriageResult) -> None:
    """What each later step's time frame counts from: ``res:laterStart [ res:laterStep ;
    res:countedFrom <action> ]``, or ``res:countedAs <action>`` for a fallback due within the time
    frame of the step it replaces (from now); neither: from when its condition is known."""
    for start in result.plan.later_starts:
        counted = BNode()
        add((node, RESULT.laterStart, counted))
        add((counted, RESULT.laterStep, URIRef(start.step)))
        for action in start.after_iris:
            add((counted, RESULT.countedFrom, URIRef(action)))
        if start.instead_of_iri:  # a fallback: due within the replaced step's time frame, from now
            add((counted, RESULT.countedAs, URIRef(start.instead_of_iri)))
        add((counted, RDFS.comment, Literal(start.text)))


def _add_own_time_frame(add: Callable[[Triple], None], topic: BNode, option: PlanOption) -> None:
    """Rule 11: a chosen step due within its action's own time frame, sooner than its tier's (the
    4-hour MRI under the 12-hour tier): ``res:ownTimeFrame [ res:primaryAction ; res:timeFrame ]``."""
    own = option.sooner_time_frame
    if own:
        due = BNode()
        add((topic, RESULT.ownTimeFrame, due))
        add((due, RESULT.primaryAction, URIRef(option.action_iri)))
        add((due, RESULT.timeFrame, Literal(own, datatype=XSD.duration)))
        add((due, RDFS.comment, Literal(f"{option.action}: due within {duration_words(own)} ({own})")))


def _add_fallback_choices(add: Callable[[Triple], None], node: URIRef, result: TriageResult) -> None:
    """One ``res:fallbackChoice`` node for each plan step with several fallbacks: the one shown
    (``res:chosenStep``) and the others (``res:alternativeStep``), how it was chosen, and why."""
    for choice in result.plan.fallback_choices:
        chosen = BNode()
        add((node, RESULT.fallbackChoice, chosen))
        for action in choice.replaces_iris:
            add((chosen, RESULT.replacedAction, URIRef(action)))
        add((chosen, RESULT.chosenAction, URIRef(choice.chosen.action_iri)))
        for step in choice.chosen.steps:
            add((chosen, RESULT.chosenStep, URIRef(step)))
        add((chosen, RESULT.decidedBy, Literal(choice.reason)))
        for alternative in choice.alternatives:
            for step in alternative.option.steps:
                add((chosen, RESULT.alternativeStep, URIRef(step)))
        others = "; ".join(f"{a.option.action} ({a.detail})" for a in choice.alternatives)
        comment = f"if {choice.replaces} cannot be done: {choice.chosen.action}, instead of {others}"
        add((chosen, RDFS.comment, Literal(comment)))


def _add_later_timing(add: Callable[[Triple], None], node: URIRef, result: TriageResult) -> None:
    """The time frames later steps keep: a dropped later step's (which it stands in for), or that of
    the plan step it is the fallback of; one ``res:keptLaterTimeFrame`` node each."""
    for stand_in in result.plan.later_timing:
        _add_kept_later(add, node, stand_in, stand_in.waited_on_iri, stand_in.dropped, stands_in=True)
    for fallback in result.plan.fallback_timing:
        _add_kept_later(add, node, fallback, fallback.replaces_iri, fallback.replaces_steps, stands_in=False)


def _add_kept_later(
    add: Callable[[Triple], None],
    node: URIRef,
    kept: KeptLaterTimeFrame | FallbackTimeFrame,
    replaced_action: str,
    given_by: tuple[str, ...],
    *,
    stands_in: bool,
) -> None:
    """One kept later time frame: the later step, its tier, the action replaced, the recommendations
    that give the time frame (``res:standsInFor`` them too, for a dropped later step), the rule, and
    ``res:timeFrame`` where a fallback keeps the replaced step's own sooner time frame (PT4H)."""
    frame = BNode()
    add((node, RESULT.keptLaterTimeFrame, frame))
    add((frame, RESULT.laterStep, URIRef(kept.step)))
    add((frame, RESULT.dueWithin, URIRef(kept.tier.iri)))
    add((frame, RESULT.replacedAction, URIRef(replaced_action)))
    for step in given_by:
        if stands_in:
            add((frame, RESULT.standsInFor, URIRef(step)))
        add((frame, PROV.wasDerivedFrom, URIRef(step)))
    add((frame, RESULT.keptBy, URIRef(kept.policy_iri)))
    if isinstance(kept, FallbackTimeFrame) and kept.time_frame:  # the replaced step's own, sooner than the tier
        add((frame, RESULT.timeFrame, Literal(kept.time_frame, datatype=XSD.duration)))
    add((frame, RDFS.comment, Literal(f"due {kept.text}: {kept.because}")))
