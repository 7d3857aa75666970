"""The triage pipeline: validate, derive and infer, then report.

Every clinical conclusion comes from the knowledge base: the classes and recommendations in
``ontology/``, the shapes in ``shapes/`` and the queries in ``queries/``. This module only runs
them and arranges their answers into a :class:`TriageResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Node, URIRef

from reasoner.engines.owl_rl import Triple
from reasoner.knowledge import DX, Knowledge, load_knowledge, per_knowledge
from reasoner.pipeline.conflicts import as_planned, conflicts_of, value_text
from reasoner.pipeline.infer import close_and_report
from reasoner.pipeline.plain import as_mapping
from reasoner.pipeline.plan import build_plan
from reasoner.pipeline.plan_rules import recorded_only_avoids
from reasoner.pipeline.policy import Profile, knowledge_for, load_profile, policy_name, profile_notes
from reasoner.pipeline.read import CaseInput, read_case
from reasoner.pipeline.result import (
    CaseTrace,
    Citation,
    Conflict,
    Fact,
    KnowledgeStamp,
    Missing,
    Plan,
    PlanTopic,
    RedFlag,
    Step,
    Tier,
    TriageResult,
)
from reasoner.pipeline.validate import MissingItem, ValidationReport, require_valid, validate_graph
from reasoner.terms import TYPE_ONLY
from reasoner.version import __version__

__all__ = [  # the result classes are defined in reasoner.pipeline.result and importable from here too
    "CaseTrace",
    "Citation",
    "Conflict",
    "Fact",
    "KnowledgeStamp",
    "Missing",
    "Pipeline",
    "RedFlag",
    "Step",
    "Tier",
    "TriageResult",
    "as_mapping",
    "chain",
    "evaluate_file",
    "stamp",
    "triage",
    "worst_case_graph",
]

URGENCY = "report-urgency"
SUPPRESSED = "report-plan-suppressed"
DONE = "report-plan-done"
PRECAUTIONS = "report-plan-precautions"
SUPERSEDES = "report-plan-supersedes"
PLAN_QUERIES = [URGENCY, "report-advice", SUPPRESSED, PRECAUTIONS, SUPERSEDES, DONE]
MAX_ASSUMPTION_ROUNDS = 5
MAX_EXPLANATION_DEPTH = 4


@dataclass(frozen=True)
class Pipeline:
    """How :func:`triage` validates a case, and closes and queries it. Every pipeline must give
    the same answers; they differ in speed (see :mod:`tests.reference`)."""

    name: str
    validate: Callable[[Graph, Knowledge, str], ValidationReport]
    close_and_report: Callable[[Graph, Knowledge, list[str] | None], tuple[set[Triple], dict[str, list[Any]]]]


PRODUCTION = Pipeline(name="production", validate=validate_graph, close_and_report=close_and_report)


def evaluate_file(path: Path | str, kb: Path | str | None = None, profile: str | None = None) -> TriageResult:
    """Read, validate and triage one case file, optionally under a named guideline profile."""
    knowledge = load_knowledge(kb)
    return triage(read_case(path, knowledge), knowledge, load_profile(knowledge, profile))


def triage(
    case: CaseInput,
    knowledge: Knowledge,
    profile: Profile | None = None,
    *,
    pipeline: Pipeline = PRODUCTION,
    keep_trace: bool = False,
    explain_missing: bool = False,
) -> TriageResult:
    """Triage one case. Raises CaseError if it is malformed. Does not modify ``case.graph``.

    With ``keep_trace`` the result carries the case's closure (:class:`CaseTrace`). With
    ``explain_missing`` each missing item says what recording it at its worst would change (one
    more reasoning run per item), or, if that is nothing, what it changes together with the other
    unrecorded items at their worst (one more worst-case completion for such an item).

    ``profile`` (see :func:`reasoner.pipeline.policy.load_profile`) changes whose answer is followed
    where sources disagree on an action; it never changes the urgency.

    A case with unrecorded items is "incomplete" only while they could still change the tier or a
    primary step of the plan, or how soon a primary step is due (its own time frame, or one it keeps
    from a step it replaced; its worst-case completion is compared with it); otherwise the items
    are listed as not needed for this decision, except those that would change what to avoid: where
    the worst-case completion adds an avoid item (or lifts one by its exception), each missing item
    says what recording it at its worst would change (with ``explain_missing``; without it, each
    says what the unrecorded items change together, which costs no more reasoning), and the avoid
    items the worst case adds are shown as precautions while they are unrecorded (unknown is not
    absent).
    """
    full, knowledge = knowledge, knowledge_for(knowledge, profile)  # a profile may use only some guideline packs
    report = pipeline.validate(case.graph, knowledge, case.source)
    require_valid(report)
    closure, view = pipeline.close_and_report(case.graph, knowledge, None)
    urgency = _urgency(view, knowledge)
    steps = _steps(view, knowledge)
    worst = _worst_case(case.graph, report, knowledge, profile, pipeline) if report.missing else None
    precautions = worst.precautions if worst is not None else _run(view, knowledge, PRECAUTIONS)
    plan = _plan(view, steps, precautions, knowledge, profile)
    current = _WorstCase(urgency, [], plan, _holding(steps))
    possible = urgency
    decisive = False
    if worst is not None:
        possible = worst.urgency
        if urgency is not None and (possible is None or possible.rank < urgency.rank):
            possible = urgency  # unreachable while reasoning is monotone; kept as a guard
        decisive = _decisive(worst, current)
    missing = tuple(_missing(item, knowledge, needed=decisive) for item in report.missing)
    avoid_differs = worst is not None and _avoided(worst.avoid) != _avoided(current.avoid)
    if worst is not None and explain_missing and (decisive or avoid_differs):
        missing = _explained(case.graph, report, missing, current, worst, knowledge, profile, pipeline)
    elif worst is not None and avoid_differs and not decisive:  # no run per item: what they change together
        together = TOGETHER + _change(worst, current).avoid
        missing = tuple(replace(entry, would_change=together) for entry in missing)
    classes = _classes(view, knowledge, case.case)
    notes = profile_notes(case.graph, full, knowledge, profile)  # what the profile's packs do not read
    if urgency is None and not decisive:
        notes.append("no recommendation in the knowledge base applies to this case: clinical judgement is needed")
    return TriageResult(
        case_id=case.name,
        case_iri=str(case.case),
        source=case.source,
        status="incomplete" if decisive else "complete",
        urgency=urgency,
        possible_urgency=possible,
        next_steps=tuple(step for step in steps if step.kind == "recommendation"),
        avoid=current.avoid,
        red_flags=tuple(item for item in classes if item.kind == "red flag"),
        situations=tuple(item for item in classes if item.kind == "clinical situation"),
        conflicts=as_planned(conflicts_of(view, knowledge, profile), plan, profile),
        missing=missing,
        knowledge=stamp(knowledge),
        policy=policy_name(profile),
        notes=tuple(notes),
        plan=plan,
        excepted=tuple(step for step in steps if step.kind == "avoid" and step.excepted_in),
        precautions=_precautions(current.avoid, worst.avoid, recorded_only_avoids(knowledge))
        if worst is not None
        else (),
        trace=CaseTrace(frozenset(case.graph), frozenset(closure)) if keep_trace else None,
    )


#: How a change that needs the other unrecorded items at their worst is introduced.
TOGETHER = "with the other unrecorded items at their worst, "
#: How a change that needs the other items that change nothing on their own is introduced.
AMONG = "with the other items that change nothing on their own at their worst, "


@dataclass(frozen=True)
class _WorstCase:
    urgency: Tier | None
    precautions: list[Any]
    plan: Plan
    avoid: tuple[Step, ...]  # the avoid advice that holds (none whose exception holds)


def _holding(steps: Sequence[Step]) -> tuple[Step, ...]:
    """The avoid advice among ``steps`` that holds: none whose own exception (dx:exceptIn) holds."""
    return tuple(step for step in steps if step.kind == "avoid" and not step.excepted_in)


def _avoided(avoid: Sequence[Step]) -> frozenset[str]:
    return frozenset(step.iri for step in avoid)


def _precautions(avoid: Sequence[Step], worst: Sequence[Step], recorded_only: frozenset[str]) -> tuple[Step, ...]:
    """The avoid advice the worst-case completion adds to ``avoid``: it may hold once the unrecorded
    items are recorded, so it is shown, as a precaution, while they are not. An item that holds only
    on what is recorded (``dx:precautionary false``: it removes a safety step) never is."""
    holding = _avoided(avoid)
    return tuple(step for step in worst if step.iri not in holding and step.iri not in recorded_only)


def _worst_case(
    graph: Graph, report: ValidationReport, knowledge: Knowledge, profile: Profile | None, pipeline: Pipeline
) -> _WorstCase:
    """The case with every missing item at its worst: its tier, precautions and plan."""
    return _outcome(worst_case_graph(graph, report, knowledge, pipeline), knowledge, profile, pipeline)


def _outcome(graph: Graph, knowledge: Knowledge, profile: Profile | None, pipeline: Pipeline) -> _WorstCase:
    """The tier, precautions and plan of a completed case graph (a worst case, or one item at its
    worst): the plan queries only."""
    _closure, view = pipeline.close_and_report(graph, knowledge, PLAN_QUERIES)
    precautions = _run(view, knowledge, PRECAUTIONS)
    steps = _steps(view, knowledge)
    plan = _plan(view, steps, precautions, knowledge, profile)
    return _WorstCase(_urgency(view, knowledge), precautions, plan, _holding(steps))


def _plan(
    view: ReportRows, steps: list[Step], precautions: list[Any], knowledge: Knowledge, profile: Profile | None
) -> Plan:
    suppressed = [*_run(view, knowledge, SUPPRESSED), *precautions]
    return build_plan(
        steps, suppressed, _run(view, knowledge, SUPERSEDES), knowledge, profile, done_rows=_run(view, knowledge, DONE)
    )


def _primaries(plan: Plan) -> dict[str, frozenset[tuple[str, tuple[int, float]]]]:
    """Per topic, each chosen action with how soon it is due (its own time frame or one kept from a
    more urgent step it replaced): the same action due sooner in the worst case changes the plan too."""
    return {entry.topic_iri or entry.topic: _primaries_of(entry) for entry in plan.topics}


def _primaries_of(entry: PlanTopic) -> frozenset[tuple[str, tuple[int, float]]]:
    return frozenset((o.action_iri, entry.due_order(o)) for o in entry.chosen)


def _rank(tier: Tier | None) -> int:
    return tier.rank if tier is not None else -1


def _item_change(
    graph: Graph,
    item: MissingItem,
    current: _WorstCase,
    knowledge: Knowledge,
    profile: Profile | None,
    pipeline: Pipeline,
) -> _Change:
    """What recording this one item at its worst would change: the tier it would raise, else each
    topic whose chosen step (or how soon it is due) it would change, and each avoid item it would add
    or lift."""
    completed = Graph()
    completed += graph
    for fact in item.facts(graph):
        completed.add(fact)
    return _change(_outcome(completed, knowledge, profile, pipeline), current)


def _explained(
    graph: Graph,
    report: ValidationReport,
    missing: tuple[Missing, ...],
    current: _WorstCase,
    worst: _WorstCase,
    knowledge: Knowledge,
    profile: Profile | None,
    pipeline: Pipeline,
) -> tuple[Missing, ...]:
    """Each missing item with what recording it at its worst would change; an item that changes
    nothing on its own, with what it changes together with the other unrecorded items at their worst
    (a child's lump with neither its position nor its fatty look recorded: only both together make it
    a midline fatty mass). That is looked for only where the worst case without all such items falls
    short of the whole worst case (one more completion), so a case with many items that matter on
    their own pays for one run, not one per item. An item that changes only what to avoid on its own
    is looked at together with the others too, since they may change the tier or the plan: that is
    said first, then what it adds to or lifts from the avoid items."""
    alone = [_item_change(graph, item, current, knowledge, profile, pipeline) for item in report.missing]
    quiet = frozenset(item.item for item, change in zip(report.missing, alone, strict=True) if not change.plan)
    texts = [change.text for change in alone]
    joint = _without(graph, report, quiet, worst, knowledge, profile, pipeline) if quiet else _Change("", "")
    # where the tier or plan can change, an item that changes only what to avoid together with the
    # others is needed anyway: one run per item is spent on its avoid changes only where nothing else is
    if joint.plan or (joint.avoid and not _decisive(worst, current)):
        texts = [
            change.text
            if change.plan
            else _together(change, _without(graph, report, frozenset({item.item}), worst, knowledge, profile, pipeline))
            for item, change in zip(report.missing, alone, strict=True)
        ]
    elif quiet and len(quiet) < len(report.missing):
        # Beside the others at their worst they change nothing, as the items that matter on their
        # own already change it (a lesion "suggesting nodular melanoma" masks the checklist
        # features): what they change together where those are recorded otherwise.
        loud = frozenset(item.item for item in report.missing) - quiet
        among = _change(_worst_leaving_out(graph, report, loud, knowledge, profile, pipeline), current)
        if among.plan:
            texts = [
                change.text if change.plan else "; ".join(part for part in (AMONG + among.text, change.avoid) if part)
                for change in alone
            ]
    return tuple(replace(entry, would_change=text) for entry, text in zip(missing, texts, strict=True))


def _decisive(worst: _WorstCase, current: _WorstCase) -> bool:
    """Whether the worst case changes the tier, a primary step or how soon it is due (the case is incomplete)."""
    return _rank(worst.urgency) > _rank(current.urgency) or _primaries(worst.plan) != _primaries(current.plan)


def _together(alone: _Change, joint: _Change) -> str:
    """What an item that changes neither the tier nor the plan on its own changes: with the other
    unrecorded items at their worst, the tier or plan; then its own avoid changes, else the joint ones."""
    if joint.plan:
        return "; ".join(part for part in (TOGETHER + joint.plan, alone.avoid) if part)
    if alone.avoid:
        return alone.avoid
    return TOGETHER + joint.avoid if joint.avoid else ""


def _without(
    graph: Graph,
    report: ValidationReport,
    leave_out: frozenset[str],
    worst: _WorstCase,
    knowledge: Knowledge,
    profile: Profile | None,
    pipeline: Pipeline,
) -> _Change:
    """What the items ``leave_out`` change together with the other unrecorded items: the whole worst
    case against the worst case with them left unrecorded."""
    return _change(worst, _worst_leaving_out(graph, report, leave_out, knowledge, profile, pipeline))


def _worst_leaving_out(
    graph: Graph,
    report: ValidationReport,
    leave_out: frozenset[str],
    knowledge: Knowledge,
    profile: Profile | None,
    pipeline: Pipeline,
) -> _WorstCase:
    """The outcome of the worst case with the items ``leave_out`` left unrecorded."""
    return _outcome(
        worst_case_graph(graph, report, knowledge, pipeline, leave_out=leave_out), knowledge, profile, pipeline
    )


@dataclass(frozen=True)
class _Change:
    """What recording items at their worst changes, in words ("" for nothing): the tier or the plan,
    and the avoid items it adds or lifts."""

    plan: str
    avoid: str

    @property
    def text(self) -> str:
        return "; ".join(part for part in (self.plan, self.avoid) if part)


def _change(outcome: _WorstCase, current: _WorstCase) -> _Change:
    """What the tier, plan and avoid advice of ``outcome`` change from ``current``'s: the tier
    raised (and then nothing else is said), else each topic whose chosen step, or how soon it is due,
    changes, and each avoid item added or lifted."""
    tier, after = outcome.urgency, outcome.plan
    if _rank(tier) > _rank(current.urgency) and tier is not None:
        return _Change(f"raises the tier to {tier.label}", "")
    changes = []
    before = _primaries(current.plan)
    for entry in after.topics:
        old = before.get(entry.topic_iri or entry.topic)
        actions = frozenset(o.action_iri for o in entry.chosen)
        if entry.chosen and (old is None or actions != frozenset(action for action, _kept in old)):
            changes.append(f"{entry.topic}: {' or '.join(o.action for o in entry.chosen)}")
        elif entry.chosen and old != _primaries_of(entry):
            due = " or ".join(f"{o.action}, due {entry.due_text(o)}" for o in entry.chosen)
            changes.append(f"{entry.topic}: {due}")
    added, lifted = _avoided(outcome.avoid) - _avoided(current.avoid), _avoided(current.avoid) - _avoided(outcome.avoid)
    avoid = [f"adds DO NOT: {step.action}" for step in _distinct(outcome.avoid, added)]
    avoid += [f"lifts DO NOT: {step.action}" for step in _distinct(current.avoid, lifted)]
    return _Change("; ".join(f"changes {change}" for change in changes), "; ".join(avoid))


def _distinct(avoid: Sequence[Step], chosen: frozenset[str]) -> list[Step]:
    """The steps of ``avoid`` named in ``chosen``, one per action (two sources may avoid the same)."""
    found: dict[str, Step] = {}
    for step in avoid:
        if step.iri in chosen:
            found.setdefault(step.action, step)
    return sorted(found.values(), key=lambda step: step.action)


def stamp(knowledge: Knowledge) -> KnowledgeStamp:
    return KnowledgeStamp(
        version=knowledge.version,
        version_iri=knowledge.version_iri,
        content_hash=knowledge.content_hash,
        dorsum_version=__version__,
    )


def worst_case_graph(
    graph: Graph,
    report: ValidationReport,
    knowledge: Knowledge,
    pipeline: Pipeline = PRODUCTION,
    *,
    leave_out: frozenset[str] = frozenset(),
) -> Graph:
    """The case with every missing item set to its worst case (dx:assume in the shapes), except the
    items named in ``leave_out``, which stay unrecorded."""
    worst = Graph()
    worst += graph
    missing = tuple(item for item in report.missing if item.item not in leave_out)
    for _ in range(MAX_ASSUMPTION_ROUNDS):
        added = False
        for item in missing:
            for fact in item.facts(worst):
                if fact not in worst:
                    worst.add(fact)
                    added = True
        if not added:
            break
        missing = tuple(
            item for item in pipeline.validate(worst, knowledge, report.source).missing if item.item not in leave_out
        )
    return worst


ReportRows = dict[str, list[Any]]


def _run(view: ReportRows, knowledge: Knowledge, name: str) -> list[Any]:
    return view.get(name, [])


def _urgency(view: ReportRows, knowledge: Knowledge) -> Tier | None:
    for tier, rank, time_frame in _run(view, knowledge, URGENCY):
        return Tier(str(tier), knowledge.label(tier), int(rank), str(time_frame or ""))
    return None


# One-element sets: a membership test hashes, where ``==`` on rdflib terms runs Python code per row.
_RED_FLAG_ONLY = frozenset({DX.RedFlag})
_RECOMMENDATION_ONLY = frozenset({DX.Recommendation})


@per_knowledge
def _citations_by_element(knowledge: Knowledge) -> dict[str, tuple[Citation, ...]]:
    """Each knowledge element's sources as citations, made once per knowledge (they are immutable,
    so every result shares them)."""
    return {
        element: tuple(Citation(r.iri, r.label, r.short, r.citation, r.date, r.relation) for r in refs)
        for element, refs in knowledge.sources.items()
    }


def _citations(knowledge: Knowledge, node: object) -> tuple[Citation, ...]:
    return _citations_by_element(knowledge).get(str(node), ())


def _classes(view: ReportRows, knowledge: Knowledge, case: Node) -> tuple[RedFlag, ...]:
    facts: dict[str, set[Fact]] = {}
    parts: dict[str, set[str]] = {}
    for cls, subject, prop, value in _run(view, knowledge, "report-triggers"):
        key = str(cls)
        if prop in TYPE_ONLY:
            if value != cls:
                parts.setdefault(key, set()).add(str(value))
            continue
        facts.setdefault(key, set()).add(
            Fact(
                subject=_node_name(subject, case, knowledge),
                attribute=knowledge.label(prop),
                value=value_text(value, knowledge),
                property_iri=str(prop),
                value_iri=str(value),
            )
        )
    found: list[RedFlag] = []
    for cls, kind in _run(view, knowledge, "report-red-flags"):
        info = knowledge.info(cls)
        found.append(
            RedFlag(
                iri=str(cls),
                label=info.label,
                kind="red flag" if kind in _RED_FLAG_ONLY else "clinical situation",
                definition=info.definition,
                evidence=info.evidence,
                facts=tuple(sorted(facts.get(str(cls), ()), key=lambda f: (f.subject, f.attribute, f.value))),
                because_of=tuple(sorted(parts.get(str(cls), ()))),
                sources=_citations(knowledge, cls),
            )
        )
    return tuple(sorted(found, key=lambda item: (item.kind, item.label)))


def _steps(view: ReportRows, knowledge: Knowledge) -> list[Step]:
    rows: dict[str, dict[str, Any]] = {}
    for advice, kind, via, action, tier, rank, time_frame, only_if, except_when, sequence, topic, excepted in _run(
        view, knowledge, "report-advice"
    ):
        key = str(advice)
        entry = rows.get(key)
        if entry is None:  # one row per reason and topic: the step's own values are read once
            entry = rows[key] = {
                "kind": "recommendation" if kind in _RECOMMENDATION_ONLY else "avoid",
                "action": action,
                "tier": Tier(str(tier), knowledge.label(tier), int(rank), str(time_frame or "")) if tier else None,
                "condition": str(only_if or ""),
                "except_when": str(except_when or ""),
                "sequence": int(sequence) if sequence is not None else 0,
                "topics": set(),
                "topic_iris": set(),
                "because": set(),
                "excepted": set(),
            }
        entry["because"].add(str(via))
        if excepted is not None:
            entry["excepted"].add(str(excepted))
        if topic is not None:
            entry["topics"].add(knowledge.label(topic))
            entry["topic_iris"].add(str(topic))
    steps = []
    for iri, entry in rows.items():
        info = knowledge.info(URIRef(iri))
        steps.append(
            Step(
                iri=iri,
                label=info.label,
                kind=entry["kind"],
                action=knowledge.label(entry["action"]),
                action_iri=str(entry["action"]),
                tier=entry["tier"],
                condition=entry["condition"],
                except_when=entry["except_when"],
                sequence=entry["sequence"],
                topics=tuple(sorted(entry["topics"])),
                topic_iris=tuple(sorted(entry["topic_iris"])),
                because=tuple(sorted(entry["because"])),
                evidence=info.evidence,
                interpretation=info.interpretation,
                sources=_citations(knowledge, iri),
                excepted_in=tuple(sorted(entry["excepted"])),
            )
        )
    return sorted(steps, key=_step_order)


def _step_order(step: Step) -> tuple[int, int, int, str]:
    """Unconditional steps first, then most urgent first, then pathway order."""
    rank = step.tier.rank if step.tier else 0
    return (1 if step.condition else 0, -rank, step.sequence, step.label)


def _missing(item: MissingItem, knowledge: Knowledge, *, needed: bool) -> Missing:
    assumed = tuple(f"{knowledge.label(prop)}: {value_text(value, knowledge)}" for prop, value in item.assumptions)
    return Missing(item=item.item, message=item.message, assumed=assumed, needed=needed)


def _node_name(node: Node, case: Node, knowledge: Knowledge) -> str:
    if node == case:
        return "case"
    if isinstance(node, BNode):
        return "lump"
    return knowledge.label(node)


def chain(result: TriageResult, step: Step) -> list[tuple[RedFlag, int]]:
    """The red flags and situations behind a step, with nesting depth, for explanations."""
    seen: set[str] = set()
    out: list[tuple[RedFlag, int]] = []

    def visit(iri: str, depth: int) -> None:
        if iri in seen or depth > MAX_EXPLANATION_DEPTH:
            return
        seen.add(iri)
        item = result.explain(iri)
        if item is None:
            return
        out.append((item, depth))
        for part in item.because_of:
            visit(part, depth + 1)

    for iri in step.because:
        visit(iri, 0)
    return out
