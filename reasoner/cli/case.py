"""``dorsum evaluate``, ``validate`` and ``query``: one case at a time, thin over
:func:`reasoner.pipeline.triage.triage`, :func:`reasoner.pipeline.validate.validate_case` and
:func:`reasoner.pipeline.query.run_query`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from reasoner.cli.common import DEBUG_ENV, USAGE_ERROR, DorsumCommand, exit_codes, format_option, kb_option, report
from reasoner.cli.query_options import budget_options, query_budget
from reasoner.errors import (
    EXIT_ANSWER_TOO_LARGE,
    EXIT_FETCH_REFUSED,
    EXIT_INCOMPLETE,
    EXIT_INPUT_TOO_DEEP,
    EXIT_INPUT_TOO_LARGE,
    EXIT_INTERNAL,
    EXIT_INVALID_CASE,
    EXIT_NOT_REGULAR_FILE,
    EXIT_QUERY_TIMEOUT,
    EXIT_TOO_MANY_NODES,
    EXIT_TRIAGED,
    EXIT_USAGE,
    EXIT_YAML_ALIASES,
    DorsumError,
    one_line,
    worse_exit,
)
from reasoner.knowledge import Knowledge, load_knowledge
from reasoner.pipeline.policy import load_profile
from reasoner.pipeline.read import CaseInput, read_case
from reasoner.pipeline.triage import triage
from reasoner.pipeline.validate import ValidationReport, validate_case
from reasoner.render import FORMATS, render

INVALID_CASE = (EXIT_INVALID_CASE, "invalid case: syntax, wrong type, impossible value, unknown term")
SEVERAL = (
    "With several CASE files, every good one is answered and each bad one gets one error line; the "
    "exit code is the worst of their codes (3 beats 1 beats 0; 2 and 10-15 beat those; 70 beats all)."
)
#: Inputs refused by a limit or safety rule (README, "Safety of inputs"): a sentence in the help,
#: as these codes are those of every case-reading command.
REFUSED = (
    "Refused inputs (README, 'Safety of inputs'): "
    f"{EXIT_INPUT_TOO_LARGE} larger than DORSUM_MAX_CASE_BYTES, "
    f"{EXIT_INPUT_TOO_DEEP} nested deeper than DORSUM_MAX_CASE_DEPTH, "
    f"{EXIT_YAML_ALIASES} more YAML aliases than DORSUM_MAX_YAML_ALIASES, "
    f"{EXIT_TOO_MANY_NODES} more values or triples than DORSUM_MAX_CASE_NODES, "
    f"{EXIT_NOT_REGULAR_FILE} not a regular file (FIFO, device), "
    f"{EXIT_FETCH_REFUSED} a remote or file JSON-LD @context (never fetched)."
)
T = TypeVar("T")


class CaseReading:
    """Reads each CASE file in turn and applies one step to it: a bad file is reported in one
    line and skipped (never costing the others), the worst exit code is kept, and two files that
    describe the same case id are reported."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.worst = EXIT_TRIAGED
        self.sources: dict[str, str] = {}

    def each(self, paths: Sequence[Path], step: Callable[[CaseInput], T]) -> Iterator[tuple[Path, T]]:
        for path in paths:
            try:
                case = read_case(path, self.knowledge)
                self._note_identity(case)
                outcome = step(case)
            except DorsumError as error:
                report(error)
                self.worst = worse_exit(self.worst, error.exit_code)
                continue
            except BrokenPipeError:
                raise
            except OSError as error:  # the same line as the command line's one handler, then go on
                click.echo(f"dorsum: error: {error.strerror or one_line(error)}: {error.filename or path}", err=True)
                self.worst = worse_exit(self.worst, EXIT_USAGE)
                continue
            except Exception as error:  # a bug with one case must not cost the others
                if os.environ.get(DEBUG_ENV):
                    raise
                click.echo(f"dorsum: internal error: {type(error).__name__}: {one_line(error)} ({path})", err=True)
                self.worst = worse_exit(self.worst, EXIT_INTERNAL)
                continue
            yield path, outcome

    def _note_identity(self, case: CaseInput) -> None:
        identity = str(case.case)
        first = self.sources.setdefault(identity, case.source)
        if first != case.source:
            click.echo(
                f"dorsum: warning: {case.source}: case id '{case.name}' is also the id of {first}: "
                "two files describe one case (give each case its own id)",
                err=True,
            )


@click.command(
    cls=DorsumCommand,
    epilog=exit_codes(
        (EXIT_TRIAGED, "triaged, case complete"),
        (EXIT_INCOMPLETE, "triaged but incomplete (the answer says what to record)"),
        USAGE_ERROR,
        INVALID_CASE,
    )
    + f"  {SEVERAL}\n  {REFUSED}\n",
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
    reading = CaseReading(knowledge)
    outputs: list[str] = []
    for _path, result in reading.each(cases, lambda case: triage(case, knowledge, chosen, explain_missing=True)):
        outputs.append(render(result, fmt, detail or "summary"))
        reading.worst = worse_exit(reading.worst, result.exit_code)
    if fmt == "json" and len(cases) > 1:
        click.echo("[\n" + ",\n".join(o.rstrip("\n") for o in outputs) + "\n]")
    else:
        click.echo("\n".join(o.rstrip("\n") + "\n" for o in outputs), nl=False)
    sys.exit(reading.worst)


@click.command(
    cls=DorsumCommand,
    epilog=exit_codes(
        (EXIT_TRIAGED, "valid and complete"),
        (EXIT_INCOMPLETE, "valid but incomplete (the items to record are listed)"),
        USAGE_ERROR,
        INVALID_CASE,
    )
    + f"  {SEVERAL}\n  {REFUSED}\n",
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
    reading = CaseReading(knowledge)
    records: list[dict[str, Any]] = []
    for path, checked in reading.each(cases, lambda case: validate_case(case, knowledge)):
        record = validation_record(checked)
        reading.worst = worse_exit(reading.worst, record["exit_code"])
        if fmt == "json":
            records.append(record)
        else:
            _echo_validation(path, checked)
    if fmt == "json":
        click.echo(json.dumps(records[0] if len(cases) == 1 and records else records, indent=2, sort_keys=True))
    sys.exit(reading.worst)


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
