"""The ``dorsum`` command line: thin click commands over the public API."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .case_input import read_case
from .errors import EXIT_INCOMPLETE, EXIT_INVALID_CASE, EXIT_TRIAGED, EXIT_USAGE, CaseError, DorsumError, UsageError
from .knowledge import KB_ENV, Knowledge, default_kb_root, load_knowledge
from .quality import check_knowledge
from .query import run_query
from .report import FORMATS, render
from .triage import triage
from .validation import validate_case
from .vignettes import coverage, find_vignettes, load_vignette, run_vignette

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = f"""
\b
Exit codes:
  {EXIT_TRIAGED}  triaged, case complete
  {EXIT_INCOMPLETE}  triaged but incomplete (the answer says what to record)
  {EXIT_USAGE}  usage or knowledge-loading error
  {EXIT_INVALID_CASE}  invalid case (syntax, wrong type, impossible value, unknown term)
"""


def kb_option(func: F) -> F:
    return click.option(
        "--kb",
        "kb",
        type=click.Path(path_type=Path),
        envvar=KB_ENV,
        default=None,
        help=f"Knowledge base folder (with ontology/, shapes/, queries/). Default: the packaged one, or ${KB_ENV}.",
    )(func)


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """rdflib and pyshacl log and warn about bad input; dorsum reports it itself, in one line."""
    logging.getLogger("rdflib").setLevel(logging.CRITICAL)
    logging.getLogger("pyshacl").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _fail(error: DorsumError) -> None:
    click.echo(f"dorsum: error: {error}", err=True)
    sys.exit(error.exit_code)


def _knowledge(kb: Path | None) -> Knowledge:
    try:
        return load_knowledge(kb)
    except DorsumError as error:
        _fail(error)
        raise  # unreachable: _fail exits


@click.group(epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
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
@kb_option
def evaluate(cases: tuple[Path, ...], fmt: str, kb: Path | None) -> None:
    """Triage each CASE file: urgency, next steps, red flags, sources, conflicts, missing items.

    CASE is a case form (.json, .yaml) or RDF (.ttl, .jsonld, .nt).

    \b
    Example:
      dorsum evaluate examples/growing-firm-lump.yaml
      dorsum evaluate examples/*.yaml --format json
    """
    with quiet_libraries():
        knowledge = _knowledge(kb)
        worst = EXIT_TRIAGED
        outputs: list[str] = []
        for path in cases:
            try:
                result = triage(read_case(path, knowledge), knowledge)
            except CaseError as error:
                click.echo(f"dorsum: error: {error}", err=True)
                worst = _worse(worst, error.exit_code)
                continue
            except DorsumError as error:
                _fail(error)
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
                _fail(error)
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
    with quiet_libraries():
        knowledge = _knowledge(kb)
        try:
            result = run_query(query, read_case(case, knowledge), knowledge)
        except DorsumError as error:
            _fail(error)
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
    with quiet_libraries():
        try:
            report = check_knowledge(kb if kb is not None else default_kb_root())
        except DorsumError as error:
            _fail(error)
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
    with quiet_libraries():
        knowledge = _knowledge(kb)
        targets = list(paths) or [Path("tests/cases")]
        files = find_vignettes(targets)
        if not files or any(not f.exists() for f in files):
            missing = ", ".join(str(f) for f in files if not f.exists()) or ", ".join(map(str, targets))
            _fail(UsageError(f"no vignettes found: {missing}"))
        outcomes = []
        for file in files:
            try:
                outcome = run_vignette(load_vignette(file), knowledge)
            except DorsumError as error:
                _fail(error)
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


def _worse(current: int, new: int) -> int:
    order = [EXIT_TRIAGED, EXIT_INCOMPLETE, EXIT_INVALID_CASE, EXIT_USAGE]
    return max(current, new, key=order.index)


if __name__ == "__main__":  # pragma: no cover
    main()
