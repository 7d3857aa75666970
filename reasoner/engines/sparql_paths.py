"""SPARQL property paths over triple sources: the nodes a path reaches, the predicates it reads,
whether it may take no step, and whether this evaluator implements it.

Used by :mod:`reasoner.engines.sparql_match`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from rdflib import URIRef
from rdflib.paths import AlternativePath, InvPath, MulPath, SequencePath
from rdflib.term import Node

from reasoner.terms import Triple

__all__ = ["Matcher", "UnsupportedQuery", "check_path", "has_zero_length", "path_predicates", "path_step"]


class UnsupportedQuery(Exception):
    """The query uses a SPARQL feature this evaluator does not implement."""


class Matcher(Protocol):
    """Triples by pattern (None: any term), as a dataset or an index gives them."""

    def match(self, s: Node | None, p: Node | None, o: Node | None) -> Iterator[Triple]: ...


def path_predicates(path: Any) -> set[URIRef]:
    """The predicates a path can read."""
    if isinstance(path, URIRef):
        return {path}
    if isinstance(path, InvPath):
        return path_predicates(path.arg)
    if isinstance(path, MulPath):
        return path_predicates(path.path)
    return {predicate for arg in path.args for predicate in path_predicates(arg)}


def has_zero_length(path: Any) -> bool:
    """Whether a path may take no step (then it matches any node with itself)."""
    if isinstance(path, MulPath):
        return path.mod in ("*", "?") or has_zero_length(path.path)
    if isinstance(path, InvPath):
        return has_zero_length(path.arg)
    if isinstance(path, SequencePath):
        return all(has_zero_length(arg) for arg in path.args)
    if isinstance(path, AlternativePath):
        return any(has_zero_length(arg) for arg in path.args)
    return False


def path_step(data: Matcher, start: Node, path: Any, forward: bool) -> set[Node]:
    """The nodes reached from ``start`` over ``path`` (backwards if not ``forward``)."""
    if isinstance(path, URIRef):
        if forward:
            return {o for _s, _p, o in data.match(start, path, None)}
        return {s for s, _p, _o in data.match(None, path, start)}
    if isinstance(path, InvPath):
        return path_step(data, start, path.arg, not forward)
    if isinstance(path, AlternativePath):
        reached: set[Node] = set()
        for arg in path.args:
            reached |= path_step(data, start, arg, forward)
        return reached
    if isinstance(path, SequencePath):
        current = {start}
        for arg in path.args if forward else reversed(path.args):
            current = {node for here in current for node in path_step(data, here, arg, forward)}
        return current
    if isinstance(path, MulPath):
        if path.mod == "?":
            return {start} | path_step(data, start, path.path, forward)
        seen: set[Node] = {start} if path.mod == "*" else set()
        frontier = [start]
        while frontier:
            here = frontier.pop()
            for node in path_step(data, here, path.path, forward):
                if node not in seen:
                    seen.add(node)
                    frontier.append(node)
        return seen
    raise UnsupportedQuery(f"property path {path!r}")


def check_path(path: Any) -> None:
    """Raise :class:`UnsupportedQuery` for a path this evaluator does not implement."""
    if isinstance(path, URIRef):
        return
    if isinstance(path, InvPath):
        check_path(path.arg)
    elif isinstance(path, (AlternativePath, SequencePath)):
        for arg in path.args:
            check_path(arg)
    elif isinstance(path, MulPath):
        check_path(path.path)
    else:
        raise UnsupportedQuery(f"property path {path!r}")
