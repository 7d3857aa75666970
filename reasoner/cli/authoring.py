"""``dorsum check``, ``test``, ``conflicts``, ``diff`` and ``docs``: tools for the people who edit
the knowledge, thin over :mod:`reasoner.authoring`.

Each command imports its authoring module when it runs.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reasoner.cli.common import USAGE_ERROR, DorsumCommand, exit_codes, format_option, kb_option
from reasoner.errors import EXIT_TRIAGED, UsageError
from reasoner.knowledge import default_kb_root, load_knowledge

if TYPE_CHECKING:
    from reasoner.authoring.impact import ImpactReport
    from reasoner.authoring.vignettes import Coverage, VignetteOutcome

EXIT_DONE = (EXIT_TRIAGED, "done")


@click.command(
    cls=DorsumCommand,
    epilog=exit_codes((0, "no ERROR finding"), (1, "at least one ERROR finding"), USAGE_ERROR),
)
@format_option("text", "json")
@kb_option
def check(fmt: str, kb: Path | None) -> None:
    """Quality control of the knowledge base: parsing, OWL 2 RL profile, consistency, metadata
    shapes (shapes/knowledge-qa.ttl) and SPARQL checks (queries/qc/*-violation.rq).

    Prints one line per finding (ERROR, WARN, INFO).

    \b
    Example:
      dorsum check
      dorsum check --kb ./my-working-copy --format json
    """
    from reasoner.authoring.check import check_knowledge

    report = check_knowledge(kb if kb is not None else default_kb_root())
    if fmt == "json":
        click.echo(report.to_json())
    else:
        for finding in report.findings:
            click.echo(str(finding))
        click.echo(f"{report.errors} errors, {report.warnings} warnings ({report.root})")
    sys.exit(1 if report.errors else 0)


@click.command(
    "test",
    cls=DorsumCommand,
    epilog=exit_codes(
        (0, "every vignette passed"),
        (1, "a vignette failed (or, with --strict, a knowledge element was never exercised)"),
        USAGE_ERROR,
    ),
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Also fail when a knowledge element is never exercised.")
@format_option("text", "json")
@kb_option
def test_command(paths: tuple[Path, ...], strict: bool, fmt: str, kb: Path | None) -> None:
    """Run golden vignettes (one case and its expected result per YAML file) and report coverage.

    PATH is a vignette file or a folder of them (default: the scenarios that ship with the
    knowledge, tests/cases in a checkout). Prints PASS or FAIL for each, with expected-versus-actual
    for failures, then which recommendations, red flags, thresholds and derive rules fired at
    least once. With --format json, one object: vignettes, passed, failed, coverage, exit_code.

    \b
    Example:
      dorsum test
      dorsum test tests/cases/020-deep-lumbar-mass-with-back-pain-immediate-mri.yaml
      dorsum test --strict --kb ./my-working-copy --format json
    """
    from reasoner.authoring.vignettes import (
        coverage,
        default_vignette_folder,
        find_vignettes,
        load_vignette,
        run_vignette,
    )

    knowledge = load_knowledge(kb)
    targets = list(paths) or [default_vignette_folder(knowledge.root)]
    files = find_vignettes(targets)
    if not files or any(not f.exists() for f in files):
        missing = ", ".join(str(f) for f in files if not f.exists()) or ", ".join(map(str, targets))
        raise UsageError(f"no vignettes found: {missing}")
    outcomes = []
    for file in files:
        outcome = run_vignette(load_vignette(file), knowledge)
        outcomes.append(outcome)
        if fmt == "text":
            _echo_outcome(outcome)
    covered = coverage(outcomes, knowledge)
    failed = sum(1 for o in outcomes if not o.passed)
    uncovered = sum(len(item.uncovered) for item in covered)
    code = 1 if failed or (strict and uncovered) else 0
    if fmt == "json":
        click.echo(json.dumps(_test_record(outcomes, covered, code), indent=2, sort_keys=True))
    else:
        _echo_coverage(len(outcomes) - failed, failed, covered)
    sys.exit(code)


def _echo_outcome(outcome: VignetteOutcome) -> None:
    click.echo(f"{'PASS' if outcome.passed else 'FAIL'} {outcome.vignette.path}")
    for mismatch in outcome.mismatches:
        click.echo(f"     {mismatch}")


def _echo_coverage(passed: int, failed: int, covered: tuple[Coverage, ...]) -> None:
    click.echo(f"\n{passed} passed, {failed} failed")
    click.echo("\nCoverage (fired at least once):")
    for item in covered:
        click.echo(f"  {item.kind}: {len(item.covered)}/{len(item.covered) + len(item.uncovered)}")
        if item.uncovered:
            click.echo(f"    never fired: {', '.join(item.uncovered)}")


def _test_record(outcomes: list[VignetteOutcome], covered: tuple[Coverage, ...], code: int) -> dict[str, Any]:
    failed = sum(1 for o in outcomes if not o.passed)
    return {
        "vignettes": [
            {"path": str(o.vignette.path), "passed": o.passed, "mismatches": list(o.mismatches)} for o in outcomes
        ],
        "passed": len(outcomes) - failed,
        "failed": failed,
        "coverage": [asdict(item) for item in covered],
        "exit_code": code,
    }


@click.command("conflicts", cls=DorsumCommand, epilog=exit_codes(EXIT_DONE, USAGE_ERROR))
@click.option("--profile", default=None, help="Show how this guideline profile resolves each disagreement.")
@click.option(
    "--packs-vs-seeds",
    "packs_only",
    is_flag=True,
    help="Only the disagreements between a guideline pack and a seed article.",
)
@format_option("text", "json")
@kb_option
def conflicts_command(profile: str | None, packs_only: bool, fmt: str, kb: Path | None) -> None:
    """List every pair of sources that disagree within the knowledge: on a threshold, a
    first-line test, an urgency, or an action one recommends and the other says to avoid.

    Each disagreement shows both sides with their citations and the policy that resolves it; each
    side says whether its sources are seed articles, guideline packs (which), both or neither
    (JSON: "origin" and "packs" on each side, "packs_vs_seeds" on the row). Profiles
    (ontology/profiles.ttl) are listed at the end.

    \b
    Example:
      dorsum conflicts
      dorsum conflicts --packs-vs-seeds
      dorsum conflicts --profile sarcoma-pathway --format json
    """
    from reasoner.authoring.conflicts import knowledge_conflicts, packs_vs_seeds
    from reasoner.pipeline.policy import knowledge_for, load_profile, profiles

    knowledge = load_knowledge(kb)
    chosen = load_profile(knowledge, profile)
    knowledge = knowledge_for(knowledge, chosen)  # a profile may reason with only some packs
    every = knowledge_conflicts(knowledge, chosen)
    found = packs_vs_seeds(every) if packs_only else every
    if fmt == "json":
        click.echo(json.dumps([asdict(item) for item in found], indent=2, sort_keys=True))
        sys.exit(EXIT_TRIAGED)
    for item in found:
        click.echo(f"[{item.kind}] {item.subject}")
        for side in (item.first, item.second):
            origin = f"pack {', '.join(side.packs)}" if side.origin == "pack" else side.origin
            if side.origin == "seed+pack":
                origin = f"seed and pack {', '.join(side.packs)}"
            click.echo(f"  - ({origin}) {', '.join(side.sources)}: {side.answer}  ({side.label})")
            for citation in side.citations:
                click.echo(f"      {citation}")
        click.echo(f"  policy: {item.policy}")
    count = (
        f"{len(found)} disagreements between a guideline pack and the seed articles (of {len(every)})"
        if packs_only
        else f"{len(found)} disagreements"
    )
    click.echo(
        f"\n{count}. Profiles: "
        + (", ".join(f"{p.name} ({' > '.join(p.prefers)})" for p in profiles(knowledge).values()) or "none")
    )
    sys.exit(EXIT_TRIAGED)


@click.command(
    "diff",
    cls=DorsumCommand,
    epilog=exit_codes(
        (0, "no case became less urgent (or --allow-downgrade)"), (1, "a case became less urgent"), USAGE_ERROR
    ),
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--against", type=click.Path(path_type=Path), help="Folder with the old knowledge (ontology/, shapes/, queries/)."
)
@click.option("--base", help="Git ref (branch, tag, commit) whose knowledge folders are the old knowledge.")
@click.option("--allow-downgrade", is_flag=True, help="Exit 0 even if a case became less urgent.")
@format_option("text", "json")
@kb_option
def diff(
    paths: tuple[Path, ...], against: Path | None, base: str | None, allow_downgrade: bool, fmt: str, kb: Path | None
) -> None:
    """Show what a knowledge edit changes for patients.

    Evaluates every case under the old knowledge (--against DIR or --base GIT-REF) and the new
    one (--kb, default: the current knowledge). PATH is a case file, a vignette or a folder of
    them (default: the scenarios that ship with the new knowledge, and ./examples if there is
    one). Reports each case whose urgency, status, next steps, red flags or avoid list changed,
    with the knowledge elements involved.

    \b
    Example:
      dorsum diff --base main
      dorsum diff --against ../dorsum-released --kb . tests/cases
    """
    from reasoner.authoring.impact import case_files, compare_knowledge, knowledge_at_git_ref
    from reasoner.authoring.vignettes import default_vignette_folder

    if (against is None) == (base is None):
        raise UsageError("give exactly one of --against DIR or --base GIT-REF")
    new = load_knowledge(kb)
    if not paths:  # the scenarios of the new knowledge, and the examples if run from a checkout
        paths = (default_vignette_folder(new.root), *(p for p in [Path("examples")] if p.is_dir()))
    files = case_files(list(paths))
    if not files:
        raise UsageError("no cases to compare: give case files or folders")
    if base is not None:
        with knowledge_at_git_ref(base) as folder:
            report = compare_knowledge(load_knowledge(folder), new, files)
    else:
        assert against is not None
        report = compare_knowledge(load_knowledge(against), new, files)
    if fmt == "json":
        click.echo(json.dumps(asdict(report), indent=2, sort_keys=True))
    else:
        _echo_impact(report)
    sys.exit(1 if report.downgrades and not allow_downgrade else 0)


def _echo_impact(report: ImpactReport) -> None:
    click.echo(f"Knowledge elements: {len(report.element_changes)} changed")
    for element in report.element_changes:
        click.echo(f"  {element.change:8} {element.label}  <{element.iri}>")
    click.echo(f"\nCases: {len(report.case_changes)} of {report.cases_compared} changed")
    for change in report.case_changes:
        marker = "DOWNGRADE " if change.downgrade else ""
        click.echo(f"  {marker}{change.case}: {change.old} -> {change.new}")
        for label, items in (
            ("+ step", change.added_steps),
            ("- step", change.removed_steps),
            ("+ red flag", change.added_red_flags),
            ("- red flag", change.removed_red_flags),
            ("+ avoid", change.added_avoid),
            ("- avoid", change.removed_avoid),
        ):
            for item in items:
                click.echo(f"      {label}: {item}")
        for element in change.elements:
            click.echo(f"      because {element.change}: {element.label}")
    if report.downgrades:
        click.echo(f"\n{len(report.downgrades)} case(s) became LESS urgent: review before merging.")


@click.command(cls=DorsumCommand, epilog=exit_codes(EXIT_DONE, USAGE_ERROR))
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for index.html, index.md and diagram.svg (created if missing).",
)
@kb_option
def docs(out: Path, kb: Path | None) -> None:
    """Write a browsable reference of the knowledge: HTML and Markdown pages and an SVG diagram
    from findings to red flags to recommendations to urgency.

    \b
    Example:
      dorsum docs --out site/
      dorsum docs --out /tmp/preview --kb ./my-working-copy
    """
    from reasoner.authoring.docs import build_docs

    knowledge = load_knowledge(kb)
    try:
        written = build_docs(knowledge, out)
    except OSError as exc:
        raise UsageError(f"cannot write the docs to {out}: {exc.strerror}") from exc
    for path in written:
        click.echo(str(path))
    sys.exit(EXIT_TRIAGED)
