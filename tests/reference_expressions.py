"""The tree-walking interpreter of SPARQL expressions that the compiled evaluator used before
expressions became closures (reasoner.engines.sparql_functions): kept here as the test oracle the
closures are compared with, operator by operator (tests/test_engine_sparql.py). Not shipped."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from rdflib import BNode, URIRef
from rdflib.term import Node

from reasoner.engines.sparql_expressions import (
    ARITHMETIC,
    RELATIONS,
    Exists,
    ExprError,
    Op,
    Var,
    ebv,
    equal,
    is_numeric,
    numeric,
    string_value,
)


def _membership(value: Any, options: list[Any], solution: Mapping[Var, Node], exists: Exists) -> bool:
    failed = False
    for option in options:
        try:
            if equal(value, evaluate(option, solution, exists)):
                return True
        except ExprError:
            failed = True
    if failed:
        raise ExprError("IN with an error")
    return False


def _relational(e: Op, solution: Mapping[Var, Node], exists: Exists) -> bool:
    left = evaluate(e.expr, solution, exists)
    if e.op == "IN":
        return _membership(left, list(e.other), solution, exists)
    if e.op == "NOT IN":
        return not _membership(left, list(e.other), solution, exists)
    return RELATIONS[e.op](left, evaluate(e.other, solution, exists))


def _logical(e: Op, solution: Mapping[Var, Node], exists: Exists, conjunction: bool) -> bool:
    """&& and || with SPARQL's error rules (an error only matters if nothing decides)."""
    failed = False
    for operand in [e.expr, *(e.other or [])]:
        try:
            truth = ebv(evaluate(operand, solution, exists))
        except ExprError:
            failed = True
            continue
        if truth != conjunction:
            return truth
    if failed:
        raise ExprError("logical operand error")
    return conjunction


def _arithmetic(e: Op, solution: Mapping[Var, Node], exists: Exists) -> Any:
    result: Any = numeric(evaluate(e.expr, solution, exists))
    if e.name == "MultiplicativeExpression":
        result = Decimal(result) if not isinstance(result, float) else result
    for op, operand in zip(e.op, e.other, strict=True):
        value = numeric(evaluate(operand, solution, exists))
        if isinstance(value, float) or isinstance(result, float):
            result, value = float(result), float(value)
        try:
            result = ARITHMETIC[op](result, value)
        except (InvalidOperation, ZeroDivisionError) as exc:
            raise ExprError("arithmetic error") from exc
    return result


def _builtin(e: Op, solution: Mapping[Var, Node], exists: Exists) -> Any:
    name = e.name
    if name == "Builtin_BOUND":
        return e.arg in solution
    if name == "Builtin_IF":
        chosen = e.arg2 if ebv(evaluate(e.arg1, solution, exists)) else e.arg3
        return evaluate(chosen, solution, exists)
    if name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
        return exists(e.graph, solution, name == "Builtin_NOTEXISTS")
    if name == "Builtin_CONCAT":
        return "".join(string_value(evaluate(arg, solution, exists)) for arg in e.arg)
    value = evaluate(e.arg, solution, exists)
    if name in ("Builtin_isIRI", "Builtin_isURI"):
        return isinstance(value, URIRef)
    if name == "Builtin_isBLANK":
        return isinstance(value, BNode)
    if name == "Builtin_isLITERAL":
        return not isinstance(value, (URIRef, BNode))
    if name == "Builtin_isNUMERIC":
        return is_numeric(value)
    if name == "Builtin_STR":
        return string_value(value)
    raise ExprError(f"unsupported function {name}")  # unreachable after check_expression


def evaluate(e: Any, solution: Mapping[Var, Node], exists: Exists) -> Any:
    """The value of expression ``e`` under ``solution`` (ExprError if it has none)."""
    if isinstance(e, Var):
        try:
            return solution[e]
        except KeyError:
            raise ExprError(f"unbound {e}") from None
    if not isinstance(e, Op):
        return e
    name = e.name
    if name == "RelationalExpression":
        return _relational(e, solution, exists)
    if name == "ConditionalAndExpression":
        return _logical(e, solution, exists, True)
    if name == "ConditionalOrExpression":
        return _logical(e, solution, exists, False)
    if name == "UnaryNot":
        return not ebv(evaluate(e.expr, solution, exists))
    if name in ("MultiplicativeExpression", "AdditiveExpression"):
        if e.other is None:
            return evaluate(e.expr, solution, exists)
        return _arithmetic(e, solution, exists)
    if name == "TrueFilter":
        return True
    return _builtin(e, solution, exists)
