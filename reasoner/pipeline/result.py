"""What triage answers: the result dataclasses, rendered by :mod:`reasoner.render`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from reasoner.engines.owl_rl import Triple
from reasoner.errors import EXIT_INCOMPLETE, EXIT_TRIAGED
from reasoner.pipeline.policy import Position

SUPPRESSED = "suppressed"
SUPERSEDED = "superseded"
POLICY = "policy"
COVERED = "covered"
AUTHORITY = "authority"
TIE = "tie"
ONLY = "only option"
NONE = "no step applies"
DONE = "done"  # the test was done: its result is recorded (dx:resultFinding)
ALONGSIDE = "alongside"  # a kept time frame: a step the plan asks now on another topic (dx:planTimingResolvedBy)


@dataclass(frozen=True)
class Citation:
    """A source behind a conclusion."""

    iri: str
    label: str
    short: str
    citation: str
    date: str
    relation: str  # "source" or "reference"


@dataclass(frozen=True)
class Tier:
    iri: str
    label: str
    rank: int
    time_frame: str


_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?")
_UNITS = (("week", 7 * 24 * 60), ("day", 24 * 60), ("hour", 60), ("minute", 1))


def duration(text: str) -> timedelta | None:
    """An ISO 8601 duration of weeks, days, hours and minutes ("PT4H", "P14D"), or None."""
    match = _DURATION.fullmatch(text or "")
    if match is None or not any(match.groups()):
        return None
    weeks, days, hours, minutes = (int(part) if part else 0 for part in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


def duration_words(text: str) -> str:
    """An ISO 8601 duration in words ("PT4H": "4 hours", "P14D": "14 days"); the text itself if it
    is not one."""
    span = duration(text)
    if span is None:
        return text
    minutes = int(span.total_seconds() // 60)
    parts = []
    for unit, size in _UNITS[1:]:  # days, hours, minutes: as the sources state time frames
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts) or "0 minutes"


def sooner(time_frame: str, tier: Tier | None) -> bool:
    """Whether an action's own ``time_frame`` is shorter than the tier's time frame."""
    own = duration(time_frame)
    bound = duration(tier.time_frame) if tier is not None else None
    return own is not None and (bound is None or own < bound)


def due_key(tier: Tier | None, time_frame: str = "") -> tuple[int, float]:
    """How soon a step is due, to compare: its tier's rank, then its own time frame where that is
    sooner than the tier's (a shorter one ranks higher)."""
    rank = tier.rank if tier is not None else 0
    span = duration(time_frame) if sooner(time_frame, tier) else None
    return (rank, -span.total_seconds() if span is not None else float("-inf"))


def due_words(tier: Tier, time_frame: str = "") -> str:
    """When a step is due, in words: "within 4 hours (PT4H)" for its own sooner time frame, else the
    tier's label."""
    return f"within {duration_words(time_frame)} ({time_frame})" if time_frame else tier.label


@dataclass(frozen=True)
class Fact:
    """One recorded or derived case fact that satisfied part of a class definition."""

    subject: str  # "case" or "lump" (or another node label)
    attribute: str
    value: str
    property_iri: str
    value_iri: str

    @property
    def text(self) -> str:
        subject = "" if self.subject == "case" else f"{self.subject} "
        return f"{subject}{self.attribute}: {self.value}"


@dataclass(frozen=True)
class RedFlag:
    """A red flag or clinical situation the case was classified into, with why."""

    iri: str
    label: str
    kind: str  # "red flag" or "clinical situation"
    definition: str
    evidence: str
    facts: tuple[Fact, ...]
    because_of: tuple[str, ...]  # IRIs of other red flags or situations this one is built from
    sources: tuple[Citation, ...]


@dataclass(frozen=True)
class Step:
    """A recommendation or an 'avoid' advice that applies to the case."""

    iri: str
    label: str
    kind: str  # "recommendation" or "avoid"
    action: str
    action_iri: str
    tier: Tier | None
    condition: str  # dx:onlyIf: shown as conditional, does not set the tier
    except_when: str
    sequence: int
    topics: tuple[str, ...]  # the clinical questions it answers (dx:topic), as labels
    because: tuple[str, ...]  # IRIs of the classes that made it apply
    evidence: str
    interpretation: str
    sources: tuple[Citation, ...]
    topic_iris: tuple[str, ...] = ()  # the same topics, as IRIs
    excepted_in: tuple[str, ...] = ()  # avoid only: IRIs of its dx:exceptIn classes that hold (lifted here)


@dataclass(frozen=True)
class PlanOption:
    """One answer to a topic: an action and the recommendations that give it."""

    action: str
    action_iri: str
    tier: Tier | None
    steps: tuple[str, ...]  # recommendation IRIs
    sources: tuple[str, ...]  # short source names
    authority: int
    time_frame: str = ""  # the action's own time frame (dx:timeFrame, ISO 8601), where it states one

    @property
    def sooner_time_frame(self) -> str:
        """The action's own time frame where it is sooner than its tier's ("PT4H" under the 12-hour
        tier: the tier scale is fixed), else ""."""
        return self.time_frame if sooner(self.time_frame, self.tier) else ""


@dataclass(frozen=True)
class Alternative:
    """An answer that did not win its topic, and why."""

    option: PlanOption
    reason: str  # SUPPRESSED, SUPERSEDED, POLICY, AUTHORITY or DONE
    detail: str  # e.g. the avoid advice or the superseding step, in words
    by: tuple[str, ...]  # IRIs of the advice that beat it


@dataclass(frozen=True)
class KeptTimeFrame:
    """The time frame a topic's chosen step is due within, kept from a more urgent step on the topic
    that lost the choice of action (the topic's ``dx:timingResolvedBy`` policy): replacing an
    action never relaxes how soon the topic's step is due."""

    tier: Tier  # the time frame the chosen step is due within
    action: str  # the replaced step's action, whose time frame this is
    action_iri: str
    steps: tuple[str, ...]  # the recommendations that give that time frame
    sources: tuple[str, ...]  # their short source names
    reason: str  # how the replaced step lost: SUPPRESSED, SUPERSEDED or POLICY; ALONGSIDE: another topic's step
    detail: str  # why it lost, in words (the avoid item, the superseding step, the profile)
    policy_iri: str  # the rule that keeps the time frame
    policy: str  # its label
    time_frame: str = ""  # the replaced step's own time frame where sooner than ``tier`` (e.g. PT4H), else ""
    same_action: bool = False  # the replaced step is the chosen step's own action (a less specific advice for it)

    @property
    def due_text(self) -> str:
        """When it is due: the replaced step's own sooner time frame ("within 4 hours (PT4H)"), else
        the tier's label."""
        return due_words(self.tier, self.time_frame)

    @property
    def source_text(self) -> str:
        """Whose time frame it is, e.g. "NICE NG12's time frame for <action>, which it replaces", for
        a step on another topic "..., a step the plan asks now", and for the same action given by a less
        specific advice "Seed 000's time frame for the same step"."""
        whose = f"{' and '.join(self.sources)}'s" if self.sources else "the"
        if self.same_action:
            return f"{whose} time frame for the same step"
        role = "a step the plan asks now" if self.reason == ALONGSIDE else "which it replaces"
        return f"{whose} time frame for {self.action}, {role}"

    @property
    def text(self) -> str:
        """The time frame and whose it is: "<due_text>: <source_text>"."""
        return f"{self.due_text}: {self.source_text}"


@dataclass(frozen=True)
class PlanTopic:
    """The decision on one topic."""

    topic_iri: str
    topic: str
    chosen: tuple[PlanOption, ...]  # one, or several in a true tie, or none
    reason: str  # how the choice was made: ONLY, SUPERSEDED, SUPPRESSED, POLICY, AUTHORITY, TIE or NONE
    alternatives: tuple[Alternative, ...]
    no_step_text: str = ""
    timing: KeptTimeFrame | None = None  # set when a replaced step was more urgent than the chosen one

    @property
    def primary(self) -> PlanOption | None:
        return self.chosen[0] if len(self.chosen) == 1 else None

    def kept_for(self, option: PlanOption) -> KeptTimeFrame | None:
        """``timing``, where it makes this chosen option due sooner than its own time frame (a more
        urgent tier, or the same tier and the replaced action's own sooner time frame: rule 11)."""
        timing = self.timing
        if timing is not None and due_key(timing.tier, timing.time_frame) > due_key(option.tier, option.time_frame):
            return timing
        return None

    def sooner_time_frame(self, option: PlanOption) -> str:
        """The time frame, sooner than its tier's, a chosen option is due within: the one it keeps
        from a replaced step (the 4-hour MRI that CT myelography replaces), else its action's own;
        "" if neither."""
        kept = self.kept_for(option)
        return kept.time_frame if kept is not None else option.sooner_time_frame

    def due(self, option: PlanOption) -> Tier | None:
        """The time frame a chosen option is due within: its own, or the one kept from a more urgent
        step it replaced (``timing``), whichever is more urgent."""
        kept = self.kept_for(option)
        return kept.tier if kept is not None else option.tier

    def due_order(self, option: PlanOption) -> tuple[int, float]:
        """How soon a chosen option is due, as :func:`due_key` orders it (its own time frame, or the
        one it keeps)."""
        return due_key(self.due(option), self.sooner_time_frame(option))

    def due_text(self, option: PlanOption) -> str:
        """When a chosen option is due, in words: the kept time frame and whose it is, else its own."""
        kept = self.kept_for(option)
        if kept is not None:
            return kept.text
        return due_words(option.tier, option.sooner_time_frame) if option.tier is not None else ""

    @property
    def tie(self) -> bool:
        return len(self.chosen) > 1


@dataclass(frozen=True)
class Suppression:
    """A step an applicable avoid advice forbids now."""

    step: str  # recommendation IRI
    action: str
    avoid: tuple[str, ...]  # avoid advice IRIs
    because: tuple[str, ...]  # their labels


@dataclass(frozen=True)
class Dropped:
    """A later step left out of the plan: it waits on the result of a step (dx:waitsOn) that the
    plan does not hold (suppressed, lost on its topic, or never applicable)."""

    step: str  # recommendation IRI
    action: str
    condition: str  # its dx:onlyIf, in the source's terms
    waits_on: tuple[str, ...]  # IRIs of the actions or action classes it waits on (any one would do)
    because: str  # why none of them is in the plan, in words


@dataclass(frozen=True)
class KeptLaterTimeFrame:
    """The time frame a later step the plan shows is due within, kept from a more urgent later step
    that the plan left out because the step it waits on was replaced there: the shown step is of the
    same kind of action (a kind naming ``dx:laterTimingResolvedBy``) and waits on the replacing step,
    so it stands in for the dropped one. Replacing the step a later step waits on never relaxes how
    soon that kind of step is due."""

    step: str  # the later step shown (recommendation IRI), due within ``tier``
    tier: Tier  # the dropped step's time frame, more urgent than the shown step's own
    dropped: tuple[str, ...]  # the later steps left out that give this time frame (recommendation IRIs)
    action: str  # their action, in words
    action_iri: str
    sources: tuple[str, ...]  # their short source names
    waited_on: str  # the step they waited on, which lost its topic in the plan (its action, in words)
    waited_on_iri: str  # that action's IRI
    replaced_by: str  # the plan's step in its place, which the shown step waits on (its action)
    detail: str  # why the waited-on step lost its topic, in words
    kind: str  # the kind of action both later steps are, in words
    policy_iri: str  # the rule that keeps the time frame (dx:laterTimingResolvedBy on the kind)
    policy: str  # its label

    @property
    def source_text(self) -> str:
        """Whose time frame it is, e.g. "NICE NG12's time frame for <action>, which it stands in for"."""
        whose = f"{' and '.join(self.sources)}'s" if self.sources else "the"
        return f"{whose} time frame for {self.action}, which it stands in for"

    @property
    def text(self) -> str:
        """The time frame and whose it is: "<tier label>: <source_text>"."""
        return f"{self.tier.label}: {self.source_text}"

    @property
    def because(self) -> str:
        """Why the dropped step is left out and this one stands in for it, in words."""
        return (
            f"that step waits on {self.waited_on}, which {self.replaced_by} replaces ({self.detail}); "
            f"both are of one kind: {self.kind}"
        )


@dataclass(frozen=True)
class FallbackTimeFrame:
    """The time frame a later step the plan shows is due within because it is the fallback of a step
    the plan holds (``dx:fallbackFor``: what to do if that step cannot be done, e.g. "if MRI is
    contraindicated or unavailable: CT"): due no later than the step it would replace. A fallback
    never waits longer than the step it stands in for."""

    step: str  # the later step shown (recommendation IRI), due within ``tier``
    tier: Tier  # the replaced plan step's time frame, more urgent than the later step's own
    replaces: str  # the plan's step it is the fallback of (its action, in words)
    replaces_iri: str  # that action's IRI
    replaces_steps: tuple[str, ...]  # the recommendations behind that plan step (IRIs)
    topic: str  # the topic that plan step answers, in words
    sources: tuple[str, ...]  # that plan step's short source names
    policy_iri: str  # the rule that keeps the time frame
    policy: str  # its label
    time_frame: str = ""  # the replaced step's own time frame where sooner than ``tier`` (e.g. PT4H), else ""

    @property
    def due_text(self) -> str:
        """When it is due: the replaced step's own sooner time frame ("within 4 hours (PT4H)"), else
        the tier's label."""
        return due_words(self.tier, self.time_frame)

    @property
    def source_text(self) -> str:
        """Whose time frame it is: "the time frame of <action> [<sources>], which it replaces if that
        cannot be done"."""
        sources = f" [{', '.join(self.sources)}]" if self.sources else ""
        return f"the time frame of {self.replaces}{sources}, which it replaces if that cannot be done"

    @property
    def text(self) -> str:
        """The time frame and whose it is: "<due_text>: <source_text>"."""
        return f"{self.due_text}: {self.source_text}"

    @property
    def because(self) -> str:
        """Why the later step keeps that time frame, in words."""
        return f"it is the fallback of the plan's step on {self.topic} ({self.replaces}), due {self.due_text}"


@dataclass(frozen=True)
class FallbackChoice:
    """One fallback among several for the same plan step: later steps that are each the fallback
    (``dx:fallbackFor``) of the step the plan holds, with different actions, from different sources
    ("if MRI is contraindicated: CT of the spine" [NG234], "... CT with contrast" [Seed 003]). One
    primary step per question: the plan shows the chosen one, due within the more urgent of their
    time frames, and the others as its alternatives with why they lost."""

    replaces: str  # the plan's step(s) they are the fallback of, in words
    replaces_iris: tuple[str, ...]  # those actions' IRIs
    chosen: PlanOption  # the fallback shown (its recommendations, sources and due tier)
    reason: str  # how it was chosen: POLICY (most cautious), COVERED or AUTHORITY
    alternatives: tuple[Alternative, ...]  # the fallbacks not shown, and why


@dataclass(frozen=True)
class LaterStart:
    """What a later step's time frame counts from. A later step waits on a result: "due within 2
    weeks" after a routine first step counts from the result of the step it waits on
    (``dx:waitsOn``), not from now; a step whose condition is on the patient counts from when that
    is known; a fallback due within the time frame of the step it replaces counts as that step
    does, from now."""

    step: str  # the later step shown (recommendation IRI)
    after: tuple[str, ...]  # the plan's steps whose result it waits on (actions, in words); () if none
    after_iris: tuple[str, ...]  # their IRIs
    instead_of: str = ""  # a fallback due within the time frame of the step it replaces: that step's action
    instead_of_iri: str = ""  # its IRI

    @property
    def text(self) -> str:
        """ "counted from the result of <action>", "counted as <action>'s, which it replaces" (a
        fallback), or "counted from when that is known"."""
        if self.instead_of:
            return f"counted as the time frame of {self.instead_of}, which it replaces: from now"
        if self.after:
            return f"counted from the result of {' or '.join(self.after)}"
        return "counted from when that is known"


@dataclass(frozen=True)
class Plan:
    topics: tuple[PlanTopic, ...]
    suppressed: tuple[Suppression, ...]
    dropped: tuple[Dropped, ...] = ()
    later_timing: tuple[KeptLaterTimeFrame, ...] = ()  # later steps shown that keep a dropped step's time frame
    fallback_timing: tuple[FallbackTimeFrame, ...] = ()  # later steps shown due as soon as the step they replace
    fallback_choices: tuple[FallbackChoice, ...] = ()  # one fallback shown where several replace one plan step
    later_starts: tuple[LaterStart, ...] = ()  # what each later step shown counts its time frame from

    def topic(self, local_name: str) -> PlanTopic | None:
        for entry in self.topics:
            if entry.topic_iri.rsplit("#", 1)[-1] == local_name:
                return entry
        return None

    @property
    def primary_steps(self) -> frozenset[str]:
        """The IRIs of every recommendation behind a chosen step."""
        return frozenset(iri for entry in self.topics for option in entry.chosen for iri in option.steps)

    def shows_later(self, step: Step) -> bool:
        """Whether a conditional step is shown as a later step: not suppressed by an applicable avoid
        item, and not dropped because the step whose result it waits on is not in the plan."""
        if not step.condition or step.kind != "recommendation":
            return False
        hidden = {entry.step for entry in self.dropped} | {entry.step for entry in self.suppressed}
        return step.iri not in hidden and step.iri not in self.fallback_alternatives

    @property
    def fallback_alternatives(self) -> frozenset[str]:
        """The later steps not shown because another fallback of the same plan step was chosen."""
        return frozenset(
            iri for choice in self.fallback_choices for alt in choice.alternatives for iri in alt.option.steps
        )

    def fallback_choice(self, step: Step) -> FallbackChoice | None:
        """The choice among fallbacks that ``step`` won, if it was one of several."""
        for choice in self.fallback_choices:
            if step.iri in choice.chosen.steps:
                return choice
        return None

    def due_sooner_than(self, tier: Tier | None) -> str:
        """The shortest own time frame a chosen step is due within (rule 11: "PT4H" under the 12-hour
        tier), where it is shorter than ``tier``'s (the headline's); "" if none. A step that keeps a
        replaced step's time frame is due within that one (:meth:`PlanTopic.sooner_time_frame`)."""
        frames = {
            own: span
            for entry in self.topics
            for option in entry.chosen
            if (own := entry.sooner_time_frame(option)) and (span := duration(own))
        }
        if not frames:
            return ""
        soonest = min(frames, key=lambda own: frames[own])
        bound = duration(tier.time_frame) if tier is not None else None
        return soonest if bound is None or frames[soonest] < bound else ""

    def later_start(self, step: Step) -> LaterStart | None:
        """What a later step shown counts its time frame from (None if it is not shown)."""
        for start in self.later_starts:
            if start.step == step.iri:
                return start
        return None

    def later_kept_for(self, step: Step) -> KeptLaterTimeFrame | FallbackTimeFrame | None:
        """The time frame a later step shown keeps, or None: from a more urgent dropped later step it
        stands in for (``later_timing``), or from the more urgent plan step it is the fallback of
        (``fallback_timing``), whichever is more urgent."""
        found: list[KeptLaterTimeFrame | FallbackTimeFrame] = [
            *(kept for kept in self.later_timing if kept.step == step.iri),
            *(kept for kept in self.fallback_timing if kept.step == step.iri),
        ]
        return max(found, key=lambda kept: kept.tier.rank) if found else None

    def later_due(self, step: Step) -> Tier | None:
        """The time frame a later step is due within: its own, or the one it keeps (from a more urgent
        later step it stands in for, or the plan step it is the fallback of), whichever is more urgent."""
        kept = self.later_kept_for(step)
        return kept.tier if kept is not None else step.tier


@dataclass(frozen=True)
class Conflict:
    kind: str  # "topic", "threshold" or "do-avoid"
    subject: str
    positions: tuple[Position, ...]
    policy: str
    resolution: str


@dataclass(frozen=True)
class Missing:
    """An item the case does not record, what triage assumed for it, and whether it matters."""

    item: str
    message: str
    assumed: tuple[str, ...]
    needed: bool = True  # False: no value of it could change the tier or a primary step
    # what recording it at its worst would change: with explain_missing, and, for an item that is not
    # needed, whenever the unrecorded items at their worst would add or lift an avoid item
    would_change: str = ""


@dataclass(frozen=True)
class KnowledgeStamp:
    version: str
    version_iri: str
    content_hash: str
    dorsum_version: str


@dataclass(frozen=True)
class CaseTrace:
    """What triage computed on the way to a result, kept on request (``triage(..., keep_trace=True)``)
    so that the store writes it instead of reasoning again."""

    facts: frozenset[Triple]  # the case as given
    closure: frozenset[Triple]  # the case after derive rules and OWL 2 RL, to a fixpoint

    @property
    def inferred(self) -> frozenset[Triple]:
        """What reasoning added to the case."""
        return self.closure - self.facts


@dataclass(frozen=True)
class TriageResult:
    """The answer for one case. Render it with :mod:`reasoner.render`."""

    case_id: str
    case_iri: str
    source: str
    status: str  # "complete" or "incomplete"
    urgency: Tier | None  # from the recorded facts: for an incomplete case, "at least" this
    possible_urgency: Tier | None  # with every missing item at its worst case
    next_steps: tuple[Step, ...]
    avoid: tuple[Step, ...]  # avoid advice that holds ("do not"); none whose exception holds
    red_flags: tuple[RedFlag, ...]
    situations: tuple[RedFlag, ...]
    conflicts: tuple[Conflict, ...]
    missing: tuple[Missing, ...]
    knowledge: KnowledgeStamp
    policy: str = "most cautious wins"
    notes: tuple[str, ...] = field(default=())
    plan: Plan = field(default_factory=lambda: Plan(topics=(), suppressed=()))
    excepted: tuple[Step, ...] = field(default=())  # avoid advice that applies, lifted here by its dx:exceptIn
    # avoid advice that does not hold from what is recorded but would with the unrecorded items at
    # their worst: shown as a precaution while they are unrecorded (unknown is not absent)
    precautions: tuple[Step, ...] = field(default=())
    trace: CaseTrace | None = field(default=None, compare=False, repr=False)  # only with keep_trace=True

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def effective_urgency(self) -> Tier | None:
        """The tier to act on: for an incomplete case, the worst case until items are recorded."""
        return self.possible_urgency if not self.complete else self.urgency

    @property
    def exit_code(self) -> int:
        return EXIT_TRIAGED if self.complete and self.urgency is not None else EXIT_INCOMPLETE

    def explain(self, iri: str) -> RedFlag | None:
        for item in self.red_flags + self.situations:
            if item.iri == iri:
                return item
        return None
