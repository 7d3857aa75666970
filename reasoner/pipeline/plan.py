"""The plan stage: one primary step per topic, chosen from the applicable recommendations.

The rules that decide live in the knowledge: which avoid advice suppresses which step
(``queries/report-plan-suppressed.rq``, and ``report-plan-precautions.rq`` over the worst-case
completion), which recommendation supersedes which (``report-plan-supersedes.rq``: a more specific
situation, or ``dx:supersedes``), the topics and their order (``knowledge-plan-topics.rq``) and the
sources' authority (``knowledge-authority.rq``). This module applies them in a fixed order and keeps
the reason each losing step lost:

1. suppressed: an applicable avoid advice names its action ("not now, because ..."); a topic whose
   every step one avoid item forbids says who takes the question over, where the item names it
   (``dx:leavesTopicTo``, ``knowledge-avoid-leaves-topic-to.rq``): "no step now (see DO NOT): ...";
2. superseded: a more specific (or explicitly superseding) recommendation on the topic applies;
3. policy: the profile's preferred source, else the most cautious tier;
4. authority: the highest ``dx:authorityRank`` of the step's sources;
5. what is left with different actions is a tie, shown as one;
6. the topic's timing policy (``dx:timingResolvedBy``): where a step that lost is more urgent than the
   chosen one, the chosen step is due within that time frame (``PlanTopic.timing``), named with its
   step and sources. Replacing an action, or a more specific advice for the same action, never
   relaxes how soon the topic's step is due.

Conditional steps (``dx:onlyIf``) wait on a result and never compete. One that ``dx:waitsOn`` an
earlier step's action (``knowledge-plan-waits-on.rq``: "if ultrasound is uncertain" waits on any
ultrasound) is shown only when the plan holds that action, as a primary step or as a later step it
shows; otherwise it is dropped and recorded with why (``Plan.dropped``). Where the step it waits on was
replaced in the plan, the later steps of the same kind shown after the replacing step keep its time
frame if more urgent (``Plan.later_timing``, :mod:`reasoner.pipeline.later_timing`), and a later step
that is the fallback of a plan step (``dx:fallbackFor``) is due no later than it
(``Plan.fallback_timing``); where fallbacks with different actions replace one plan step for the same
reason (the same ``dx:fallbackFor``), one is shown and the others are its alternatives
(``Plan.fallback_choices``). Each later step shown says what its time frame counts from: the result
of the plan's step it waits on (``Plan.later_starts``). A chosen step whose action states its own
time frame, sooner than its tier's (``dx:timeFrame``, ``knowledge-action-time-frames.rq``), carries it
(``PlanOption.time_frame``). The urgency tier is not decided here: it stays the most urgent applicable
recommendation, whatever wins a topic (a kept time frame is an applicable step's, so never above it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from rdflib import URIRef

from reasoner.knowledge import Knowledge
from reasoner.pipeline.later_timing import fallback_time_frames, fallbacks, kept_later_time_frames, later_starts
from reasoner.pipeline.plan_rules import (
    TopicInfo,
    WaitsOn,
    action_time_frames,
    authority_ranks,
    covered_actions,
    plan_topics,
    topic_handovers,
    waits_on,
)
from reasoner.pipeline.policy import Profile
from reasoner.pipeline.result import (
    ALONGSIDE,
    AUTHORITY,
    COVERED,
    DONE,
    NONE,
    ONLY,
    POLICY,
    SUPERSEDED,
    SUPPRESSED,
    TIE,
    Alternative,
    Dropped,
    FallbackChoice,
    KeptTimeFrame,
    Plan,
    PlanOption,
    PlanTopic,
    Step,
    Suppression,
    Tier,
    due_key,
)

#: What a topic says when every step it has applies but an avoid item forbids each one: the
#: topic's own "no step" text (e.g. "no imaging step applies") would misread that as nothing to do.
ALL_AVOIDED_TEXT = (
    "no step can be offered now: every option applies but is avoided here (see DO NOT); clinical judgement is needed"
)
#: What a topic says when one applicable avoid item forbids every step it has and names who takes
#: the question over (``dx:leavesTopicTo``): followed by that text.
LEFT_TO_TEXT = "no step now (see DO NOT): "


def build_plan(
    steps: Sequence[Step],
    suppressed_rows: Iterable[tuple[object, object]],
    supersedes_rows: Iterable[tuple[object, object, object, object]],
    knowledge: Knowledge,
    profile: Profile | None,
    *,
    done_rows: Iterable[tuple[object, object]] = (),
) -> Plan:
    """Choose one step per topic from the applicable recommendations ``steps``.

    ``suppressed_rows`` are (recommendation, avoid) pairs; ``supersedes_rows`` are (winner, loser,
    topic, how) rows, both from the plan queries; ``done_rows`` are (recommendation, result) pairs
    (``report-plan-done.rq``): the step's test has been done, its result is recorded.
    """
    by_iri = {step.iri: step for step in steps}
    done = _by_step(done_rows, by_iri)
    avoid_labels = {step.iri: step.label for step in steps}
    suppressed = _by_step(suppressed_rows, by_iri)
    beats: dict[str, dict[str, list[tuple[str, str]]]] = {}  # topic -> loser -> every (winner, how)
    pairs = {(str(w), str(lo), str(t)): str(how) for w, lo, t, how in supersedes_rows}
    for (winner, loser, topic), how in sorted(pairs.items()):
        if (loser, winner, topic) not in pairs:  # mutual: neither is more specific
            beats.setdefault(topic, {}).setdefault(loser, []).append((winner, how))
    ranks = authority_ranks(knowledge)
    candidates: dict[str, list[Step]] = {}
    untopical: dict[str, list[Step]] = {}  # steps an author gave no topic: each stands alone
    for step in steps:
        if step.kind == "recommendation" and not step.condition:
            for topic in step.topic_iris:
                candidates.setdefault(topic, []).append(step)
            if not step.topic_iris and step.iri not in suppressed:
                untopical.setdefault(step.action_iri, []).append(step)
    entries = []
    for info in plan_topics(knowledge):
        topic_steps = candidates.get(info.iri, [])
        if not topic_steps and not info.no_step_text:
            continue
        entries.append(
            _decide(
                info,
                topic_steps,
                suppressed,
                beats.get(info.iri, {}),
                by_iri,
                avoid_labels,
                ranks,
                profile,
                knowledge,
                done,
            )
        )
    for group in untopical.values():
        option = _option(group, ranks)
        entries.append(PlanTopic(topic_iri="", topic=option.action, chosen=(option,), reason=ONLY, alternatives=()))
    frames = action_time_frames(knowledge)
    if frames:  # a step's action that states its own time frame (PT4H) says so, and a step that
        # replaces it keeps it (rule 7 with rule 11: CT myelography where the 4-hour MRI is avoided)
        policies = {info.iri: info.timing_policy for info in plan_topics(knowledge)}
        entries = [
            _keep_own_time_frame(_with_time_frames(e, frames), policies.get(e.topic_iri, ""), knowledge)
            for e in entries
        ]
    entries = _no_later_than_the_plan(entries, knowledge)
    suppressions = tuple(
        Suppression(
            step=iri,
            action=by_iri[iri].action,
            avoid=tuple(sorted(avoids)),
            because=tuple(sorted(avoid_labels.get(a, knowledge.label(URIRef(a))) for a in avoids)),
        )
        for iri, avoids in sorted(suppressed.items())
    )
    dropped = _dropped_later_steps(steps, suppressed, entries, knowledge)
    choices = _fallback_choices(steps, suppressed, dropped, entries, ranks, knowledge)
    if choices:  # a later step that waits on a fallback not shown is left out too
        others = {iri for choice in choices for alt in choice.alternatives for iri in alt.option.steps}
        dropped = _dropped_later_steps(steps, suppressed, entries, knowledge, others)
    plan = Plan(topics=tuple(entries), suppressed=suppressions, dropped=dropped, fallback_choices=choices)
    if dropped:
        awaits = {iri: rule.satisfied_by for iri, rule in waits_on(knowledge).items()}
        plan = replace(plan, later_timing=kept_later_time_frames(steps, plan, awaits, knowledge))
    plan = replace(plan, fallback_timing=fallback_time_frames(steps, plan, knowledge, frames))
    satisfied = {iri: rule.satisfied_by for iri, rule in waits_on(knowledge).items()}
    return replace(plan, later_starts=later_starts(steps, plan, satisfied))


def _by_step(rows: Iterable[tuple[object, object]], by_iri: Mapping[str, Step]) -> dict[str, set[str]]:
    """(recommendation, why) rows grouped by applicable step: the avoid items that suppress it, or the
    recorded results that say its test is done."""
    grouped: dict[str, set[str]] = {}
    for recommendation, why in rows:
        if str(recommendation) in by_iri:
            grouped.setdefault(str(recommendation), set()).add(str(why))
    return grouped


def _with_time_frames(entry: PlanTopic, frames: Mapping[str, str]) -> PlanTopic:
    """``entry`` with each chosen and lost option's action's own time frame (``PlanOption.time_frame``)."""
    return replace(
        entry,
        chosen=tuple(replace(o, time_frame=frames.get(o.action_iri, "")) for o in entry.chosen),
        alternatives=tuple(
            replace(a, option=replace(a.option, time_frame=frames.get(a.option.action_iri, "")))
            for a in entry.alternatives
        ),
    )


def _keep_own_time_frame(entry: PlanTopic, policy: str, knowledge: Knowledge) -> PlanTopic:
    """Rule 7 for an action's own time frame (rule 11): where a step that lost the topic (avoided
    here, superseded, not the profile's preference) is due within its own time frame, sooner than
    every chosen step is due (the cauda equina pathway's 4-hour MRI, avoided because MRI is
    contraindicated: CT myelography at the same 12-hour tier), the chosen step keeps it."""
    lost = [
        a for a in entry.alternatives if a.option.sooner_time_frame and a.option.tier is not None and a.reason != DONE
    ]
    if not entry.chosen or not policy or not lost:
        return entry
    best = max(lost, key=lambda a: (due_key(a.option.tier, a.option.time_frame), a.reason == SUPPRESSED))
    key = due_key(best.option.tier, best.option.time_frame)
    if all(key <= due_key(entry.due(o), entry.sooner_time_frame(o)) for o in entry.chosen):
        return entry
    return replace(entry, timing=_kept(best, lost, policy, knowledge, best.option.time_frame))


def _no_later_than_the_plan(entries: Sequence[PlanTopic], knowledge: Knowledge) -> list[PlanTopic]:
    """Rule 12 (``dx:planTimingResolvedBy``): a topic's chosen step is due no later than the most
    urgent step the plan asks now on another topic (how fast to be seen is never slower than the
    test the evaluation leads to), and the answer names that step and its sources."""
    policies = {info.iri: info.plan_timing_policy for info in plan_topics(knowledge) if info.plan_timing_policy}
    found = list(entries)
    for index, entry in enumerate(entries):
        policy = policies.get(entry.topic_iri)
        others = [(e, o) for e in entries if e.topic_iri != entry.topic_iri for o in e.chosen if e.due(o) is not None]
        if policy is None or not entry.chosen or not others:
            continue
        other, option = max(others, key=lambda pair: pair[0].due_order(pair[1]))
        if all(other.due_order(option) <= entry.due_order(mine) for mine in entry.chosen):
            continue
        kept, tier = other.kept_for(option), other.due(option)
        assert tier is not None  # only steps with a time frame are compared
        found[index] = replace(
            entry,
            timing=KeptTimeFrame(
                tier=tier,
                action=option.action,
                action_iri=option.action_iri,
                steps=kept.steps if kept is not None else option.steps,
                sources=kept.sources if kept is not None else option.sources,
                reason=ALONGSIDE,
                detail=f"asked now on another topic ({other.topic})",
                policy_iri=policy,
                policy=knowledge.label(URIRef(policy)),
                time_frame=other.sooner_time_frame(option),
            ),
        )
    return found


def _kept(
    first: Alternative, losers: Sequence[Alternative], policy: str, knowledge: Knowledge, time_frame: str = ""
) -> KeptTimeFrame:
    """The time frame of ``first``, a step that lost its topic, kept for the step chosen (with every
    loser of the same action's recommendations and sources)."""
    same = [a for a in losers if a.option.action_iri == first.option.action_iri]
    assert first.option.tier is not None  # it is more urgent than a chosen step, so it has a tier
    return KeptTimeFrame(
        tier=first.option.tier,
        action=first.option.action,
        action_iri=first.option.action_iri,
        steps=tuple(sorted({iri for a in same for iri in a.option.steps})),
        sources=tuple(sorted({source for a in same for source in a.option.sources})),
        reason=first.reason,
        detail=first.detail,
        policy_iri=policy,
        policy=knowledge.label(URIRef(policy)),
        time_frame=time_frame,
    )


def _fallback_choices(
    steps: Sequence[Step],
    suppressed: Mapping[str, set[str]],
    dropped: Sequence[Dropped],
    entries: Sequence[PlanTopic],
    ranks: Mapping[str, int],
    knowledge: Knowledge,
) -> tuple[FallbackChoice, ...]:
    """One fallback per plan step and reason: where later steps with different actions are each the
    fallback of the same plan step(s) for the same thing (dx:fallbackFor: the same actions it could
    replace, ``fallbacks``), the plan's rules choose one.
    Each is due within the more urgent of its own time frame and the replaced step's (rule 9), so most
    cautious compares those; then what covers the others, then authority. A profile does not choose
    (the more urgent one is never dropped for a preferred source); a tie is shown as two steps."""
    replaceable = fallbacks(knowledge)
    held = {option.action_iri: (entry, option) for entry in entries for option in entry.chosen}
    hidden = set(suppressed) | {entry.step for entry in dropped}
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Step]] = {}
    for step in steps:
        actions = replaceable.get(step.iri, {})
        replaced = tuple(sorted(set(actions) & set(held)))
        if step.kind == "recommendation" and step.condition and step.iri not in hidden and replaced:
            groups.setdefault((replaced, tuple(sorted(actions))), []).append(step)
    choices = []
    for (replaced, _reason), group in sorted(groups.items()):
        tiers = [t for a in replaced if (t := held[a][0].due(held[a][1])) is not None]
        floor = max(tiers, key=lambda t: t.rank) if tiers else None
        options = [_due_no_later(option, floor) for option in _options(group, ranks)]
        if len(options) < 2:
            continue
        chosen, reason, lost = _select(options, None, covered_actions(knowledge))
        if len(chosen) != 1 or not lost:
            continue
        choices.append(
            FallbackChoice(
                replaces=" or ".join(held[a][1].action for a in replaced),
                replaces_iris=replaced,
                chosen=chosen[0],
                reason=reason,
                alternatives=tuple(_merge_alternatives(lost)),
            )
        )
    return tuple(choices)


def _due_no_later(option: PlanOption, floor: Tier | None) -> PlanOption:
    """``option`` with the tier it is due within as a fallback: its own, or ``floor`` (the replaced
    plan step's) where that is more urgent."""
    if floor is not None and (option.tier is None or floor.rank > option.tier.rank):
        return replace(option, tier=floor)
    return option


def _dropped_later_steps(
    steps: Sequence[Step],
    suppressed: Mapping[str, set[str]],
    entries: Sequence[PlanTopic],
    knowledge: Knowledge,
    not_shown: frozenset[str] | set[str] = frozenset(),
) -> tuple[Dropped, ...]:
    """The later steps whose dx:waitsOn no action in the plan satisfies.

    The plan's actions are its primary steps' and, to a fixpoint, those of the later steps it shows
    (a biopsy after imaging also follows an MRI that is itself a later step). A suppressed later
    step is not shown (the avoid item says why) and satisfies nothing; nor does a later step in
    ``not_shown`` (a fallback another fallback of the same step won over).
    """
    rules = waits_on(knowledge)
    in_plan = {option.action_iri for entry in entries for option in entry.chosen}
    pending = {
        step.iri: step
        for step in steps
        if step.kind == "recommendation" and step.condition and step.iri not in suppressed and step.iri not in not_shown
    }
    changed = True
    while changed:
        changed = False
        for iri, step in list(pending.items()):
            rule = rules.get(iri)
            if rule is None or rule.satisfied_by & in_plan:
                in_plan.add(step.action_iri)
                del pending[iri]
                changed = True
    return tuple(
        Dropped(
            step=iri,
            action=step.action,
            condition=step.condition,
            waits_on=rules[iri].needed,
            because=_absent_because(rules[iri], steps, suppressed, entries, knowledge),
        )
        for iri, step in sorted(pending.items())
    )


def _absent_because(
    rule: WaitsOn,
    steps: Sequence[Step],
    suppressed: Mapping[str, set[str]],
    entries: Sequence[PlanTopic],
    knowledge: Knowledge,
) -> str:
    """Why no step the later step waits on is in the plan: avoided, lost on its topic, or not offered."""
    needed = " or ".join(knowledge.label(URIRef(iri)) for iri in rule.needed)
    fates: dict[str, str] = {}
    for step in steps:
        if step.kind == "recommendation" and step.action_iri in rule.satisfied_by and step.iri in suppressed:
            fates.setdefault(step.action, "avoided here")
    for entry in entries:
        for alternative in entry.alternatives:
            if alternative.option.action_iri in rule.satisfied_by:
                fates.setdefault(alternative.option.action, alternative.detail)
    for step in steps:
        if step.kind == "recommendation" and step.action_iri in rule.satisfied_by:
            fates.setdefault(step.action, "a later step that is not shown")
    what = "; ".join(f"{action}: {fate}" for action, fate in sorted(fates.items())) or "no step offers it here"
    return f"waits on a result of {needed}, which is not in the plan ({what})"


def _decide(
    info: TopicInfo,
    topic_steps: list[Step],
    suppressed: Mapping[str, set[str]],
    beats: Mapping[str, Sequence[tuple[str, str]]],
    by_iri: Mapping[str, Step],
    avoid_labels: Mapping[str, str],
    ranks: Mapping[str, int],
    profile: Profile | None,
    knowledge: Knowledge,
    done: Mapping[str, set[str]],
) -> PlanTopic:
    label = knowledge.label(URIRef(info.iri))
    alternatives: list[Alternative] = []
    live = [s for s in topic_steps if s.iri not in suppressed and s.iri not in done]
    for step in topic_steps:
        if step.iri in done and step.iri not in suppressed:
            results = "; ".join(sorted(knowledge.label(URIRef(r)) for r in done[step.iri]))
            alternatives.append(
                Alternative(
                    _option([step], ranks),
                    DONE,
                    f"done already: its result is recorded ({results})",
                    tuple(sorted(done[step.iri])),
                )
            )
        if step.iri in suppressed:
            avoids = sorted(suppressed[step.iri])
            because = "; ".join(avoid_labels.get(a, knowledge.label(URIRef(a))) for a in avoids)
            alternatives.append(
                Alternative(_option([step], ranks), SUPPRESSED, f"not now, because: {because}", tuple(avoids))
            )
    live_iris = {s.iri for s in live}
    remaining = []
    for step in live:
        # the last live step that supersedes it: one that is avoided or done already supersedes nothing
        winners = [w for w in beats.get(step.iri, ()) if w[0] in live_iris]
        winner = winners[-1] if winners else None
        if winner is not None:
            who = by_iri[winner[0]].label if winner[0] in by_iri else winner[0]
            alternatives.append(Alternative(_option([step], ranks), SUPERSEDED, f"{winner[1]}: {who}", (winner[0],)))
        else:
            remaining.append(step)
    options = _options(remaining, ranks)
    chosen, reason, lost = _select(options, profile, covered_actions(knowledge))
    alternatives.extend(lost)
    lost_here = [a for a in alternatives if a.reason != DONE]  # a test done already did not lose
    if not chosen:
        reason = SUPPRESSED if lost_here and all(a.reason == SUPPRESSED for a in lost_here) else NONE
    elif reason == ONLY and any(a.reason == SUPERSEDED for a in lost_here):
        reason = SUPERSEDED
    elif reason == ONLY and lost_here:
        reason = SUPPRESSED
    chosen_actions = {o.action_iri for o in chosen}
    # a step of a chosen action that lost (superseded by a more specific step of the same action) is
    # not shown as an alternative, but its time frame is kept (rule 6): the same test, due no later
    timing = _kept_time_frame(chosen, alternatives, info, knowledge)
    alternatives = [a for a in alternatives if a.option.action_iri not in chosen_actions or a.reason == SUPPRESSED]
    return PlanTopic(
        topic_iri=info.iri,
        topic=label,
        chosen=tuple(chosen),
        reason=reason,
        alternatives=tuple(_merge_alternatives(alternatives)),
        no_step_text=_all_avoided_text([s for s in topic_steps if s.iri not in done], suppressed, knowledge)
        if not chosen and reason == SUPPRESSED
        else info.no_step_text,
        timing=timing,
    )


def _all_avoided_text(topic_steps: Sequence[Step], suppressed: Mapping[str, set[str]], knowledge: Knowledge) -> str:
    """What a topic whose every step is avoided says. Where one avoid item forbids every step on it
    and names who takes the question over (``dx:leavesTopicTo``), "no step now (see DO NOT)" with
    that text; otherwise that no step can be offered and clinical judgement is needed."""
    common = set.intersection(*(suppressed.get(step.iri, set()) for step in topic_steps)) if topic_steps else set()
    handovers = topic_handovers(knowledge)
    texts = sorted({text for avoid in common for text in handovers.get(avoid, ())})
    return LEFT_TO_TEXT + "; ".join(texts) if texts else ALL_AVOIDED_TEXT


def _kept_time_frame(
    chosen: Sequence[PlanOption], alternatives: Sequence[Alternative], info: TopicInfo, knowledge: Knowledge
) -> KeptTimeFrame | None:
    """The topic's timing policy: the most urgent time frame of the steps that lost the choice of
    action, where it is more urgent than a chosen step's own (else None). Under most cautious wins a
    more urgent step loses only when avoided or superseded; under a profile, also to its preference."""
    alternatives = [a for a in alternatives if a.reason != DONE]  # a test done already keeps no time frame
    if not chosen or not info.timing_policy:
        return None
    floor = min(_rank(option) for option in chosen)
    top = max((_rank(a.option) for a in alternatives), default=0)
    if top <= floor:
        return None
    order = {SUPPRESSED: 0, POLICY: 1, SUPERSEDED: 2}  # the preferred loser before a step it superseded
    losers = sorted(
        (a for a in alternatives if _rank(a.option) == top), key=lambda a: (order.get(a.reason, 9), a.option.action)
    )
    kept = _kept(losers[0], losers, info.timing_policy, knowledge)
    return replace(kept, same_action=any(kept.action_iri == option.action_iri for option in chosen))


def _options(steps: Sequence[Step], ranks: Mapping[str, int]) -> list[PlanOption]:
    grouped: dict[str, list[Step]] = {}
    for step in steps:
        grouped.setdefault(step.action_iri, []).append(step)
    return [_option(group, ranks) for group in grouped.values()]


def _option(steps: Sequence[Step], ranks: Mapping[str, int]) -> PlanOption:
    tiers = [s.tier for s in steps if s.tier is not None]
    tier = max(tiers, key=lambda t: t.rank) if tiers else None
    sources = tuple(sorted({c.short for s in steps for c in s.sources if c.relation == "source"}))
    return PlanOption(
        action=steps[0].action,
        action_iri=steps[0].action_iri,
        tier=tier,
        steps=tuple(sorted(s.iri for s in steps)),
        sources=sources,
        authority=max((ranks.get(c.iri, 0) for s in steps for c in s.sources if c.relation == "source"), default=0),
    )


def _select(
    options: list[PlanOption], profile: Profile | None, covers: frozenset[tuple[str, str]]
) -> tuple[list[PlanOption], str, list[Alternative]]:
    if len(options) <= 1:
        return options, ONLY, []
    lost: list[Alternative] = []
    reason = POLICY
    if profile is not None:
        preferred = _preferred(options, profile)
        if preferred is not None:
            for option in options:
                if option is not preferred:
                    lost.append(
                        Alternative(
                            option,
                            POLICY,
                            f"profile {profile.name} prefers {', '.join(preferred.sources)}",
                            preferred.steps,
                        )
                    )
            return [preferred], POLICY, lost
    top = max(_rank(o) for o in options)
    kept = [o for o in options if _rank(o) == top]
    for option in options:
        if _rank(option) < top:
            lost.append(Alternative(option, POLICY, "most cautious wins: a more urgent step applies", ()))
    if len(kept) > 1:
        kept, reason = _covering(kept, covers, lost)
    if len(kept) > 1:
        best = max(o.authority for o in kept)
        for option in kept:
            if option.authority < best:
                lost.append(Alternative(option, AUTHORITY, "a more authoritative source gives another step", ()))
        kept = [o for o in kept if o.authority == best]
        reason = AUTHORITY if len(kept) == 1 else TIE
    return sorted(kept, key=lambda o: o.action), reason, lost


def _covering(
    kept: list[PlanOption], covers: frozenset[tuple[str, str]], lost: list[Alternative]
) -> tuple[list[PlanOption], str]:
    """Drop the options whose action another kept option covers (dx:covers)."""
    remaining = []
    for option in kept:
        by = [o for o in kept if (o.action_iri, option.action_iri) in covers]
        if by:
            lost.append(Alternative(option, COVERED, f"{by[0].action} covers it", by[0].steps))
        else:
            remaining.append(option)
    return remaining, (COVERED if len(remaining) < len(kept) else POLICY)


def _rank(option: PlanOption) -> int:
    return option.tier.rank if option.tier is not None else 0


def _preferred(options: Sequence[PlanOption], profile: Profile) -> PlanOption | None:
    for source in profile.prefers:
        for option in options:
            if source in option.sources:
                return option
    return None


def _merge_alternatives(alternatives: Sequence[Alternative]) -> list[Alternative]:
    """One alternative per (action, reason), the strongest reason first."""
    order = {SUPPRESSED: 0, SUPERSEDED: 1, POLICY: 2, COVERED: 3, AUTHORITY: 4}
    merged: dict[tuple[str, str], Alternative] = {}
    for alt in alternatives:
        key = (alt.option.action_iri, alt.reason)
        if key in merged:
            old = merged[key]
            steps = tuple(sorted({*old.option.steps, *alt.option.steps}))
            sources = tuple(sorted({*old.option.sources, *alt.option.sources}))
            option = PlanOption(
                old.option.action, old.option.action_iri, old.option.tier, steps, sources, old.option.authority
            )
            merged[key] = Alternative(option, old.reason, old.detail, tuple(sorted({*old.by, *alt.by})))
        else:
            merged[key] = alt
    return sorted(merged.values(), key=lambda a: (order.get(a.reason, 9), a.option.action))
