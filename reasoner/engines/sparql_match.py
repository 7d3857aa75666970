"""Matching triple patterns and property paths over a fixed knowledge graph plus one case, with
answers that depend only on the knowledge memoised on the knowledge's index.

Used by :mod:`reasoner.engines.sparql_compiled`; see there for why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress
from operator import attrgetter, itemgetter
from typing import Any

from rdflib import URIRef
from rdflib.namespace import RDF
from rdflib.paths import Path
from rdflib.term import Node

from reasoner.engines.sparql_expressions import Var
from reasoner.engines.sparql_paths import UnsupportedQuery, check_path, has_zero_length, path_predicates, path_step
from reasoner.terms import IS_LITERAL, Triple

__all__ = [
    "Dataset",
    "Solution",
    "TripleIndex",
    "UnsupportedQuery",
    "bgp",
    "bgp_each",
    "buckets",
    "check_path",
    "compatible",
    "estimate",
    "join",
    "key_getter",
    "shared_variables",
    "wide",
    "zero_length",
]

Solution = dict[Var, Node]
Row = tuple[Node | None, ...]


class TripleIndex:
    """A set of triples indexed by subject, predicate and object."""

    __slots__ = ("_osp", "_sizes", "canon", "pos", "spo", "triples")

    def __init__(self, triples: Iterable[Triple], knowledge: TripleIndex | None = None) -> None:
        """Index ``triples``; for a case, leave out those ``knowledge`` holds, and use the knowledge's
        own term objects (equal terms that are also identical compare fastest)."""
        spo: dict[Node, dict[Node, set[Node]]] = {}
        pos: dict[Node, dict[Node, set[Node]]] = {}
        kept = triples if isinstance(triples, (set, frozenset)) else set(triples)
        if knowledge is not None:
            kept = kept - knowledge.triples  # in C, with the hashes the set already holds
        if any(IS_LITERAL[s.__class__] for s, _p, _o in kept):  # a literal subject is not data
            kept = {triple for triple in kept if not IS_LITERAL[triple[0].__class__]}
        if knowledge is None:
            for s, p, o in kept:
                spo.setdefault(s, {}).setdefault(p, set()).add(o)
                pos.setdefault(p, {}).setdefault(o, set()).add(s)
        else:  # one object per term: the knowledge's, or the first seen here
            canon = knowledge.canon
            local: dict[Node, Node] = {}
            for s, p, o in kept:
                s = canon.get(s) or local.setdefault(s, s)
                p = canon.get(p) or local.setdefault(p, p)
                o = canon.get(o) or local.setdefault(o, o)
                spo.setdefault(s, {}).setdefault(p, set()).add(o)
                pos.setdefault(p, {}).setdefault(o, set()).add(s)
        self.spo, self.pos = spo, pos
        self._osp: dict[Node, dict[Node, set[Node]]] | None = None
        self._sizes: dict[Node, int] = {}
        self.triples: frozenset[Triple] = frozenset(kept)  # as given (the indexes hold canonical terms)
        self.canon: dict[Node, Node] = {} if knowledge is not None else {term: term for term in (*spo, *pos, *self.osp)}

    @property
    def osp(self) -> dict[Node, dict[Node, set[Node]]]:
        """The object index (object -> subject -> predicates), built on first use: matching a case
        rarely starts from an object alone."""
        osp = self._osp
        if osp is None:
            osp = self._osp = {}
            for s, by_p in self.spo.items():
                for p, objects in by_p.items():
                    for o in objects:
                        osp.setdefault(o, {}).setdefault(s, set()).add(p)
        return osp

    def __getstate__(self) -> tuple[Any, ...]:
        # The indexes themselves: reading them back is faster than indexing the triples again.
        return (self.spo, self.pos, self.osp, self.triples, bool(self.canon))

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.spo, self.pos, self._osp, self.triples, canonical = state
        self._sizes = {}
        self.canon = {term: term for term in (*self.spo, *self.pos, *self.osp)} if canonical else {}

    def count(self, s: Node | None, p: Node, o: Node | None) -> int:
        """How many triples match a pattern with a known predicate (None: any term); the count for a
        predicate alone is kept (the knowledge's index lasts)."""
        if s is not None:
            objects = self.spo.get(s, {}).get(p, ())
            return len(objects) if o is None else int(o in objects)
        by_o = self.pos.get(p)
        if not by_o:
            return 0
        if o is not None:
            return len(by_o.get(o, ()))
        size = self._sizes.get(p)
        if size is None:
            size = self._sizes[p] = sum(map(len, by_o.values()))
        return size

    def match(self, s: Node | None, p: Node | None, o: Node | None) -> Iterator[Triple]:
        """The triples matching a pattern (None: any term)."""
        if s is not None:
            yield from self._by_subject(s, p, o)
        elif p is not None:
            by_o = self.pos.get(p)
            if not by_o:
                return
            if o is not None:
                for subj in by_o.get(o, ()):
                    yield (subj, p, o)
                return
            for obj, subjects in by_o.items():
                for subj in subjects:
                    yield (subj, p, obj)
        elif o is not None:
            for subj, preds in self.osp.get(o, {}).items():
                for pred in preds:
                    yield (subj, pred, o)
        else:
            yield from self.triples

    def _by_subject(self, s: Node, p: Node | None, o: Node | None) -> Iterator[Triple]:
        by_p = self.spo.get(s)
        if not by_p:
            return
        if p is not None:
            objects = by_p.get(p, ())
            if o is None:
                for obj in objects:
                    yield (s, p, obj)
            elif o in objects:
                yield (s, p, o)
            return
        for pred, found in by_p.items():
            if o is None:
                for obj in found:
                    yield (s, pred, obj)
            elif o in found:
                yield (s, pred, o)


MEMO_LIMIT = 100_000  # memoised answers kept per EXISTS pattern or expression (cases' values vary)


class Table(list):  # type: ignore[type-arg]
    """Rows with what is known about them: the variables every row binds, and (for a memoised
    answer, rows that depend only on the knowledge) the hash-join buckets built over them. Basic
    graph patterns and joins return tables too, since they know their bound variables for free."""

    __slots__ = ("bound", "buckets")

    def __init__(self, rows: Iterable[Solution] = ()) -> None:
        super().__init__(rows)
        self.buckets: dict[tuple[Var, ...], dict[Any, list[Solution]]] | None = None
        self.bound: set[Var] | None = None  # the variables every row binds, once computed


class Dataset:
    """The union of the knowledge and one case (disjoint: the case index excludes knowledge triples)."""

    __slots__ = ("_fixed", "apart", "case", "case_types", "knowledge", "parts")

    def __init__(self, knowledge: TripleIndex, case: TripleIndex | None) -> None:
        self.knowledge = knowledge
        self.case = case
        self.parts = (knowledge,) if case is None else (knowledge, case)
        self.case_types = case.pos.get(RDF.type, {}) if case is not None else {}
        # whether no subject of the case's triples is a term of the knowledge
        self.apart = case is not None and not any(s in knowledge.spo or s in knowledge.osp for s in case.spo)
        self._fixed: dict[int, tuple[tuple[Any, ...], bool]] = {}

    def case_only(self) -> Dataset:
        """The case's triples alone (an empty index if there is no case)."""
        only = Dataset(self.case or _EMPTY, None)
        return only

    def knowledge_only(self, pattern: Sequence[Any]) -> bool:
        """Whether no case triple can match a step of ``pattern`` (a zero-length path step still
        matches every node: see :func:`zero_length`)."""
        case = self.case
        if case is None:
            return True
        reads = _reads(pattern)
        if reads is None:
            return False
        for predicate, type_object in reads:
            if type_object is not None:
                if type_object in self.case_types:
                    return False
            elif predicate in case.pos:
                return False
        return True

    def fixed(self, patterns: tuple[Any, ...] | None) -> bool:
        """Whether every one of ``patterns`` reads the knowledge alone (:meth:`knowledge_only`) and
        none is a zero-length path; remembered per tuple of patterns (the patterns of a query's
        plan node, asked about once per solution)."""
        if patterns is None:
            return False
        known = self._fixed.get(id(patterns))
        if known is None or known[0] is not patterns:  # the id of a tuple that has gone may be reused
            known = self._fixed[id(patterns)] = (
                patterns,
                all(self.knowledge_only(pattern) and not zero_length(pattern) for pattern in patterns),
            )
        return known[1]

    def match(self, s: Node | None, p: Node | None, o: Node | None) -> Iterator[Triple]:
        for part in self.parts:
            yield from part.match(s, p, o)

    def nodes(self) -> set[Node]:
        found: set[Node] = set()
        for part in self.parts:
            found.update(part.spo)
            found.update(part.osp)
        return found


_READS: dict[tuple[Any, ...], tuple[tuple[Node, Node | None], ...] | None] = {}


def _reads(pattern: Sequence[Any]) -> tuple[tuple[Node, Node | None], ...] | None:
    """The (predicate, rdf:type object or None) pairs a triple pattern can match; None if any triple."""
    key = tuple(pattern)
    if key not in _READS:
        _READS[key] = _pattern_reads(pattern)
    return _READS[key]


def _pattern_reads(pattern: Sequence[Any]) -> tuple[tuple[Node, Node | None], ...] | None:
    _s, p, o = pattern
    if isinstance(p, URIRef):
        return ((p, o if p == RDF.type and not isinstance(o, Var) else None),)
    if isinstance(p, Path):
        return tuple((predicate, None) for predicate in path_predicates(p))
    return None


def _is_path(term: Any) -> bool:
    """Whether a pattern's predicate is a property path. ``Path`` is an abstract base class, whose
    isinstance test runs in Python: an IRI or a variable, the usual predicates, is answered first."""
    cls = term.__class__
    return cls is not URIRef and cls is not Var and isinstance(term, Path)


def zero_length(pattern: Sequence[Any]) -> bool:
    """Whether the pattern is a path that may take no step (then it matches any node with itself)."""
    return _is_path(pattern[1]) and has_zero_length(pattern[1])


# ------------------------------------------------------------------ basic graph patterns


def _pattern_cost(pattern: Sequence[Any], bound: set[Var]) -> int:
    s, p, o = pattern
    s_bound = not isinstance(s, Var) or s in bound
    o_bound = not isinstance(o, Var) or o in bound
    if _is_path(p):
        return 1 if s_bound or o_bound else 6
    p_bound = not isinstance(p, Var) or p in bound
    return (0 if s_bound else 2) + (0 if o_bound else 1) + (0 if p_bound else 2)


def estimate(data: Dataset, patterns: Sequence[Sequence[Any]]) -> float:
    """How many rows the most selective of ``patterns`` matches alone, with nothing bound: exact for
    a known predicate, unbounded for a property path or an open predicate."""
    return min(_pattern_estimate(data, pattern) for pattern in patterns)


def _pattern_estimate(data: Dataset, pattern: Sequence[Any]) -> float:
    s, p, o = pattern
    if p.__class__ is Var or _is_path(p):
        return math.inf
    subject = None if s.__class__ is Var else s
    value = None if o.__class__ is Var else o
    return sum(part.count(subject, p, value) for part in data.parts)


def wide(patterns: Sequence[Sequence[Any]]) -> bool:
    """Whether even the most selective pattern leaves its predicate and one end open (``?s ?p ?o``)."""
    return min(_pattern_cost(pattern, set()) for pattern in patterns) >= 4


_ORDERS: dict[tuple[int, frozenset[Var]], tuple[Sequence[Sequence[Any]], list[Sequence[Any]]]] = {}


def _order_patterns(patterns: Sequence[Sequence[Any]], bound: set[Var]) -> list[Sequence[Any]]:
    """The patterns in evaluation order, cached per pattern list and bound variables."""
    key = (id(patterns), frozenset(bound))
    entry = _ORDERS.get(key)
    if entry is None or entry[0] is not patterns:  # the id of a list that has gone may be reused
        if len(_ORDERS) > 4096:
            _ORDERS.clear()
        entry = _ORDERS[key] = (patterns, _plan_order(patterns, bound))
    return entry[1]


def _plan_order(patterns: Sequence[Sequence[Any]], bound: set[Var]) -> list[Sequence[Any]]:
    remaining = list(patterns)
    ordered = []
    bound = set(bound)
    while remaining:
        best = min(remaining, key=lambda pattern: _pattern_cost(pattern, bound))
        remaining.remove(best)
        ordered.append(best)
        bound.update(term for term in best if isinstance(term, Var))
    return ordered


def _extend(solution: Solution, pairs: Iterable[tuple[Any, Node]]) -> Solution | None:
    """``solution`` with each variable of ``pairs`` bound (None if a binding disagrees)."""
    extended = solution
    for term, value in pairs:
        if isinstance(term, Var):
            known = extended.get(term)
            if known is None:
                if extended is solution:
                    extended = dict(solution)
                extended[term] = value
            elif known is not value and known != value:
                return None
    return extended


def _match_pattern(data: Dataset, pattern: Sequence[Any], solution: Solution) -> list[Solution]:
    s_term, p_term, o_term = pattern
    s = solution.get(s_term) if s_term.__class__ is Var else s_term
    o = solution.get(o_term) if o_term.__class__ is Var else o_term
    if _is_path(p_term):
        return list(_match_path(data, s_term, p_term, o_term, s, o, solution))
    p = solution.get(p_term) if p_term.__class__ is Var else p_term
    if p is not None:
        if s is not None or o is not None:
            return _match_fixed_predicate(data, s_term, o_term, s, p, o, solution)
        if s_term is not o_term:  # ?s p ?o: two open variables (open, so not p's variable either)
            return _match_nested(data, _BY_PREDICATE, p, o_term, s_term, solution)
    elif s is not None and o is None and p_term is not o_term:  # s ?p ?o
        return _match_nested(data, _BY_SUBJECT, s, p_term, o_term, solution)
    found = []
    for ts, tp, to in data.match(s, p, o):
        extended = _extend(solution, ((s_term, ts), (p_term, tp), (o_term, to)))
        if extended is not None:
            found.append(extended)
    return found


def _match_fixed_predicate(
    data: Dataset, s_term: Any, o_term: Any, s: Node | None, p: Node, o: Node | None, solution: Solution
) -> list[Solution]:
    """The common shapes, straight from the indexes: a known predicate and subject or object. The
    one end left open is a variable that the other positions do not repeat (else it would be bound)."""
    found = []
    for part in data.parts:
        if s is not None:
            by_p = part.spo.get(s)
            objects = by_p.get(p) if by_p is not None else None
            if not objects:
                continue
            if o is not None:
                if o in objects:
                    found.append(solution)
                continue
            for value in objects:
                row = solution.copy()
                row[o_term] = value
                found.append(row)
        else:
            by_o = part.pos.get(p)
            subjects = by_o.get(o) if by_o is not None and o is not None else None
            if not subjects:
                continue
            for value in subjects:
                row = solution.copy()
                row[s_term] = value
                found.append(row)
    return found


_BY_PREDICATE = attrgetter("pos")  # ?s p ?o: predicate -> object -> subjects
_BY_SUBJECT = attrgetter("spo")  # s ?p ?o: subject -> predicate -> objects


def _match_nested(
    data: Dataset,
    index: Callable[[TripleIndex], dict[Node, dict[Node, set[Node]]]],
    key: Node,
    outer: Any,
    inner: Any,
    solution: Solution,
) -> list[Solution]:
    """Index-straight matching of ``?s p ?o`` and ``s ?p ?o``: one row per entry under ``key`` of each
    part's ``index``, its second term bound to ``outer``, its third to ``inner`` (two different open
    variables)."""
    found = []
    for part in data.parts:
        nested = index(part).get(key)
        if not nested:
            continue
        for outer_value, inner_values in nested.items():
            for inner_value in inner_values:
                row = solution.copy()
                row[outer] = outer_value
                row[inner] = inner_value
                found.append(row)
    return found


def _match_path(
    data: Dataset, s_term: Any, path: Path, o_term: Any, s: Node | None, o: Node | None, solution: Solution
) -> Iterator[Solution]:
    if s is not None:
        for reached in path_step(data, s, path, True):
            if o is None or reached == o:
                extended = _extend(solution, ((o_term, reached),))
                if extended is not None:
                    yield extended
        return
    if o is not None:
        for reached in path_step(data, o, path, False):
            extended = _extend(solution, ((s_term, reached),))
            if extended is not None:
                yield extended
        return
    for start in data.nodes():
        for reached in path_step(data, start, path, True):
            extended = _extend(solution, ((s_term, start), (o_term, reached)))
            if extended is not None:
                yield extended


def bgp(data: Dataset, patterns: Sequence[Sequence[Any]], seed: Solution) -> list[Solution]:
    """The solutions of a basic graph pattern (index nested loops, most bound pattern first)."""
    return _nested_loop(data, patterns, [seed])


def bgp_each(data: Dataset, patterns: Sequence[Sequence[Any]], rows: list[Solution]) -> list[Solution]:
    """The solutions of a basic graph pattern joined with ``rows``: each row extended by each way the
    patterns match with its bindings, in one pass (the rows need not all bind the same variables)."""
    if not rows:
        return []
    solutions = rows
    for pattern in _order_patterns(patterns, _always_bound(rows)):
        solutions = [found for solution in solutions for found in _match_pattern(data, pattern, solution)]
        if not solutions:
            break
    return solutions


def buckets(rows: list[Solution], key: list[Var]) -> dict[Any, list[Solution]]:
    """``rows`` grouped by :func:`key_getter` of ``key`` (rows missing one are left out); kept with the
    rows when they are a memoised :class:`Table`."""
    kept = rows.buckets if isinstance(rows, Table) else None
    if kept is not None and tuple(key) in kept:
        return kept[tuple(key)]
    grouped: dict[Any, list[Solution]] = {}
    value_of = key_getter(key)
    for row in rows:
        try:
            grouped.setdefault(value_of(row), []).append(row)
        except KeyError:
            continue
    if isinstance(rows, Table):
        rows.buckets = {**(kept or {}), tuple(key): grouped}
    return grouped


def key_getter(key: list[Var]) -> Callable[[Solution], Any]:
    """A row's value of a non-empty join key: the value itself for one variable, else a tuple."""
    return itemgetter(*key)


def _nested_loop(data: Dataset, patterns: Sequence[Sequence[Any]], solutions: list[Solution]) -> list[Solution]:
    bound = set(solutions[0]) if solutions else set()
    for pattern in _order_patterns(patterns, bound):
        solutions = [found for solution in solutions for found in _match_pattern(data, pattern, solution)]
        if not solutions:
            return solutions
    return _rows(solutions, set(solutions[0]) if solutions else set())  # every row binds the same variables


def _rows(rows: list[Solution], bound: set[Var]) -> Table:
    """``rows`` as a table that knows the variables every row binds (so a join need not look)."""
    table = Table(rows)
    table.bound = bound
    return table


# ------------------------------------------------------------------ the algebra


def compatible(left: Solution, right: Solution) -> Solution | None:
    if len(right) < len(left):
        left, right = right, left
    for var, value in left.items():
        other = right.get(var)
        if other is not None and other is not value and other != value:
            return None
    merged = dict(right)
    merged.update(left)
    return merged


def shared_variables(left: list[Solution], right: list[Solution]) -> list[Var]:
    """The variables bound in every row of both sides (the hash key of a join)."""
    if not left or not right:
        return []
    return sorted(_always_bound(left) & _always_bound(right))


def _always_bound(rows: list[Solution]) -> set[Var]:
    """The variables every row binds (kept with a memoised :class:`Table`)."""
    if isinstance(rows, Table) and rows.bound is not None:
        return rows.bound
    common = set(rows[0]).intersection(*rows)
    if isinstance(rows, Table):
        rows.bound = common
    return common


def join(left: list[Solution], right: list[Solution]) -> list[Solution]:
    """The SPARQL join of two answers (hash join on the variables both always bind)."""
    if not left or not right:
        return []
    left_bound, right_bound = _always_bound(left), _always_bound(right)
    key = sorted(left_bound & right_bound)
    if not key:
        return [merged for a in left for b in right if (merged := compatible(a, b)) is not None]
    grouped = buckets(right, key)
    value_of = key_getter(key)
    joined = []
    width = len(key)
    # The rows with a partner found in C (most rows of a case part find none), then joined.
    for row in compress(left, map(grouped.__contains__, map(value_of, left))):
        for other in grouped[value_of(row)]:
            merged = {**other, **row}
            # Rows agree on the key; when they share no other variable there is nothing to check.
            if len(merged) == len(row) + len(other) - width or compatible(row, other) is not None:
                joined.append(merged)
    return _rows(joined, left_bound | right_bound)  # a joined row binds what both of its rows bind


_EMPTY = TripleIndex(())
