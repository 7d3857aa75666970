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


class DependencyError(DorsumError):
    """An installed library is not one dorsum can run safely (it would give answers dorsum cannot
    check): nothing is read with it."""

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


#: Exit codes of inputs refused before or while reading (issue 10: hostile input). Each limit has
#: its own code, so a script can tell "too big" from "malformed"; all are case errors, so a batch
#: records them and goes on. The limits are set by the DORSUM_MAX_CASE_* environment variables.
EXIT_INPUT_TOO_LARGE = 10  # the file is larger than DORSUM_MAX_CASE_BYTES
EXIT_INPUT_TOO_DEEP = 11  # the form nests deeper than DORSUM_MAX_CASE_DEPTH
EXIT_YAML_ALIASES = 12  # the YAML uses more aliases than DORSUM_MAX_YAML_ALIASES (an alias bomb)
EXIT_TOO_MANY_NODES = 13  # the form has more values, or the case more triples, than allowed
EXIT_NOT_REGULAR_FILE = 14  # a FIFO, device, socket (or a symlink to one): refused before opening
EXIT_FETCH_REFUSED = 15  # the case asks for a remote or local document (an @context): never fetched


class InputRefused(CaseError):
    """A case refused by an input limit or safety rule before it is triaged. Subclasses carry
    their own exit code; as CaseErrors, a batch records them and goes on."""

    exit_code = EXIT_INVALID_CASE


class InputTooLarge(InputRefused):
    """The case file (or JSONL line) is larger than the size limit."""

    exit_code = EXIT_INPUT_TOO_LARGE


class InputTooDeep(InputRefused):
    """The case form (or JSON-LD document) nests deeper than the depth limit."""

    exit_code = EXIT_INPUT_TOO_DEEP


class YamlAliasesRefused(InputRefused):
    """The YAML uses more aliases (``*name``) than allowed: the shape of an alias bomb."""

    exit_code = EXIT_YAML_ALIASES


class TooManyNodes(InputRefused):
    """The form holds more values, or the case graph more triples, than the limit."""

    exit_code = EXIT_TOO_MANY_NODES


class NotRegularFile(InputRefused):
    """The input is not a regular file (a FIFO, a device, a socket, or a symlink to one)."""

    exit_code = EXIT_NOT_REGULAR_FILE


class FetchRefused(InputRefused):
    """The case refers to a document dorsum would have to fetch or read (a remote or file
    ``@context``): dorsum never fetches; only the shipped case-form context is known."""

    exit_code = EXIT_FETCH_REFUSED


#: A query stopped at its time limit (as timeout(1) reports it).
EXIT_QUERY_TIMEOUT = 124
#: A query's answer is over the row or byte cap: it is refused, never cut silently.
EXIT_ANSWER_TOO_LARGE = 16


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
