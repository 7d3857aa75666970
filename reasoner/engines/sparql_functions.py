"""SPARQL expressions turned into Python closures, once per expression, for
:mod:`reasoner.engines.sparql_compiled`.

Walking an expression tree for every row means comparing each node's name against every operator
known before doing any work. Here each node is translated once into a function of
``(solution, exists)`` that does only its own work and calls its operands' functions; the
translation is kept on the node (and never pickled). The semantics are those of the tree-walking
interpreter this replaced, operator by operator (the helpers of :mod:`sparql_expressions` for
equality, comparison, effective boolean value, numbers and strings; :class:`ExprError` for an
expression without a value): tests/test_engine_sparql.py compares the two, with that interpreter
kept as its oracle in tests/reference_expressions.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

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
from reasoner.terms import IS_BLANK, IS_IRI

__all__ = ["Function", "expression_value", "function_of"]

#: A compiled expression: (solution, exists) -> value (raises ExprError where it has none).
Function = Callable[[Mapping[Var, Node], Exists], Any]


def expression_value(e: Any, solution: Mapping[Var, Node], exists: Exists) -> Any:
    """The value of expression ``e`` under ``solution`` (ExprError if it has none)."""
    if e.__class__ is Var:
        try:
            return solution[e]
        except KeyError:
            raise ExprError(f"unbound {e}") from None
    if e.__class__ is not Op:
        return e
    return function_of(e)(solution, exists)


def function_of(e: Any) -> Function:
    """The closure computing ``e`` (made on first use and kept on the node; never pickled)."""
    if e.__class__ is Op:
        known: Function | None = e.__dict__.get(Op.FUNCTION)
        if known is None:
            known = _compile(e)
            e.__dict__[Op.FUNCTION] = known
        return known
    if e.__class__ is Var:
        return _variable(e)
    return lambda _solution, _exists: e


def _variable(var: Var) -> Function:
    def value(solution: Mapping[Var, Node], _exists: Exists) -> Any:
        try:
            return solution[var]
        except KeyError:
            raise ExprError(f"unbound {var}") from None

    return value


def _compile(e: Op) -> Function:
    name = e.name
    if name == "RelationalExpression":
        return _relational(e)
    if name in ("ConditionalAndExpression", "ConditionalOrExpression"):
        return _logical(e, name == "ConditionalAndExpression")
    if name == "UnaryNot":
        operand = function_of(e.expr)
        return lambda solution, exists: not ebv(operand(solution, exists))
    if name in ("MultiplicativeExpression", "AdditiveExpression"):
        if e.other is None:
            return function_of(e.expr)
        return _arithmetic(e)
    if name == "TrueFilter":
        return lambda _solution, _exists: True
    return _builtin(e)


def _relational(e: Op) -> Function:
    left = function_of(e.expr)
    if e.op in ("IN", "NOT IN"):
        options = [function_of(option) for option in e.other]
        negated: bool = e.op == "NOT IN"

        def membership(solution: Mapping[Var, Node], exists: Exists) -> bool:
            value = left(solution, exists)
            failed = False
            for option in options:
                try:
                    if equal(value, option(solution, exists)):
                        return not negated
                except ExprError:
                    failed = True
            if failed:
                raise ExprError("IN with an error")
            return negated

        return membership
    relation = RELATIONS[e.op]
    right = function_of(e.other)

    def relational(solution: Mapping[Var, Node], exists: Exists) -> bool:
        return relation(left(solution, exists), right(solution, exists))

    return relational


def _logical(e: Op, conjunction: bool) -> Function:
    """&& and || with SPARQL's error rules (an error only matters if nothing decides)."""
    operands = [function_of(operand) for operand in [e.expr, *(e.other or [])]]

    def logical(solution: Mapping[Var, Node], exists: Exists) -> bool:
        failed = False
        for operand in operands:
            try:
                truth = ebv(operand(solution, exists))
            except ExprError:
                failed = True
                continue
            if truth != conjunction:
                return truth
        if failed:
            raise ExprError("logical operand error")
        return conjunction

    return logical


def _arithmetic(e: Op) -> Function:
    first = function_of(e.expr)
    multiplicative = e.name == "MultiplicativeExpression"
    steps = [(ARITHMETIC[op], function_of(operand)) for op, operand in zip(e.op, e.other, strict=True)]

    def arithmetic(solution: Mapping[Var, Node], exists: Exists) -> Any:
        result: Any = numeric(first(solution, exists))
        if multiplicative:
            result = Decimal(result) if not isinstance(result, float) else result
        for operation, operand in steps:
            value = numeric(operand(solution, exists))
            if isinstance(value, float) or isinstance(result, float):
                result, value = float(result), float(value)
            try:
                result = operation(result, value)
            except (InvalidOperation, ZeroDivisionError) as exc:
                raise ExprError("arithmetic error") from exc
        return result

    return arithmetic


def _builtin(e: Op) -> Function:
    name = e.name
    if name == "Builtin_BOUND":
        var = e.arg
        return lambda solution, _exists: var in solution
    if name == "Builtin_IF":
        test, then, otherwise = function_of(e.arg1), function_of(e.arg2), function_of(e.arg3)
        return lambda solution, exists: (then if ebv(test(solution, exists)) else otherwise)(solution, exists)
    if name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
        pattern, negated = e.graph, name == "Builtin_NOTEXISTS"
        return lambda solution, exists: exists(pattern, solution, negated)
    if name == "Builtin_CONCAT":
        parts = [function_of(arg) for arg in e.arg]
        return lambda solution, exists: "".join(string_value(part(solution, exists)) for part in parts)
    arg = function_of(e.arg)
    if name in ("Builtin_isIRI", "Builtin_isURI"):
        return lambda solution, exists: IS_IRI[arg(solution, exists).__class__]
    if name == "Builtin_isBLANK":
        return lambda solution, exists: IS_BLANK[arg(solution, exists).__class__]
    if name == "Builtin_isLITERAL":

        def is_literal(solution: Mapping[Var, Node], exists: Exists) -> bool:
            cls = arg(solution, exists).__class__
            return not (IS_IRI[cls] or IS_BLANK[cls])

        return is_literal
    if name == "Builtin_isNUMERIC":
        return lambda solution, exists: is_numeric(arg(solution, exists))
    if name == "Builtin_STR":
        return lambda solution, exists: string_value(arg(solution, exists))
    raise ExprError(f"unsupported function {name}")  # unreachable after check_expression
