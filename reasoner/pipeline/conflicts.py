"""Where the sources disagree on a case: per plan topic, on a threshold, and on doing or avoiding an
action, each with how the disagreement is resolved (read from the report queries' rows)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from rdflib import Literal, Node, URIRef

from reasoner.knowledge import Knowledge
from reasoner.pipeline.policy import Position, Profile, followed, policy_name, resolve
from reasoner.pipeline.result import POLICY, Conflict, Plan, PlanTopic

ReportRows = dict[str, list[Any]]


def conflicts_of(view: ReportRows, knowledge: Knowledge, profile: Profile | None) -> tuple[Conflict, ...]:
    conflicts: list[Conflict] = []
    by_topic: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    policies: dict[str, str] = {}
    for topic, policy, advice, action, tier, rank, only_if in view.get("report-conflicts-topic", []):
        positions = by_topic.setdefault(str(topic), {})
        if policy is not None:
            policies[str(topic)] = knowledge.label(policy)
        position = positions.setdefault(
            (str(action), str(tier)),
            {
                "rank": int(rank),
                "advice": set(),
                "sources": set(),
                "conditional": True,
                "action": knowledge.label(action),
                "tier": knowledge.label(tier),
            },
        )
        position["advice"].add(knowledge.label(advice))
        position["sources"].update(ref.short for ref in knowledge.sources_of(advice) if ref.relation == "source")
        position["conditional"] = position["conditional"] and only_if is not None
    for topic, positions in sorted(by_topic.items(), key=lambda item: knowledge.label(URIRef(item[0]))):
        ordered = tuple(
            Position(
                action=p["action"],
                tier=p["tier"],
                rank=p["rank"],
                advice=tuple(sorted(p["advice"])),
                sources=tuple(sorted(p["sources"])),
                conditional=p["conditional"],
            )
            for p in sorted(positions.values(), key=lambda p: (p["conditional"], -p["rank"], p["action"]))
        )
        policy = policy_name(profile) if profile is not None else policies.get(topic, policy_name(None))
        conflicts.append(
            Conflict(
                kind="topic",
                subject=knowledge.label(URIRef(topic)),
                positions=ordered,
                policy=policy,
                resolution=resolve(ordered, profile),
            )
        )
    for exceeded, within, _quantity, size in view.get("report-conflicts-threshold", []):
        conflicts.append(
            Conflict(
                kind="threshold",
                subject=f"is a lump of {value_text(size, knowledge)} cm a red flag?",
                positions=(
                    Position(
                        f"yes: {knowledge.label(exceeded)}",
                        "",
                        1,
                        (str(exceeded),),
                        _source_labels(knowledge, exceeded),
                        False,
                    ),
                    Position(
                        f"no: not {knowledge.label(within)}",
                        "",
                        0,
                        (str(within),),
                        _source_labels(knowledge, within),
                        False,
                    ),
                ),
                policy="most cautious wins",
                resolution=f"treated as a red flag ({knowledge.label(exceeded)})",
            )
        )
    sides: dict[str, tuple[set[str], set[str], set[str], set[str]]] = {}
    holding: dict[str, set[str]] = {}  # per action: the avoid advice that holds (no exception of it holds)
    lifted: dict[str, set[str]] = {}  # per action: the exceptions that lift an avoid advice here
    for recommendation, avoid, action, excepted in view.get("report-conflicts-do-avoid", []):
        do_advice, do_sources, avoid_advice, avoid_sources = sides.setdefault(str(action), (set(), set(), set(), set()))
        do_advice.add(knowledge.label(recommendation))
        do_sources.update(_source_labels(knowledge, recommendation))
        avoid_advice.add(knowledge.label(avoid))
        avoid_sources.update(_source_labels(knowledge, avoid))
        if excepted is None:
            holding.setdefault(str(action), set()).add(str(avoid))
        else:
            lifted.setdefault(str(action), set()).add(knowledge.label(excepted))
    for action, (do_advice, do_sources, avoid_advice, avoid_sources) in sorted(sides.items()):
        if holding.get(action):
            resolution = "the avoid advice applies to this case, so the step is not offered now"
        else:
            because = ", ".join(sorted(lifted.get(action, ())))
            resolution = f"the avoid advice is excepted here ({because}), so the step stays on offer"
        conflicts.append(
            Conflict(
                kind="do-avoid",
                subject=f"{knowledge.label(URIRef(action))}: do or avoid?",
                positions=(
                    Position("do", "", 0, tuple(sorted(do_advice)), tuple(sorted(do_sources)), False),
                    Position("avoid", "", 1, tuple(sorted(avoid_advice)), tuple(sorted(avoid_sources)), False),
                ),
                policy=policy_name(None),
                resolution=resolution,
            )
        )
    return tuple(conflicts)


def as_planned(conflicts: tuple[Conflict, ...], plan: Plan, profile: Profile | None) -> tuple[Conflict, ...]:
    """The topic disagreements, each saying what the plan made of the policy's answer, so that neither
    the step nor its time frame is picked silently: where the plan kept a replaced step's time frame
    (the topic's timing policy), and where it does not take the step the policy follows (avoided
    here, superseded by a more specific step, or already done) and what it takes instead."""
    entries = {entry.topic: entry for entry in plan.topics}
    return tuple(
        _as_planned(conflict, entry, profile) if conflict.kind == "topic" and entry is not None else conflict
        for conflict in conflicts
        for entry in [entries.get(conflict.subject)]
    )


def _as_planned(conflict: Conflict, entry: PlanTopic, profile: Profile | None) -> Conflict:
    timing = entry.timing
    chosen = " or ".join(option.action for option in entry.chosen)
    position = followed(conflict.positions, profile)
    if position is not None and all(option.action != position.action for option in entry.chosen):
        lost = next((a for a in entry.alternatives if a.option.action == position.action and a.reason != POLICY), None)
        if lost is not None and (timing is None or timing.action != position.action):  # else the timing says it
            planned = f"the plan's step is {chosen}" if chosen else "the plan has no step now on this topic"
            conflict = replace(conflict, resolution=f"{conflict.resolution}; not taken here ({lost.detail}): {planned}")
    if timing is None:
        return conflict
    return replace(
        conflict,
        policy=f"{conflict.policy}; {timing.policy}",
        resolution=f"{conflict.resolution}; {timing.action}: {timing.detail}; so the plan's step, "
        f"{chosen}, is due {timing.tier.label} ({timing.source_text})",
    )


def _source_labels(knowledge: Knowledge, node: Node) -> tuple[str, ...]:
    return tuple(sorted({ref.short for ref in knowledge.sources_of(node) if ref.relation == "source"}))


def value_text(value: Node, knowledge: Knowledge) -> str:
    if isinstance(value, Literal):
        python = value.toPython()  # by value, not lexical form: "2.0" and "2" read the same
        if isinstance(python, float) and python.is_integer():
            return str(int(python))
        if isinstance(python, Decimal) and python.is_finite():
            return format(python.normalize(), "f")
        return str(python)
    return knowledge.label(value)
