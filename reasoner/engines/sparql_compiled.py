"""A small SPARQL evaluator for one case against a fixed knowledge graph, in plain Python.

The report and derive queries of ``queries/`` are parsed once (rdflib's algebra) and checked
against the subset this module evaluates; a query outside it raises :class:`UnsupportedQuery`
when compiled, and its caller runs it with a general engine instead (as the compiled OWL RL
rules fall back to owlrl). Evaluation follows SPARQL 1.1's bottom-up semantics over the union of
two triple sets: the knowledge, indexed once, and the case's closure, indexed per call.

What makes it fast is partial evaluation against the fixed knowledge: every part of a query that no
triple of *this* case can match (decided per case from the predicates and classes the case holds)
is answered once per knowledge and memoised on the knowledge's index, together with its hash-join
buckets. Per case only the parts that touch the case run, on a few hundred triples. The pipeline
equivalence tests compare whole results with rdflib over a full OWL RL closure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from reasoner.engines.sparql_expressions import (
    ExprError,
    Op,
    Var,
    as_term,
    ebv,
    numeric,
    order_key,
    to_ops,
)
from reasoner.engines.sparql_functions import expression_value
from reasoner.engines.sparql_match import (
    MEMO_LIMIT,
    Dataset,
    Solution,
    Table,
    TripleIndex,
    UnsupportedQuery,
    bgp,
    bgp_each,
    buckets,
    compatible,
    estimate,
    join,
    key_getter,
    shared_variables,
    wide,
    zero_length,
)
from reasoner.engines.sparql_plan import certain, make_plan, possible
from reasoner.engines.sparql_prepare import (
    check_part,
    get,
    intern,
    patterns_of,
    push_filters,
    structure,
    translate_exists,
)
from reasoner.terms import Triple

if TYPE_CHECKING:
    from rdflib.plugins.sparql.sparql import Query

__all__ = ["CompiledQuery", "Dataset", "QuerySet", "TripleIndex", "UnsupportedQuery", "compile_query"]

Row = tuple[Node | None, ...]


class _Evaluator:
    """Evaluates one compiled query's algebra over one dataset.

    Answers that depend only on the knowledge are kept on the nodes of the query's plan (``rows``
    of a fixed node, ``answers`` of an EXISTS pattern, ``values`` of an expression with one), so
    they last as long as the compiled query, which belongs to one knowledge, and are saved with it."""

    __slots__ = ("answers", "data", "tables", "values")

    def __init__(self, data: Dataset, tables: dict[Any, Table]) -> None:
        self.data = data
        self.tables = tables  # the query's memoised fixed parts, by their structure
        self.answers: dict[int, dict[tuple[Node | None, ...], bool]] = {}  # EXISTS answers of this run
        self.values: dict[int, dict[tuple[Node | None, ...], tuple[bool, Any]]] = {}  # and values

    def exists(self, pattern: Any, solution: Mapping[Var, Node], negated: bool) -> bool:
        """EXISTS (or NOT EXISTS) of ``pattern`` with ``solution`` substituted, memoised by the values
        of the pattern's variables: on the pattern while it reads only the knowledge and the values
        are terms of the knowledge (the answers the planned cases share), otherwise for this run
        (this dataset) only."""
        names = pattern.exists_vars
        if names is None:
            return bool(self.part(pattern, dict(solution))) != negated
        key = tuple(solution.get(name) for name in names)
        lasting = self.data.case is not None and self.data.fixed(pattern.reads) and self._case_free(key)
        answers = _memo(pattern, "answers", self.answers, lasting)
        found = answers.get(key)
        if found is None:
            found = bool(self.part(pattern, {name: solution[name] for name in names if name in solution}))
            if not lasting or len(answers) < MEMO_LIMIT:
                answers[key] = found
        return not found if negated else found

    def _case_free(self, key: tuple[Node | None, ...]) -> bool:
        """Whether a memo key holds no node of a case's own (only terms of the knowledge, and
        literals, which cases share): an answer keyed by a case's IRI or blank node would serve that
        case alone, and kept on the query it would grow with every case."""
        canon = self.data.knowledge.canon
        return all(value is None or value.__class__ is Literal or value in canon for value in key)

    def test(self, expr: Any, solution: Solution) -> bool:
        try:
            return ebv(self._value(expr, solution))
        except ExprError:
            return False

    def part(self, node: Op, seed: Solution) -> list[Solution]:
        """The solutions of an algebra node; ``seed`` pre-binds variables (substitution, for EXISTS).

        A ``fixed`` node (see :mod:`reasoner.engines.sparql_plan`) is answered from the knowledge
        alone, once. Returned lists may be memoised answers: callers never change them."""
        if node.fixed and not seed and self.data.case is not None:
            rows = node.rows
            if rows is None:
                key = structure(node)  # plans for other cases share the same fixed parts
                rows = self.tables.get(key)
                if rows is None:
                    rows = self.tables[key] = Table(_Evaluator(Dataset(self.data.knowledge, None), {}).part(node, {}))
                node.rows = rows
            return rows  # type: ignore[no-any-return]
        return getattr(self, "_" + node.name)(node, seed)  # type: ignore[no-any-return]

    def _JoinAll(self, node: Op, seed: Solution) -> list[Solution]:
        """Several parts joined: the case's part first, then each part sharing most with what is
        bound. A case part that fixes nothing (``?s ?p ?o``), or that alone matches more rows than a
        knowledge table it shares a variable with has, is matched from each row of that table
        instead of alone (:meth:`_seed_table`)."""
        pending = list(node.parts)
        first = next((part for part in pending if not part.fixed), pending[0])
        pending.remove(first)
        table = self._seed_table(first, pending, seed)
        if table is not None:
            pending.remove(table)
            data = self.data.case_only() if first.only_case else self.data
            rows = bgp_each(data, first.triples, self.part(table, seed))
            bound = possible(first) | possible(table)
        else:
            rows = self.part(first, seed)
            bound = possible(first)
        while pending and rows:
            best = max(pending, key=lambda part: _shared(part, bound))
            pending.remove(best)
            rows = self._join_with(rows, best, seed)
            bound |= possible(best)
        return rows if not pending else []

    def _seed_table(self, first: Op, pending: list[Op], seed: Solution) -> Op | None:
        """A fixed part to match the case's part from, row by row, instead of matching it alone: when
        the case's part fixes nothing (``?s ?p ?o``), or matches more rows alone than the fixed part
        (memoised) has (``?case a ?class`` beside the few classes an advice names)."""
        if first.name != "BGP" or first.fixed:
            return None
        table = next((part for part in pending if part.fixed and certain(part) & possible(first)), None)
        if table is None:
            return None
        if not first.only_case and wide(first.triples):
            return table
        if seed:  # a substituted EXISTS: the fixed part is not memoised, so not worth evaluating twice
            return None
        data = self.data.case_only() if first.only_case else self.data
        return table if len(self.part(table, seed)) < estimate(data, first.triples) else None

    def _join_with(self, rows: list[Solution], part: Op, seed: Solution) -> list[Solution]:
        """``rows`` joined with a part; a union branch by branch, so a fixed branch joins by its
        memoised buckets."""
        if part.name == "Union":
            return [*self._join_with(rows, part.p1, seed), *self._join_with(rows, part.p2, seed)]
        return join(rows, self.part(part, seed))

    def _BGP(self, node: Op, seed: Solution) -> list[Solution]:
        if node.only_case:  # the knowledge's matches are a fixed branch beside this one
            return bgp(self.data.case_only(), node.triples, seed)
        return bgp(self.data, node.triples, seed)

    def _Join(self, node: Op, seed: Solution) -> list[Solution]:
        return join(self.part(node.p1, seed), self.part(node.p2, seed))

    def _LeftJoin(self, node: Op, seed: Solution) -> list[Solution]:
        left = self.part(node.p1, seed)
        if not left:
            return []
        right = self.part(node.p2, seed)
        key = shared_variables(left, right)
        grouped = buckets(right, key) if key else {(): right}
        value_of = key_getter(key) if key else lambda _row: ()
        always = node.expr is None or node.expr.name == "TrueFilter"
        kept = []
        for row in left:
            matched = False
            for other in grouped.get(value_of(row), ()):
                merged = compatible(row, other)
                if merged is not None and (always or self.test(node.expr, merged)):
                    kept.append(merged)
                    matched = True
            if not matched:
                kept.append(row)
        return kept

    def _Union(self, node: Op, seed: Solution) -> list[Solution]:
        return [*self.part(node.p1, seed), *self.part(node.p2, seed)]

    def _Filter(self, node: Op, seed: Solution) -> list[Solution]:
        return [row for row in self.part(node.p, seed) if self.test(node.expr, row)]

    def _value(self, expr: Any, row: Solution) -> Any:
        """The value of ``expr`` for ``row``; an expression with a knowledge-only EXISTS is memoised
        by the values of its variables (it depends on nothing else), where they are all terms of the
        knowledge."""
        names = expr.memo_vars if isinstance(expr, Op) else None
        if names is None or self.data.case is None or not self.data.fixed(expr.exists_patterns):
            return expression_value(expr, row, self.exists)
        key = tuple(row.get(name) for name in names)
        values = _memo(expr, "values", self.values, self._case_free(key))
        known = values.get(key)
        if known is None:
            try:
                known = (True, expression_value(expr, row, self.exists))
            except ExprError as exc:
                known = (False, exc)
            if len(values) < MEMO_LIMIT:
                values[key] = known
        ok, value = known
        if not ok:
            raise value
        return value

    def _Extend(self, node: Op, seed: Solution) -> list[Solution]:
        rows = []
        for row in self.part(node.p, seed):
            try:
                value = as_term(self._value(node.expr, row))
            except ExprError:
                rows.append(row)
                continue
            known = row.get(node.var)
            if known is not None:
                if known == value:
                    rows.append(row)
                continue
            extended = dict(row)
            extended[node.var] = value
            rows.append(extended)
        return rows

    def _Project(self, node: Op, seed: Solution) -> list[Solution]:
        names = node.PV
        return [{var: row[var] for var in names if var in row} for row in self.part(node.p, seed)]

    def _Distinct(self, node: Op, seed: Solution) -> list[Solution]:
        seen: dict[frozenset[tuple[Var, Node]], Solution] = {}
        for row in self.part(node.p, seed):
            seen.setdefault(frozenset(row.items()), row)
        return list(seen.values())

    def _Reduced(self, node: Op, seed: Solution) -> list[Solution]:
        return self._Distinct(node, seed)

    def _OrderBy(self, node: Op, seed: Solution) -> list[Solution]:
        rows = list(self.part(node.p, seed))
        for condition in reversed(node.expr):
            if isinstance(condition, Op) and condition.name == "OrderCondition":
                expr, descending = condition.expr, condition.order == "DESC"
            else:
                expr, descending = condition, False
            rows.sort(key=self._sort_key(expr), reverse=descending)
        return rows

    def _sort_key(self, expr: Any) -> Callable[[Solution], tuple[Any, ...]]:
        if expr.__class__ is Var:  # the common case: a variable's value, unbound first
            return lambda row: order_key(row.get(expr))
        return lambda row: self._sort_value(expr, row)

    def _sort_value(self, expr: Any, row: Solution) -> tuple[Any, ...]:
        try:
            value: Node | None = as_term(expression_value(expr, row, self.exists))
        except ExprError:
            value = None
        return order_key(value)

    def _Slice(self, node: Op, seed: Solution) -> list[Solution]:
        rows = self.part(node.p, seed)
        start = node.start or 0
        return rows[start:] if node.length is None else rows[start : start + node.length]

    def _ToMultiSet(self, node: Op, seed: Solution) -> list[Solution]:
        return self.part(node.p, {})  # a subquery sees nothing of the outside

    def _AggregateJoin(self, node: Op, seed: Solution) -> list[Solution]:
        group = node.p
        rows = self.part(group.p, seed)
        keys = group.expr or []
        groups: dict[tuple[Any, ...], list[Solution]] = {}
        for row in rows:
            groups.setdefault(tuple(self._group_value(key, row) for key in keys), []).append(row)
        if not groups and not keys:
            groups[()] = []
        results = []
        for members in groups.values():
            result: Solution = {}
            for aggregate in node.A:
                value = _aggregate(aggregate, members, self)
                if value is not None:
                    result[aggregate.res] = value
            results.append(result)
        return results

    def _group_value(self, key: Any, row: Solution) -> Node | None:
        try:
            return as_term(expression_value(key, row, self.exists))
        except ExprError:
            return None


def _memo(node: Op, attribute: str, run: dict[int, dict[Any, Any]], lasting: bool) -> dict[Any, Any]:
    """Where a node's memoised answers go: its own ``attribute`` (kept with the compiled query) if
    ``lasting``, else this run's memo for it."""
    if not lasting:
        return run.setdefault(id(node), {})
    memo: dict[Any, Any] | None = getattr(node, attribute)
    if memo is None:
        memo = {}
        setattr(node, attribute, memo)
    return memo


def _shared(part: Op, bound: frozenset[Var]) -> int:
    """How many bound variables a part joins on (a union: its worst branch)."""
    if part.name == "Union":
        return min(_shared(part.p1, bound), _shared(part.p2, bound))
    return len(certain(part) & bound)


def _aggregate(aggregate: Op, members: list[Solution], evaluator: _Evaluator) -> Node | None:
    """One aggregate over a group (None: unbound, as after an error)."""
    name = aggregate.name
    values: list[Any] = []
    for row in members:
        if aggregate.vars == "*":
            values.append(frozenset(row.items()))
            continue
        try:
            values.append(as_term(expression_value(aggregate.vars, row, evaluator.exists)))
        except ExprError:
            if name != "Aggregate_Count":
                return None
    if aggregate.distinct:
        values = list(dict.fromkeys(values))
    if name == "Aggregate_Count":
        return Literal(len(values))
    if name == "Aggregate_Sample":
        return values[0] if values else None
    if name == "Aggregate_Sum":
        try:
            total: Any = 0
            for value in values:
                number = numeric(value)
                total = float(total) + float(number) if isinstance(number, float) else total + number
        except ExprError:
            return None
        return as_term(total)
    if not values:
        return None
    pick = min if name == "Aggregate_Min" else max
    return pick(values, key=order_key)  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False)
class CompiledQuery:
    """A SELECT or CONSTRUCT query ready to run against a knowledge index and one case."""

    kind: str  # "SelectQuery" or "ConstructQuery"
    pattern: Op
    variables: tuple[Var, ...]
    template: tuple[Triple, ...]
    plans: dict[tuple[bool, ...], Op] = field(default_factory=dict)
    tables: dict[Any, Table] = field(default_factory=dict)

    def intern(self, canon: Mapping[Node, Node]) -> None:
        """Use the knowledge's own objects for the query's constants (fewer slow comparisons)."""
        intern(self.pattern, canon)
        self.plans.clear()

    def solutions(self, data: Dataset) -> list[Solution]:
        return _Evaluator(data, self.tables).part(self.plan(data), {})

    def plan(self, data: Dataset) -> Op:
        """The query rewritten for this case's signature: which of its patterns it can match."""
        if data.case is None:
            return self.pattern
        every = self.pattern.reads or ()
        signature = (data.apart, *(data.knowledge_only(pattern) for pattern in every))
        plan = self.plans.get(signature)
        if plan is None:
            plan = self.plans[signature] = make_plan(self.pattern, data.knowledge_only, zero_length, data.apart)
        return plan

    def select(self, data: Dataset) -> list[Row]:
        """The solutions, as rows in the order of the projected variables."""
        plan = self.plan(data)
        distinct = plan.name == "Distinct"
        project = plan.p if distinct else plan
        if project.name != "Project" or tuple(project.PV) != self.variables:
            return [tuple(map(row.get, self.variables)) for row in self.solutions(data)]
        # SELECT [DISTINCT] at the top: the rows straight from the projected part, as tuples (no
        # projected dictionaries), the first of equal rows kept, as DISTINCT over those would.
        variables = self.variables
        rows: list[Row] = []
        seen: set[Row] = set()
        for row in _Evaluator(data, self.tables).part(project.p, {}):
            values = tuple(map(row.get, variables))
            if distinct:
                if values in seen:
                    continue
                seen.add(values)
            rows.append(values)
        return rows

    def construct(self, data: Dataset) -> set[Triple]:
        """The triples the CONSTRUCT template builds (templates with blank nodes are not compiled)."""
        built: set[Triple] = set()
        for row in self.solutions(data):
            for pattern in self.template:
                s, p, o = (row.get(term) if isinstance(term, Var) else term for term in pattern)
                if s is None or o is None or isinstance(s, Literal) or not isinstance(p, URIRef):
                    continue
                built.add((s, p, o))
        return built


def compile_query(query: str | Query) -> CompiledQuery:
    """Check and prepare a query, given as text or as parsed by rdflib (``prepareQuery``, which is
    not changed: rdflib can still run it); UnsupportedQuery if it cannot be evaluated here."""
    if isinstance(query, str):
        from rdflib.plugins.sparql import prepareQuery  # slow to import: only compiling a text needs it

        query = prepareQuery(query)
    algebra = query.algebra
    if algebra.name not in ("SelectQuery", "ConstructQuery"):
        raise UnsupportedQuery(f"query form {algebra.name}")
    if get(algebra, "datasetClause"):
        raise UnsupportedQuery("FROM / FROM NAMED")
    algebra_pattern = translate_exists(algebra["p"])
    check_part(algebra_pattern)
    template: tuple[Triple, ...] = ()
    if algebra.name == "ConstructQuery":
        template = tuple(to_ops(tuple(t)) for t in algebra.template)
        if any(isinstance(term, BNode) for triple in template for term in triple):
            raise UnsupportedQuery("blank nodes in a CONSTRUCT template")
    pattern = push_filters(to_ops(algebra_pattern))
    patterns_of(pattern)
    variables = tuple(Var(name) for name in algebra.PV) if algebra.name == "SelectQuery" else ()
    return CompiledQuery(algebra.name, pattern, variables, template)


Runner = Callable[[list[str], Iterable[Triple]], Mapping[str, list[Row]]]


@dataclass(frozen=True, eq=False)
class QuerySet:
    """Named SELECT queries over a fixed knowledge graph and one case at a time: compiled here
    where they can be, otherwise run by ``fallback`` (a general SPARQL engine)."""

    knowledge: TripleIndex
    compiled: Mapping[str, CompiledQuery]
    texts: Mapping[str, str]
    fallback: Runner | None = None
    reasons: Mapping[str, str] = field(default_factory=dict)  # why a query is not compiled

    @classmethod
    def prepare(
        cls,
        knowledge: Iterable[Triple],
        texts: Mapping[str, str],
        fallback: Runner | None,
        parsed: Mapping[str, Query] | None = None,
    ) -> QuerySet:
        """Compile the queries ``texts`` names, using the parses in ``parsed`` (by name) where given."""
        compiled: dict[str, CompiledQuery] = {}
        reasons: dict[str, str] = {}
        for name, text in texts.items():
            try:
                compiled[name] = compile_query(parsed[name] if parsed is not None and name in parsed else text)
            except UnsupportedQuery as exc:
                reasons[name] = str(exc)
        index = TripleIndex(knowledge)
        for query in compiled.values():
            query.intern(index.canon)
        return cls(index, compiled, dict(texts), fallback, reasons)

    def case_data(self, case: Iterable[Triple]) -> Dataset:
        """The knowledge plus one case's triples, ready to query."""
        return Dataset(self.knowledge, TripleIndex(case, self.knowledge))

    def run(self, names: list[str], case: Iterable[Triple]) -> dict[str, list[Row]]:
        """The rows of each named query over the knowledge plus ``case`` (no rows for an unknown name)."""
        triples = case if isinstance(case, (set, frozenset)) else set(case)
        data = self.case_data(triples)
        results: dict[str, list[Row]] = {}
        rest = []
        for name in names:
            query = self.compiled.get(name)
            if query is not None:
                results[name] = query.select(data)
            elif name in self.texts and self.fallback is not None:
                rest.append(name)
            else:
                results[name] = []
        if rest and self.fallback is not None:
            results.update(self.fallback(rest, triples))
        return results
