"""Pieces shared by the dorsum command modules: options, exit-code help, error output."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from reasoner.errors import EXIT_INCOMPLETE, EXIT_INVALID_CASE, EXIT_TRIAGED, EXIT_USAGE, DorsumError
from reasoner.knowledge import KB_ENV

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


def fail(error: DorsumError) -> NoReturn:
    click.echo(f"dorsum: error: {error}", err=True)
    sys.exit(error.exit_code)
