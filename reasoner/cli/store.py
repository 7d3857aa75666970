"""Click commands for the case store: ``dorsum store add|list|remove|export``, ``dorsum sparql``
and ``dorsum serve``. Thin wrappers over :mod:`reasoner.store` (and, for ``store add``,
:func:`reasoner.batch.run.run_batch`, which triages; the store only writes)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from reasoner.batch.run import check_inputs, run_batch, worse_exit
from reasoner.cli.common import kb_option, quiet_libraries
from reasoner.cli.query_options import budget_options, query_budget
from reasoner.errors import (
    EXIT_ANSWER_TOO_LARGE,
    EXIT_INVALID_CASE,
    EXIT_QUERY_TIMEOUT,
    EXIT_TRIAGED,
    EXIT_USAGE,
    DorsumError,
    UsageError,
    one_line,
)
from reasoner.knowledge import load_knowledge
from reasoner.store import (
    DEFAULT_STORE,
    EXPORT_FORMATS,
    SPARQL_FORMATS,
    STORE_ENV,
    CaseFailure,
    StoredCase,
    case_record,
    open_store,
    render_sparql,
    resolve_sparql,
)
from reasoner.store.server import DEFAULT_ENDPOINT_MAX_BYTES, DEFAULT_PORT, ServeOptions, serve_store

F = TypeVar("F", bound=Callable[..., Any])

STORE_EXIT_HELP = f"""
\b
Exit codes:
  {EXIT_TRIAGED}  done
  {EXIT_USAGE}  usage, store or knowledge-loading error (one line on stderr)
  {EXIT_INVALID_CASE}  store add: some cases were invalid and not stored (the others were)
  {EXIT_ANSWER_TOO_LARGE}  sparql: the answer is over --max-rows or --max-bytes (nothing is printed)
  {EXIT_QUERY_TIMEOUT}  sparql: the query was stopped at --timeout
  (store add exits {EXIT_USAGE} if a CASE file is missing or unreadable, or a case collides
   with a stored case of the same id and other facts; the others are stored)
"""


def store_option(func: F) -> F:
    return click.option(
        "--store",
        "location",
        envvar=STORE_ENV,
        default=DEFAULT_STORE,
        show_default=True,
        metavar="PATH|URL",
        help=f"Store folder, or the http(s) URL of an Oxigraph server. Default: ./{DEFAULT_STORE} or ${STORE_ENV}.",
    )(func)


@contextmanager
def _errors() -> Iterator[None]:
    """Quiet library logging; turn every dorsum or OS error into one line and exit code 2."""
    with quiet_libraries():
        try:
            yield
        except DorsumError as error:
            _fail(one_line(error), error.exit_code)
        except OSError as error:
            _fail(one_line(error), EXIT_USAGE)


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"dorsum: error: {message}", err=True)
    sys.exit(code)


# ---------------------------------------------------------------- dorsum store ...


@click.group("store", epilog=STORE_EXIT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
def store() -> None:
    """Keep evaluated cases in a persistent case knowledge graph, for SPARQL across cases.

    Each case is stored as three named graphs (asserted facts, inferred facts, triage result
    with PROV-O provenance), beside the knowledge it was evaluated with. See
    docs/informaticians.md for the layout.

    \b
    Example:
      dorsum store add examples/*.yaml examples/*.json
      dorsum store list
      dorsum sparql red-flag-frequency
    """


@store.command("add", epilog=STORE_EXIT_HELP)
@click.argument("cases", nargs=-1, required=True, metavar="CASE...")
@store_option
@kb_option
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option(
    "--replace", is_flag=True, default=False, help="Replace a stored case that has the same id but other facts."
)
def add(cases: tuple[str, ...], location: str, kb: Path | None, jobs: int, replace: bool) -> None:
    """Triage each CASE and store it under its id.

    CASE is a case file, a directory (every case file in it), a JSONL file of case forms, or -
    for JSONL on standard input, read and triaged as by dorsum batch. The id is the case's own:
    a form's id (the file name only when the form has none) or the last part of the case IRI.
    Re-adding a case with the same facts replaces it; a different case with a stored id is
    refused, naming both files, unless --replace is given. Cases are written in transactions
    of up to 64 as they are evaluated (each case whole or not at all) and reported once written;
    invalid or colliding cases are reported and skipped.

    \b
    Example:
      dorsum store add examples/*.yaml --store ./dorsum-store
      dorsum store add cases/ --jobs 2 --store http://127.0.0.1:7878
    """
    worst = EXIT_TRIAGED

    def report(item: StoredCase | CaseFailure) -> None:
        nonlocal worst
        if isinstance(item, CaseFailure):
            worst = worse_exit(worst, item.exit_code if item.exit_code == EXIT_USAGE else EXIT_INVALID_CASE)
            click.echo(f"dorsum: error: {item.error}", err=True)
        else:
            tier = item.effective_urgency.rsplit("#", 1)[-1] or "no tier"
            click.echo(f"stored {item.case_id}  ({item.status}, {tier})")
            sys.stdout.flush()  # a line is printed only once its case is committed

    with _errors():
        inputs = []
        for case in cases:
            try:
                check_inputs([case])
                inputs.append(case)
            except UsageError as error:  # a missing file is reported; the other cases are stored
                report(CaseFailure(case, one_line(error), error.exit_code))
        knowledge = load_knowledge(kb)
        with open_store(location) as case_store:
            if inputs:
                evaluated = run_batch(inputs, kb, jobs, finish=case_record)
                case_store.add(evaluated, knowledge, on_case=report, replace=replace)
    sys.exit(worst)


@store.command("list", epilog=STORE_EXIT_HELP)
@store_option
@click.option("--format", "-f", "fmt", type=click.Choice(("table", "csv", "json")), default="table", show_default=True)
def list_cases(location: str, fmt: str) -> None:
    """List the stored cases: id, status, tier to act on, knowledge version, when evaluated.

    \b
    Example:
      dorsum store list
      dorsum store list --format csv --store ./dorsum-store
    """
    import json

    from reasoner.render.tables import csv_table, text_table

    with _errors(), open_store(location, read_only=True) as case_store:
        cases = case_store.list_cases()
        columns = ("case_id", "status", "tier", "knowledge", "evaluated_at", "source")
        rows = [
            (
                c.case_id,
                c.status,
                c.effective_urgency.rsplit("#", 1)[-1],
                f"{c.knowledge_version} ({c.content_hash[:12]})",
                c.evaluated_at,
                c.source,
            )
            for c in cases
        ]
        if fmt == "json":
            click.echo(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=2))
        elif fmt == "csv":
            click.echo(csv_table(columns, rows), nl=False)
        else:
            click.echo(text_table(columns, rows, unit="cases"))


@store.command("remove", epilog=STORE_EXIT_HELP)
@click.argument("case_id", metavar="ID")
@store_option
def remove(case_id: str, location: str) -> None:
    """Remove the case ID (its three graphs) from the store, in one transaction.

    \b
    Example:
      dorsum store remove growing-firm-lump
    """
    with _errors(), open_store(location) as case_store:
        case_store.remove(case_id)
        click.echo(f"removed {case_id}")


@store.command("export", epilog=STORE_EXIT_HELP)
@store_option
@click.option(
    "--format", "-f", "fmt", type=click.Choice(EXPORT_FORMATS), default="nquads", show_default=True, help="RDF format."
)
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None, help="Output file (default: stdout).")
def export(location: str, fmt: str, out: Path | None) -> None:
    """Write the whole store (cases, knowledge, metadata) as N-Quads or TriG.

    \b
    Example:
      dorsum store export --format trig --out cases.trig
      dorsum store export > cases.nq
    """
    with _errors(), open_store(location, read_only=True) as case_store:
        if out is None:
            case_store.export(sys.stdout.buffer, fmt)  # type: ignore[arg-type]
            sys.stdout.buffer.flush()
            return
        partial = out.with_name(out.name + ".part")
        with partial.open("wb") as stream:
            case_store.export(stream, fmt)  # type: ignore[arg-type]
        os.replace(partial, out)
        click.echo(f"exported {location} to {out}", err=True)


# ---------------------------------------------------------------- dorsum sparql


@click.command("sparql", epilog=STORE_EXIT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("query")
@store_option
@click.option(
    "--format", "-f", "fmt", type=click.Choice(SPARQL_FORMATS), default="table", show_default=True, help="Output."
)
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Bind ?NAME to VALUE (a literal, or an IRI written <...>). Repeatable.",
)
@click.option(
    "--union-default-graph/--no-union-default-graph",
    default=True,
    show_default=True,
    help="Let patterns outside GRAPH match every graph.",
)
@budget_options
@kb_option
def sparql(
    query: str,
    location: str,
    fmt: str,
    params: tuple[str, ...],
    union_default_graph: bool,
    kb: Path | None,
    **limits: Any,
) -> None:
    """Run a SPARQL QUERY across every case in the store (read-only).

    QUERY is SPARQL text, a .rq file, or the name of a query in queries/examples/
    (cases-by-urgency, red-flag-frequency, cases-by-missing-item, cases-per-source,
    cases-with-conflicts, cases-under-other-knowledge, case-explanation). SELECT and ASK give
    rows; CONSTRUCT gives Turtle (table) or N-Triples (tsv). csv, tsv and json follow the W3C
    SPARQL 1.1 results formats. Updates, SERVICE, LOAD and FROM of graphs outside the store are
    refused; the query is stopped at --timeout and its answer refused past --max-rows or
    --max-bytes (see docs/query-safety.md).

    \b
    Example:
      dorsum sparql red-flag-frequency
      dorsum sparql case-explanation --param caseId=growing-firm-lump
      dorsum sparql 'SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }' --format csv
    """
    with _errors():
        bindings: dict[str, str] = {}
        for item in params:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise UsageError(f"--param expects NAME=VALUE, got '{item}'")
            bindings[name.lstrip("?$")] = value
        text = resolve_sparql(query, kb)
        budget = query_budget(**limits)
        with open_store(location, read_only=True) as case_store:
            answer = case_store.query(text, union_default_graph=union_default_graph, params=bindings, budget=budget)
        click.echo(render_sparql(answer, fmt), nl=False)


# ---------------------------------------------------------------- dorsum serve


@click.command("serve", epilog=STORE_EXIT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True, help="TCP port.")
@click.option(
    "--read-only/--writable",
    default=True,
    show_default=True,
    help="Reject SPARQL updates and Graph Store writes (default), or accept them.",
)
@click.option(
    "--union-default-graph/--no-union-default-graph",
    default=True,
    show_default=True,
    help="Let patterns outside GRAPH match every graph.",
)
@click.option("--cors", is_flag=True, default=False, help="Allow cross-origin requests from web pages elsewhere.")
@partial(budget_options, max_bytes=DEFAULT_ENDPOINT_MAX_BYTES)
def serve(
    location: str, host: str, port: int, read_only: bool, union_default_graph: bool, cors: bool, **limits: Any
) -> None:
    """Serve the store as a standard SPARQL 1.1 endpoint, with a query page, using the Oxigraph
    server (PyPI package oxigraph).

    Endpoints: / (YASGUI query page), /query (SPARQL Query), /update (SPARQL Update, --writable
    only), /store (Graph Store Protocol). Stop it with Ctrl-C. There is no authentication:
    keep it on loopback, or put an authenticating proxy in front. While it runs, the store
    folder is locked: add cases through a --writable server (--store http://HOST:PORT).
    Each query is checked first (HTTP 400 for SERVICE, LOAD, FROM outside the store, text too
    long or nested too deeply), stopped at --timeout (HTTP 503; the server is restarted to stop
    its work) and refused past --max-rows or --max-bytes (HTTP 413): see docs/query-safety.md.

    \b
    Example:
      dorsum serve --store ./dorsum-store
      dorsum serve --port 7879 --writable
      curl -H 'Accept: text/csv' --data-urlencode 'query=SELECT * WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 5' http://127.0.0.1:7878/query
    """
    budget = query_budget(**limits)
    options = ServeOptions(location, host, port, read_only, budget.timeout_s, union_default_graph, cors, budget)
    with _errors():
        serve_store(options, notify=lambda line: click.echo(line, err=True))
    sys.exit(EXIT_TRIAGED)


__all__ = ["STORE_EXIT_HELP", "serve", "sparql", "store"]
