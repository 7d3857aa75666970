"""The kind of each value in a case form, checked against the term's type in the case-form context.

JSON-LD coerces a value to the datatype its term names, whatever JSON type it was written as:
``"size_cm": "5"`` became ``"5"^^xsd:decimal`` and ``"no_discrete_lump": "true"`` became
``true``, so text was silently read as a number or a boolean; ``"age_years": [40]`` read as 40
(a term without a ``@set`` container still takes a list), and ``[fever, null]`` lost its null.
A case form is JSON or YAML, whose own types say what was written, so they must match:

* a term typed with a numeric XSD datatype takes a number (not text, not a boolean: Python's
  ``True`` is an ``int``);
* a term typed ``xsd:boolean`` takes ``true`` or ``false`` (not text, not a number);
* only a term with ``@container: @set`` takes a list, and its items are neither lists nor null;
* ``null`` as a field's value is no value, as in JSON-LD (the field is not recorded).

What a value must be is read from the context (each term's ``@type`` and ``@container``), so
this module holds no field names. A ``.jsonld`` case is JSON-LD, where coercing ``"40"`` is how
a typed value is written; only forms are checked here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from rdflib.namespace import XSD

from reasoner.pipeline.form_syntax import NotPlainNumber

#: The XSD datatypes whose values are numbers (a form writes them as JSON/YAML numbers).
NUMERIC_DATATYPES = frozenset(
    str(XSD[name])
    for name in (
        "decimal",
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "double",
        "float",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    )
)
BOOLEAN_DATATYPE = str(XSD.boolean)
_PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,29})(?:\.[0-9]{1,29})?")
_NUMBER, _BOOLEAN, _OTHER = "one number", "true or false", "one value"


def value_problems(form: Mapping[Any, Any], context: Mapping[str, Any]) -> list[str]:
    """Values whose JSON/YAML type is not what their term takes (see the module's description),
    one line each, naming the key path, the value as written and what is expected."""
    return list(_problems(form, context, ""))


def _problems(node: Mapping[Any, Any], context: Mapping[str, Any], where: str) -> Iterator[str]:
    for key, value in node.items():
        term = context.get(key) if isinstance(key, str) else None
        if not isinstance(term, Mapping):
            continue  # not a property term (id, or an unknown key: reported elsewhere)
        path = f"{where}{key}"
        expected = _expected(term, context)
        if isinstance(value, list):
            if not _is_set(term):
                yield f"{path} must be {expected}, not a list ({_shown(value)})"
                continue
            for number, item in enumerate(value):
                if item is None:
                    yield f"{path}[{number}] is null: remove it or write a value (a list holds no nulls)"
                elif isinstance(item, list):
                    yield f"{path}[{number}] is a list inside a list ({_shown(item)}): write one flat list"
                elif expected is not _OTHER or isinstance(item, Mapping):  # a term or text: nothing to check
                    yield from _scalar(path, item, expected, context)
        elif value is not None:
            yield from _scalar(path, value, expected, context)


def _scalar(path: str, value: Any, expected: str, context: Mapping[str, Any]) -> Iterator[str]:
    if isinstance(value, Mapping):
        yield from _problems(value, context, f"{path}.")
    elif expected == _NUMBER:
        if isinstance(value, bool):
            yield f"{path} must be {_NUMBER}, not the boolean {_shown(value)}"
        elif isinstance(value, str):
            hint = f"write {value}" if _PLAIN_DECIMAL.fullmatch(value) else "write a plain decimal such as 40 or 1.5"
            yield f"{path} must be {_NUMBER}, not the text {_shown(value)} ({hint}, without quotes)"
    elif expected == _BOOLEAN:
        if isinstance(value, str):
            yield f"{path} must be {_BOOLEAN}, not the text {_shown(value)} (write true or false, without quotes)"
        elif isinstance(value, int | float | Decimal | NotPlainNumber) and not isinstance(value, bool):
            shown = value.text if isinstance(value, NotPlainNumber) else _shown(value)
            yield f"{path} must be {_BOOLEAN}, not the number {shown}"


def _expected(term: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    """What a term's values are: one number, true or false, or one value of another kind."""
    datatype = _expand(term.get("@type"), context)
    if datatype in NUMERIC_DATATYPES:
        return _NUMBER
    if datatype == BOOLEAN_DATATYPE:
        return _BOOLEAN
    return _OTHER


def _is_set(term: Mapping[str, Any]) -> bool:
    container = term.get("@container")
    containers = container if isinstance(container, list) else [container]
    return "@set" in containers or "@list" in containers


def _expand(name: Any, context: Mapping[str, Any]) -> str | None:
    """A compact IRI (``xsd:decimal``) expanded with the context's prefixes."""
    if not isinstance(name, str):
        return None
    prefix, colon, local = name.partition(":")
    namespace = context.get(prefix) if colon else None
    return namespace + local if isinstance(namespace, str) and not local.startswith("//") else name


def _shown(value: Any, longest: int = 40) -> str:
    """A value as JSON writes it (text quoted), shortened."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return _shortened(str(value), longest)
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return _shortened(text, longest)


def _shortened(text: str, longest: int) -> str:
    return text if len(text) <= longest else f"{text[:longest]}... ({len(text)} characters)"
