"""Click commands for the case store: ``dorsum store add|list|remove|export``, ``dorsum sparql``
and ``dorsum serve``. Thin wrappers over :mod:`reasoner.store.records`.

Register them on the main group in ``reasoner/cli.py``::

    from reasoner.cli.store import serve, sparql, store
    main.add_command(store)
    main.add_command(sparql)
    main.add_command(serve)
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from reasoner.cli.common import kb_option, quiet_libraries
from reasoner.errors import EXIT_INVALID_CASE, EXIT_TRIAGED, EXIT_USAGE, DorsumError, UsageError, one_line
from reasoner.knowledge import default_kb_root, load_knowledge
from reasoner.store.records import (
    DEFAULT_STORE,
    EXPORT_FORMATS,
    SPARQL_FORMATS,
    STORE_ENV,
    CaseFailure,
    StoredCase,
    StoreError,
    StoreNotFoundError,
    acquire_lock,
    is_remote,
    open_store,
    render_sparql,
)

F = TypeVar("F", bound=Callable[..., Any])

STORE_EXIT_HELP = f"""
\b
Exit codes:
  {EXIT_TRIAGED}  done
  {EXIT_USAGE}  usage, store or knowledge-loading error (one line on stderr)
  {EXIT_INVALID_CASE}  store add: some cases were invalid and not stored (the others were)
  (store add exits {EXIT_USAGE} if a CASE file is missing or unreadable; the others are stored)
"""

SERVER_ENV = "DORSUM_OXIGRAPH"
DEFAULT_PORT = 7878
DEFAULT_TIMEOUT_S = 30
SERVER_THREAD_STACK = 256 * 1024 * 1024  # bytes of (virtual) stack per server thread
PR_SET_PDEATHSIG = 1
QUICK_CRASH_S = 2.0
MAX_QUICK_CRASHES = 5


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
@click.argument("cases", nargs=-1, required=True, type=click.Path(path_type=Path))
@store_option
@kb_option
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
def add(cases: tuple[Path, ...], location: str, kb: Path | None, jobs: int) -> None:
    """Triage each CASE file and store it, replacing a stored case with the same id.

    The id is the case's name (the file name without its extension). Each case is written in
    one transaction as soon as it is evaluated; invalid cases are reported and skipped.

    \b
    Example:
      dorsum store add examples/*.yaml --store ./dorsum-store
      dorsum store add cases/*.json --jobs 2 --store http://127.0.0.1:7878
    """
    worst = EXIT_TRIAGED
    with _errors():
        knowledge = load_knowledge(kb)
        with open_store(location) as case_store:

            def report(item: StoredCase | CaseFailure) -> None:
                nonlocal worst
                if isinstance(item, CaseFailure):
                    worst = max(worst, item.exit_code if item.exit_code == EXIT_USAGE else EXIT_INVALID_CASE)
                    click.echo(f"dorsum: error: {item.error}", err=True)
                else:
                    tier = item.effective_urgency.rsplit("#", 1)[-1] or "no tier"
                    click.echo(f"stored {item.case_id}  ({item.status}, {tier})")
                    sys.stdout.flush()  # a line is printed only once its case is committed

            case_store.add(list(cases), knowledge, jobs=jobs, on_case=report)
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
    import csv
    import io
    import json

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
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
            click.echo(out.getvalue(), nl=False)
        else:
            widths = [max([len(col)] + [len(row[i]) for row in rows]) for i, col in enumerate(columns)]
            click.echo("  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True)).rstrip())
            for row in rows:
                click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
            click.echo(f"({len(rows)} cases)")


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


def resolve_sparql(query: str, kb: Path | None) -> str:
    """QUERY as text: a .rq file, the name of a query in queries/examples/, or SPARQL text."""
    path = Path(query)
    if path.suffix == ".rq" or (len(query) < 200 and "\n" not in query and path.is_file()):
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if path.suffix == ".rq" and len(path.parts) > 1:
                raise UsageError(f"{path}: file not found") from None
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"{path}: cannot read: {one_line(error)}") from error
    if query.replace("-", "").replace("_", "").replace(".rq", "").isalnum():
        root = kb if kb is not None else default_kb_root()
        folder = root / "queries" / "examples"
        named = folder / f"{path.stem}.rq"
        if named.is_file():
            return named.read_text(encoding="utf-8")
        names = ", ".join(sorted(p.stem for p in folder.glob("*.rq")))
        raise UsageError(f"no query file or example query named '{query}' (examples: {names})")
    return query


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
@kb_option
def sparql(
    query: str, location: str, fmt: str, params: tuple[str, ...], union_default_graph: bool, kb: Path | None
) -> None:
    """Run a SPARQL QUERY across every case in the store (read-only).

    QUERY is SPARQL text, a .rq file, or the name of a query in queries/examples/
    (cases-by-urgency, red-flag-frequency, cases-by-missing-item, cases-per-source,
    cases-with-conflicts, cases-under-other-knowledge, case-explanation). SELECT and ASK give
    rows; CONSTRUCT gives Turtle (table) or N-Triples (tsv). csv, tsv and json follow the W3C
    SPARQL 1.1 results formats.

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
        with open_store(location, read_only=True) as case_store:
            answer = case_store.query(text, union_default_graph=union_default_graph, params=bindings)
        click.echo(render_sparql(answer, fmt), nl=False)


# ---------------------------------------------------------------- dorsum serve


def oxigraph_binary() -> str:
    """The ``oxigraph`` server from the PyPI package ``oxigraph`` (next to this Python, or on PATH)."""
    override = os.environ.get(SERVER_ENV)
    candidates = [override] if override else []
    candidates.append(str(Path(sys.executable).parent / "oxigraph"))
    found = shutil.which("oxigraph")
    if found:
        candidates.append(found)
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise UsageError("the Oxigraph server is not installed: pip install 'oxigraph>=0.5' (or set $DORSUM_OXIGRAPH)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    "--timeout",
    "timeout_s",
    type=click.IntRange(1, 3600),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Query timeout in seconds.",
)
@click.option(
    "--union-default-graph/--no-union-default-graph",
    default=True,
    show_default=True,
    help="Let patterns outside GRAPH match every graph.",
)
@click.option("--cors", is_flag=True, default=False, help="Allow cross-origin requests from web pages elsewhere.")
def serve(
    location: str, host: str, port: int, read_only: bool, timeout_s: int, union_default_graph: bool, cors: bool
) -> None:
    """Serve the store as a standard SPARQL 1.1 endpoint, with a query page, using the Oxigraph
    server (PyPI package oxigraph).

    Endpoints: / (YASGUI query page), /query (SPARQL Query), /update (SPARQL Update, --writable
    only), /store (Graph Store Protocol). Stop it with Ctrl-C. There is no authentication:
    keep it on loopback, or put an authenticating proxy in front. While it runs, the store
    folder is locked: add cases through a --writable server (--store http://HOST:PORT).

    \b
    Example:
      dorsum serve --store ./dorsum-store
      dorsum serve --port 7879 --writable
      curl -H 'Accept: text/csv' --data-urlencode 'query=SELECT * WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 5' http://127.0.0.1:7878/query
    """
    with _errors():
        if is_remote(location):
            raise UsageError("serve needs a store folder, not a URL")
        folder = Path(location).expanduser()
        if not _is_loopback(host):
            if not read_only:
                raise UsageError(
                    f"refusing to serve a writable store on {host}: the server has no authentication "
                    "(use --host 127.0.0.1, or --read-only behind an authenticating proxy)"
                )
            click.echo(
                f"dorsum: warning: serving on {host}: anyone who can reach this address can read every case",
                err=True,
            )
        if read_only and not (folder / "CURRENT").is_file():
            raise StoreNotFoundError(f"no store at {folder} (fill one with: dorsum store add CASE --store {folder})")
        if not read_only:
            folder.mkdir(parents=True, exist_ok=True)
        binary = oxigraph_binary()
        lock = acquire_lock(folder, exclusive=not read_only)
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        args = [binary, "serve-read-only" if read_only else "serve", "--location", str(folder), "--bind", bind]
        args += ["--timeout-s", str(timeout_s)]
        if union_default_graph:
            args.append("--union-default-graph")
        if cors:
            args.append("--cors")
        mode = "read-only" if read_only else "writable"
        shown = f"[{host}]" if ":" in host else host
        click.echo(
            f"dorsum: serving {folder} ({mode}) at http://{shown}:{port}/  "
            "(query page /, SPARQL endpoint /query; Ctrl-C stops)",
            err=True,
        )
        try:
            code = supervise(args)
        finally:
            if lock is not None:
                lock.close()
        if code != 0:
            raise StoreError(f"the Oxigraph server stopped with exit code {code} (is port {port} already in use?)")
    sys.exit(EXIT_TRIAGED)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to stop the server if dorsum dies, so no orphan keeps the port and the store."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def supervise(args: list[str]) -> int:
    """Run the Oxigraph server and restart it if it crashes; return its exit code once it stops.

    The server aborts on a stack overflow when a query is nested very deeply, taking every
    connection with it. A larger thread stack (RUST_MIN_STACK) makes that need a query nested
    over about 100,000 levels; a restart covers the rest. SIGINT and SIGTERM stop the server.
    """
    env = dict(os.environ)
    env.setdefault("RUST_MIN_STACK", str(SERVER_THREAD_STACK))
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    quick_crashes = 0
    try:
        while True:
            started = time.monotonic()
            child = subprocess.Popen(args, env=env, preexec_fn=_die_with_parent)
            code = child.wait()
            if stopping:
                return 0
            if code >= 0:
                return code
            quick_crashes = quick_crashes + 1 if time.monotonic() - started < QUICK_CRASH_S else 0
            if quick_crashes >= MAX_QUICK_CRASHES:
                return 128 - code
            click.echo(f"dorsum: warning: the Oxigraph server stopped (signal {-code}); restarting it", err=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


__all__ = ["STORE_EXIT_HELP", "oxigraph_binary", "resolve_sparql", "serve", "sparql", "store", "supervise"]
