"""A triage result as CDS Hooks cards: the plan card, what to record, and order-select warnings.

The words and the steps all come from the result (and so from the knowledge); this module only
lays them out. How a tier shows in the EHR (critical, warning, info) is the tier's own
``dx:cdsIndicator`` in ``ontology/urgency.ttl``; only for a tier without one does the service fall
back to its time frame (:data:`CRITICAL_WITHIN`, :data:`WARNING_WITHIN`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rdflib import URIRef
from rdflib.namespace import RDF, RDFS

from reasoner.fhir.mapping import describe_coding
from reasoner.fhir.questionnaire import DORSUM_SYSTEM
from reasoner.hooks.spec import SUMMARY_LIMIT, Action, Card, Indicator, Link, Source, Suggestion
from reasoner.knowledge import DX, Knowledge
from reasoner.pipeline.result import SUPPRESSED, PlanOption, Step, Tier, TriageResult, duration, duration_words
from reasoner.render.text import later_texts

#: A tier whose time frame is at most this long shows as "critical"; at most WARNING_WITHIN, "warning".
CRITICAL_WITHIN = timedelta(hours=48)
WARNING_WITHIN = timedelta(days=14)


@dataclass(frozen=True)
class CardLinks:
    """Where the cards point: the Questionnaire the service serves, and the patient."""

    questionnaire: str
    patient_reference: str  # "Patient/123", or "" when unknown


def indicator(tier: Tier | None, knowledge: Knowledge) -> Indicator:
    if tier is None:
        return "warning"
    declared = str(knowledge.ontology.value(URIRef(tier.iri), DX.cdsIndicator) or "")
    if declared in ("critical", "warning", "info"):
        return declared  # type: ignore[return-value]
    within = duration(tier.time_frame)
    if within is None:
        return "warning"
    if within <= CRITICAL_WITHIN:
        return "critical"
    return "warning" if within <= WARNING_WITHIN else "info"


def triage_cards(result: TriageResult, knowledge: Knowledge, links: CardLinks) -> list[Card]:
    """The plan card (when a tier is known) and, for an incomplete case, a card of what to record."""
    cards: list[Card] = []
    tier = result.effective_urgency
    if tier is not None:
        cards.append(_plan_card(result, knowledge, links, tier))
    needed = [item for item in result.missing if item.needed]
    if needed or not result.complete:
        cards.append(_record_card(result, knowledge, links, needed))
    return cards


def _plan_card(result: TriageResult, knowledge: Knowledge, links: CardLinks, tier: Tier) -> Card:
    first = _first_step(result)
    when = tier.label if result.complete else f"could be {tier.label} (incomplete)"
    steps = [option.action for option in _chosen(result)][:2]
    summary = f"Back lump: {when}. " + ("; then ".join(steps) if steps else "See the plan")
    if len(summary) > SUMMARY_LIMIT:
        summary = fit(f"Back lump: {when}. {first.action if first else 'See the plan'}")
    imaging = [option for option in _chosen(result) if _is_imaging(option.action_iri, knowledge)]
    suggestions = [_order_suggestion(option, tier, links, knowledge) for option in imaging]
    return Card(
        uuid=str(uuid.uuid4()),
        summary=summary,
        detail=plan_markdown(result),
        indicator=indicator(tier, knowledge),
        source=source_of(result, knowledge, first),
        suggestions=suggestions or None,
        selectionBehavior="at-most-one" if suggestions else None,
        links=[Link(label="The dorsum questionnaire (what triage needs)", url=links.questionnaire, type="absolute")],
    )


def _record_card(result: TriageResult, knowledge: Knowledge, links: CardLinks, needed: list[Any]) -> Card:
    items = needed or list(result.missing)
    names = ", ".join(item.item for item in items) or "the lump and the patient's age"
    lines = [f"- **{item.item}**: {item.message}" for item in items]
    return Card(
        uuid=str(uuid.uuid4()),
        summary=fit(f"Back lump: record {len(items)} item(s) for safe triage: {names}"),
        detail="Until these are recorded, dorsum assumes the worst case for each.\n\n" + "\n".join(lines),
        indicator="warning",
        source=knowledge_source(knowledge),
        links=[Link(label="Record them with the dorsum questionnaire", url=links.questionnaire, type="absolute")],
    )


def plan_markdown(result: TriageResult) -> str:
    """The plan, red flags and decisive facts, in markdown."""
    lines: list[str] = []
    urgency = result.urgency.label if result.urgency else "not known"
    if result.complete:
        lines.append(f"**Urgency:** {urgency}{_sooner(result)}")
    else:
        possible = result.possible_urgency.label if result.possible_urgency else "not known"
        lines.append(
            f"**Urgency:** at least {urgency}; could be **{possible}** until the missing items are recorded"
            f"{_sooner(result)}"
        )
    lines += ["", "**Plan**", ""]
    for topic in result.plan.topics:
        if topic.tie:
            answer = "CHOOSE: " + " / ".join(option.action for option in topic.chosen)
        elif topic.primary is not None:
            kept = topic.kept_for(topic.primary)
            own = topic.primary.sooner_time_frame
            due = f", due {kept.text}" if kept is not None else _own_due(own)
            answer = f"{topic.primary.action} ({', '.join(topic.primary.sources)}{due})"
        else:
            answer = topic.no_step_text or "no step applies"
        lines.append(f"- *{topic.topic}*: {answer}")
        lines += [
            f"  - not now: {alt.option.action} ({alt.detail})" for alt in topic.alternatives if alt.reason == SUPPRESSED
        ]
    later = later_texts(result)
    if later:  # as the text's LATER lines: when each is due, what from, and the fallback chosen
        lines += ["", "**Later, depending on results**", ""] + [f"- {text}" for text in later]
    if result.red_flags:
        lines += ["", "**Red flags**", ""]
        named = {item.iri: item.label for item in result.red_flags + result.situations}
        for flag in result.red_flags:
            why = [fact.text for fact in flag.facts] or [named.get(iri, iri) for iri in flag.because_of]
            lines.append(f"- {flag.label}" + (f": {'; '.join(why)}" if why else ""))
    facts = sorted({fact.text for flag in result.red_flags + result.situations for fact in flag.facts})
    if facts:
        lines += ["", "**Decisive facts**", ""] + [f"- {fact}" for fact in facts]
    if result.notes:
        lines += ["", "**Notes**", ""] + [f"- {note}" for note in result.notes]
    stamp = result.knowledge
    lines += ["", f"_dorsum knowledge {stamp.version} ({stamp.content_hash[:12]}); decision support, not diagnosis._"]
    return "\n".join(lines)


def _sooner(result: TriageResult) -> str:
    """ "; **a step is due sooner: within 4 hours (PT4H)**" where a plan step states its own time
    frame, shorter than the headline tier's (as the text's headline says); else ""."""
    own = result.plan.due_sooner_than(result.effective_urgency)
    return f"; **a step is due sooner: within {duration_words(own)} ({own})**" if own else ""


def _own_due(own: str) -> str:
    """ ", due within 4 hours (PT4H)" for a step's own time frame, sooner than its tier's; else ""."""
    return f", due within {duration_words(own)} ({own})" if own else ""


def order_warnings(
    result: TriageResult, knowledge: Knowledge, orders: Iterable[Mapping[str, Any]], links: CardLinks
) -> list[Card]:
    """A warning card for each draft order whose code is a step the plan suppresses or an avoid item forbids."""
    cards: list[Card] = []
    unchecked: list[str] = []
    for order in orders:
        codings = order.get("code", {}).get("coding", [])
        ours = [coding for coding in codings if coding.get("system") == DORSUM_SYSTEM]
        if not ours:
            unchecked.append(", ".join(describe_coding(c) for c in codings) or f"{order.get('id', '(no id)')}")
        for coding in ours:
            reasons = list(_why_not(result, knowledge, str(coding.get("code", ""))))
            if reasons:
                cards.append(_warning_card(result, knowledge, coding, reasons, links))
    if unchecked:
        cards.append(
            Card(
                uuid=str(uuid.uuid4()),
                summary=fit(f"dorsum could not check {len(unchecked)} draft order(s): no dorsum code"),
                detail="Not checked against the plan (no mapping to the dorsum code system):\n\n"
                + "\n".join(f"- {name}" for name in unchecked),
                indicator="info",
                source=knowledge_source(knowledge),
            )
        )
    return cards


def _why_not(result: TriageResult, knowledge: Knowledge, action: str) -> Iterable[tuple[str, Step | None]]:
    for topic in result.plan.topics:
        for alt in topic.alternatives:
            if alt.reason == SUPPRESSED and alt.option.action_iri == action:
                yield f"not now: {alt.detail}", _step(result, alt.by[0] if alt.by else "")
    kinds = {action, *(str(a) for a in knowledge.ontology.transitive_objects(URIRef(action), DX.variantOf))}
    for step in result.avoid:
        if step.action_iri in kinds:
            yield f"avoid: {step.label}", step
    for step in result.precautions:  # unknown is not absent: it may hold once the items are recorded
        if step.action_iri in kinds:
            yield f"avoid as a precaution while items are unrecorded: {step.label}", step


def _warning_card(
    result: TriageResult,
    knowledge: Knowledge,
    coding: Mapping[str, Any],
    reasons: list[tuple[str, Step | None]],
    links: CardLinks,
) -> Card:
    name = str(coding.get("display") or knowledge.label(URIRef(str(coding.get("code", "")))))
    first = _first_step(result)
    lines = [
        f"- {why}" + (f" -- {step.evidence}" if step is not None and step.evidence else "") for why, step in reasons
    ]
    if first is not None:
        lines.append(f"\nThe plan's first step instead: **{first.action}**.")
    step = next((step for _, step in reasons if step is not None), None)
    return Card(
        uuid=str(uuid.uuid4()),
        summary=fit(f"Reconsider {name}: {reasons[0][0]}"),
        detail="\n".join(lines),
        indicator="warning",
        source=_citation_source(step, knowledge),
        links=[Link(label="The dorsum questionnaire (what triage needs)", url=links.questionnaire, type="absolute")],
    )


def error_card(message: str, knowledge: Knowledge) -> Card:
    return Card(
        uuid=str(uuid.uuid4()),
        summary=fit(f"dorsum could not triage: {message}"),
        detail=message,
        indicator="info",
        source=knowledge_source(knowledge),
    )


def source_of(result: TriageResult, knowledge: Knowledge, first: PlanOption | None) -> Source:
    step = _step(result, first.steps[0]) if first is not None and first.steps else None
    return _citation_source(step, knowledge)


def _citation_source(step: Step | None, knowledge: Knowledge) -> Source:
    if step is None or not step.sources:
        return knowledge_source(knowledge)
    cited = next((c for c in step.sources if c.relation == "source"), step.sources[0])
    return Source(label=fit(cited.label), url=cited.iri)


def knowledge_source(knowledge: Knowledge) -> Source:
    return Source(label=f"dorsum knowledge {knowledge.version}", url=knowledge.version_iri)


def _order_suggestion(option: PlanOption, tier: Tier, links: CardLinks, knowledge: Knowledge) -> Suggestion:
    priority = {"critical": "stat", "warning": "urgent"}.get(indicator(tier, knowledge), "routine")
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "priority": priority,
        "code": {
            "coding": [{"system": DORSUM_SYSTEM, "code": option.action_iri, "display": option.action}],
            "text": option.action,
        },
        "reasonCode": [{"text": f"dorsum triage: {tier.label}{_own_due(option.sooner_time_frame)}"}],
    }
    if links.patient_reference:
        request["subject"] = {"reference": links.patient_reference}
    return Suggestion(
        label=fit(f"Order {option.action}"),
        uuid=str(uuid.uuid4()),
        isRecommended=True,
        actions=[Action(type="create", description=fit(f"Order {option.action}"), resource=request)],
    )


def _chosen(result: TriageResult) -> list[PlanOption]:
    return [topic.primary for topic in result.plan.topics if topic.primary is not None]


def _first_step(result: TriageResult) -> PlanOption | None:
    chosen = _chosen(result)
    return chosen[0] if chosen else None


def _step(result: TriageResult, iri: str) -> Step | None:
    return next((step for step in result.next_steps + result.avoid if step.iri == iri), None)


def _is_imaging(action: str, knowledge: Knowledge) -> bool:
    ontology = knowledge.ontology
    return any(
        DX.ImagingTest in set(ontology.transitive_objects(cls, RDFS.subClassOf))
        for cls in ontology.objects(URIRef(action), RDF.type)
    )


def fit(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """``text`` on one line, cut at a word to ``limit`` characters (with an ellipsis)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"
