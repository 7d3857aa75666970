"""Typed errors. The CLI turns each into one clear line and the exit code named here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: Exit codes, documented in the README.
EXIT_TRIAGED = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_INVALID_CASE = 3
#: A bug in dorsum, not in the input (sysexits' EX_SOFTWARE): reported in one line, never a traceback.
EXIT_INTERNAL = 70

#: Exit-code precedence, mildest first: when many cases (or files) end differently, the command
#: exits with the worst. Codes not listed here rank between EXIT_USAGE and EXIT_INTERNAL, by value.
EXIT_PRECEDENCE = (EXIT_TRIAGED, EXIT_INCOMPLETE, EXIT_INVALID_CASE, EXIT_USAGE, EXIT_INTERNAL)


class DorsumError(Exception):
    """Base class of every error dorsum reports to a user."""

    exit_code = EXIT_USAGE


class UsageError(DorsumError):
    """The command was used wrongly: a missing file, an unknown query name, a bad option."""

    exit_code = EXIT_USAGE


class KnowledgeError(DorsumError):
    """The knowledge base could not be loaded: a file is missing or does not parse."""

    exit_code = EXIT_USAGE


class CaseError(DorsumError):
    """A case is malformed: bad syntax, wrong types, impossible values or unknown terms."""

    exit_code = EXIT_INVALID_CASE

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        detail = "; ".join(self.problems)
        super().__init__(f"{source}: invalid case: {detail}")


def _exit_rank(code: int) -> tuple[int, int]:
    if code in EXIT_PRECEDENCE:
        return EXIT_PRECEDENCE.index(code), 0
    return EXIT_PRECEDENCE.index(EXIT_USAGE), code + 1


def worse_exit(current: int, new: int) -> int:
    """The worse of two exit codes: invalid beats incomplete beats triaged; usage errors beat all
    of those, and an internal error beats everything."""
    return max(current, new, key=_exit_rank)


def worst_exit(codes: Iterable[int]) -> int:
    """The worst of many exit codes (EXIT_TRIAGED for none)."""
    return max(codes, key=_exit_rank, default=EXIT_TRIAGED)


def one_line(exc: BaseException) -> str:
    """An exception's message on one line, for error output."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


#: A query stopped at its time limit (as timeout(1) reports it).
EXIT_QUERY_TIMEOUT = 124
#: A query's answer is over the row or byte cap: it is refused, never cut silently.
EXIT_ANSWER_TOO_LARGE = 12


class QueryRefusedError(UsageError):
    """A query is refused before any engine sees it: an update where a query is expected, a
    SERVICE or FROM that is not allowed, text too long or nested too deeply, an unknown parameter."""

    exit_code = EXIT_USAGE


class QueryTimeoutError(DorsumError):
    """A query ran past its time limit and was stopped (its work too, not only the wait)."""

    exit_code = EXIT_QUERY_TIMEOUT


class AnswerTooLargeError(DorsumError):
    """A query's answer has more rows or bytes than its cap allows."""

    exit_code = EXIT_ANSWER_TOO_LARGE


class QueryEngineError(DorsumError):
    """The query engine died (a crash in a child process), not the query's fault alone."""

    exit_code = EXIT_INTERNAL
