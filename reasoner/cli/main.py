"""The ``dorsum`` command line: thin click commands over the public API.

The query, check, test, diff and docs commands import their modules when they run, and the
commands of :mod:`reasoner.cli.batch` and :mod:`reasoner.cli.store` are loaded when named, so a
triage does not pay for the docs, store, batch or authoring code.
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reasoner.cli.common import EXIT_CODES_HELP, fail, kb_option, quiet_libraries
from reasoner.errors import (
    EXIT_INCOMPLETE,
    EXIT_INVALID_CASE,
    EXIT_TRIAGED,
    EXIT_USAGE,
    CaseError,
    DorsumError,
    UsageError,
)
from reasoner.knowledge import Knowledge, default_kb_root, load_knowledge
from reasoner.pipeline.policy import Profile, knowledge_conflicts, load_profile, profiles
from reasoner.pipeline.read import read_case
from reasoner.pipeline.triage import triage
from reasoner.pipeline.validate import validate_case
from reasoner.render import FORMATS, render
from reasoner.version import __version__

if TYPE_CHECKING:
    from reasoner.authoring.impact import ImpactReport

#: Commands defined in other modules, imported only when invoked (or listed by --help).
LAZY_COMMANDS = {
    "batch": "reasoner.cli.batch:batch",
    "generate": "reasoner.cli.batch:generate",
    "store": "reasoner.cli.store:store",
    "sparql": "reasoner.cli.store:sparql",
    "serve": "reasoner.cli.store:serve",
}


class LazyGroup(click.Group):
    """A click group whose LAZY_COMMANDS are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            module, _, name = LAZY_COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), name)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return command


def _knowledge(kb: Path | None) -> Knowledge:
    try:
        return load_knowledge(kb)
    except DorsumError as error:
        fail(error)


def _knowledge_and_profile(kb: Path | None, profile: str | None) -> tuple[Knowledge, Profile | None]:
    knowledge = _knowledge(kb)
    try:
        return knowledge, load_profile(knowledge, profile)
    except DorsumError as error:
        fail(error)


@click.group(cls=LazyGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dorsum")
def main() -> None:
    """dorsum: triage of a lump or mass on the back or lumbar region.

    How urgent is it, what should happen next, and on whose authority? Every answer comes from
    the knowledge base (OWL 2 RL ontology, SHACL shapes, SPARQL rules) and names its sources.

    Decision support for professionals. It does not diagnose.
    """


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("cases", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format", "-f", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format."
)
@click.option(
    "--profile", default=None, help="Guideline profile (a preference order of sources, see 'dorsum conflicts')."
)
@kb_option
def evaluate(cases: tuple[Path, ...], fmt: str, profile: str | None, kb: Path | None) -> None:
    """Triage each CASE file: urgency, next steps, red flags, sources, conflicts, missing items.

    CASE is a case form (.json, .yaml) or RDF (.ttl, .jsonld, .nt).

    \b
    Example:
      dorsum evaluate examples/growing-firm-lump.yaml
      dorsum evaluate examples/*.yaml --format json
      dorsum evaluate examples/lumbar-mass-back-pain.yaml --profile spinal-pathway
    """
    with quiet_libraries():
        knowledge, chosen = _knowledge_and_profile(kb, profile)
        worst = EXIT_TRIAGED
        outputs: list[str] = []
        for path in cases:
            try:
                result = triage(read_case(path, knowledge), knowledge, chosen)
            except CaseError as error:
                click.echo(f"dorsum: error: {error}", err=True)
                worst = _worse(worst, error.exit_code)
                continue
            except DorsumError as error:
                fail(error)
            outputs.append(render(result, fmt))
            worst = _worse(worst, result.exit_code)
        if fmt == "json" and len(cases) > 1:
            click.echo("[\n" + ",\n".join(o.rstrip("\n") for o in outputs) + "\n]")
        else:
            click.echo("\n".join(o.rstrip("\n") + "\n" for o in outputs), nl=False)
    sys.exit(worst)


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("cases", nargs=-1, required=True, type=click.Path(path_type=Path))
@kb_option
def validate(cases: tuple[Path, ...], kb: Path | None) -> None:
    """Check each CASE against the SHACL shapes without triaging it.

    Prints "valid", "incomplete" with the items to record, or the violations.

    \b
    Example:
      dorsum validate examples/incomplete-lump.json
    """
    with quiet_libraries():
        knowledge = _knowledge(kb)
        worst = EXIT_TRIAGED
        for path in cases:
            try:
                report = validate_case(read_case(path, knowledge), knowledge)
            except CaseError as error:
                click.echo(f"dorsum: error: {error}", err=True)
                worst = _worse(worst, error.exit_code)
                continue
            except DorsumError as error:
                fail(error)
            if report.problems:
                click.echo(f"{path}: invalid")
                for problem in report.problems:
                    click.echo(f"  - {problem}")
                worst = _worse(worst, EXIT_INVALID_CASE)
            elif report.missing:
                click.echo(f"{path}: incomplete: record {', '.join(item.item for item in report.missing)}")
                for item in report.missing:
                    click.echo(f"  - {item.message}")
                worst = _worse(worst, EXIT_INCOMPLETE)
            else:
                click.echo(f"{path}: valid and complete")
    sys.exit(worst)


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("query")
@click.argument("case", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(("table", "csv", "json")),
    default="table",
    show_default=True,
    help="Output format.",
)
@kb_option
def query(query: str, case: Path, fmt: str, kb: Path | None) -> None:
    """Run a SPARQL QUERY over the inferred graph of CASE (joined with the ontology).

    QUERY is a .rq file or the name of a query in the knowledge's queries/ folder
    (for example report-red-flags, or examples/red-flags-by-case as red-flags-by-case).

    \b
    Example:
      dorsum query red-flags-by-case examples/lumbar-mass-back-pain.yaml
      dorsum query my-query.rq examples/growing-firm-lump.yaml --format csv
    """
    from reasoner.pipeline.query import run_query

    with quiet_libraries():
        knowledge = _knowledge(kb)
        try:
            result = run_query(query, read_case(case, knowledge), knowledge)
        except DorsumError as error:
            fail(error)
        if fmt == "csv":
            click.echo(result.to_csv(), nl=False)
        elif fmt == "json":
            click.echo(result.to_json())
        else:
            click.echo(result.to_table())
    sys.exit(EXIT_TRIAGED)


@main.command(epilog=EXIT_CODES_HELP)
@click.option("--format", "-f", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@kb_option
def check(fmt: str, kb: Path | None) -> None:
    """Quality control of the knowledge base: parsing, OWL 2 RL profile, consistency, metadata
    shapes (shapes/knowledge-qa.ttl) and SPARQL checks (queries/qc/*-violation.rq).

    Prints one line per finding (ERROR, WARN, INFO) and exits 1 if there is any ERROR.

    \b
    Example:
      dorsum check
      dorsum check --kb ./my-working-copy --format json
    """
    from reasoner.authoring.check import check_knowledge

    with quiet_libraries():
        try:
            report = check_knowledge(kb if kb is not None else default_kb_root())
        except DorsumError as error:
            fail(error)
        if fmt == "json":
            click.echo(report.to_json())
        else:
            for finding in report.findings:
                click.echo(str(finding))
            click.echo(f"{report.errors} errors, {report.warnings} warnings ({report.root})")
    sys.exit(1 if report.errors else 0)


@main.command("test", epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Also fail when a knowledge element is never exercised.")
@kb_option
def test_command(paths: tuple[Path, ...], strict: bool, kb: Path | None) -> None:
    """Run golden vignettes (one case and its expected result per YAML file) and report coverage.

    PATH is a vignette file or a folder of them (default: tests/cases). Prints PASS or FAIL for
    each, with expected-versus-actual for failures, then which recommendations, red flags,
    thresholds and derive rules fired at least once. Exits 1 on any failure (or, with --strict,
    any uncovered element).

    \b
    Example:
      dorsum test
      dorsum test tests/cases/020-deep-lumbar-mass-with-back-pain-immediate-mri.yaml
      dorsum test --strict --kb ./my-working-copy
    """
    from reasoner.authoring.vignettes import coverage, find_vignettes, load_vignette, run_vignette

    with quiet_libraries():
        knowledge = _knowledge(kb)
        targets = list(paths) or [Path("tests/cases")]
        files = find_vignettes(targets)
        if not files or any(not f.exists() for f in files):
            missing = ", ".join(str(f) for f in files if not f.exists()) or ", ".join(map(str, targets))
            fail(UsageError(f"no vignettes found: {missing}"))
        outcomes = []
        for file in files:
            try:
                outcome = run_vignette(load_vignette(file), knowledge)
            except DorsumError as error:
                fail(error)
            outcomes.append(outcome)
            click.echo(f"{'PASS' if outcome.passed else 'FAIL'} {file}")
            for mismatch in outcome.mismatches:
                click.echo(f"     {mismatch}")
        failed = sum(1 for o in outcomes if not o.passed)
        click.echo(f"\n{len(outcomes) - failed} passed, {failed} failed")
        click.echo("\nCoverage (fired at least once):")
        uncovered = 0
        for item in coverage(outcomes, knowledge):
            total = len(item.covered) + len(item.uncovered)
            uncovered += len(item.uncovered)
            click.echo(f"  {item.kind}: {len(item.covered)}/{total}")
            if item.uncovered:
                click.echo(f"    never fired: {', '.join(item.uncovered)}")
    sys.exit(1 if failed or (strict and uncovered) else 0)


@main.command("conflicts", epilog=EXIT_CODES_HELP)
@click.option("--profile", default=None, help="Show how this guideline profile resolves each disagreement.")
@click.option("--format", "-f", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@kb_option
def conflicts_command(profile: str | None, fmt: str, kb: Path | None) -> None:
    """List every pair of sources that disagree within the knowledge: on a threshold, a
    first-line test, an urgency, or an action one recommends and the other says to avoid.

    Each disagreement shows both sides with their citations and the policy that resolves it.
    Profiles (ontology/profiles.ttl) are listed at the end.

    \b
    Example:
      dorsum conflicts
      dorsum conflicts --profile sarcoma-pathway --format json
    """
    with quiet_libraries():
        knowledge, chosen = _knowledge_and_profile(kb, profile)
        found = knowledge_conflicts(knowledge, chosen)
        if fmt == "json":
            click.echo(json.dumps([asdict(item) for item in found], indent=2, sort_keys=True))
            sys.exit(EXIT_TRIAGED)
        for item in found:
            click.echo(f"[{item.kind}] {item.subject}")
            for side in (item.first, item.second):
                click.echo(f"  - {', '.join(side.sources)}: {side.answer}  ({side.label})")
                for citation in side.citations:
                    click.echo(f"      {citation}")
            click.echo(f"  policy: {item.policy}")
        click.echo(
            f"\n{len(found)} disagreements. Profiles: "
            + (", ".join(f"{p.name} ({' > '.join(p.prefers)})" for p in profiles(knowledge).values()) or "none")
        )
    sys.exit(EXIT_TRIAGED)


@main.command("diff", epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--against", type=click.Path(path_type=Path), help="Folder with the old knowledge (ontology/, shapes/, queries/)."
)
@click.option("--base", help="Git ref (branch, tag, commit) whose knowledge folders are the old knowledge.")
@click.option("--allow-downgrade", is_flag=True, help="Exit 0 even if a case became less urgent.")
@click.option("--format", "-f", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@kb_option
def diff(
    paths: tuple[Path, ...], against: Path | None, base: str | None, allow_downgrade: bool, fmt: str, kb: Path | None
) -> None:
    """Show what a knowledge edit changes for patients.

    Evaluates every case under the old knowledge (--against DIR or --base GIT-REF) and the new
    one (--kb, default: the current knowledge). PATH is a case file, a vignette or a folder of
    them (default: tests/cases and examples). Reports each case whose urgency, status, next
    steps, red flags or avoid list changed, with the knowledge elements involved.

    Exits 1 if any case became less urgent (a downgrade), unless --allow-downgrade.

    \b
    Example:
      dorsum diff --base main
      dorsum diff --against ../dorsum-released --kb . tests/cases
    """
    from reasoner.authoring.impact import case_files, compare_knowledge, knowledge_at_git_ref

    if (against is None) == (base is None):
        fail(UsageError("give exactly one of --against DIR or --base GIT-REF"))
    with quiet_libraries():
        new = _knowledge(kb)
        try:
            files = case_files(list(paths) or [p for p in (Path("tests/cases"), Path("examples")) if p.is_dir()])
            if not files:
                raise UsageError("no cases to compare: give case files or folders")
            if base is not None:
                with knowledge_at_git_ref(base) as folder:
                    report = compare_knowledge(load_knowledge(folder), new, files)
            else:
                assert against is not None
                report = compare_knowledge(load_knowledge(against), new, files)
        except DorsumError as error:
            fail(error)
        if fmt == "json":
            click.echo(json.dumps(asdict(report), indent=2, sort_keys=True))
        else:
            _print_impact(report)
    sys.exit(1 if report.downgrades and not allow_downgrade else 0)


def _print_impact(report: ImpactReport) -> None:
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


@main.command(epilog=EXIT_CODES_HELP)
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

    with quiet_libraries():
        knowledge = _knowledge(kb)
        try:
            written = build_docs(knowledge, out)
        except OSError as exc:
            fail(UsageError(f"cannot write the docs to {out}: {exc.strerror}"))
    for path in written:
        click.echo(str(path))
    sys.exit(EXIT_TRIAGED)


def _worse(current: int, new: int) -> int:
    order = [EXIT_TRIAGED, EXIT_INCOMPLETE, EXIT_INVALID_CASE, EXIT_USAGE]
    return max(current, new, key=order.index)


if __name__ == "__main__":  # pragma: no cover
    main()
