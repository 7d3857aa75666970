"""What every dorsum command shares: the command class with the one error handler, the one logging
setup, the ``--kb`` and ``--format`` options, and per-command exit-code help.

This module imports only click and :mod:`reasoner.errors`, so ``dorsum --help`` stays light.
"""

from __future__ import annotations

import atexit
import functools
import gc
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from reasoner.errors import EXIT_INTERNAL, EXIT_USAGE, DorsumError, one_line

F = TypeVar("F", bound=Callable[..., Any])

#: The environment variable naming a knowledge folder; the same name as ``reasoner.knowledge.KB_ENV``
#: (a test checks), spelt out here so that loading the command line does not load rdflib.
KB_ENV = "DORSUM_KB"
#: Set to 1 to see the traceback of an internal error instead of its one line.
DEBUG_ENV = "DORSUM_DEBUG"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader (e.g. `head`) went away

#: What each --format value means, in every command that offers it.
FORMAT_MEANINGS = {
    "text": "for people",
    "json": "for programs",
    "turtle": "RDF with provenance",
    "csv": "a table for spreadsheets",
}

USAGE_ERROR = (EXIT_USAGE, "usage or knowledge-loading error (one line on stderr)")
INTERNAL_ERROR = (EXIT_INTERNAL, f"internal error: a bug in dorsum (one line on stderr; {DEBUG_ENV}=1 shows more)")


def exit_codes(*codes: tuple[int, str]) -> str:
    """The 'Exit codes' epilog of one command: the codes it returns, then the internal-error code."""
    lines = "\n".join(f"  {code:>2}  {meaning}" for code, meaning in (*codes, INTERNAL_ERROR))
    return f"\n\b\nExit codes:\n{lines}\n"


def fail(error: DorsumError) -> NoReturn:
    """Report a dorsum error in one line and exit with its code."""
    report(error)
    sys.exit(error.exit_code)


def report(error: BaseException) -> None:
    """One line on standard error for an error that does not stop the command (a bad case among many)."""
    click.echo(f"dorsum: error: {one_line(error)}", err=True)


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """The one logging setup: rdflib and pyshacl log and warn about bad input; dorsum reports it
    itself, in one line, so their loggers are silenced and their warnings ignored."""
    logging.getLogger("rdflib").setLevel(logging.CRITICAL)
    logging.getLogger("pyshacl").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextmanager
def reported_errors() -> Iterator[None]:
    """The one error handler of the command line, around every command.

    A :class:`DorsumError` becomes one line and its own exit code; an operating-system error (a
    file that cannot be read or written) one line and exit 2; anything else, a bug, one line and
    exit 70, never a traceback (unless DORSUM_DEBUG=1). Click's own usage errors and exits pass.
    """
    try:
        with quiet_libraries():
            yield
    except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise
    except DorsumError as error:
        fail(error)
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        click.echo(f"dorsum: error: {error.strerror or one_line(error)}{where}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("dorsum: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as error:
        if os.environ.get(DEBUG_ENV):
            raise
        click.echo(f"dorsum: internal error: {type(error).__name__}: {one_line(error)}", err=True)
        sys.exit(EXIT_INTERNAL)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so flushing at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. under a test runner)
        pass


class DorsumCommand(click.Command):
    """A dorsum command: runs inside :func:`reported_errors`, with -h as well as --help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {}).setdefault("help_option_names", ["-h", "--help"])
        super().__init__(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with reported_errors():
            return super().invoke(ctx)


class DorsumGroup(click.Group):
    """A group of dorsum commands: the group, its lookup of commands and its commands all run
    inside :func:`reported_errors`, in a process that ends without a last garbage collection
    (see :func:`skip_collection_at_exit`)."""

    command_class = DorsumCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {}).setdefault("help_option_names", ["-h", "--help"])
        super().__init__(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        skip_collection_at_exit()
        with reported_errors():
            return super().invoke(ctx)


@functools.cache  # once per process
def skip_collection_at_exit() -> None:
    """Make the process hand every live object to the garbage collector's permanent generation
    when it exits (after every exit handler registered later, such as the caches' saving). The
    interpreter's last collections would otherwise walk all of the loaded knowledge, a large share
    of a short command's time, just before its memory goes back to the system. Objects are still
    freed as their last references go; only the cyclic collector skips them, so garbage cycles
    left at exit are not finalized (Python never promises that they are: dorsum closes its files
    and stores explicitly)."""
    atexit.register(gc.freeze)


def kb_option(func: F) -> F:
    return click.option(
        "--kb",
        "kb",
        type=click.Path(path_type=Path),
        envvar=KB_ENV,
        default=None,
        help=f"Knowledge base folder (with ontology/, shapes/, queries/). Default: the packaged one, or ${KB_ENV}.",
    )(func)


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format/-f``: the same option, and the same meaning of each value, in every command."""
    described = ", ".join(
        f"{choice} ({FORMAT_MEANINGS[choice]})" if choice in FORMAT_MEANINGS else choice for choice in choices
    )
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help=f"Output format: {described}.",
    )
