"""Strict reading of case-form text (JSON, YAML) and JSON-LD documents, within input limits.

A case form is read so that what the clinician wrote is what dorsum reads, or the form is
refused with a one-line reason; it is never reinterpreted:

* a key may appear once in each object or mapping (JSON's and YAML's "last one wins" is refused);
* a number is a plain decimal (``40``, ``1.5``, ``-2``): YAML 1.1 and 1.2 forms that mean
  something else (``040`` octal, ``1_5``, ``1:30`` sexagesimal, ``0x10``, ``1e3``, ``.inf``,
  ``NaN``) are refused, naming the key, and so are JSON's ``NaN``/``Infinity``;
* YAML tags (``!!int``), anchors used through aliases (``*a``: an alias bomb expands
  exponentially) and JSON-LD keywords (``@context``, ``@id``...) have no place in a form;
* size, nesting depth and the number of values are bounded (:class:`InputLimits`).

YAML booleans are YAML 1.2's core ones (``true``, ``True``, ``TRUE``...); ``yes``, ``on`` and
dates stay text. Whether a value has the type its key takes (a number, not the text ``"5"``) is
checked on the parsed form, against the context (:mod:`reasoner.pipeline.form_values`).

The YAML loader is a PyYAML ``SafeLoader`` subclass with its own scalar resolvers, rather than
ruamel.yaml: PyYAML is already a dependency, and resolving numbers ourselves is both stricter
than YAML 1.2's core schema (which still reads ``1e3``, ``0o10`` and ``.inf``) and only a few
regular expressions. It composes nodes with a depth, node and alias count, so a hostile document
fails at the first offending node rather than after it has been expanded.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from reasoner.errors import (
    CaseError,
    FetchRefused,
    InputTooDeep,
    TooManyNodes,
    UsageError,
    YamlAliasesRefused,
    one_line,
)

#: Environment variables that set the input limits (see the README, "Safety of inputs").
BYTES_ENV = "DORSUM_MAX_CASE_BYTES"
DEPTH_ENV = "DORSUM_MAX_CASE_DEPTH"
ALIASES_ENV = "DORSUM_MAX_YAML_ALIASES"
NODES_ENV = "DORSUM_MAX_CASE_NODES"

#: The only JSON-LD context a case document may name: the one shipped with the knowledge.
SHIPPED_CONTEXT = "case-form.context.jsonld"
#: The longest number a form may hold, in characters (a case needs a handful of digits).
MAX_NUMBER_CHARS = 30

_PLAIN_INT = r"-?(?:0|[1-9][0-9]{0,29})"
_PLAIN_FLOAT = r"-?(?:0|[1-9][0-9]{0,29})\.[0-9]{1,29}"
#: What YAML 1.1, YAML 1.2 (core schema) or a programming language would read as a number.
_NUMBER_LIKE = "|".join(
    (
        r"[-+]?0b[0-1_]+",
        r"[-+]?0o?[0-7_]+",
        r"[-+]?0x[0-9a-fA-F_]+",
        r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?",
        r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?",
        r"[-+]?\.?(?:inf|infinity|nan)",
    )
)
_SUSPECT_TAG = "tag:dorsum,2026:not-a-plain-decimal"
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class InputLimits:
    """How much one case may hold. Defaults suit a case many times over; each can be changed
    with its environment variable (``InputLimits.from_environment``)."""

    max_bytes: int = 1 << 20  # the case file, or one JSONL line
    max_depth: int = 32  # nesting of objects/lists in a form or JSON-LD document
    max_aliases: int = 0  # YAML aliases (*name); a case form needs none
    max_nodes: int = 10_000  # values in a form, and triples in a case graph

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> InputLimits:
        """The limits, with any set by DORSUM_MAX_CASE_BYTES, DORSUM_MAX_CASE_DEPTH,
        DORSUM_MAX_YAML_ALIASES or DORSUM_MAX_CASE_NODES. Raises UsageError for a bad value."""
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            max_bytes=_limit(env, BYTES_ENV, default.max_bytes, lowest=1),
            max_depth=_limit(env, DEPTH_ENV, default.max_depth, lowest=1),
            max_aliases=_limit(env, ALIASES_ENV, default.max_aliases, lowest=0),
            max_nodes=_limit(env, NODES_ENV, default.max_nodes, lowest=1),
        )


def _limit(env: Mapping[str, str], name: str, default: int, *, lowest: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not re.fullmatch(r"[0-9]{1,12}", text) or int(text) < lowest:
        raise UsageError(f"{name} must be a whole number of at least {lowest} (got '{text}')")
    return int(text)


@dataclass(frozen=True)
class NotPlainNumber:
    """A number written in a form dorsum does not read (kept as written, to be reported)."""

    text: str


# ---------------------------------------------------------------- JSON


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def _json_int(text: str) -> int | NotPlainNumber:
    return int(text) if re.fullmatch(_PLAIN_INT, text) else NotPlainNumber(text)


def _json_float(text: str) -> Decimal | NotPlainNumber:
    return Decimal(text) if re.fullmatch(_PLAIN_FLOAT, text) else NotPlainNumber(text)


def parse_json(text: str, source: str, limits: InputLimits) -> Any:
    """Parse JSON strictly (decimals as :class:`Decimal`, exactly as written): duplicate keys,
    non-plain numbers (kept as :class:`NotPlainNumber`, for :func:`number_problems` to name) and
    nesting beyond the limit are caught."""
    _check_json_depth(text, source, limits)
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_object,
            parse_int=_json_int,
            parse_float=_json_float,
            parse_constant=NotPlainNumber,
        )
    except _DuplicateKey as exc:
        raise CaseError(source, [f"duplicate key '{exc.key}' (each key may appear once in an object)"]) from exc
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise CaseError(source, [f"JSON syntax error at {where}: {_json_reason(exc)}"]) from exc
    except RecursionError as exc:  # cannot happen within the depth limit; kept as a last guard
        raise InputTooDeep(source, ["nested too deeply"]) from exc


def _json_reason(error: json.JSONDecodeError) -> str:
    """The parser's reason, without its advice to decode a byte-order mark away: the reader drops
    one at the start of a file, so one still there is a second, a character JSON does not allow."""
    if error.msg.startswith("Unexpected UTF-8 BOM"):
        return "a byte-order mark (U+FEFF) is not allowed here (only as the first character of a file)"
    return error.msg


def parse_json_resource(text: str, source: str, limits: InputLimits) -> Any:
    """Parse a JSON document that is not a case form (a FHIR resource): duplicate keys, ``NaN``
    and ``Infinity`` and nesting beyond the limit are refused; a number with a fraction or an
    exponent is a :class:`Decimal`, exactly as written (a float read 1.50000000000000000001 as
    1.5, not over a 1.5 cm threshold), a whole number an ``int``."""
    _check_json_depth(text, source, limits)
    try:
        return json.loads(text, object_pairs_hook=_unique_object, parse_float=Decimal, parse_constant=_no_constant)
    except _DuplicateKey as exc:
        raise CaseError(source, [f"duplicate key '{exc.key}' (each key may appear once in an object)"]) from exc
    except ValueError as exc:  # a syntax error, or NaN / Infinity
        raise CaseError(source, [f"not JSON: {one_line(exc)}"]) from exc
    except RecursionError as exc:  # cannot happen within the depth limit; kept as a last guard
        raise InputTooDeep(source, ["nested too deeply"]) from exc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_json_depth(text: str, source: str, limits: InputLimits) -> None:
    """Refuse nesting deeper than the limit before the parser recurses into it."""
    depth = 0
    for bracket in _BRACKET.finditer(_JSON_STRING.sub("", text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > limits.max_depth:
                raise InputTooDeep(source, [_too_deep(limits)])
        else:
            depth -= 1


def _too_deep(limits: InputLimits) -> str:
    return f"nested more than {limits.max_depth} levels deep (limit {DEPTH_ENV}={limits.max_depth})"


def jsonl_lines(stream: IO[bytes] | IO[str], limit: int) -> Iterator[tuple[str | bytes, bool]]:
    """Each line of a stream, read at most ``limit`` characters at a time: (line, whole). A longer
    line gives its first part with ``whole`` False, and the rest of it is skipped."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line[-1:] in ("\n", b"\n"):
            yield line, True
            continue
        yield line, False
        while line and line[-1:] not in ("\n", b"\n"):
            line = stream.readline(limit + 1)


# ---------------------------------------------------------------- YAML


class _FormLoader(yaml.SafeLoader):
    """PyYAML's safe loader with plain-decimal numbers, no tags, no aliases beyond the limit,
    bounded depth and node count, and duplicate keys refused."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}  # noqa: RUF012 (own table)

    def __init__(self, text: str, source: str, limits: InputLimits) -> None:
        super().__init__(text)
        self.source = source
        self.limits = limits
        self.depth = 0
        self.nodes = 0
        self.aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise YamlAliasesRefused(
                    self.source,
                    [
                        f"YAML alias '*{event.anchor}'{_where(event)}: a case form needs no aliases "
                        f"(limit {ALIASES_ENV}={self.limits.max_aliases})"
                    ],
                )
        elif isinstance(event, ScalarEvent | CollectionStartEvent) and event.tag not in (None, "!"):
            raise CaseError(self.source, [f"YAML tag '{event.tag}'{_where(event)}: a case form uses no tags"])
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise TooManyNodes(self.source, [f"more than {self.limits.max_nodes} values (limit {NODES_ENV})"])
        self.depth += 1
        try:
            if self.depth > self.limits.max_depth:
                raise InputTooDeep(self.source, [_too_deep(self.limits)])
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _value in node.value:
            if isinstance(key_node, ScalarNode):
                if key_node.value in seen:
                    where = f" at line {key_node.start_mark.line + 1}"
                    problem = f"duplicate key '{key_node.value}'{where} (each key may appear once in a mapping)"
                    raise CaseError(self.source, [problem])
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)

    def construct_not_plain(self, node: ScalarNode) -> NotPlainNumber:
        return NotPlainNumber(str(node.value))

    def construct_plain_decimal(self, node: ScalarNode) -> Decimal:
        return Decimal(str(node.value))


def _where(event: Any) -> str:
    mark = getattr(event, "start_mark", None)
    return f" at line {mark.line + 1}" if mark is not None else ""


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"(?:~|null|Null|NULL)?", None),
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", None),
    ("tag:yaml.org,2002:int", _PLAIN_INT, None),
    ("tag:yaml.org,2002:float", _PLAIN_FLOAT, None),
    (_SUSPECT_TAG, f"(?i:{_NUMBER_LIKE})", None),
):
    _FormLoader.add_implicit_resolver(_tag, re.compile(rf"(?:{_pattern})\Z"), _first)
_FormLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"\Z"), [""])
_FormLoader.add_constructor(_SUSPECT_TAG, _FormLoader.construct_not_plain)
_FormLoader.add_constructor("tag:yaml.org,2002:float", _FormLoader.construct_plain_decimal)


def parse_yaml(text: str, source: str, limits: InputLimits) -> Any:
    """Parse one YAML document strictly (see the module's description)."""
    try:
        loader = _FormLoader(text, source, limits)  # PyYAML checks every character here
    except yaml.reader.ReaderError as exc:  # not a MarkedYAMLError: it once ended as an internal error
        character = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        problem = f"YAML syntax error: character {character} at position {exc.position} is not allowed in YAML"
        raise CaseError(source, [problem]) from exc
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise CaseError(source, [f"YAML syntax error{where}: {exc.problem}"]) from exc
    except yaml.YAMLError as exc:
        raise CaseError(source, [f"YAML syntax error: {one_line(exc)}"]) from exc
    except RecursionError as exc:  # cannot happen within the depth limit; kept as a last guard
        raise InputTooDeep(source, ["nested too deeply"]) from exc
    finally:
        loader.dispose()


# ---------------------------------------------------------------- checks of the parsed form


def _walk(value: Any, where: str, limits: InputLimits, source: str, count: list[int]) -> Iterator[tuple[str, Any]]:
    """Every (key path, value) of a parsed document, counting values against the node limit
    (shared YAML anchors are counted each time they are reached)."""
    count[0] += 1
    if count[0] > limits.max_nodes:
        raise TooManyNodes(source, [f"more than {limits.max_nodes} values (limit {NODES_ENV})"])
    yield where, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{where}.{key}" if where else str(key), limits, source, count)
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from _walk(item, f"{where}[{number}]", limits, source, count)


def number_problems(document: Any, source: str, limits: InputLimits) -> list[str]:
    """Numbers not written as plain decimals, by key path (also enforces the node limit)."""
    return [
        f"'{where or 'the form'}': {_shown(value.text)} is not a plain decimal number "
        "(write digits with an optional decimal point, such as 40 or 1.5; quote it if it is text)"
        for where, value in _walk(document, "", limits, source, [0])
        if isinstance(value, NotPlainNumber)
    ]


def _shown(text: str, longest: int = 40) -> str:
    return text if len(text) <= longest else f"{text[:longest]}... ({len(text)} characters)"


def keyword_problems(document: Any) -> list[str]:
    """JSON-LD keywords (keys starting with '@') anywhere in a form: a form carries no context of
    its own, so that every key is checked against the shipped one."""
    found: list[str] = []
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            found.extend(str(key) for key in value if isinstance(key, str) and key.startswith("@"))
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return [
        f"'{key}' is not allowed in a case form (a form uses the shipped case-form context; "
        "for JSON-LD, write a .jsonld file)"
        for key in sorted(set(found))
    ]


def resolve_contexts(document: Any, shipped: Mapping[str, Any], source: str) -> Any:
    """A JSON-LD document with every ``@context`` made inline: a reference to the shipped
    context is replaced by it; any other reference (a URL, a file, an ``@import``) raises
    :class:`FetchRefused`, naming it. The document given is not changed."""
    if isinstance(document, list):
        return [resolve_contexts(item, shipped, source) for item in document]
    if not isinstance(document, Mapping):
        return document
    resolved: dict[str, Any] = {}
    for key, value in document.items():
        if key == "@import":
            raise FetchRefused(source, [_refusal(value)])
        if key == "@context":
            resolved[key] = _inline_context(value, shipped, source)
        else:
            resolved[key] = resolve_contexts(value, shipped, source)
    return resolved


def _inline_context(value: Any, shipped: Mapping[str, Any], source: str) -> Any:
    if isinstance(value, list):
        return [_inline_context(item, shipped, source) for item in value]
    if isinstance(value, str):
        if value == SHIPPED_CONTEXT:
            return dict(shipped)
        raise FetchRefused(source, [_refusal(value)])
    return resolve_contexts(value, shipped, source)


def _refusal(reference: Any) -> str:
    return (
        f"refused to load the JSON-LD context '{reference}': dorsum never fetches or reads other "
        f"files; name the shipped context '{SHIPPED_CONTEXT}' or write the context inline"
    )
