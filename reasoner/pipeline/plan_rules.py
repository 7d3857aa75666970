"""The plan's rules as the knowledge states them, read once per knowledge: the topics and their
order, the sources' authority, what one action covers, actions' own time frames, who takes over a
topic an avoid item empties, avoid items that hold only on recorded facts, and what each later step
waits on. :mod:`reasoner.pipeline.plan` applies them to one case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from rdflib import URIRef

from reasoner.knowledge import Knowledge, per_knowledge
from reasoner.pipeline.engine import engine_for


@dataclass(frozen=True)
class TopicInfo:
    iri: str
    order: int
    no_step_text: str
    timing_policy: str = ""  # dx:timingResolvedBy: keeps a replaced step's time frame ("" if none)
    plan_timing_policy: str = ""  # dx:planTimingResolvedBy: due no later than the plan's steps ("" if none)


@per_knowledge
def plan_topics(knowledge: Knowledge) -> tuple[TopicInfo, ...]:
    """The knowledge's topics in plan order (once per knowledge); none for knowledge without a plan model."""
    if "knowledge-plan-topics" not in knowledge.queries:
        return ()
    rows: Iterable[Any] = engine_for(knowledge).knowledge_rows("knowledge-plan-topics")
    topics: dict[str, TopicInfo] = {}
    policies: dict[str, set[str]] = {}
    plan_policies: dict[str, set[str]] = {}
    for topic, order, no_step, timing, plan_timing in rows:
        topics.setdefault(
            str(topic), TopicInfo(str(topic), int(order) if order is not None else 999, str(no_step or ""))
        )
        if timing is not None:
            policies.setdefault(str(topic), set()).add(str(timing))
        if plan_timing is not None:
            plan_policies.setdefault(str(topic), set()).add(str(plan_timing))
    found = [
        replace(
            t,
            timing_policy=min(policies.get(t.iri, {""})),
            plan_timing_policy=min(plan_policies.get(t.iri, {""})),
        )
        for t in topics.values()
    ]
    return tuple(sorted(found, key=lambda t: (t.order, knowledge.label(URIRef(t.iri)))))


@per_knowledge
def authority_ranks(knowledge: Knowledge) -> Mapping[str, int]:
    """Each source's dx:authorityRank, by source IRI (once per knowledge)."""
    if "knowledge-authority" not in knowledge.queries:
        return {}
    rows: Iterable[Any] = engine_for(knowledge).knowledge_rows("knowledge-authority")
    return {str(source): int(rank) for source, rank in rows}


@per_knowledge
def covered_actions(knowledge: Knowledge) -> frozenset[tuple[str, str]]:
    """(action, covered action) pairs from dx:covers, at any depth (once per knowledge)."""
    if "knowledge-covers" not in knowledge.queries:
        return frozenset()
    rows: Iterable[Any] = engine_for(knowledge).knowledge_rows("knowledge-covers")
    return frozenset((str(action), str(covered)) for action, covered in rows)


@per_knowledge
def action_time_frames(knowledge: Knowledge) -> Mapping[str, str]:
    """Each action's own time frame (dx:timeFrame on the action, ISO 8601), by action IRI (once per
    knowledge): the shortest where an action states several."""
    if "knowledge-action-time-frames" not in knowledge.queries:
        return {}
    rows: Iterable[Any] = engine_for(knowledge).knowledge_rows("knowledge-action-time-frames")
    frames: dict[str, str] = {}
    for action, time_frame in rows:
        frames.setdefault(str(action), str(time_frame))
    return frames


@per_knowledge
def topic_handovers(knowledge: Knowledge) -> Mapping[str, tuple[str, ...]]:
    """Each avoid item's ``dx:leavesTopicTo`` texts (who takes a topic over when the item forbids
    every step on it), by avoid IRI (once per knowledge)."""
    if "knowledge-avoid-leaves-topic-to" not in knowledge.queries:
        return {}
    rows: Iterable[Any] = engine_for(knowledge).knowledge_rows("knowledge-avoid-leaves-topic-to")
    texts: dict[str, list[str]] = {}
    for avoid, text in rows:
        texts.setdefault(str(avoid), []).append(" ".join(str(text).split()))
    return {avoid: tuple(sorted(set(found))) for avoid, found in texts.items()}


@per_knowledge
def recorded_only_avoids(knowledge: Knowledge) -> frozenset[str]:
    """The avoid items that hold only on what is recorded (``dx:precautionary false``): never shown
    as a precaution while items are unrecorded (once per knowledge)."""
    if "knowledge-avoid-recorded-only" not in knowledge.queries:
        return frozenset()
    rows: Iterable[Any] = engine_for(knowledge).knowledge_rows("knowledge-avoid-recorded-only")
    return frozenset(str(row[0]) for row in rows)


@dataclass(frozen=True)
class WaitsOn:
    """What a later step waits on (dx:waitsOn), and every action that would satisfy it."""

    needed: tuple[str, ...]  # the actions or action classes named, any one of which will do
    satisfied_by: frozenset[str]  # actions that are one of them, a dx:variantOf one, or a member


@per_knowledge
def waits_on(knowledge: Knowledge) -> Mapping[str, WaitsOn]:
    """Each later step's dx:waitsOn, by recommendation IRI (once per knowledge)."""
    if "knowledge-plan-waits-on" not in knowledge.queries:
        return {}
    rows: Iterable[Any] = engine_for(knowledge).knowledge_rows("knowledge-plan-waits-on")
    needed: dict[str, set[str]] = {}
    satisfied: dict[str, set[str]] = {}
    for recommendation, need, action in rows:
        needed.setdefault(str(recommendation), set()).add(str(need))
        if action is not None:
            satisfied.setdefault(str(recommendation), set()).add(str(action))
    return {
        iri: WaitsOn(tuple(sorted(needs)), frozenset(satisfied.get(iri, ()))) for iri, needs in sorted(needed.items())
    }
