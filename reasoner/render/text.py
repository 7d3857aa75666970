"""A triage result as text for a clinician."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from reasoner.pipeline.triage import Citation, Conflict, Step, TriageResult, chain

DISCLAIMER = "Decision support for professionals, not a diagnosis. Check every step against clinical judgement."


def render_text(result: TriageResult) -> str:
    out: list[str] = []
    out.append(f"Case {result.case_id}  ({result.source})")
    out.append(_headline(result))
    if result.missing:
        out.append("INCOMPLETE: record " + ", ".join(item.item for item in result.missing))
        for item in result.missing:
            out.append(f"  - {item.message}")
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
    conditional = [s for s in result.next_steps if s.condition]
    out.append("")
    out.append("Next steps (most urgent first):")
    for number, step in enumerate(unconditional, start=1):
        out.extend(_step_lines(result, step, f"{number}."))
    if conditional:
        out.append("")
        out.append("Later steps, depending on results:")
        for step in conditional:
            out.extend(_step_lines(result, step, "-"))
    if result.avoid:
        out.append("")
        out.append("Avoid:")
        for step in result.avoid:
            unless = f" (unless {step.except_when})" if step.except_when else ""
            out.append(f"  - {step.action}{unless}  [{_sources_short(step.sources)}]")
            out.append(_wrap(step.evidence, "      "))
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
    out.append("")
    stamp = result.knowledge
    out.append(f"Knowledge {stamp.version} (sha256 {stamp.content_hash[:12]}), dorsum {stamp.dorsum_version}")
    out.append(DISCLAIMER)
    return "\n".join(out) + "\n"


def _headline(result: TriageResult) -> str:
    tier = result.urgency
    possible = result.possible_urgency
    if result.complete:
        if tier is None:
            return "URGENCY: undetermined (no recommendation applies)"
        return f"URGENCY: {tier.label} ({tier.time_frame})"
    floor = (
        f"at least {tier.label} ({tier.time_frame}) from the recorded facts"
        if tier
        else ("no tier can be set from the recorded facts alone")
    )
    line = f"URGENCY: {floor}"
    if possible is not None and (tier is None or possible.rank > tier.rank):
        line += f"; could be {possible.label} ({possible.time_frame}) until the missing items are recorded"
    return line


def _step_lines(result: TriageResult, step: Step, bullet: str) -> list[str]:
    tier = f"[{step.tier.label}] " if step.tier else ""
    lines = [f"  {bullet} {tier}{step.action}"]
    if step.condition:
        lines.append(f"      only if: {step.condition}")
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


def _sources_short(citations: Iterable[Citation]) -> str:
    names = [c.short for c in citations if c.relation == "source"]
    return ", ".join(dict.fromkeys(names)) or "no source"


def _all_citations(result: TriageResult) -> list[Citation]:
    seen: dict[str, Citation] = {}
    for item in result.red_flags + result.situations:
        for c in item.sources:
            seen.setdefault(c.iri, c)
    for step in result.next_steps + result.avoid:
        for c in step.sources:
            seen.setdefault(c.iri, c)
    return sorted(seen.values(), key=lambda c: c.iri)


def _wrap(text: str, indent: str, subsequent: str | None = None) -> str:
    return textwrap.fill(
        text, width=100, initial_indent=indent, subsequent_indent=subsequent or indent, break_long_words=False
    )
