"""A triage result as text for a clinician.

Three levels of detail: ``brief`` is the summary a clinician can act on (DO NOW, THEN, LATER, DO NOT,
WHY, and for an incomplete case the items to record; where no step applies at all, NO STEP lines
say what that means on each topic); ``summary`` (the default) adds the plan by topic, the red flags
and the disagreements, one line each; ``full`` adds every applicable step with its evidence, every
avoid item and the citations.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from reasoner.pipeline.result import Alternative, FallbackTimeFrame, PlanOption, PlanTopic, due_key, duration_words
from reasoner.pipeline.triage import Citation, Conflict, Step, TriageResult, chain

DISCLAIMER = "Decision support for professionals, not a diagnosis. Check every step against clinical judgement."
DETAILS = ("brief", "summary", "full")
MAX_DO_NOT = 3
GENERIC = {"https://w3id.org/dorsum/ontology#Case"}  # the situation of advice that holds for every case
MAX_LATER = 3
MAX_WHY = 5
MAX_RECORD = 8  # items to record named on the INCOMPLETE line (the rest are counted)
MAX_FLAGS = 6
MAX_ALTERNATIVES = 3
LABEL = "{:<9}"
NEGATIONS = ("no ", "not ", "do not ", "avoid ")  # how a label that is itself a negation starts


def render_text(result: TriageResult, detail: str = "summary") -> str:
    """The result as text, at a level of ``DETAILS``."""
    out = [f"Case {result.case_id}  ({result.source})", _wrap(_headline(result), "", " " * 9)]
    out.extend(_summary(result))
    if detail == "brief":
        out.append(DISCLAIMER)
        return "\n".join(out) + "\n"
    out.append("")
    out.extend(_plan_lines(result, full=detail == "full"))
    out.append("")
    if detail == "full":
        out.extend(_full(result))
        out.append("")
    else:
        out.extend(_compact(result))
    if detail == "full":
        out.append(_stamp(result))
    out.append(DISCLAIMER)
    return "\n".join(out) + "\n"


def _stamp(result: TriageResult) -> str:
    stamp = result.knowledge
    return f"Knowledge {stamp.version} (sha256 {stamp.content_hash[:12]}), dorsum {stamp.dorsum_version}"


# ---------------------------------------------------------------- the summary


def _summary(result: TriageResult) -> list[str]:
    chosen = [(entry, option) for entry in result.plan.topics for option in entry.chosen]
    by_rank: dict[int, dict[str, tuple[PlanTopic, PlanOption]]] = {}
    for entry, option in chosen:  # grouped by when each is due (a kept time frame included)
        due = entry.due(option)
        by_rank.setdefault(due.rank if due else 0, {}).setdefault(option.action_iri, (entry, option))
    lines: list[str] = []
    for index, rank in enumerate(sorted(by_rank, reverse=True)):
        group = list(by_rank[rank].values())
        tier = group[0][0].due(group[0][1])
        headline = result.urgency.iri if result.urgency else ""
        when = f"{tier.label}: " if tier and tier.iri != headline else ""
        steps = "; ".join(o.action + (_kept_text(e, o) or _own_text(o)) for e, o in group)
        sources = ", ".join(dict.fromkeys(s for _e, o in group for s in o.sources))
        lines.append(_field("DO NOW" if index == 0 else "THEN", f"{when}{steps}   [{sources}]"))
    if not chosen:
        lines.append(_field("DO NOW", "no step in the knowledge base applies: clinical judgement is needed"))
    for entry in result.plan.topics:
        if not chosen and not entry.chosen and entry.no_step_text:  # what no step on a topic means
            lines.append(_field("NO STEP", f"{entry.topic}: {entry.no_step_text}"))
        if entry.tie:
            lines.append(_field("CHOOSE", f"{entry.topic}: the sources tie; pick one of the steps above"))
    later = _later(result)
    do_not = _do_not(result)
    lines.extend(later + do_not + _hidden(result, len(later), len(do_not)))
    kept = {iri for e, o in chosen if e.kept_for(o) is not None for iri in e.timing.steps}  # type: ignore[union-attr]
    why = _decisive_facts(result, {iri for _e, o in chosen for iri in o.steps} | kept)
    if why:
        lines.append(_field("WHY", "; ".join(why)))
    needed = [item.item for item in result.missing if item.needed]
    decisive = [item.item for item in result.missing if item.needed and item.would_change]
    if decisive:
        rest = len(needed) - len(decisive)
        more = f"; {rest} more would not" if rest else ""
        items = "the item that could" if len(decisive) == 1 else f"the {len(decisive)} items that could"
        named = ", ".join(decisive[:MAX_RECORD]) + (
            f", +{len(decisive) - MAX_RECORD} more" if len(decisive) > MAX_RECORD else ""
        )
        text = f"INCOMPLETE: record {items} change this answer: {named}{more}"
        lines.append(_wrap(text, "", " " * 9))
    elif needed:
        lines.append(_wrap("INCOMPLETE: record " + ", ".join(needed), "", " " * 9))
    avoiding = [f"{i.item} ({i.would_change})" for i in result.missing if not i.needed and i.would_change]
    if avoiding:
        text = "Not recorded, not needed for the tier or the plan, but would change what to avoid: "
        lines.append(_wrap(text + "; ".join(avoiding), "", " " * 9))
    unneeded = [item.item for item in result.missing if not item.needed and not item.would_change]
    if unneeded:
        lines.append(_wrap("Not recorded, not needed for this decision: " + ", ".join(unneeded), "", " " * 9))
    for note in result.notes:
        lines.append(_field("NOTE", note))
    return lines


def _field(name: str, text: str) -> str:
    return _wrap(text, LABEL.format(name), " " * 9)


def _later(result: TriageResult) -> list[str]:
    """The first ``MAX_LATER`` LATER lines (:func:`later_texts`)."""
    return [_field("LATER", text) for text in later_texts(result)[:MAX_LATER]]


def later_texts(result: TriageResult) -> list[str]:
    """The later steps, the soonest due first, one per action (the most urgent step of each), each
    with when it is due, what that counts from, and the fallbacks it was chosen over; not an action
    the plan already does now (it read "DO NOW emergency assessment" and then "LATER if imaging
    shows compression: emergency assessment, within 24 hours"). The CDS Hooks card says the same."""
    now = {option.action_iri for entry in result.plan.topics for option in entry.chosen}  # already a DO NOW or THEN
    conditional = [
        s
        for s in result.next_steps
        if result.plan.shows_later(s) and _specific_or_tied(result, s) and s.action_iri not in now
    ]
    seen: dict[str, Step] = {}
    for step in conditional:
        if _later_rank(result, step) > _later_rank(result, seen.get(step.action_iri, step)):
            seen[step.action_iri] = step
        seen.setdefault(step.action_iri, step)
    soonest = sorted(seen.values(), key=lambda s: _later_key(result, s), reverse=True)  # stable: pathway order
    return [f"if {s.condition}: {s.action}{_later_due_text(result, s)}{_fallback_text(result, s)}" for s in soonest]


def _specific_or_tied(result: TriageResult, step: Step) -> bool:
    """Whether the summary shows a later step: not advice for every case (shown with --detail),
    unless it stands in for a step of this plan and is due when that step is (a safety check before
    a contrast study, say): then it belongs beside the step it guards."""
    return not set(step.because) <= GENERIC or isinstance(result.plan.later_kept_for(step), FallbackTimeFrame)


def _later_rank(result: TriageResult, step: Step) -> tuple[int, bool]:
    """Which step of one action the summary shows: the most urgent, then one for this case's
    situation over advice for every case (whose wording is the more general)."""
    due = result.plan.later_due(step)
    return (due.rank if due is not None else 0, not set(step.because) <= GENERIC)


def _later_key(result: TriageResult, step: Step) -> tuple[int, float]:
    """How soon a later step is due: its tier's rank, then a fallback's sooner own time frame."""
    kept = result.plan.later_kept_for(step)
    return due_key(result.plan.later_due(step), kept.time_frame if isinstance(kept, FallbackTimeFrame) else "")


def _later_due_text(result: TriageResult, step: Step) -> str:
    """ " (due <tier>, counted from the result of <step it waits on>)", with ": <source>'s time
    frame for <action>, which it stands in for" where it keeps a dropped later step's time frame;
    " (due <time frame>: the time frame of <step>, which it replaces if that cannot be done)" for a
    fallback, whose time counts as that step's; "" without a time frame."""
    kept = result.plan.later_kept_for(step)
    if isinstance(kept, FallbackTimeFrame):
        return f" (due {kept.text})"
    start = result.plan.later_start(step)
    counted = f", {start.text}" if start is not None else ""
    if kept is not None:
        return f" (due {kept.tier.label}{counted}: {kept.source_text})"
    return f" (due {step.tier.label}{counted})" if step.tier is not None else ""


def _fallback_text(result: TriageResult, step: Step) -> str:
    """ " [sources]; instead of: <fallback> [sources] (<why>)" where this fallback was chosen over
    another fallback of the same plan step; else ""."""
    choice = result.plan.fallback_choice(step)
    if choice is None:
        return ""
    others = "; ".join(
        f"{a.option.action} [{', '.join(a.option.sources)}] ({_short_reason(a)})" for a in choice.alternatives
    )
    return f" [{', '.join(choice.chosen.sources)}]; instead of: {others}"


def _hidden(result: TriageResult, shown_later: int, shown_avoid: int) -> list[str]:
    """One line saying what the summary left out, if anything."""
    later = len({s.action_iri for s in result.next_steps if result.plan.shows_later(s)}) - shown_later
    actions = {s.action for s in (*result.avoid, *result.precautions)} | {s.action for s in result.plan.suppressed}
    avoid = len(actions) - shown_avoid
    parts = [f"{later} more conditional steps"] * (later > 0) + [f"{avoid} more to avoid"] * (avoid > 0)
    return [_field("", f"(+{', +'.join(parts)}: --detail)")] if parts else []


def _do_not(result: TriageResult) -> list[str]:
    items: dict[str, str] = {}
    for suppression in result.plan.suppressed:
        items.setdefault(suppression.action, "not now: " + "; ".join(suppression.because))
    for step in result.avoid:
        if set(step.because) <= GENERIC:
            continue  # advice for every case (no antibiotics, no open biopsy ...): shown with --detail
        unless = f" (unless {step.except_when})" if step.except_when else ""
        items.setdefault(step.action, f"{_sources_short(step.sources)}{unless}")
    for step in result.precautions:  # unknown is not absent: it may hold once the items are recorded
        if not set(step.because) <= GENERIC:
            items.setdefault(step.action, f"precaution while items are unrecorded: {_sources_short(step.sources)}")
    shown = list(items.items())[:MAX_DO_NOT]
    return [_field("DO NOT", f"{_as_object(action)}: {why}") for action, why in shown]


def _as_object(action: str) -> str:
    """An action as the object of DO NOT: quoted where its label is itself a negation ("no imaging
    now"), which would otherwise read as a double negative."""
    return f'"{action}"' if action.lower().startswith(NEGATIONS) else action


def _decisive_facts(result: TriageResult, steps: set[str]) -> list[str]:
    facts: dict[str, bool] = {}
    for step in result.next_steps:
        if step.iri not in steps:
            continue
        for item, _depth in chain(result, step):
            for fact in item.facts:
                facts.setdefault(fact.text, fact.property_iri.endswith("#hasAbsentFinding"))
    present = [text for text, absent in facts.items() if not absent]
    absent = [text for text, absent in facts.items() if absent]
    if absent:  # what is recorded absent matters too, but it is summed up rather than listed
        present.append(f"{len(absent)} red-flag findings recorded absent")
    return present[:MAX_WHY]


# ---------------------------------------------------------------- the plan by topic


def _plan_lines(result: TriageResult, full: bool) -> list[str]:
    lines = [f"Plan by topic (policy: {result.policy}):"]
    headline = result.urgency.iri if result.urgency else ""
    idle = [entry.topic for entry in result.plan.topics if not entry.chosen and not entry.alternatives]
    for entry in result.plan.topics:
        if not full and entry.topic in idle:
            continue
        lines.append(_wrap(f"- {entry.topic}: {_chosen_text(entry, headline)}", "  ", "      "))
        if full:
            for alternative in entry.alternatives:
                lines.append(_wrap(f"instead of {_alternative_text(alternative)}", "      ", "        "))
        elif entry.alternatives:
            shown = entry.alternatives[:MAX_ALTERNATIVES]
            others = "; ".join(f"{a.option.action} ({_short_reason(a)})" for a in shown)
            if len(entry.alternatives) > len(shown):
                others += f"; +{len(entry.alternatives) - len(shown)} more"
            lines.append(_wrap(f"instead of: {others}", "      ", "        "))
    if idle and not full:
        lines.append(_wrap(f"- no step now on: {'; '.join(idle)} (why: --detail)", "  ", "      "))
    return lines


def _short_reason(alternative: Alternative) -> str:
    if alternative.reason == "policy" and alternative.detail.startswith("profile"):
        return alternative.detail
    return SHORT.get(alternative.reason, alternative.reason)


SHORT = {
    "suppressed": "avoided here",
    "superseded": "superseded",
    "policy": "less urgent",
    "covered": "covered by it",
    "authority": "less authoritative source",
    "done": "done already",
}


def _chosen_text(entry: PlanTopic, headline: str) -> str:
    if not entry.chosen:
        return entry.no_step_text or "no step applies now"
    options = " OR ".join(f"{o.action}{_due_text(entry, o, headline)} [{', '.join(o.sources)}]" for o in entry.chosen)
    return f"{options}  ({REASONS.get(entry.reason, entry.reason)})"


def _due_text(entry: PlanTopic, option: PlanOption, headline: str) -> str:
    """When a chosen step is due, where the headline does not say it: a kept time frame, the
    action's own sooner one, or its tier where that is not the headline's."""
    shown = _kept_text(entry, option) or _own_text(option)
    return shown or (_tier_text(option) if option.tier and option.tier.iri != headline else "")


def _kept_text(entry: PlanTopic, option: PlanOption) -> str:
    """ " (due <tier>: <source>'s time frame for <action>, which it replaces)", where the topic keeps
    a replaced step's time frame for this option; else ""."""
    kept = entry.kept_for(option)
    return f" (due {kept.text})" if kept is not None else ""


def _own_text(option: PlanOption) -> str:
    """ " (due within <own time frame> (<ISO>), sooner than the tier's <tier's>)" where
    the action states a time frame sooner than its tier's (the tier scale is fixed); else ""."""
    own = option.sooner_time_frame
    if not own or option.tier is None:
        return ""
    tier = duration_words(option.tier.time_frame)
    return f" (due within {duration_words(own)} ({own}), sooner than the tier's {tier})"


def _alternative_text(alternative: Alternative) -> str:
    option = alternative.option
    return f"{option.action} [{', '.join(option.sources)}]: {alternative.detail}"


def _tier_text(option: PlanOption) -> str:
    return f" ({option.tier.label})" if option.tier else ""


REASONS = {
    "only option": "the only step",
    "superseded": "more specific than the others",
    "suppressed": "the others are avoided here",
    "policy": "most cautious of the options",
    "covered": "it covers the others",
    "authority": "most authoritative source",
    "tie": "a tie between sources",
}


# ---------------------------------------------------------------- compact and full details


def _compact(result: TriageResult) -> list[str]:
    lines: list[str] = []
    if result.red_flags:
        shown = [flag.label for flag in result.red_flags[:MAX_FLAGS]]
        more = len(result.red_flags) - len(shown)
        flags = "; ".join(shown) + (f"; +{more} more (--detail)" if more > 0 else "")
        lines.append(_wrap(f"Red flags ({len(result.red_flags)}): {flags}", "", "  "))
    explained = any(item.needed and item.would_change for item in result.missing)
    if explained:
        lines.append("To record, by what each item would change at its worst (messages: --detail):")
        groups: dict[str, list[str]] = {}
        for item in result.missing:
            if item.needed:
                groups.setdefault(item.would_change or "would change nothing on its own", []).append(item.item)
        quiet = groups.pop("would change nothing on its own", [])
        for change, items in groups.items():
            lines.append(_wrap(f"- {change}: {', '.join(items)}", "  ", "    "))
        if quiet:
            lines.append(f"  - {len(quiet)} more would change nothing on their own (--detail lists them)")
    elif any(item.needed for item in result.missing):
        lines.append("To record:")
        lines.extend(_wrap(f"- {item.message}", "  ", "    ") for item in result.missing if item.needed)
    if result.conflicts:
        subjects = "; ".join(conflict.subject for conflict in result.conflicts)
        lines.append(_wrap(f"Sources disagree on ({len(result.conflicts)}, see --detail): {subjects}", "", "  "))
    sources = ", ".join(dict.fromkeys(c.short for c in _all_citations(result) if c.relation == "source"))
    lines.append(_wrap(f"Sources: {sources}. {_stamp(result)}", "", "  "))
    return lines


def _missing_lines(result: TriageResult) -> list[str]:
    """Each unrecorded item with what recording it at its worst would change, and whether it is needed."""
    if not result.missing:
        return []
    needed = [item.item for item in result.missing if item.needed]
    out = ["", "INCOMPLETE: record " + ", ".join(needed) if needed else "Not recorded:"]
    for item in result.missing:
        change = f" ({item.would_change})" if item.would_change else ""
        if item.needed:
            why = ""
        else:  # an item that changes only what to avoid is not "not needed"
            why = " (not needed for the tier or the plan)" if change else " (not needed for this decision)"
        out.append(_wrap(f"- {item.message}{change}{why}", "  ", "    "))
    return out


def _avoid_lines(result: TriageResult) -> list[str]:
    """The avoid items that hold, then those shown as a precaution while items are unrecorded."""
    out: list[str] = []
    if result.avoid:
        out.extend(["", "Avoid:"])
        for step in result.avoid:
            unless = f" (unless {step.except_when})" if step.except_when else ""
            out.append(f"  - {step.action}{unless}  [{_sources_short(step.sources)}]")
            out.append(_wrap(step.evidence, "      "))
    if result.precautions:
        out.extend(["", "Avoid as a precaution while items are unrecorded (it may hold once they are recorded):"])
        for step in result.precautions:
            out.append(f"  - {step.action}  [{_sources_short(step.sources)}]")
            out.append(_wrap(step.evidence, "      "))
    return out


def _full(result: TriageResult) -> list[str]:
    out: list[str] = _missing_lines(result)
    for note in result.notes:
        out.append(f"NOTE: {note}")

    out.append("")
    out.append(f"Red flags ({len(result.red_flags)}):" if result.red_flags else "Red flags: none recorded")
    for flag in result.red_flags:
        out.append(f"  - {flag.label}  [{_sources_short(flag.sources)}]")
        for fact in flag.facts:
            out.append(f"      because {fact.text}")
        for part in flag.because_of:
            component = result.explain(part)
            facts = "; ".join(fact.text for fact in component.facts) if component else ""
            label = component.label if component else part
            out.append(f"      because {label}" + (f" ({facts})" if facts else ""))

    unconditional = [s for s in result.next_steps if not s.condition]
    conditional = [s for s in result.next_steps if result.plan.shows_later(s)]
    out.append("")
    out.append("Every applicable step (most urgent first):")
    for number, step in enumerate(unconditional, start=1):
        out.extend(_step_lines(result, step, f"{number}."))
    if conditional:
        out.append("")
        out.append("Later steps, depending on results:")
        for step in conditional:
            out.extend(_step_lines(result, step, "-"))
    out.extend(_left_out(result))
    out.extend(_avoid_lines(result))
    out.extend(_excepted(result))
    if result.conflicts:
        out.append("")
        out.append(f"Where the sources disagree ({len(result.conflicts)}; policy: {result.policy}):")
        for conflict in result.conflicts:
            out.extend(_conflict_lines(conflict))
    out.append("")
    out.append("Sources:")
    for citation in _all_citations(result):
        date = f" ({citation.date})" if citation.date else ""
        out.append(_wrap(f"{citation.short}{date}: {citation.citation}", "  - ", "    "))
    return out


def _left_out(result: TriageResult) -> list[str]:
    """The later steps the plan does not show: avoided here, or waiting on a step not in the plan."""
    steps = {step.iri: step for step in result.next_steps}
    lines: list[str] = []
    for suppression in result.plan.suppressed:
        step = steps.get(suppression.step)
        if step is not None and step.condition:
            why = "not now, because: " + "; ".join(suppression.because)
            text = f"{step.action} (if {step.condition}): {why}  [{_sources_short(step.sources)}]"
            lines.append(_wrap(text, "  - ", "    "))
    for dropped in result.plan.dropped:
        step = steps.get(dropped.step)
        sources = f"  [{_sources_short(step.sources)}]" if step is not None else ""
        keeps = [steps[k.step].action for k in result.plan.later_timing if dropped.step in k.dropped]
        kept = f"; its time frame is kept by: {'; '.join(dict.fromkeys(keeps))}" if keeps else ""
        text = f"{dropped.action} (if {dropped.condition}): {dropped.because}{kept}{sources}"
        lines.append(_wrap(text, "  - ", "    "))
    for choice in result.plan.fallback_choices:
        for alternative in choice.alternatives:
            option = alternative.option
            why = f"another fallback of {choice.replaces} is shown: {choice.chosen.action} ({alternative.detail})"
            lines.append(_wrap(f"{option.action}: {why}  [{', '.join(option.sources)}]", "  - ", "    "))
    return ["", "Later steps left out of this plan:", *lines] if lines else []


def _headline(result: TriageResult) -> str:
    tier = result.urgency
    possible = result.possible_urgency
    if result.complete:
        if tier is None:
            return "URGENCY: undetermined (no recommendation applies)"
        return f"URGENCY: {tier.label} ({tier.time_frame}){_sooner_text(result)}"
    floor = (
        f"at least {tier.label} ({tier.time_frame})" if tier else ("no tier can be set from the recorded facts alone")
    )
    line = f"URGENCY: {floor}"
    if possible is not None and (tier is None or possible.rank > tier.rank):
        line += f"; could be {possible.label} ({possible.time_frame}) until the missing items are recorded"
    return line + _sooner_text(result)


def _sooner_text(result: TriageResult) -> str:
    """ "; a step is due sooner: within <time frame> (see DO NOW)" where a step the plan does now
    states its own time frame, sooner than the headline tier's (the 4-hour cauda equina MRI under
    the 12-hour tier): the headline never gives a later time without saying so; else ""."""
    soonest = result.plan.due_sooner_than(result.effective_urgency)
    return f"; a step is due sooner: within {duration_words(soonest)} ({soonest}, see DO NOW)" if soonest else ""


def _step_lines(result: TriageResult, step: Step, bullet: str) -> list[str]:
    kept = result.plan.later_kept_for(step) if step.condition else None
    due = kept.tier if kept is not None else step.tier
    tier = f"[{due.label}] " if due else ""
    lines = [f"  {bullet} {tier}{step.action}"]
    if step.condition:
        lines.append(f"      only if: {step.condition}")
    if kept is not None:
        own = step.tier.label if step.tier is not None else "none"
        text = f"due {kept.text}: {kept.because}; its own time frame: {own} (rule: {kept.policy})"
        lines.append(_wrap(text, "      ", "        "))
    lines.append(_wrap(f"{step.label}: {step.evidence}", "      "))
    if step.interpretation:
        lines.append(_wrap(f"note: {step.interpretation}", "      "))
    lines.append("      why: " + _why(result, step))
    lines.append(f"      source: {_sources_short(step.sources)}")
    return lines


def _why(result: TriageResult, step: Step) -> str:
    parts = []
    for item, _depth in chain(result, step):
        facts = "; ".join(fact.text for fact in item.facts)
        parts.append(f"{item.label} <- {facts}" if facts else item.label)
    if not parts:
        return "applies to every back lump"
    return " | ".join(parts)


def _conflict_lines(conflict: Conflict) -> list[str]:
    lines = [f"  - {conflict.subject}"]
    for position in conflict.positions:
        tier = f" [{position.tier}]" if position.tier else ""
        cond = " (conditional)" if position.conditional else ""
        lines.append(f"      * {position.action}{tier}{cond}: {', '.join(position.sources)}")
    lines.append(f"      policy: {conflict.policy}: {conflict.resolution}")
    return lines


def _excepted(result: TriageResult) -> list[str]:
    """Avoid advice that applies but whose exception holds: never a "do not", said with the reason."""
    if not result.excepted:
        return []
    out = ["", "Avoid advice excepted here (it applies, but its exception holds for this case):"]
    for step in result.excepted:
        line = f"{step.action}: excepted here, because: {_exceptions(result, step)}  [{_sources_short(step.sources)}]"
        out.append(_wrap(line, "  - ", "      "))
        out.append(_wrap(step.evidence, "      "))
    return out


def _exceptions(result: TriageResult, step: Step) -> str:
    """Why an avoid advice is lifted here: the exception classes that hold, and the source's words."""
    held = []
    for iri in step.excepted_in:
        found = result.explain(iri)
        held.append(found.label if found is not None else iri.rsplit("#", 1)[-1])
    words = f" (the source: unless {step.except_when})" if step.except_when else ""
    return "; ".join(held) + words


def _sources_short(citations: Iterable[Citation]) -> str:
    names = [c.short for c in citations if c.relation == "source"]
    return ", ".join(dict.fromkeys(names)) or "no source"


def _all_citations(result: TriageResult) -> list[Citation]:
    seen: dict[str, Citation] = {}
    for item in result.red_flags + result.situations:
        for c in item.sources:
            seen.setdefault(c.iri, c)
    for step in result.next_steps + result.avoid + result.excepted:
        for c in step.sources:
            seen.setdefault(c.iri, c)
    return sorted(seen.values(), key=lambda c: c.iri)


def _wrap(text: str, indent: str, subsequent: str | None = None) -> str:
    return textwrap.fill(
        text, width=100, initial_indent=indent, subsequent_indent=subsequent or indent, break_long_words=False
    )
