"""``dorsum batch`` and ``dorsum generate``: thin click commands over :mod:`reasoner.batch.run` and
:mod:`reasoner.batch.generate`. ``python -m reasoner.cli.batch`` runs them without the main group.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import click

from reasoner.batch.generate import generate_forms, write_jsonl
from reasoner.batch.run import EXECUTORS, BatchLine, BatchSummary, count_cases, run_batch_lines
from reasoner.cli.common import USAGE_ERROR, DorsumCommand, DorsumGroup, exit_codes, kb_option
from reasoner.errors import EXIT_INCOMPLETE, EXIT_INVALID_CASE, EXIT_TRIAGED, UsageError
from reasoner.knowledge import load_knowledge


@click.command(
    cls=DorsumCommand,
    epilog=exit_codes(
        (EXIT_TRIAGED, "every case triaged and complete"),
        (EXIT_INCOMPLETE, "some case incomplete (the others complete)"),
        USAGE_ERROR,
        (EXIT_INVALID_CASE, 'some case invalid (recorded with "ok": false; the others were triaged)'),
    ),
)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...", type=click.Path(allow_dash=True))
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the JSONL results to this file (default: standard output).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: one per CPU; 1 runs in this process).",
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="Where cases run: local worker processes, or a dask.distributed cluster (needs dorsum[dask]).",
)
@click.option("--scheduler", metavar="URL", default=None, help="The dask scheduler address, e.g. tcp://HOST:8786.")
@kb_option
def batch(
    inputs: tuple[str, ...],
    out: Path | None,
    jobs: int | None,
    executor: str,
    scheduler: str | None,
    kb: Path | None,
) -> None:
    """Triage many cases and write one JSON line per case, in input order.

    INPUT is a case file, a directory (every case file in it, sorted), a JSONL file with one
    case form per line, or - for JSONL on standard input. Each line is the JSON of `dorsum
    evaluate --format json` plus "case" and "ok": true, or {"case", "ok": false, "error",
    "exit_code"} for a case that cannot be triaged; a bad case never stops the batch. A summary
    (cases per urgency tier, incomplete, invalid, throughput) goes to standard error.

    \b
    Example:
      dorsum batch examples/ --out results.jsonl
      dorsum generate --count 1000 --seed 1 | dorsum batch - --jobs 2 > results.jsonl
      dorsum batch cases.jsonl --executor dask --scheduler tcp://10.0.0.5:8786
    """
    summary = BatchSummary()
    with ExitStack() as stack:
        lines = run_batch_lines(
            list(inputs), kb, jobs, executor=executor, scheduler=scheduler, summary=summary, stdin=sys.stdin
        )
        total = count_cases(list(inputs)) if sys.stderr.isatty() else None
        try:
            stream: IO[str] = stack.enter_context(out.open("w", encoding="utf-8")) if out is not None else sys.stdout
            _write(lines, stream, total, show_progress=sys.stderr.isatty())
        except BrokenPipeError:
            raise
        except OSError as error:
            raise UsageError(f"cannot write the results: {error.strerror or error}") from error
    click.echo(summary.to_text(), err=True)
    sys.exit(summary.exit_code)


def _write(lines: Iterator[BatchLine], stream: IO[str], total: int | None, *, show_progress: bool) -> None:
    if not show_progress:
        for line in lines:
            stream.write(line.text + "\n")
        return
    with click.progressbar(lines, length=total, label="triaging", file=sys.stderr, show_pos=True) as bar:
        for line in bar:
            stream.write(line.text + "\n")


@click.command(cls=DorsumCommand, epilog=exit_codes((EXIT_TRIAGED, "done"), USAGE_ERROR))
@click.option("--count", "-n", type=click.IntRange(min=0), required=True, help="How many case forms to write.")
@click.option("--seed", "-s", type=int, default=0, show_default=True, help="Random seed: same seed, same forms.")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the JSONL to this file (default: standard output).",
)
@kb_option
def generate(count: int, seed: int, out: Path | None, kb: Path | None) -> None:
    """Write COUNT invented case forms as JSONL, one per line, for batches and benchmarks.

    The vocabulary (findings, lump values, size thresholds, age bands) comes from the knowledge.
    Most forms are complete, some are incomplete and about 2% are deliberately invalid, so a
    batch over them exercises every kind of result. All patients are invented.

    \b
    Example:
      dorsum generate --count 1000 --seed 1 --out cases.jsonl
      dorsum generate --count 100 | dorsum batch -
    """
    forms = generate_forms(count, seed, load_knowledge(kb))
    try:
        if out is None:
            write_jsonl(forms, sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as stream:
                write_jsonl(forms, stream)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise UsageError(f"cannot write the forms: {error.strerror or error}") from error
    sys.exit(EXIT_TRIAGED)


@click.group(cls=DorsumGroup)
def standalone() -> None:
    """dorsum batch and generate, runnable before they are registered on the main command."""


standalone.add_command(batch)
standalone.add_command(generate)


if __name__ == "__main__":  # pragma: no cover
    standalone()
