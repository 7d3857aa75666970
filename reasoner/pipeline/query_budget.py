"""What a SPARQL query may be and cost, checked before and enforced while any engine runs it.

* :func:`check_query_text` refuses, by reading the text only (no engine sees it): text over
  ``max_text_bytes`` or nested deeper than ``max_depth`` (deep nesting overflows the engines'
  stacks), an update where a query is expected, and ``SERVICE`` / ``FROM`` / ``FROM NAMED`` /
  ``LOAD`` naming anything but an allowed endpoint (they make the engine fetch from the network
  or read files). The scan skips comments, strings and IRIs, so a keyword inside them is data.
* :func:`run_bounded` runs a query in a forked child process that is killed at the time limit:
  neither pyoxigraph nor rdflib can be interrupted inside one call, and killing the process is
  what truly stops the work. The child counts rows and bytes as it reads the answer and stops
  at the cap; a stopped or capped query is an error, never a partial answer.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import resource
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from reasoner.errors import (
    AnswerTooLargeError,
    DorsumError,
    QueryEngineError,
    QueryRefusedError,
    QueryTimeoutError,
    UsageError,
    one_line,
)

T = TypeVar("T")

DEFAULT_TIMEOUT_S: Final = 30.0
DEFAULT_MAX_ROWS: Final = 100_000
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
DEFAULT_MAX_TEXT_BYTES: Final = 1024 * 1024
DEFAULT_MAX_DEPTH: Final = 64
#: Address space a query's child process may add to what it inherits: a query that would need
#: more fails there, alone (exit 16), and never takes the machine's memory.
DEFAULT_MAX_MEMORY: Final = 2 * 1024 * 1024 * 1024

QUERY_FORMS: Final = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
UPDATE_FORMS: Final = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})


@dataclass(frozen=True)
class QueryBudget:
    """The limits of one query: time, answer rows and bytes, text size and nesting depth,
    and the endpoints ``SERVICE`` / ``FROM`` may name (none by default)."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    max_rows: int = DEFAULT_MAX_ROWS
    max_bytes: int = DEFAULT_MAX_BYTES
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_memory: int = DEFAULT_MAX_MEMORY
    allow_service: tuple[str, ...] = ()


# ---------------------------------------------------------------- the text


#: A word is a prefixed name (``dx:Case.x``: a dot inside a name is part of it) or a bare word
#: (a keyword, ``a``, ``true``), which never holds a dot: ``true.SERVICE <...>`` is ``true``, ``.``
#: and ``SERVICE`` to both engines, and read as one word it reached the network. A number is
#: one token, its exponent included: ``1e5SERVICE`` is ``1e5`` and ``SERVICE`` to Oxigraph.
_TOKEN = r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
              |'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<var>[?$][A-Za-z0-9_\u00b7\u00c0-\uffff]+)
  | (?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-.]*:[^\s(){}\[\],;]*|:[^\s(){}\[\],;]*|[A-Za-z_][A-Za-z0-9_]*)
  | (?P<open>[({\[])
  | (?P<close>[)}\]])
  | (?P<other>\S)
    """


@functools.cache  # on first use: compiling it costs more than the rest of this module's import
def _tokens() -> re.Pattern[str]:
    return re.compile(_TOKEN, re.VERBOSE | re.DOTALL)


@dataclass(frozen=True)
class QueryText:
    """A query's shape as read from its text: its form, the graphs and endpoints it names, its
    variables, its nesting depth."""

    form: str  # SELECT, ASK, CONSTRUCT, DESCRIBE, or the update keyword
    services: tuple[str, ...]  # SERVICE <iri> (or "?var" for a variable endpoint)
    datasets: tuple[str, ...]  # FROM <iri> / FROM NAMED <iri>
    loads: tuple[str, ...]  # LOAD <iri>
    variables: tuple[str, ...]
    placeholders: tuple[str, ...]  # VALUES ?name { UNDEF }
    depth: int


def read_query_text(text: str) -> QueryText:
    """Tokenise SPARQL text, skipping comments, strings and IRIs (keywords in them are data)."""
    tokens = [(m.lastgroup or "", m.group()) for m in _tokens().finditer(text)]
    tokens = [(kind, value) for kind, value in tokens if kind != "comment"]
    form = ""
    depth = deepest = 0
    services: list[str] = []
    datasets: list[str] = []
    loads: list[str] = []
    variables: dict[str, None] = {}
    for index, (kind, value) in enumerate(tokens):
        if index and tokens[index - 1][1] == "@":
            continue  # a language tag
        if kind == "open":
            depth += 1
            deepest = max(deepest, depth)
        elif kind == "close":
            depth -= 1
        elif kind == "var":
            variables.setdefault(value[1:], None)
        elif kind == "word" and ":" not in value:
            word = value.upper()
            if not form and word in QUERY_FORMS | UPDATE_FORMS:
                form = word
            following = _next_target(tokens, index + 1, skip={"SILENT", "NAMED"})
            if word == "SERVICE":
                services.append(following)
            elif word == "FROM":
                datasets.append(following)
            elif word == "LOAD":
                loads.append(following)
    return QueryText(
        form=form,
        services=tuple(services),
        datasets=tuple(datasets),
        loads=tuple(loads),
        variables=tuple(variables),
        placeholders=tuple(_PLACEHOLDER.findall(text)),
        depth=deepest,
    )


_PLACEHOLDER = re.compile(r"VALUES\s+[?$]([A-Za-z_][A-Za-z0-9_]*)\s*\{\s*UNDEF\s*\}", re.IGNORECASE)


def _next_target(tokens: list[tuple[str, str]], start: int, *, skip: set[str]) -> str:
    """The IRI, prefixed name or variable after a keyword (past SILENT / NAMED)."""
    for kind, value in tokens[start : start + 3]:
        if kind == "word" and value.upper() in skip:
            continue
        return value[1:-1] if kind == "iri" else value
    return ""


def check_query_text(
    text: str,
    budget: QueryBudget,
    *,
    updates: bool = False,
    store_graphs: str | None = None,
) -> QueryText:
    """Refuse a query before any engine sees it; return its shape when it may run.

    ``updates`` allows SPARQL Update (a writable endpoint); ``store_graphs`` is an IRI prefix of
    graphs the engine holds itself, which ``FROM`` may name without fetching (None: none may).
    Raises QueryRefusedError with a one-line reason.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > budget.max_text_bytes:
        raise QueryRefusedError(f"the query is {size} bytes long; the limit is {budget.max_text_bytes} bytes")
    shape = read_query_text(text)
    expanded = expand_codepoint_escapes(text)
    if expanded != text:  # what rdflib parses: \u0046ROM <file:///...> read a file, \u0053ERVICE fetched
        shape = _either(shape, read_query_text(expanded))
    if shape.depth > budget.max_depth:
        raise QueryRefusedError(
            f"the query is nested {shape.depth} levels deep; the limit is {budget.max_depth} levels"
        )
    if shape.form in UPDATE_FORMS and not updates:
        raise QueryRefusedError(f"SPARQL updates ({shape.form}) are refused: this runs read-only queries only")
    if not shape.form:
        raise QueryRefusedError("not a SPARQL query: expected SELECT, ASK, CONSTRUCT or DESCRIBE")
    allowed = set(budget.allow_service)
    for keyword, targets in (("SERVICE", shape.services), ("LOAD", shape.loads)):
        for target in targets:
            if target not in allowed:
                raise QueryRefusedError(_fetch_refusal(keyword, target))
    for target in shape.datasets:
        local = store_graphs is not None and target.startswith(store_graphs)
        if not local and target not in allowed:
            raise QueryRefusedError(_fetch_refusal("FROM", target))
    return shape


#: SPARQL's codepoint escapes (``\\u0053``, ``\\U00000053``), which rdflib's parser expands in the
#: whole text before it parses (its ``expandUnicodeEscapes``; a keyword can be written with them).
_CODEPOINT: Final = re.compile(r"\\u([0-9a-f]{4}(?:[0-9a-f]{4})?)", re.IGNORECASE)


def expand_codepoint_escapes(text: str) -> str:
    """The text with its codepoint escapes expanded, as rdflib's SPARQL parser reads it (an
    escape of no code point is left as written: rdflib refuses the query)."""

    def expand(match: re.Match[str]) -> str:
        try:
            return chr(int(match.group(1), 16))
        except (ValueError, OverflowError):
            return match.group()

    return _CODEPOINT.sub(expand, text)


def _either(raw: QueryText, expanded: QueryText) -> QueryText:
    """A query read both as written (Oxigraph expands no escapes) and with its escapes expanded
    (rdflib): every endpoint, graph and load either names, an update if either is one."""
    form = expanded.form if expanded.form in UPDATE_FORMS or not raw.form else raw.form
    return QueryText(
        form=form,
        services=raw.services + expanded.services,
        datasets=raw.datasets + expanded.datasets,
        loads=raw.loads + expanded.loads,
        variables=raw.variables,
        placeholders=raw.placeholders,
        depth=max(raw.depth, expanded.depth),
    )


def _fetch_refusal(keyword: str, target: str) -> str:
    named = f" {target}" if target else ""
    return (
        f"{keyword}{named} is refused: it would make the engine fetch from the network or read a file"
        f" (allow a named endpoint with --allow-service URL)"
    )


def check_params(names: Iterable[str], shape: QueryText) -> None:
    """Refuse a parameter the query does not have, listing the ones it has (its VALUES ... UNDEF
    placeholders, or else its variables)."""
    known = shape.placeholders or shape.variables
    folded = {name.lower(): name for name in shape.variables}
    for name in names:
        if name in shape.variables:
            continue
        hint = f" (did you mean {folded[name.lower()]}?)" if name.lower() in folded else ""
        listed = ", ".join(known) if known else "none"
        raise QueryRefusedError(f"unknown parameter '{name}'{hint}: the query's parameters are {listed}")


# ---------------------------------------------------------------- the run


def run_bounded(task: Callable[[], T], budget: QueryBudget, *, what: str = "the query") -> T:
    """Run ``task`` in a forked child process and return what it returns; kill the child at the
    time limit (QueryTimeoutError). The task enforces the row and byte caps itself (see
    :class:`AnswerMeter`); a DorsumError it raises is raised here. A child that dies (a crash
    in the engine, or over the memory limit) is a QueryEngineError.
    """
    import multiprocessing  # only a query run needs it: every command's options import this module

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(task, sender, budget.max_memory), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(budget.timeout_s):
            _stop(child)
            raise QueryTimeoutError(f"{what} was stopped at its time limit of {budget.timeout_s:g} s")
        try:
            outcome, payload = receiver.recv()
        except EOFError:
            child.join(5)
            code = child.exitcode
            cause = _signal_name(-code) if code is not None and code < 0 else f"exit code {code}"
            raise QueryEngineError(f"{what} crashed the query engine ({cause})") from None
    finally:
        receiver.close()
        _stop(child)
    if outcome == "ok":
        return payload  # type: ignore[no-any-return]
    kind, message = payload
    raise _rebuilt(kind, message)


def _child(task: Callable[[], Any], sender: Any, max_memory: int) -> None:  # pragma: no cover - in the child
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(ValueError, OSError):
        inherited = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (inherited + max_memory, inherited + max_memory))
    try:
        message: tuple[str, Any] = ("ok", task())
    except DorsumError as error:
        message = ("error", (type(error), one_line(error)))
    except MemoryError:
        message = ("error", (AnswerTooLargeError, "the query needs more memory than its limit allows"))
    except RecursionError:
        message = ("error", (QueryRefusedError, "the query is nested too deeply for the engine"))
    except Exception as error:  # the engine's own errors, whatever their type
        message = ("error", (QueryEngineError, f"the query engine failed: {one_line(error)}"))
    try:
        sender.send(message)
    finally:
        sender.close()
        os._exit(0)


def _rebuilt(kind: type[DorsumError], message: str) -> DorsumError:
    try:
        return kind(message)
    except TypeError:  # an error class whose constructor takes more than a message
        return UsageError(message)


def _stop(child: Any) -> None:
    if child.is_alive():
        child.kill()
    child.join(5)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class AnswerMeter:
    """Counts an answer's rows and bytes as they are read; raises AnswerTooLargeError at the cap."""

    def __init__(self, budget: QueryBudget) -> None:
        self.budget = budget
        self.rows = 0
        self.bytes = 0

    def add(self, *cells: str | None) -> None:
        self.rows += 1
        self.bytes += sum(len(cell) + 1 for cell in cells if cell is not None) + 1
        if self.rows > self.budget.max_rows:
            raise AnswerTooLargeError(
                f"the answer has more than {self.budget.max_rows} rows (the row cap; raise it with --max-rows)"
            )
        if self.bytes > self.budget.max_bytes:
            raise AnswerTooLargeError(
                f"the answer is larger than {self.budget.max_bytes} bytes (the byte cap; raise it with --max-bytes)"
            )


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_MAX_TEXT_BYTES",
    "DEFAULT_TIMEOUT_S",
    "AnswerMeter",
    "QueryBudget",
    "QueryText",
    "check_params",
    "check_query_text",
    "read_query_text",
    "run_bounded",
]
