"""SPARQL 1.1 expressions, effective boolean values and the ORDER BY order, for
:mod:`reasoner.engines.sparql_compiled`.

Values are rdflib terms, or plain Python values while an expression is being computed (``bool``,
``int``, ``Decimal``, ``float``, ``str``); :func:`as_term` turns a computed value into a term when
it is bound (``BIND``) or aggregated. Arithmetic follows rdflib's SPARQL engine (the reference the
pipeline is checked against): a division or product of two integers is a decimal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from rdflib import BNode, Literal, URIRef, Variable
from rdflib.namespace import XSD
from rdflib.term import Node

__all__ = [
    "ARITHMETIC",
    "RELATIONS",
    "Exists",
    "ExprError",
    "Op",
    "Var",
    "as_term",
    "check_expression",
    "ebv",
    "equal",
    "is_numeric",
    "order_key",
    "string_value",
    "to_ops",
    "variables_of",
]

NUMERIC_TYPES = frozenset(
    XSD[name]
    for name in [
        "integer",
        "decimal",
        "float",
        "double",
        "nonPositiveInteger",
        "negativeInteger",
        "long",
        "int",
        "short",
        "byte",
        "nonNegativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
        "positiveInteger",
    ]
)
STRING_TYPES = frozenset({None, XSD.string})


class Var(str):
    """A query variable. Rows are dicts keyed by variables, and rdflib's ``Variable`` compares in
    Python; this plain ``str`` subclass hashes and compares in C."""

    __slots__ = ()


Exists = Callable[[Any, Mapping[Var, Node], bool], bool]  # (pattern, solution, negated) -> truth


class Op:
    """One node of a parsed query (algebra or expression) as a plain object: rdflib's ``CompValue``
    resolves every attribute through several calls, which dominated evaluation time. A missing
    attribute is None, as with ``CompValue``."""

    #: The attribute an expression node keeps its closure in (:mod:`sparql_functions`); not pickled.
    FUNCTION = "function"
    # Attributes the evaluator reads on every node and most nodes lack: None here, found without
    # a call to __getattr__.
    fixed: Any = None
    rows: Any = None
    only_case: Any = None
    memo_vars: Any = None
    exists_patterns: Any = None
    values: Any = None
    expr: Any = None
    other: Any = None

    def __init__(self, name: str, **parts: Any) -> None:
        self.name = name
        self.__dict__.update(parts)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__
        if Op.FUNCTION in state:
            state = {key: value for key, value in state.items() if key != Op.FUNCTION}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)  # pickle and copy look for special methods
        return None

    def __setattr__(self, key: str, value: Any) -> None:
        self.__dict__[key] = value

    def __repr__(self) -> str:
        return f"Op({self.name})"


def to_ops(node: Any) -> Any:
    """A parsed query (``CompValue`` tree) as :class:`Op` objects."""
    # the SPARQL parser is slow to import: only compiling a query needs it
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(node, CompValue):
        return Op(node.name, **{key: to_ops(value) for key, value in node.items() if not key.startswith("_")})
    if isinstance(node, list):
        return [to_ops(item) for item in node]
    if isinstance(node, tuple):
        return tuple(to_ops(item) for item in node)
    if isinstance(node, Variable):
        return Var(node)
    return node


def variables_of(e: Any) -> set[Var] | None:
    """The variables an expression reads; None if it contains EXISTS or BOUND (scope-sensitive)."""
    if isinstance(e, Var):
        return {e}
    if isinstance(e, list):
        found: set[Var] = set()
        for item in e:
            inner = variables_of(item)
            if inner is None:
                return None
            found |= inner
        return found
    if not isinstance(e, Op):
        return set()
    if e.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS", "Builtin_BOUND"):
        return None
    found = set()
    for key, value in vars(e).items():
        if key != "name":
            inner = variables_of(value)
            if inner is None:
                return None
            found |= inner
    return found


class ExprError(Exception):
    """A SPARQL expression error (unbound variable, type error): the expression has no value."""


def numeric(value: Any) -> int | Decimal | float:
    """The number a value stands for (ExprError if it is not numeric)."""
    if isinstance(value, bool):
        raise ExprError("not a number")
    if isinstance(value, (int, Decimal, float)):
        return value
    if isinstance(value, Literal) and value.datatype in NUMERIC_TYPES:
        number = value.value
        if isinstance(number, (int, Decimal, float)) and not isinstance(number, bool):
            return number
    raise ExprError("not a number")


def is_numeric(value: Any) -> bool:
    """Whether a value is a number (SPARQL ``isNUMERIC``)."""
    if isinstance(value, (URIRef, BNode)):
        return False
    if isinstance(value, Literal):
        return (
            value.datatype in NUMERIC_TYPES
            and isinstance(value.value, (int, Decimal, float))
            and not isinstance(value.value, bool)
        )
    return isinstance(value, (int, Decimal, float)) and not isinstance(value, bool)


def ebv(value: Any) -> bool:
    """The effective boolean value (ExprError where SPARQL has none)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal, float)):
        return bool(value) and value == value
    if isinstance(value, str) and not isinstance(value, (URIRef, BNode, Literal)):
        return bool(value)
    if isinstance(value, Literal):
        if value.datatype == XSD.boolean:
            return bool(value.value) if isinstance(value.value, bool) else False
        if value.datatype in NUMERIC_TYPES:
            return ebv(numeric(value))
        if value.datatype in STRING_TYPES and not value.language:
            return len(str(value)) > 0
    raise ExprError("no effective boolean value")


def as_term(value: Any) -> Node:
    """A computed value as an RDF term."""
    if isinstance(value, (URIRef, BNode, Literal)):
        return value
    if isinstance(value, bool):
        return Literal(value)
    if isinstance(value, (int, Decimal, float, str)):
        return Literal(value)
    raise ExprError("not a term")


def _plain(value: Any) -> tuple[str, str | None, Any] | None:
    """A literal's (lexical form, language, datatype), xsd:string folded into plain; None if not a literal."""
    if isinstance(value, Literal):
        datatype = None if value.datatype == XSD.string else value.datatype
        return (str(value), value.language, datatype)
    if isinstance(value, str) and not isinstance(value, (URIRef, BNode)):
        return (value, None, None)
    if isinstance(value, bool):
        return ("true" if value else "false", None, XSD.boolean)
    return None


def equal(left: Any, right: Any) -> bool:
    """SPARQL ``=``."""
    if isinstance(left, (URIRef, BNode)) or isinstance(right, (URIRef, BNode)):
        return type(left) is type(right) and left == right  # an IRI or blank node equals only itself
    if is_numeric(left) and is_numeric(right):
        return bool(numeric(left) == numeric(right))
    left_literal, right_literal = _plain(left), _plain(right)
    if left_literal is None or right_literal is None:
        if left_literal is None and right_literal is None:
            return bool(left == right)
        return False
    if left_literal == right_literal:
        return True
    comparable = {None, XSD.boolean}
    if left_literal[2] in comparable and right_literal[2] in comparable:
        return False
    raise ExprError("incomparable literals")


def _compare(left: Any, right: Any) -> int:
    if is_numeric(left) and is_numeric(right):
        a, b = numeric(left), numeric(right)
        if isinstance(a, float) or isinstance(b, float):
            a, b = float(a), float(b)
        return (a > b) - (a < b)
    left_literal, right_literal = _plain(left), _plain(right)
    if left_literal and right_literal and left_literal[2] is None and right_literal[2] is None:
        if left_literal[1] or right_literal[1]:
            raise ExprError("language-tagged comparison")
        return (left_literal[0] > right_literal[0]) - (left_literal[0] < right_literal[0])
    raise ExprError("incomparable values")


RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": equal,
    "!=": lambda a, b: not equal(a, b),
    "<": lambda a, b: _compare(a, b) < 0,
    ">": lambda a, b: _compare(a, b) > 0,
    "<=": lambda a, b: _compare(a, b) <= 0,
    ">=": lambda a, b: _compare(a, b) >= 0,
}


def _add(a: Any, b: Any) -> Any:
    return a + b


def _sub(a: Any, b: Any) -> Any:
    return a - b


def _mul(a: Any, b: Any) -> Any:
    return a * b


def _div(a: Any, b: Any) -> Any:
    if b == 0:
        raise ZeroDivisionError
    return a / b


ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {"+": _add, "-": _sub, "*": _mul, "/": _div}


def string_value(value: Any) -> str:
    """A value's string (SPARQL ``STR``; ExprError for a blank node)."""
    if isinstance(value, (URIRef, Literal)):
        return str(value)
    if isinstance(value, BNode):
        raise ExprError("STR of a blank node")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


SUPPORTED = frozenset(
    {
        "RelationalExpression",
        "ConditionalAndExpression",
        "ConditionalOrExpression",
        "UnaryNot",
        "MultiplicativeExpression",
        "AdditiveExpression",
        "TrueFilter",
        "Builtin_BOUND",
        "Builtin_IF",
        "Builtin_EXISTS",
        "Builtin_NOTEXISTS",
        "Builtin_CONCAT",
        "Builtin_isIRI",
        "Builtin_isURI",
        "Builtin_isBLANK",
        "Builtin_isLITERAL",
        "Builtin_isNUMERIC",
        "Builtin_STR",
    }
)


def check_expression(e: Any, check_pattern: Callable[[Any], None]) -> None:
    """Raise ExprError unless every part of ``e`` is supported (patterns of EXISTS go to ``check_pattern``)."""
    # the SPARQL parser is slow to import: only compiling a query needs it
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(e, (list, tuple)):
        for item in e:
            check_expression(item, check_pattern)
        return
    if not isinstance(e, CompValue):
        return
    if e.name not in SUPPORTED:
        raise ExprError(f"the function or operator {e.name}")
    if e.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
        check_pattern(e.graph)
        return
    if e.name == "RelationalExpression" and e.op not in RELATIONS and e.op not in ("IN", "NOT IN"):
        raise ExprError(f"the operator {e.op}")
    for key, value in e.items():
        if not key.startswith("_"):
            check_expression(value, check_pattern)


#: Order keys already computed, by term: sorting meets the same few knowledge terms in every case.
_ORDER_KEYS: dict[Node, tuple[Any, ...]] = {}
_ORDER_KEYS_LIMIT = 65536


def order_key(value: Node | None) -> tuple[Any, ...]:
    """SPARQL's ORDER BY order: unbound, blank nodes, IRIs, then literals (numbers by value)."""
    if value is None:
        return (0,)
    key = _ORDER_KEYS.get(value)
    if key is None:
        key = _order_key(value)
        if len(_ORDER_KEYS) >= _ORDER_KEYS_LIMIT:
            _ORDER_KEYS.clear()
        _ORDER_KEYS[value] = key
    return key


def _order_key(value: Node) -> tuple[Any, ...]:
    if isinstance(value, BNode):
        return (1, str(value))
    if isinstance(value, URIRef):
        return (2, str(value))
    if is_numeric(value):
        number = numeric(value)
        return (3, 0, float(number) if isinstance(number, float) else Decimal(number), str(value))
    if isinstance(value, Literal):
        return (3, 1, str(value), value.language or "", str(value.datatype or ""))
    return (3, 1, str(value), "", "")
