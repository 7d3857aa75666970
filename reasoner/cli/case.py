"""``dorsum evaluate``, ``validate`` and ``query``: one case at a time, thin over
:func:`reasoner.pipeline.triage.triage`, :func:`reasoner.pipeline.validate.validate_case` and
:func:`reasoner.pipeline.query.run_query`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from reasoner.cli.common import USAGE_ERROR, DorsumCommand, exit_codes, format_option, kb_option, report
from reasoner.cli.query_options import budget_options, query_budget
from reasoner.errors import (
    EXIT_ANSWER_TOO_LARGE,
    EXIT_INCOMPLETE,
    EXIT_INVALID_CASE,
    EXIT_QUERY_TIMEOUT,
    EXIT_TRIAGED,
    CaseError,
    worse_exit,
)
from reasoner.knowledge import load_knowledge
from reasoner.pipeline.policy import load_profile
from reasoner.pipeline.read import read_case
from reasoner.pipeline.triage import triage
from reasoner.pipeline.validate import ValidationReport, validate_case
from reasoner.render import FORMATS, render

INVALID_CASE = (EXIT_INVALID_CASE, "invalid case: syntax, wrong type, impossible value, unknown term")
SEVERAL = "With several CASE files, the worst of their codes (3 beats 1 beats 0; 2 beats all)."


@click.command(
    cls=DorsumCommand,
    epilog=exit_codes(
        (EXIT_TRIAGED, "triaged, case complete"),
        (EXIT_INCOMPLETE, "triaged but incomplete (the answer says what to record)"),
        USAGE_ERROR,
        INVALID_CASE,
    )
    + f"  {SEVERAL}\n",
)
@click.argument("cases", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option(*FORMATS)
@click.option(
    "--profile", default=None, help="Guideline profile (a preference order of sources, see 'dorsum conflicts')."
)
@click.option("--brief", "detail", flag_value="brief", help="Text: only the summary (DO NOW, THEN, DO NOT, WHY).")
@click.option(
    "--detail",
    "detail",
    flag_value="full",
    help="Text: everything: every applicable step with its evidence, every avoid item, every citation.",
)
@kb_option
def evaluate(cases: tuple[Path, ...], fmt: str, profile: str | None, detail: str | None, kb: Path | None) -> None:
    """Triage each CASE file: what to do now, the plan, red flags, sources, missing items.

    CASE is a case form (.json, .yaml) or RDF (.ttl, .jsonld, .nt). The text starts with a summary
    a clinician can act on; --brief prints only that, --detail prints everything.

    \b
    Example:
      dorsum evaluate examples/growing-firm-lump.yaml
      dorsum evaluate examples/suspected-cauda-equina.json --brief
      dorsum evaluate examples/*.yaml --format json
      dorsum evaluate examples/lumbar-mass-back-pain.yaml --profile spinal-pathway
    """
    knowledge = load_knowledge(kb)
    chosen = load_profile(knowledge, profile)
    worst = EXIT_TRIAGED
    outputs: list[str] = []
    for path in cases:
        try:
            result = triage(read_case(path, knowledge), knowledge, chosen, explain_missing=True)
        except CaseError as error:
            report(error)
            worst = worse_exit(worst, error.exit_code)
            continue
        outputs.append(render(result, fmt, detail or "summary"))
        worst = worse_exit(worst, result.exit_code)
    if fmt == "json" and len(cases) > 1:
        click.echo("[\n" + ",\n".join(o.rstrip("\n") for o in outputs) + "\n]")
    else:
        click.echo("\n".join(o.rstrip("\n") + "\n" for o in outputs), nl=False)
    sys.exit(worst)


@click.command(
    cls=DorsumCommand,
    epilog=exit_codes(
        (EXIT_TRIAGED, "valid and complete"),
        (EXIT_INCOMPLETE, "valid but incomplete (the items to record are listed)"),
        USAGE_ERROR,
        INVALID_CASE,
    )
    + f"  {SEVERAL}\n",
)
@click.argument("cases", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option("text", "json")
@kb_option
def validate(cases: tuple[Path, ...], fmt: str, kb: Path | None) -> None:
    """Check each CASE against the SHACL shapes without triaging it.

    Prints "valid", "incomplete" with the items to record, or the violations. With --format json,
    one object per CASE (an array for several): source, status (complete, incomplete, invalid),
    problems, missing items and exit_code.

    \b
    Example:
      dorsum validate examples/incomplete-lump.json
      dorsum validate examples/*.yaml --format json
    """
    knowledge = load_knowledge(kb)
    worst = EXIT_TRIAGED
    records: list[dict[str, Any]] = []
    for path in cases:
        try:
            checked = validate_case(read_case(path, knowledge), knowledge)
        except CaseError as error:
            report(error)
            worst = worse_exit(worst, error.exit_code)
            continue
        record = validation_record(checked)
        worst = worse_exit(worst, record["exit_code"])
        if fmt == "json":
            records.append(record)
        else:
            _echo_validation(path, checked)
    if fmt == "json":
        click.echo(json.dumps(records[0] if len(cases) == 1 and records else records, indent=2, sort_keys=True))
    sys.exit(worst)


def validation_record(checked: ValidationReport) -> dict[str, Any]:
    """A validation report as JSON-ready data (``dorsum validate --format json``)."""
    if checked.problems:
        status, code = "invalid", EXIT_INVALID_CASE
    elif checked.missing:
        status, code = "incomplete", EXIT_INCOMPLETE
    else:
        status, code = "complete", EXIT_TRIAGED
    return {
        "source": checked.source,
        "status": status,
        "problems": [{"field": p.field, "message": p.message, "value": p.value} for p in checked.problems],
        "missing": [{"item": m.item, "message": m.message} for m in checked.missing],
        "exit_code": code,
    }


def _echo_validation(path: Path, checked: ValidationReport) -> None:
    if checked.problems:
        click.echo(f"{path}: invalid")
        for problem in checked.problems:
            click.echo(f"  - {problem}")
    elif checked.missing:
        click.echo(f"{path}: incomplete: record {', '.join(item.item for item in checked.missing)}")
        for item in checked.missing:
            click.echo(f"  - {item.message}")
    else:
        click.echo(f"{path}: valid and complete")


@click.command(
    cls=DorsumCommand,
    epilog=exit_codes(
        (EXIT_TRIAGED, "the query ran (whatever the number of rows)"),
        (USAGE_ERROR[0], "usage or knowledge-loading error, no such query, or the query is refused (one line)"),
        INVALID_CASE,
        (EXIT_ANSWER_TOO_LARGE, "the answer is over --max-rows or --max-bytes (nothing is printed)"),
        (EXIT_QUERY_TIMEOUT, "the query was stopped at --timeout"),
    ),
)
@click.argument("query")
@click.argument("case", type=click.Path(path_type=Path))
@format_option("text", "json", "csv")
@kb_option
@budget_options
def query(query: str, case: Path, fmt: str, kb: Path | None, **limits: Any) -> None:
    """Run a SPARQL QUERY over the inferred graph of CASE (joined with the ontology).

    QUERY is a query file or the name of a query in the knowledge's queries/ or
    queries/examples/ folder (for example report-red-flags or red-flags-by-case).
    The text format is a table; csv and json are the W3C SPARQL 1.1 results formats (a
    CONSTRUCT as subject, predicate, object rows). Updates, SERVICE, LOAD and FROM are refused;
    the query is stopped at --timeout and its answer refused past --max-rows or --max-bytes.

    \b
    Example:
      dorsum query red-flags-by-case examples/lumbar-mass-back-pain.yaml
      dorsum query my-query.rq examples/growing-firm-lump.yaml --format csv
    """
    from reasoner.pipeline.query import run_query
    from reasoner.render.tables import render_query

    knowledge = load_knowledge(kb)
    result = run_query(query, read_case(case, knowledge), knowledge, query_budget(**limits))
    click.echo(render_query(result, fmt), nl=False)
    sys.exit(EXIT_TRIAGED)
