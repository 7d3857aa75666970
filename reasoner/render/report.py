"""Render a TriageResult as text, JSON or Turtle (with PROV-O provenance)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from reasoner.errors import UsageError
from reasoner.knowledge import DX
from reasoner.pipeline.triage import Citation, Conflict, Step, TriageResult, as_mapping, chain

PROV = Namespace("http://www.w3.org/ns/prov#")
RESULT = Namespace("https://w3id.org/dorsum/result#")
FORMATS = ("text", "json", "turtle")
DISCLAIMER = "Decision support for professionals, not a diagnosis. Check every step against clinical judgement."


def render(result: TriageResult, fmt: str) -> str:
    if fmt == "text":
        return render_text(result)
    if fmt == "json":
        return render_json(result)
    if fmt == "turtle":
        return render_turtle(result)
    raise UsageError(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})")


def render_json(result: TriageResult) -> str:
    """Deterministic JSON: the same input and knowledge give byte-identical output."""
    return json.dumps(as_mapping(result), indent=2, sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------- text


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


# ---------------------------------------------------------------- Turtle


def render_turtle(result: TriageResult) -> str:
    """The result as RDF, linked to the knowledge elements, with PROV-O provenance."""
    graph = Graph()
    graph.bind("dx", DX)
    graph.bind("prov", PROV)
    graph.bind("res", RESULT)
    node = URIRef(f"https://w3id.org/dorsum/result/{result.case_id}")
    activity = URIRef(f"https://w3id.org/dorsum/result/{result.case_id}/activity")
    knowledge = URIRef(result.knowledge.version_iri) if result.knowledge.version_iri else BNode()
    graph.add((node, RDF.type, RESULT.TriageResult))
    graph.add((node, RDF.type, PROV.Entity))
    graph.add((node, RESULT.forCase, URIRef(result.case_iri) if result.case_iri.startswith("http") else BNode()))
    graph.add((node, RESULT.status, Literal(result.status)))
    if result.urgency:
        graph.add((node, RESULT.urgencyAtLeast if not result.complete else RESULT.urgency, URIRef(result.urgency.iri)))
    if result.possible_urgency and not result.complete:
        graph.add((node, RESULT.possibleUrgency, URIRef(result.possible_urgency.iri)))
    for flag in result.red_flags:
        graph.add((node, RESULT.redFlag, URIRef(flag.iri)))
    for situation in result.situations:
        graph.add((node, RESULT.situation, URIRef(situation.iri)))
    for step in result.next_steps:
        graph.add((node, RESULT.recommendation, URIRef(step.iri)))
    for step in result.avoid:
        graph.add((node, RESULT.avoid, URIRef(step.iri)))
    for item in result.missing:
        graph.add((node, RESULT.missingItem, Literal(item.item)))
    for conflict in result.conflicts:
        c = BNode()
        graph.add((node, RESULT.conflict, c))
        graph.add((c, RDFS.label, Literal(conflict.subject)))
        graph.add((c, RESULT.resolution, Literal(f"{conflict.policy}: {conflict.resolution}")))
    graph.add((node, PROV.wasGeneratedBy, activity))
    graph.add((activity, RDF.type, PROV.Activity))
    graph.add((activity, PROV.used, knowledge))
    graph.add((knowledge, RESULT.contentHash, Literal(result.knowledge.content_hash)))
    graph.add((knowledge, RESULT.versionInfo, Literal(result.knowledge.version)))
    graph.add((activity, RESULT.dorsumVersion, Literal(result.knowledge.dorsum_version)))
    graph.add((activity, RESULT.source, Literal(result.source)))
    graph.add((node, RESULT.exitCode, Literal(result.exit_code, datatype=XSD.integer)))
    return graph.serialize(format="turtle")
