"""Golden vignettes: one file holding a case and its expected triage, and a checker.

A vignette is a YAML file::

    title: Growing firm lump on the upper back
    covers: [Rec000_GrowingLumpUltrasound]      # knowledge elements it is meant to exercise
    case:                                       # a case form (see the README) ...
      age_years: 47
      lump: {size_cm: 4, growth: increasing}
    # ... or the raw text of a case file, for RDF and malformed-input vignettes:
    # case_text: "..."
    # case_format: ttl | nt | jsonld | json | yaml
    expect:
      status: complete | incomplete | invalid
      urgency: Urgent2Weeks          # tier from the recorded facts ("at least" when incomplete), or null
      possible_urgency: Emergency12h # worst case while items are missing
      red_flags: [GrowingLump]       # must all be reported
      not_red_flags: [LumpOver3cm]   # must not be reported
      situations: [...]
      steps: [Rec000_GrowingLumpUltrasound]   # recommendations that must apply
      not_steps: [...]
      avoid: [Avoid001_DelayUltrasound]
      not_avoid: [...]                        # not a "do not" (does not apply, or is excepted here)
      excepted: [Avoid000_EmpiricAntibiotics] # applies, but one of its dx:exceptIn classes holds
      not_excepted: [...]
      precautions: [Avoid001_ExcisionBeforeImaging]  # shown as a precaution: it would hold with the
                                              #   unrecorded items at their worst
      not_precautions: [...]
      conflicts: [first imaging test]         # conflict subjects (substring match)
      missing: [fever]                        # items that must be reported missing
      later: [Rec001_MRIRegion]               # conditional steps shown as later steps
      not_later: [...]                        # conditional steps not shown (dropped or avoided)
      dropped: [Rec000_MRIIfUncertain]        # left out: what they wait on (dx:waitsOn) is not in the plan
      plan: {FirstImagingTopic: MRIRegion}    # topic -> the action of its primary step (or none)
      plan_due: {FirstImagingTopic: Within24to48h}  # topic -> the tier its primary step is due within
      plan_sources: {FirstImagingTopic: [Seed 002, Seed 003]}  # topic -> exactly the sources its
                                              #   primary step cites (short names: on whose authority)
      kept_from: {FirstImagingTopic: RecNG12_YoungGrowingLumpUltrasound}  # the replaced step whose
                                              #   time frame the topic keeps (or none)
      later_due: {Rec001_SpecialistAfterImaging: Within24to48h}  # later step shown -> the tier it is
                                              #   due within (a dropped later step's time frame included)
      later_kept_from: {Rec001_SpecialistAfterImaging: RecNG12_YoungUltrasoundReferralLater}  # the
                                              #   dropped later step it stands in for (or none)
      plan_time_frame: {FirstImagingTopic: PT4H}  # topic -> the time frame its primary step is due
                                              #   within, sooner than its tier: its action's own or one
                                              #   it keeps from the step it replaces (or none)
      later_time_frame: {Rec003_CTIfMRIContraindicated: PT4H}  # later step -> the sooner time frame
                                              #   it keeps from the step it is the fallback of (or none)
      later_from: {RecAcrSTM_MRIAfterFirstImaging: RecAcrSTM_V1_Radiographs}  # later step -> the
                                              #   action whose result its time frame counts from (or none)
      would_change:                           # what recording a missing item at its worst would
        fever: "raises the tier to"           #   change (a substring; "" for nothing on its own)
      error: "size_cm"                        # invalid cases: text the error must contain
      exit_code: 0

Names without a prefix are local names in the dorsum ontology namespace.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from rdflib import Graph
from rdflib.namespace import RDF, RDFS

from reasoner.errors import EXIT_INVALID_CASE, CaseError, DorsumError, KnowledgeError, UsageError
from reasoner.knowledge import DX, Knowledge, default_kb_root
from reasoner.pipeline.engine import engine_for
from reasoner.pipeline.policy import load_profile
from reasoner.pipeline.read import CaseInput, case_from_form, read_case
from reasoner.pipeline.result import FallbackTimeFrame, Step
from reasoner.pipeline.triage import TriageResult, triage

#: Where the scenarios ship with the knowledge, relative to its root: ``cases/`` in the wheel
#: (``reasoner/kb/cases``), ``tests/cases/`` in a checkout.
SCENARIO_FOLDERS = ("cases", "tests/cases")
SUFFIXES = {"ttl": ".ttl", "nt": ".nt", "jsonld": ".jsonld", "json": ".json", "yaml": ".yaml"}
LIST_CHECKS = {
    "red_flags": ("red_flags", True),
    "not_red_flags": ("red_flags", False),
    "situations": ("situations", True),
    "not_situations": ("situations", False),
    "steps": ("next_steps", True),
    "not_steps": ("next_steps", False),
    "avoid": ("avoid", True),
    "not_avoid": ("avoid", False),
    "excepted": ("excepted", True),
    "not_excepted": ("excepted", False),
    "precautions": ("precautions", True),
    "not_precautions": ("precautions", False),
}


#: What an ``expect`` mapping may state (each is checked by :func:`_compare`); a key outside it is
#: refused when the vignette is read, so a misspelt or newer expectation is never silently skipped.
EXPECT_KEYS = frozenset(
    {
        "status",
        "exit_code",
        "error",
        "urgency",
        "possible_urgency",
        "conflicts",
        "no_conflicts",
        "missing",
        "would_change",
        "later",
        "not_later",
        "dropped",
        "later_due",
        "later_kept_from",
        "plan",
        "not_plan",
        "plan_due",
        "plan_sources",
        "kept_from",
        "plan_time_frame",
        "later_time_frame",
        "later_from",
        *LIST_CHECKS,
    }
)
#: The expectations stated as a mapping (name -> wanted) and as a list of names; any other
#: expectation is one value.
MAPPING_EXPECTATIONS = frozenset(
    {
        "would_change",
        "plan",
        "not_plan",
        "plan_due",
        "plan_sources",
        "kept_from",
        "later_due",
        "later_kept_from",
        "plan_time_frame",
        "later_time_frame",
        "later_from",
    }
)
LIST_EXPECTATIONS = frozenset({"conflicts", "missing", "later", "not_later", "dropped", *LIST_CHECKS})
#: The keys of a vignette file: its case, what to expect, and what it records about its source.
VIGNETTE_KEYS = frozenset(
    {
        "title",
        "covers",
        "case",
        "case_text",
        "case_format",
        "expect",
        "expect_seeds",
        "profile",
        "pack",
        "recommendation",
        "quote",
    }
)


@dataclass(frozen=True)
class Vignette:
    path: Path
    title: str
    covers: tuple[str, ...]
    case: Any
    case_text: str | None
    case_format: str
    expect: Mapping[str, Any]
    profile: str | None = None  # the guideline profile to triage under ("seeds": the seed articles alone)


@dataclass(frozen=True)
class VignetteOutcome:
    vignette: Vignette
    result: TriageResult | None
    error: str
    exit_code: int
    mismatches: tuple[str, ...] = field(default=())
    derive_rules: tuple[str, ...] = field(default=())  # derive-*.rq rules that produced facts
    thresholds: tuple[str, ...] = field(default=())  # size thresholds the lump exceeded

    @property
    def passed(self) -> bool:
        return not self.mismatches


def _check_shape(file: Path, name: str, value: Any) -> None:
    """Refuse an expectation whose YAML shape its comparison cannot read: a mapping written as a
    list was an internal error, and a list written as one name was compared letter by letter."""
    key = name.partition(".")[2]
    if value is None:
        return
    if key in MAPPING_EXPECTATIONS and not isinstance(value, Mapping):
        raise DorsumError(f"{file}: {name} must be a mapping of names to what is expected, not {value!r}")
    if key in LIST_EXPECTATIONS and not isinstance(value, list):
        raise DorsumError(f"{file}: {name} must be a list of names, not {value!r}")


def load_vignette(path: Path | str) -> Vignette:
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DorsumError(f"{file}: cannot read vignette: {exc}") from exc
    if not isinstance(data, Mapping) or "expect" not in data or ("case" not in data and "case_text" not in data):
        raise DorsumError(f"{file}: a vignette needs 'expect' and either 'case' or 'case_text'")
    unknown = sorted(set(map(str, data)) - VIGNETTE_KEYS)
    for part in ("expect", "expect_seeds"):
        stated = data.get(part) or {}
        if not isinstance(stated, Mapping):
            raise DorsumError(f"{file}: '{part}' must be a mapping")
        unknown += [f"{part}.{key}" for key in sorted(set(map(str, stated)) - EXPECT_KEYS)]
    if unknown:
        raise DorsumError(f"{file}: unknown vignette key {', '.join(unknown)} (not checked by any test)")
    if not data["expect"]:
        raise DorsumError(f"{file}: 'expect' states nothing, so the vignette would pass unchecked")
    for part in ("expect", "expect_seeds"):
        for key, value in (data.get(part) or {}).items():
            _check_shape(file, f"{part}.{key}", value)
    case_format = str(data.get("case_format", "yaml"))
    if case_format not in SUFFIXES:
        raise DorsumError(f"{file}: case_format must be one of {', '.join(SUFFIXES)}")
    return Vignette(
        path=file,
        title=str(data.get("title", file.stem)),
        covers=tuple(str(item) for item in data.get("covers", []) or []),
        case=data.get("case"),
        case_text=data.get("case_text"),
        case_format=case_format,
        expect=data["expect"] or {},
        profile=str(data["profile"]) if data.get("profile") else None,
    )


def default_vignette_folder(kb_root: Path) -> Path:
    """The scenarios for the knowledge at ``kb_root``, so that ``dorsum test`` works in any folder:
    those that ship with it; for a working copy without any, ``tests/cases`` of the current folder
    (a checkout); else those that ship with the packaged knowledge."""
    candidates = [kb_root / relative for relative in SCENARIO_FOLDERS]
    candidates.append(Path("tests", "cases"))
    with contextlib.suppress(KnowledgeError):
        candidates.extend(default_kb_root() / relative for relative in SCENARIO_FOLDERS)
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise UsageError(f"no scenarios found for the knowledge at {kb_root} (no cases/ or tests/cases/): give PATH")


def find_vignettes(paths: Iterable[Path | str]) -> list[Path]:
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(path.glob("*.yaml")))
        else:
            found.append(path)
    return found


def vignette_case(vignette: Vignette, knowledge: Knowledge) -> CaseInput:
    """The vignette's case, read exactly as a case file of its format would be."""
    if vignette.case_text is not None:
        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / f"{vignette.path.stem}{SUFFIXES[vignette.case_format]}"
            file.write_text(vignette.case_text, encoding="utf-8")
            try:
                return replace(read_case(file, knowledge), source=str(vignette.path))
            except CaseError as exc:  # name the vignette, not the temporary file
                raise CaseError(str(vignette.path), exc.problems) from exc
    return case_from_form(vignette.case, knowledge, name=vignette.path.stem, source=str(vignette.path))


def is_vignette(path: Path) -> bool:
    """A YAML file with an 'expect' section is a vignette; other YAML files are case forms."""
    if path.suffix.lower() not in (".yaml", ".yml"):
        return False
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, Mapping) and "expect" in data


def run_vignette(vignette: Vignette, knowledge: Knowledge) -> VignetteOutcome:
    result: TriageResult | None = None
    error = ""
    try:
        case = vignette_case(vignette, knowledge)
        result = triage(
            case,
            knowledge,
            load_profile(knowledge, vignette.profile),
            explain_missing="would_change" in vignette.expect,
        )
        exit_code = result.exit_code
        rules, thresholds = _derivations(case.graph, knowledge)
    except CaseError as exc:
        error, exit_code, rules, thresholds = str(exc), EXIT_INVALID_CASE, (), ()
    except DorsumError as exc:
        error, exit_code, rules, thresholds = str(exc), exc.exit_code, (), ()
    mismatches = tuple(_compare(vignette.expect, result, error, exit_code))
    return VignetteOutcome(vignette, result, error, exit_code, mismatches, rules, thresholds)


def _derivations(graph: Graph, knowledge: Knowledge) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which derive rules produce facts for this case, and which thresholds it exceeds."""
    rules: list[str] = []
    thresholds: set[str] = set()
    case = set(graph)
    for rule in engine_for(knowledge).derive_rules:
        triples = rule.run(case, knowledge.schema)
        if triples:
            rules.append(rule.name)
        thresholds |= {_local(str(o)) for _s, p, o in triples if p == DX.exceedsThreshold}
    return tuple(rules), tuple(sorted(thresholds))


@dataclass(frozen=True)
class Coverage:
    """Which knowledge elements fired at least once across a set of vignettes."""

    kind: str
    covered: tuple[str, ...]
    uncovered: tuple[str, ...]


def coverage(outcomes: Iterable[VignetteOutcome], knowledge: Knowledge) -> tuple[Coverage, ...]:
    graph = knowledge.ontology
    kinds = ("recommendations", "avoid advice", "red flags", "clinical situations", "thresholds", "derive rules")
    fired: dict[str, set[str]] = {kind: set() for kind in kinds}
    for outcome in outcomes:
        result = outcome.result
        if result is not None:
            fired["recommendations"] |= {_local(s.iri) for s in result.next_steps}
            fired["avoid advice"] |= {_local(s.iri) for s in result.avoid + result.excepted}
            fired["red flags"] |= {_local(f.iri) for f in result.red_flags}
            fired["clinical situations"] |= {_local(f.iri) for f in result.situations}
        fired["thresholds"] |= set(outcome.thresholds)
        fired["derive rules"] |= set(outcome.derive_rules)
    universe = {
        "recommendations": {_local(str(s)) for s in graph.subjects(RDF.type, DX.Recommendation)},
        "avoid advice": {_local(str(s)) for s in graph.subjects(RDF.type, DX.AvoidAdvice)},
        "red flags": {_local(str(s)) for s in graph.subjects(RDFS.subClassOf, DX.RedFlag)},
        "clinical situations": {_local(str(s)) for s in graph.subjects(RDFS.subClassOf, DX.ClinicalSituation)},
        "thresholds": {_local(str(s)) for s in graph.subjects(RDF.type, DX.SizeThreshold)},
        "derive rules": {name for name in knowledge.queries if name.startswith("derive-")},
    }
    return tuple(
        Coverage(kind, tuple(sorted(universe[kind] & fired[kind])), tuple(sorted(universe[kind] - fired[kind])))
        for kind in kinds
    )


def _compare(expect: Mapping[str, Any], result: TriageResult | None, error: str, exit_code: int) -> list[str]:
    problems: list[str] = []
    status = "invalid" if result is None else result.status
    if "status" in expect and expect["status"] != status:
        problems.append(f"status: expected {expect['status']}, got {status}" + (f" ({error})" if error else ""))
    if "exit_code" in expect and int(expect["exit_code"]) != exit_code:
        problems.append(f"exit code: expected {expect['exit_code']}, got {exit_code}")
    if "error" in expect and str(expect["error"]).lower() not in error.lower():
        problems.append(f"error: expected text {expect['error']!r}, got {error!r}")
    if result is None:  # what a result would show cannot be checked: say so (such a vignette once passed)
        unchecked = sorted(set(expect) - {"status", "exit_code", "error"})
        if unchecked:
            problems.append(f"{', '.join(unchecked)}: not checked, the case was not triaged ({error or 'invalid'})")
        return problems
    return problems + _compare_tiers_and_lists(expect, result) + _compare_conflicts_and_missing(expect, result)


def _compare_tiers_and_lists(expect: Mapping[str, Any], result: TriageResult) -> list[str]:
    problems: list[str] = []
    for key, attribute in (("urgency", "urgency"), ("possible_urgency", "possible_urgency")):
        if key in expect:
            tier = getattr(result, attribute)
            got = _local(tier.iri) if tier else None
            if expect[key] != got:
                problems.append(f"{key}: expected {expect[key]}, got {got}")
    for key, (attribute, present) in LIST_CHECKS.items():
        if key not in expect:
            continue
        names = {_local(item.iri) for item in getattr(result, attribute)}
        for name in expect[key] or []:
            if (name in names) != present:
                problems.append(f"{key}: {name} {'missing from' if present else 'unexpectedly in'} the result")
    return problems


def _compare_conflicts_and_missing(expect: Mapping[str, Any], result: TriageResult) -> list[str]:
    problems: list[str] = []
    if "conflicts" in expect:
        subjects = [conflict.subject for conflict in result.conflicts]
        for wanted in expect["conflicts"] or []:
            if not any(str(wanted).lower() in subject.lower() for subject in subjects):
                problems.append(f"conflicts: none about {wanted!r} (got {subjects})")
    if "no_conflicts" in expect and expect["no_conflicts"] and result.conflicts:
        problems.append(f"conflicts: expected none, got {[c.subject for c in result.conflicts]}")
    if "missing" in expect:
        items = {item.item for item in result.missing}
        for wanted in expect["missing"] or []:
            if wanted not in items:
                problems.append(f"missing: {wanted} not reported (got {sorted(items)})")
    changes = {item.item: item.would_change for item in result.missing}
    for item, wanted in (expect.get("would_change") or {}).items():
        got = changes.get(str(item))
        if got is None:
            problems.append(f"would_change: {item} is not reported missing")
        elif (str(wanted) == "" and got) or str(wanted).lower() not in got.lower():
            problems.append(f"would_change: {item}: expected {wanted!r}, got {got!r}")
    return problems + _compare_plan(expect, result) + _compare_later(expect, result)


def _compare_later(expect: Mapping[str, Any], result: TriageResult) -> list[str]:
    """``later`` / ``not_later``: conditional steps shown (or not) as later steps; ``dropped``: left
    out of the plan because the step they wait on is not in it."""
    problems: list[str] = []
    shown = {_local(step.iri) for step in result.next_steps if result.plan.shows_later(step)}
    dropped = {_local(entry.step) for entry in result.plan.dropped}
    for name in expect.get("later") or []:
        if name not in shown:
            problems.append(f"later: {name} is not shown as a later step")
    for name in expect.get("not_later") or []:
        if name in shown:
            problems.append(f"not_later: {name} is shown as a later step")
    for name in expect.get("dropped") or []:
        if name not in dropped:
            problems.append(f"dropped: {name} is not recorded as dropped (dropped: {sorted(dropped)})")
    return problems + _compare_later_due(expect, result)


def _compare_later_due(expect: Mapping[str, Any], result: TriageResult) -> list[str]:
    """``later_due``: later step shown -> the tier it is due within (a time frame it keeps included);
    ``later_kept_from``: later step -> the step it keeps the time frame of (or ``none``): a dropped
    later step it stands in for, or a recommendation behind the plan step it is the fallback of."""
    problems: list[str] = []
    shown = {_local(step.iri): step for step in result.next_steps if result.plan.shows_later(step)}
    for name, wanted in (expect.get("later_due") or {}).items():
        step = shown.get(str(name))
        due = result.plan.later_due(step) if step is not None else None
        got = _local(due.iri) if due is not None else ("not shown" if step is None else "none")
        if got != str(wanted):
            problems.append(f"later_due: {name}: expected {wanted}, got {got}")
    for name, wanted in (expect.get("later_kept_from") or {}).items():
        step = shown.get(str(name))
        kept = result.plan.later_kept_for(step) if step is not None else None
        given_by = () if kept is None else kept.replaces_steps if isinstance(kept, FallbackTimeFrame) else kept.dropped
        got_from = {_local(iri) for iri in given_by}
        if (
            step is None
            or (str(wanted) == "none" and got_from)
            or (str(wanted) != "none" and str(wanted) not in got_from)
        ):
            problems.append(f"later_kept_from: {name}: expected {wanted}, got {sorted(got_from) or 'none'}")
    return problems + _compare_later_start(expect, result, shown)


def _compare_later_start(expect: Mapping[str, Any], result: TriageResult, shown: Mapping[str, Step]) -> list[str]:
    """``later_time_frame``: later step -> the sooner time frame (ISO 8601) it keeps from the plan
    step it is the fallback of (or ``none``); ``later_from``: later step -> the action whose result
    its time frame counts from (or ``none``)."""
    problems: list[str] = []
    for name, wanted in (expect.get("later_time_frame") or {}).items():
        step = shown.get(str(name))
        kept = result.plan.later_kept_for(step) if step is not None else None
        got = kept.time_frame if isinstance(kept, FallbackTimeFrame) and kept.time_frame else "none"
        if step is None or got != str(wanted):
            problems.append(f"later_time_frame: {name}: expected {wanted}, got {got if step else 'not shown'}")
    for name, wanted in (expect.get("later_from") or {}).items():
        step = shown.get(str(name))
        start = result.plan.later_start(step) if step is not None else None
        got_from = {_local(iri) for iri in start.after_iris} if start is not None else set()
        if (
            step is None
            or (str(wanted) == "none" and got_from)
            or (str(wanted) != "none" and str(wanted) not in got_from)
        ):
            problems.append(f"later_from: {name}: expected {wanted}, got {sorted(got_from) or 'none'}")
    return problems


def _compare_plan(expect: Mapping[str, Any], result: TriageResult) -> list[str]:
    """``plan``: topic -> the action of its primary step (or ``none``); ``not_plan``: topic -> an
    action (or a list) that must not be primary."""
    problems: list[str] = []
    for topic, wanted in (expect.get("plan") or {}).items():
        got = _primary_actions(result, str(topic))
        want = {str(wanted)} if str(wanted) != "none" else set()
        if got != want:
            problems.append(f"plan: {topic}: expected {wanted}, got {sorted(got) or 'none'}")
    for topic, unwanted in (expect.get("not_plan") or {}).items():
        got = _primary_actions(result, str(topic))
        for action in unwanted if isinstance(unwanted, list) else [unwanted]:
            if str(action) in got:
                problems.append(f"not_plan: {topic}: {action} is the primary step")
    for topic, cited in (expect.get("plan_sources") or {}).items():
        entry = result.plan.topic(str(topic))
        got = {source for option in entry.chosen for source in option.sources} if entry is not None else set()
        want = {str(source) for source in (cited if isinstance(cited, list) else [cited])}
        if got != want:
            problems.append(f"plan_sources: {topic}: expected {sorted(want)}, got {sorted(got) or 'none'}")
    return problems + _compare_due(expect, result)


def _compare_due(expect: Mapping[str, Any], result: TriageResult) -> list[str]:
    """``plan_due``: topic -> the tier its primary step is due within (a kept time frame included);
    ``kept_from``: topic -> a recommendation whose time frame the topic keeps (or ``none``)."""
    problems: list[str] = []
    for topic, wanted in (expect.get("plan_due") or {}).items():
        entry = result.plan.topic(str(topic))
        got = {_local(due.iri) for o in entry.chosen if (due := entry.due(o)) is not None} if entry else set()
        if got != {str(wanted)}:
            problems.append(f"plan_due: {topic}: expected {wanted}, got {sorted(got) or 'none'}")
    for topic, wanted in (expect.get("kept_from") or {}).items():
        entry = result.plan.topic(str(topic))
        kept = {_local(iri) for iri in entry.timing.steps} if entry and entry.timing else set()
        if (str(wanted) == "none" and kept) or (str(wanted) != "none" and str(wanted) not in kept):
            problems.append(f"kept_from: {topic}: expected {wanted}, got {sorted(kept) or 'none'}")
    for topic, wanted in (expect.get("plan_time_frame") or {}).items():
        entry = result.plan.topic(str(topic))
        frames = {entry.sooner_time_frame(o) or "none" for o in entry.chosen} if entry else set()
        if frames != {str(wanted)}:
            problems.append(f"plan_time_frame: {topic}: expected {wanted}, got {sorted(frames) or 'none'}")
    return problems


def _primary_actions(result: TriageResult, topic: str) -> set[str]:
    entry = result.plan.topic(topic)
    return {_local(option.action_iri) for option in entry.chosen} if entry is not None else set()


def _local(iri: str) -> str:
    return iri[len(str(DX)) :] if iri.startswith(str(DX)) else iri
