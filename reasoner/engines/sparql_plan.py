"""Plans for :mod:`reasoner.engines.sparql_compiled`: a query's algebra rewritten so that every part
no triple of the case can match is one *fixed* subtree, answered once per knowledge and memoised.

Which triple patterns a case can match depends on the predicates and classes it holds, so a plan is
made per combination of case-reading patterns (a handful per query) and cached. The rewrites are the
textbook equivalences for well-designed patterns:

- a basic graph pattern splits into its case part and the connected components of its knowledge
  part (a ``JoinAll`` node); a path with a zero-length step joins a knowledge component only where
  another pattern of that component binds one of its ends;
- ``OPTIONAL { K2 }`` after a join of a case part and a knowledge component ``K1`` moves into that
  component when ``K2`` shares no variable with the rest that ``K1`` does not always bind;
- a FILTER whose variables a knowledge component always binds moves into that component.

Answers are unchanged (the pipeline equivalence tests compare whole results).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rdflib.paths import AlternativePath, InvPath, MulPath, SequencePath

from reasoner.engines.sparql_expressions import Op, Var, variables_of
from reasoner.engines.sparql_match import wide

__all__ = ["certain", "make_plan", "possible"]

Pattern = Sequence[Any]
# what a plan's copy of a node leaves behind: answers, and the variables of the node's old children
_NOT_COPIED = frozenset({"name", "rows", "certain_vars", "possible_vars"})


def certain(node: Any) -> frozenset[Var]:
    """The variables every solution of ``node`` binds (kept on the node: a plan's nodes do not change)."""
    found = node.__dict__.get("certain_vars")
    if found is None:
        found = node.certain_vars = frozenset(_certain(node))
    return found  # type: ignore[no-any-return]


def possible(node: Any) -> frozenset[Var]:
    """The variables some solution of ``node`` may bind (kept on the node, as :func:`certain`)."""
    found = node.__dict__.get("possible_vars")
    if found is None:
        found = node.possible_vars = frozenset(_possible(node))
    return found  # type: ignore[no-any-return]


def _certain(node: Any) -> set[Var] | frozenset[Var]:
    name = node.name
    if name == "BGP":
        return {term for triple in node.triples for term in triple if isinstance(term, Var)}
    if name == "Join":
        return certain(node.p1) | certain(node.p2)
    if name == "JoinAll":
        return set().union(*(certain(part) for part in node.parts))
    if name == "LeftJoin":
        return certain(node.p1)
    if name == "Union":
        return certain(node.p1) & certain(node.p2)
    if name == "Project":
        return certain(node.p) & set(node.PV)
    if name in ("Filter", "Extend", "Distinct", "Reduced", "OrderBy", "Slice", "ToMultiSet"):
        return certain(node.p)
    return set()


def _possible(node: Any) -> set[Var] | frozenset[Var]:
    name = node.name
    if name == "BGP":
        return {term for triple in node.triples for term in triple if isinstance(term, Var)}
    if name in ("Join", "LeftJoin", "Union"):
        return possible(node.p1) | possible(node.p2)
    if name == "JoinAll":
        return set().union(*(possible(part) for part in node.parts))
    if name == "Project":
        return set(node.PV)
    if name == "Extend":
        return possible(node.p) | {node.var}
    if name == "AggregateJoin":
        return {aggregate.res for aggregate in node.A} | possible(node.p.p)
    if name in ("Filter", "Distinct", "Reduced", "OrderBy", "Slice", "ToMultiSet"):
        return possible(node.p)
    return set()


def _pattern_vars(pattern: Pattern) -> set[Var]:
    return {term for term in pattern if isinstance(term, Var)}


def _components(patterns: list[Pattern]) -> list[list[Pattern]]:
    """The patterns grouped into sets connected by shared variables."""
    groups: list[tuple[set[Var], list[Pattern]]] = []
    for pattern in patterns:
        names = _pattern_vars(pattern)
        joined = [group for group in groups if group[0] & names]
        merged_vars, merged = set(names), [pattern]
        for group in joined:
            merged_vars |= group[0]
            merged = group[1] + merged
            groups.remove(group)
        groups.append((merged_vars, merged))
    return [group[1] for group in groups]


class _Planner:
    def __init__(
        self, fixed_pattern: Callable[[Pattern], bool], zero_length: Callable[[Pattern], bool], apart: bool
    ) -> None:
        self.fixed_pattern = fixed_pattern  # no case triple can match it
        self.zero_length = zero_length  # a path that may take no step (matches any node with itself)
        self.apart = apart  # no subject of the case's triples is a term of the knowledge

    def plan(self, node: Any) -> Any:
        if not isinstance(node, Op):
            return node
        name = node.name
        if name == "BGP":
            return self._bgp(node)
        copy = Op(name, **{key: value for key, value in vars(node).items() if key not in _NOT_COPIED})
        for key in ("p", "p1", "p2"):
            child = getattr(node, key)
            if isinstance(child, Op):
                setattr(copy, key, self.plan(child))
        if name == "AggregateJoin":
            copy.p = Op("Group", expr=node.p.expr, p=self.plan(node.p.p))
        if name in ("Filter", "Extend") and copy.p.name == "Union":  # row by row: into each branch
            parts = {key: value for key, value in vars(copy).items() if key not in ("name", "p")}
            branches = [Op(name, p=branch, **parts) for branch in (copy.p.p1, copy.p.p2)]
            return Op("Union", p1=self._mark(branches[0]), p2=self._mark(branches[1]))
        return self._mark(copy)

    def _mark(self, copy: Op) -> Op:
        """Mark a node whose children are all fixed as fixed; apply the moves of OPTIONAL and FILTER."""
        name = copy.name
        children = [getattr(copy, key) for key in ("p", "p1", "p2") if isinstance(getattr(copy, key), Op)]
        if name == "AggregateJoin":
            children = [copy.p.p]
        if children and all(child.fixed for child in children) and self._expressions_fixed(copy):
            copy.fixed = True
            return copy
        if name == "Join":
            return self._join_all([*_join_parts(copy.p1), *_join_parts(copy.p2)])
        if name == "LeftJoin":
            return self._left_join(copy)
        if name == "Filter":
            return self._filter(copy)
        return copy

    def _expressions_fixed(self, node: Op) -> bool:
        """Whether every EXISTS in the node's expressions reads only the knowledge."""
        for key, value in vars(node).items():
            if key not in ("name", "p", "p1", "p2"):
                for pattern in _exists_patterns(value):
                    if not self.fixed_pattern(pattern) or self.zero_length(pattern):
                        return False
        return True

    def _bgp(self, node: Op) -> Op:
        triples = list(node.triples)
        fixed = [pattern for pattern in triples if self.fixed_pattern(pattern) and not self.zero_length(pattern)]
        fixed_vars = set().union(*(_pattern_vars(pattern) for pattern in fixed)) if fixed else set()
        for pattern in triples:  # a zero-length path is fixed where the knowledge binds one end
            s, _p, o = pattern
            if self.zero_length(pattern) and self.fixed_pattern(pattern):
                ends = {term for term in (s, o) if isinstance(term, Var)}
                if len(ends) < 2 or ends & fixed_vars:
                    fixed.append(pattern)
                    fixed_vars |= ends
        grown = self.apart
        while grown:  # a pattern whose subject only the knowledge binds cannot reach the case's triples
            grown = False
            for pattern in triples:
                if pattern not in fixed and pattern[0] in fixed_vars and _forward(pattern[1]):
                    fixed.append(pattern)
                    fixed_vars |= _pattern_vars(pattern)
                    grown = True
        case = [pattern for pattern in triples if pattern not in fixed]
        if not fixed:
            if len(case) == 1 and not self.zero_length(case[0]):
                # one pattern the case can match: what it matches in the knowledge is fixed
                return Op(
                    "Union",
                    p1=Op("BGP", triples=case, fixed=True),
                    p2=Op("BGP", triples=case, only_case=True),
                )
            return node
        parts = [Op("BGP", triples=component, fixed=True) for component in _components(fixed)]
        if not case and len(parts) == 1:
            return parts[0]
        if case:
            if len(case) == 1 and not self.zero_length(case[0]) and wide(case):
                # one wide pattern: what it matches in the knowledge joins the fixed parts once
                parts.insert(
                    0, Op("Union", p1=Op("BGP", triples=case, fixed=True), p2=Op("BGP", triples=case, only_case=True))
                )
            else:
                parts.insert(0, Op("BGP", triples=case))
        return self._join_all(parts)

    def _join_all(self, parts: list[Op]) -> Op:
        """A join of parts; one that is a union with a fixed branch is split branch by branch (a join
        distributes over a union), so that the fixed branch joins other fixed parts once."""
        for index, part in enumerate(parts):
            if part.name == "Union" and not part.fixed and (part.p1.fixed or part.p2.fixed):
                branches = [
                    self._join_all([*parts[:index], branch, *parts[index + 1 :]]) for branch in (part.p1, part.p2)
                ]
                return self._mark(Op("Union", p1=branches[0], p2=branches[1]))
        if all(part.fixed for part in parts):
            return Op("JoinAll", parts=parts, fixed=True)
        return Op("JoinAll", parts=parts)

    def _left_join(self, node: Op) -> Op:
        left, right = node.p1, node.p2
        if not right.fixed or left.name != "JoinAll":
            return node
        right_vars = possible(right)
        expr_vars = variables_of(node.expr) if node.expr is not None else set()
        if expr_vars is None:
            return node
        for index, part in enumerate(left.parts):
            if not part.fixed:
                continue
            others = set().union(*(possible(other) for i, other in enumerate(left.parts) if i != index))
            if right_vars & others <= certain(part) and expr_vars <= possible(part) | right_vars:
                parts = list(left.parts)
                parts[index] = Op("LeftJoin", p1=part, p2=right, expr=node.expr, fixed=True)
                return Op("JoinAll", parts=parts)
        return node

    def _filter(self, node: Op) -> Op:
        inner = node.p
        needs = variables_of(node.expr)
        if inner.name != "JoinAll" or needs is None:
            return node
        for index, part in enumerate(inner.parts):
            if part.fixed and needs <= certain(part):
                parts = list(inner.parts)
                parts[index] = Op("Filter", expr=node.expr, p=part, fixed=True)
                return Op("JoinAll", parts=parts)
        return node


def _join_parts(node: Op) -> list[Op]:
    return list(node.parts) if node.name == "JoinAll" else [node]


def _exists_patterns(value: Any) -> list[Pattern]:
    """The triple patterns of every EXISTS inside an expression (or list of them)."""
    if isinstance(value, list):
        return [pattern for item in value for pattern in _exists_patterns(item)]
    if not isinstance(value, Op):
        return []
    found = list(value.triples) if value.name == "BGP" else []
    for key, inner in vars(value).items():
        if key not in ("name", "triples"):
            found.extend(_exists_patterns(inner))
    return found


def _forward(predicate: Any) -> bool:
    """Whether every step of the predicate (or path) goes from subject to object."""
    if isinstance(predicate, InvPath):
        return False
    if isinstance(predicate, (SequencePath, AlternativePath)):
        return all(_forward(arg) for arg in predicate.args)
    if isinstance(predicate, MulPath):
        return _forward(predicate.path)
    return True


def make_plan(
    pattern: Op, fixed_pattern: Callable[[Pattern], bool], zero_length: Callable[[Pattern], bool], apart: bool
) -> Op:
    """``pattern`` rewritten with its knowledge-only parts marked ``fixed`` (a new tree).

    ``apart``: no subject of the case's triples is a term of the knowledge (as when the case's nodes
    are its own IRIs), so a pattern whose subject the knowledge binds reads only the knowledge."""
    return _Planner(fixed_pattern, zero_length, apart).plan(pattern)  # type: ignore[no-any-return]
