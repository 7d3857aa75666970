"""Typed errors. The CLI turns each into one clear line and the exit code named here."""

from __future__ import annotations

from collections.abc import Sequence

#: Exit codes, documented in the README.
EXIT_TRIAGED = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_INVALID_CASE = 3


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


def one_line(exc: BaseException) -> str:
    """An exception's message on one line, for error output."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
