"""The options that bound a query, shared by ``dorsum query``, ``dorsum sparql`` and ``dorsum serve``:
``--timeout``, ``--max-rows``, ``--max-bytes`` and ``--allow-service``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from reasoner.pipeline.query_budget import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, QueryBudget

F = TypeVar("F", bound=Callable[..., Any])


def budget_options(func: F, *, max_bytes: int = DEFAULT_MAX_BYTES) -> F:
    """--timeout, --max-rows, --max-bytes and --allow-service: a query's budget."""
    options = [
        click.option(
            "--allow-service",
            "allow_service",
            multiple=True,
            metavar="URL",
            help="Let SERVICE / FROM name this endpoint (repeatable). Nothing is fetched otherwise.",
        ),
        click.option(
            "--max-bytes",
            type=click.IntRange(1),
            default=max_bytes,
            show_default=True,
            help="Refuse an answer larger than this many bytes.",
        ),
        click.option(
            "--max-rows",
            type=click.IntRange(1),
            default=DEFAULT_MAX_ROWS,
            show_default=True,
            help="Refuse an answer with more rows.",
        ),
        click.option(
            "--timeout",
            "timeout_s",
            type=click.FloatRange(0.1, 3600),
            default=DEFAULT_TIMEOUT_S,
            show_default=True,
            help="Stop the query after this many seconds.",
        ),
    ]
    for option in options:
        func = option(func)
    return func


def query_budget(timeout_s: float, max_rows: int, max_bytes: int, allow_service: tuple[str, ...]) -> QueryBudget:
    return QueryBudget(timeout_s=timeout_s, max_rows=max_rows, max_bytes=max_bytes, allow_service=allow_service)


__all__ = ["budget_options", "query_budget"]
