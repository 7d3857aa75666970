"""Preparing a parsed query for :mod:`reasoner.engines.sparql_compiled`: checking that every part
is one it evaluates, translating EXISTS patterns, moving filters down, and recording which triple
patterns each node reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rdflib import Literal, URIRef
from rdflib.paths import Path
from rdflib.term import Node

from reasoner.engines.sparql_expressions import ExprError, Op, Var, check_expression, variables_of
from reasoner.engines.sparql_match import UnsupportedQuery, check_path
from reasoner.engines.sparql_plan import certain

if TYPE_CHECKING:
    from rdflib.plugins.sparql.parserutils import CompValue

__all__ = ["check_part", "get", "intern", "patterns_of", "push_filters", "structure", "translate_exists"]

SUPPORTED_PARTS = frozenset(
    [
        "BGP",
        "Join",
        "LeftJoin",
        "Union",
        "Filter",
        "Extend",
        "Project",
        "Distinct",
        "Reduced",
        "OrderBy",
        "Slice",
        "ToMultiSet",
        "AggregateJoin",
    ]
)
SUPPORTED_AGGREGATES = frozenset(
    {"Aggregate_Count", "Aggregate_Sample", "Aggregate_Sum", "Aggregate_Min", "Aggregate_Max"}
)


def check_part(node: Any) -> None:
    """Raise UnsupportedQuery unless every part of the pattern ``node`` is evaluated here."""
    # the SPARQL parser is slow to import: only compiling a query needs it
    from rdflib.plugins.sparql.parserutils import CompValue

    if not isinstance(node, CompValue) or node.name not in SUPPORTED_PARTS:
        raise UnsupportedQuery(f"the graph pattern {getattr(node, 'name', node)!r}")
    try:
        _check_expressions(node)
    except ExprError as exc:
        raise UnsupportedQuery(str(exc)) from exc
    if node.name == "BGP":
        for _s, p, _o in node.triples:
            if isinstance(p, Path):
                check_path(p)
    child = get(node, "p")
    if node.name == "AggregateJoin":
        if not isinstance(child, CompValue) or child.name != "Group":
            raise UnsupportedQuery("an aggregate without a group")
        child = get(child, "p")
    for part in (child, get(node, "p1"), get(node, "p2")):
        if part is not None:
            check_part(part)


def get(node: CompValue, key: str) -> Any:
    return node[key] if key in node else None  # noqa: SIM401 (CompValue.get answers the key itself when missing)


def _check_expressions(node: CompValue) -> None:
    if node.name == "AggregateJoin":
        for aggregate in node.A:
            if aggregate.name not in SUPPORTED_AGGREGATES:
                raise UnsupportedQuery(f"the aggregate {aggregate.name}")
            if aggregate.vars != "*":
                check_expression(aggregate.vars, _check_exists)
        for key in get(node.p, "expr") or []:
            check_expression(key, _check_exists)
    elif node.name == "OrderBy":
        for condition in node.expr:
            check_expression(condition.expr if condition.name == "OrderCondition" else condition, _check_exists)
    elif get(node, "expr") is not None:
        check_expression(node.expr, _check_exists)


def _check_exists(graph: Any) -> None:
    check_part(graph)


def translate_exists(node: Any) -> Any:
    """``node`` with the pattern of every EXISTS translated (rdflib translates it only inside
    FILTER). What changes is copied, so the parsed query given is left as rdflib made it (rdflib
    can still run it); a part without such an EXISTS is returned as it is."""
    # the SPARQL parser is slow to import: only compiling a query needs it
    from rdflib.plugins.sparql.algebra import translateGroupGraphPattern
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(node, list):
        items = [translate_exists(item) for item in node]
        return items if any(new is not old for new, old in zip(items, node, strict=True)) else node
    if not isinstance(node, CompValue):
        return node
    changed: dict[str, Any] = {}
    if node.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
        # Where rdflib translated the pattern (an EXISTS in a FILTER), its translation is the node's
        # attribute, and the item under the same key is what the translation left of the parse: it
        # took the FILTERs out of it. Only the attribute keeps them.
        graph = vars(node).get("graph", node["graph"])
        if graph.name == "GroupGraphPatternSub":
            # rdflib's translation rewrites the pattern it is given: translate a copy
            graph = translateGroupGraphPattern(_copied(graph))
        changed["graph"] = translate_exists(graph)
    for key, value in node.items():
        if key not in changed and not key.startswith("_") and isinstance(value, (CompValue, list)):
            translated = translate_exists(value)
            if translated is not value:
                changed[key] = translated
    if not changed:
        return node
    return _copied(node, changed)


def _copied(node: Any, replaced: Mapping[str, Any] | None = None) -> Any:
    """A copy of a parsed (not yet translated) pattern or expression: new nodes and lists, the same
    terms; with ``replaced`` (by key), a copy of this one node holding them instead."""
    from rdflib.plugins.sparql.parserutils import CompValue, Expr

    if isinstance(node, list):
        return type(node)(_copied(item) for item in node)
    if not isinstance(node, CompValue):
        return node
    values = dict(replaced) if replaced is not None else {}
    for key, value in node.items():
        if key not in values:
            values[key] = value if replaced is not None else _copied(value)
    if isinstance(node, Expr):
        function = node._evalfn.__func__ if node._evalfn is not None else None  # bound to the node
        return Expr(node.name, function, **values)
    return CompValue(node.name, **values)


# ------------------------------------------------------------------ preparing the algebra


def push_filters(node: Any) -> Any:
    """Filters moved below OPTIONALs and BINDs that cannot change what they test (as any SPARQL
    optimiser does), so that fewer rows go through the OPTIONALs. Same answers."""
    if not isinstance(node, Op):
        return node
    for key in ("p", "p1", "p2"):
        child = getattr(node, key)
        if isinstance(child, Op):
            setattr(node, key, push_filters(child))
    if node.name != "Filter":
        return node
    needs = variables_of(node.expr)
    inner = node.p
    if needs is None:
        return node
    if inner.name == "LeftJoin" and needs <= certain(inner.p1):
        inner.p1 = push_filters(Op("Filter", expr=node.expr, p=inner.p1))
        return inner
    if inner.name == "Extend" and inner.var not in needs:
        inner.p = push_filters(Op("Filter", expr=node.expr, p=inner.p))
        return inner
    return node


def patterns_of(node: Any) -> tuple[Any, ...] | None:
    """Every triple pattern under ``node``, EXISTS patterns included; recorded on each node as
    ``reads``, with what memoising an EXISTS or an expression with one needs (``exists_vars``,
    ``memo_vars``, ``exists_patterns``)."""
    if isinstance(node, list):
        collected: list[Any] = []
        for item in node:
            inner = patterns_of(item)
            if inner is None:
                return None
            collected.extend(inner)
        return tuple(collected)
    if not isinstance(node, Op):
        return ()
    collected = list(node.triples) if node.name == "BGP" else []
    unknown = False
    for key, value in list(vars(node).items()):
        if key in ("name", "triples") or not isinstance(value, (Op, list)):
            continue
        inner = patterns_of(value)
        if inner is None:
            unknown = True
        else:
            collected.extend(inner)
    result = None if unknown else tuple(collected)
    node.reads = result
    if node.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
        node.graph.exists_vars = tuple(sorted(_all_variables(node.graph)))
    expr = node.expr
    if isinstance(expr, Op) and result is not None and _has_exists(expr):  # what its memo key reads
        expr.memo_vars = tuple(sorted(_all_variables(expr)))
        expr.exists_patterns = patterns_of(expr) or ()
    return result


def intern(node: Any, canon: Mapping[Node, Node]) -> Any:
    if isinstance(node, (URIRef, Literal)):
        return canon.get(node, node)
    if isinstance(node, list):
        node[:] = [intern(item, canon) for item in node]
        return node
    if isinstance(node, tuple):
        return tuple(intern(item, canon) for item in node)
    if isinstance(node, Op):
        for key, value in list(vars(node).items()):
            if key != "name":
                setattr(node, key, intern(value, canon))
    return node


def _has_exists(expr: Any) -> bool:
    if isinstance(expr, list):
        return any(_has_exists(item) for item in expr)
    if not isinstance(expr, Op):
        return False
    if expr.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
        return True
    return any(_has_exists(value) for key, value in vars(expr).items() if key != "name")


def _all_variables(node: Any) -> set[Var]:
    if isinstance(node, Var):
        return {node}
    if isinstance(node, (list, tuple)):
        return set().union(*(_all_variables(item) for item in node)) if node else set()
    if isinstance(node, Op):
        parts = (value for key, value in vars(node).items() if key not in ("name", "reads", "exists_patterns"))
        return set().union(*(_all_variables(value) for value in parts))
    return set()


# What is kept on a node besides its meaning: memos, analyses, an expression's closure.
_NOT_STRUCTURE = frozenset(
    {
        "reads",
        "exists_patterns",
        "memo_vars",
        "exists_vars",
        "rows",
        "answers",
        "values",
        "certain_vars",
        "possible_vars",
        Op.FUNCTION,
    }
)


def structure(node: Any) -> Any:
    """A hashable description of a pattern or expression: equal for subtrees that give the same
    answers over the same data (what memoised answers are shared by)."""
    if isinstance(node, Op):
        parts = sorted((key, structure(value)) for key, value in vars(node).items() if key not in _NOT_STRUCTURE)
        return (node.name, tuple(parts))
    if isinstance(node, (list, tuple)):
        return ("seq", tuple(structure(item) for item in node))
    if isinstance(node, Var):
        return ("var", str(node))
    if isinstance(node, Node):
        return (type(node).__name__, node.n3())
    return ("value", repr(node))
