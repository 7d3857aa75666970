"""The plan's rule for later steps' time frames: a dropped later step's time frame is kept.

A later step (``dx:waitsOn``) is left out of the plan when the step it waits on is not there
(:mod:`reasoner.pipeline.plan`). Where that step was *replaced* (it lost its topic to the plan's step:
avoided here, superseded, or not chosen), the later steps the plan shows after the replacing step
stand in for the dropped one if their actions are of the same kind: a kind of action (a class of
``dx:Action``) that names its policy with ``dx:laterTimingResolvedBy``
(``knowledge-plan-later-kinds.rq``). Each such step is due within the dropped step's time frame where
that is more urgent than its own (``Plan.later_timing``), and the answer names the dropped step and
its source. A 17-year-old's deep growing lump: NG12's 48-hour ultrasound is avoided and MRI replaces
it; NG12's 48-hour referral "if the ultrasound suggests sarcoma" is dropped, and the sarcoma MDT
referral after any imaging is due within 48 hours, not its own 2 weeks.

A later step that is the *fallback* of a step the plan holds (``dx:fallbackFor``, read by
``knowledge-plan-fallbacks.rq``: "if MRI is contraindicated or unavailable: CT") is due no later than
that step (``Plan.fallback_timing``): a lumbar mass's MRI is due within 24 hours, so is the CT that
replaces it if the MRI cannot be done, not the CT's own 2 weeks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rdflib import URIRef

from reasoner.knowledge import Knowledge, per_knowledge
from reasoner.pipeline.engine import engine_for
from reasoner.pipeline.result import (
    DONE,
    Alternative,
    Dropped,
    FallbackTimeFrame,
    KeptLaterTimeFrame,
    LaterStart,
    Plan,
    PlanOption,
    PlanTopic,
    Step,
    Tier,
    due_key,
    sooner,
)


@per_knowledge
def later_kinds(knowledge: Knowledge) -> Mapping[str, Mapping[str, str]]:
    """Each action's kinds that name a later-step timing policy: action IRI -> {kind IRI: policy IRI}
    (once per knowledge)."""
    return _pairs(knowledge, "knowledge-plan-later-kinds")


@per_knowledge
def fallbacks(knowledge: Knowledge) -> Mapping[str, Mapping[str, str]]:
    """Each fallback step's replaceable actions: recommendation IRI -> {action IRI: policy IRI}
    (once per knowledge)."""
    return _pairs(knowledge, "knowledge-plan-fallbacks")


def _pairs(knowledge: Knowledge, query: str) -> dict[str, dict[str, str]]:
    """The rows (a, b, policy) of a knowledge query as a -> {b: policy}, the first policy of each
    pair kept (none if the knowledge lacks the query)."""
    if query not in knowledge.queries:
        return {}
    rows: Iterable[Any] = engine_for(knowledge).knowledge_rows(query)
    found: dict[str, dict[str, str]] = {}
    for first, second, policy in rows:
        found.setdefault(str(first), {}).setdefault(str(second), str(policy))
    return found


def fallback_time_frames(
    steps: Sequence[Step], plan: Plan, knowledge: Knowledge, frames: Mapping[str, str] | None = None
) -> tuple[FallbackTimeFrame, ...]:
    """The time frames the later steps ``plan`` shows keep from the plan's steps they are the
    fallback of, where those are due sooner than the later step (after ``plan.later_timing``). A plan
    step whose action states its own sooner time frame (``frames``: "PT4H" under the 12-hour tier)
    passes that on too."""
    replaceable = fallbacks(knowledge)
    frames = frames or {}
    kept = []
    for step in steps:
        actions = replaceable.get(step.iri)
        if not actions or not plan.shows_later(step):
            continue
        own = plan.later_due(step)
        own_key = due_key(own, frames.get(step.action_iri, ""))
        best: tuple[tuple[int, float], Tier, str, PlanTopic, PlanOption] | None = None
        for entry in plan.topics:
            for option in entry.chosen:
                due = entry.due(option)
                if option.action_iri not in actions or due is None:
                    continue
                time_frame = entry.sooner_time_frame(option)
                key = due_key(due, time_frame)
                if best is None or key > best[0]:
                    best = (key, due, time_frame if sooner(time_frame, due) else "", entry, option)
        if best is None or best[0] <= own_key:
            continue
        _key, due, time_frame, entry, option = best
        policy = actions[option.action_iri]
        kept.append(
            FallbackTimeFrame(
                step=step.iri,
                tier=due,
                replaces=option.action,
                replaces_iri=option.action_iri,
                replaces_steps=option.steps,
                topic=entry.topic,
                sources=option.sources,
                policy_iri=policy,
                policy=knowledge.label(URIRef(policy)),
                time_frame=time_frame,
            )
        )
    return tuple(kept)


def later_starts(
    steps: Sequence[Step], plan: Plan, satisfied_by: Mapping[str, frozenset[str]]
) -> tuple[LaterStart, ...]:
    """What each later step shown counts its time frame from: the result of the plan's step it waits
    on (``satisfied_by``: the actions that satisfy its dx:waitsOn; a primary step first, else a later
    step shown), or, with no dx:waitsOn, when its condition is known. A fallback due within the time
    frame of the step it replaces (``plan.fallback_timing``) counts as that step does, from now, not
    from its result (the LATER line says "the time frame of <step>, which it replaces")."""
    primary = {option.action_iri: option.action for entry in plan.topics for option in entry.chosen}
    later = {s.action_iri: s.action for s in steps if plan.shows_later(s)}
    replacing = {kept.step: kept for kept in plan.fallback_timing}
    starts = []
    for step in steps:
        if not plan.shows_later(step):
            continue
        kept = replacing.get(step.iri)
        if kept is not None:
            starts.append(
                LaterStart(
                    step.iri, after=(), after_iris=(), instead_of=kept.replaces, instead_of_iri=kept.replaces_iri
                )
            )
            continue
        satisfied = satisfied_by.get(step.iri, frozenset())
        found = {a: label for a, label in primary.items() if a in satisfied} or {
            a: label for a, label in later.items() if a in satisfied and a != step.action_iri
        }
        iris = tuple(sorted(found, key=lambda a: found[a]))
        starts.append(LaterStart(step=step.iri, after=tuple(found[a] for a in iris), after_iris=iris))
    return tuple(starts)


@dataclass(frozen=True)
class _Replacement:
    """A step a dropped later step waited on, which lost its topic, and the plan's steps there."""

    lost: Alternative
    chosen: tuple[PlanOption, ...]


def kept_later_time_frames(
    steps: Sequence[Step], plan: Plan, awaits: Mapping[str, frozenset[str]], knowledge: Knowledge
) -> tuple[KeptLaterTimeFrame, ...]:
    """The time frames the later steps ``plan`` shows keep from the more urgent dropped later steps
    they stand in for (one per shown step: the most urgent), in step order. ``awaits`` maps each
    later step (recommendation IRI) to the actions that satisfy its ``dx:waitsOn``."""
    kinds = later_kinds(knowledge)
    by_iri = {step.iri: step for step in steps}
    shown = [step for step in steps if step.iri in awaits and plan.shows_later(step)]
    kept = []
    for step in shown:
        candidates = [
            found
            for dropped in plan.dropped
            if (found := _stands_in(step, dropped, by_iri, plan, awaits, kinds, knowledge)) is not None
        ]
        if candidates:
            kept.append(_merge(candidates))
    return tuple(kept)


def _stands_in(
    step: Step,
    dropped: Dropped,
    by_iri: Mapping[str, Step],
    plan: Plan,
    awaits: Mapping[str, frozenset[str]],
    kinds: Mapping[str, Mapping[str, str]],
    knowledge: Knowledge,
) -> KeptLaterTimeFrame | None:
    """The time frame ``step`` keeps from ``dropped``, if it stands in for it and that is more urgent."""
    left_out = by_iri.get(dropped.step)
    if left_out is None or left_out.tier is None or dropped.step not in awaits:
        return None
    own = step.tier.rank if step.tier is not None else 0
    shared = sorted(set(kinds.get(step.action_iri, {})) & set(kinds.get(left_out.action_iri, {})))
    if left_out.tier.rank <= own or not shared:
        return None
    awaited = awaits[dropped.step]
    follows = awaits[step.iri]
    replacements = [
        _Replacement(alternative, tuple(o for o in entry.chosen if o.action_iri in follows))
        for entry in plan.topics
        for alternative in entry.alternatives
        if alternative.option.action_iri in awaited and alternative.reason != DONE  # a done test was not replaced
    ]
    replacements = [r for r in replacements if r.chosen]
    if not replacements:
        return None
    first = min(replacements, key=lambda r: (-_rank(r.lost.option), r.lost.option.action, r.chosen[0].action))
    kind = shared[0]
    policy = kinds[left_out.action_iri][kind]
    return KeptLaterTimeFrame(
        step=step.iri,
        tier=left_out.tier,
        dropped=(dropped.step,),
        action=left_out.action,
        action_iri=left_out.action_iri,
        sources=tuple(sorted({c.short for c in left_out.sources if c.relation == "source"})),
        waited_on=first.lost.option.action,
        waited_on_iri=first.lost.option.action_iri,
        replaced_by=" or ".join(option.action for option in first.chosen),
        detail=first.lost.detail,
        kind=knowledge.label(URIRef(kind)),
        policy_iri=policy,
        policy=knowledge.label(URIRef(policy)),
    )


def _merge(candidates: Sequence[KeptLaterTimeFrame]) -> KeptLaterTimeFrame:
    """The most urgent time frame, with every dropped step of the same action that gives it."""
    top = max(kept.tier.rank for kept in candidates)
    best = sorted((k for k in candidates if k.tier.rank == top), key=lambda k: (k.action, k.dropped))
    same = [k for k in best if k.action_iri == best[0].action_iri]
    return replace(
        best[0],
        dropped=tuple(sorted({iri for k in same for iri in k.dropped})),
        sources=tuple(sorted({source for k in same for source in k.sources})),
    )


def _rank(option: PlanOption) -> int:
    return option.tier.rank if option.tier is not None else 0
