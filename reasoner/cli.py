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
from .errors import EXIT_INCOMPLETE, EXIT_INVALID_CASE, EXIT_TRIAGED, EXIT_USAGE, CaseError, DorsumError
from .knowledge import KB_ENV, Knowledge, load_knowledge
from .query import run_query
from .report import FORMATS, render
from .triage import triage
from .validation import validate_case

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


def _worse(current: int, new: int) -> int:
    order = [EXIT_TRIAGED, EXIT_INCOMPLETE, EXIT_INVALID_CASE, EXIT_USAGE]
    return max(current, new, key=order.index)


if __name__ == "__main__":  # pragma: no cover
    main()
