"""What a SPARQL query may be and cost, checked before and enforced while any engine runs it.

* :func:`check_query_text` refuses, by reading the text only (no engine sees it): text over
  ``max_text_bytes`` or nested deeper than ``max_depth`` (deep nesting overflows the engines'
  stacks), an update where a query is expected, and ``SERVICE`` / ``FROM`` / ``FROM NAMED`` /
  ``LOAD`` naming anything but an allowed endpoint (they make the engine fetch from the network
  or read files). The scan is :func:`reasoner.engines.sparql_text.check_text`, the one guard
  every SPARQL text passes (the knowledge's own queries too: see docs/query-safety.md).
* :func:`run_bounded` runs a query in a forked child process that is killed at the time limit:
  neither pyoxigraph nor rdflib can be interrupted inside one call, and killing the process is
  what truly stops the work. The child counts rows and bytes as it reads the answer and stops
  at the cap; a stopped or capped query is an error, never a partial answer. Unless the budget
  allows an endpoint, the child first leaves the network (:func:`leave_network`): a query that
  got past the text check still could not fetch anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from reasoner.engines.sparql_text import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_TEXT_BYTES,
    QueryText,
    QueryTextRefused,
    check_text,
    read_query_text,
)
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
#: Address space a query's child process may add to what it inherits: a query that would need
#: more fails there, alone (exit 16), and never takes the machine's memory.
DEFAULT_MAX_MEMORY: Final = 2 * 1024 * 1024 * 1024


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


def check_query_text(
    text: str,
    budget: QueryBudget,
    *,
    updates: bool = False,
    store_graphs: str | None = None,
    fetch_hint: str = " (allow a named endpoint with --allow-service URL)",
) -> QueryText:
    """Refuse a query before any engine sees it; return its shape when it may run.

    The guard is :func:`reasoner.engines.sparql_text.check_text`, given the budget's limits and
    allowed endpoints. ``updates`` allows SPARQL Update (a writable endpoint); ``store_graphs`` is
    an IRI prefix of graphs the engine holds itself, which ``FROM`` may name without fetching
    (None: none may). Raises QueryRefusedError with a one-line reason, ending with ``fetch_hint``
    where the query would fetch (empty where the caller has no ``--allow-service``).
    """
    try:
        return check_text(
            text,
            max_text_bytes=budget.max_text_bytes,
            max_depth=budget.max_depth,
            updates=updates,
            allowed=budget.allow_service,
            local_graphs=store_graphs,
        )
    except QueryTextRefused as refused:
        hint = fetch_hint if refused.fetch else ""
        raise QueryRefusedError(f"{refused}{hint}") from None


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
    in the engine, or over the memory limit) is a QueryEngineError. The child runs without
    network access (:func:`leave_network`) unless the budget allows an endpoint.
    """
    import multiprocessing  # only a query run needs it: every command's options import this module

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    offline = not budget.allow_service
    child = context.Process(target=_child, args=(task, sender, budget.max_memory, offline), daemon=True)
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


def _child(task: Callable[[], Any], sender: Any, max_memory: int, offline: bool) -> None:  # pragma: no cover
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if offline:
        leave_network()
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


_CLONE_NEWUSER: Final = 0x10000000
_CLONE_NEWNET: Final = 0x40000000


def leave_network() -> bool:
    """Move this process into a network namespace of its own, which has no interface but a
    loopback that is down: nothing it runs can reach another machine or a local server. Only for
    a forked, single-threaded child (the query's). Returns whether it worked: it needs Linux and
    either the right to create a network namespace or unprivileged user namespaces; where it
    does not work the text check (:func:`check_query_text`) is the only line, as before."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        unshare = ctypes.CDLL(None, use_errno=True).unshare
    except (OSError, AttributeError):
        return False
    return any(unshare(flags) == 0 for flags in (_CLONE_NEWNET, _CLONE_NEWUSER | _CLONE_NEWNET))


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
    "leave_network",
    "read_query_text",
    "run_bounded",
]
