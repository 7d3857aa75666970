"""Read a SPARQL text before any engine sees it, and refuse one that would fetch.

:func:`check_text` is the one guard every SPARQL text passes before it runs, on Oxigraph or on
rdflib: it refuses text over a size or nesting limit (deep nesting overflows the engines'
stacks), an update where a query is expected, text that is no query, and ``SERVICE`` / ``FROM``
/ ``FROM NAMED`` / ``LOAD`` naming anything but an allowed endpoint (they make an engine fetch
from the network or read a file). The scan skips comments, strings and IRIs, so a keyword inside
them is data, and it reads the text both as written (Oxigraph) and with its codepoint escapes
expanded (rdflib): ``\\u0053ERVICE`` is ``SERVICE`` to rdflib.

A refusal is a :class:`QueryTextRefused`; the layers above turn it into their own typed error.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

DEFAULT_MAX_TEXT_BYTES: Final = 1024 * 1024
DEFAULT_MAX_DEPTH: Final = 64

QUERY_FORMS: Final = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
UPDATE_FORMS: Final = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})


class QueryTextRefused(Exception):
    """A SPARQL text refused before any engine sees it; ``fetch`` says whether it names something
    an engine would fetch (``SERVICE``, ``FROM``, ``LOAD``)."""

    def __init__(self, message: str, *, fetch: bool = False) -> None:
        super().__init__(message)
        self.fetch = fetch


#: A word is a prefixed name (``dx:Case.x``: a dot inside a name is part of it; one whose prefix is
#: a fetch keyword is split, see _FETCH_KEYWORDS) or a bare word
#: (a keyword, ``a``, ``true``), which never holds a dot: ``true.SERVICE <...>`` is ``true``, ``.``
#: and ``SERVICE`` to both engines, and read as one word it reached the network. A number is
#: one token, its exponent included: ``1e5SERVICE`` is ``1e5`` and ``SERVICE`` to Oxigraph.
_TOKEN = r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
              |'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<var>[?$][A-Za-z0-9_\u00b7\u00c0-\uffff]+)
  | (?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-.]*:[^\s(){}\[\],;]*|:[^\s(){}\[\],;]*|[A-Za-z_][A-Za-z0-9_]*)
  | (?P<open>[({\[])
  | (?P<close>[)}\]])
  | (?P<other>\S)
    """


@functools.cache  # on first use: compiling it costs more than the rest of this module's import
def _tokens() -> re.Pattern[str]:
    return re.compile(_TOKEN, re.VERBOSE | re.DOTALL)


@dataclass(frozen=True)
class QueryText:
    """A query's shape as read from its text: its form, the graphs and endpoints it names, its
    variables, its nesting depth."""

    form: str  # SELECT, ASK, CONSTRUCT, DESCRIBE, or the update keyword
    services: tuple[str, ...]  # SERVICE <iri> (or "?var" for a variable endpoint)
    datasets: tuple[str, ...]  # FROM <iri> / FROM NAMED <iri>
    loads: tuple[str, ...]  # LOAD <iri>
    variables: tuple[str, ...]
    placeholders: tuple[str, ...]  # VALUES ?name { UNDEF }
    depth: int


def read_query_text(text: str) -> QueryText:
    """Tokenise SPARQL text, skipping comments, strings and IRIs (keywords in them are data)."""
    tokens = [(m.lastgroup or "", m.group()) for m in _tokens().finditer(text)]
    tokens = [token for kind, value in tokens if kind != "comment" for token in _split_keyword(kind, value)]
    form = ""
    depth = deepest = 0
    services: list[str] = []
    datasets: list[str] = []
    loads: list[str] = []
    variables: dict[str, None] = {}
    for index, (kind, value) in enumerate(tokens):
        if index and tokens[index - 1][1] == "@":
            continue  # a language tag
        if kind == "open":
            depth += 1
            deepest = max(deepest, depth)
        elif kind == "close":
            depth -= 1
        elif kind == "var":
            variables.setdefault(value[1:], None)
        elif kind == "word" and ":" not in value:
            word = value.upper()
            if not form and word in QUERY_FORMS | UPDATE_FORMS:
                form = word
            following = _next_target(tokens, index + 1, skip={"SILENT", "NAMED"})
            if word == "SERVICE":
                services.append(following)
            elif word == "FROM":
                datasets.append(following)
            elif word == "LOAD":
                loads.append(following)
    return QueryText(
        form=form,
        services=tuple(services),
        datasets=tuple(datasets),
        loads=tuple(loads),
        variables=tuple(variables),
        placeholders=tuple(_PLACEHOLDER.findall(text)),
        depth=deepest,
    )


#: Keywords that name what an engine fetches. Written straight before a prefixed name's colon
#: (``SERVICE:sparql``, ``FROM:passwd``), both engines read the keyword and then the prefixed name
#: ``:sparql`` (a keyword is matched before a name), so the scan must too: read as one prefixed
#: name, ``SERVICE:sparql`` reached the network from ``dorsum sparql``.
_FETCH_KEYWORDS: Final = frozenset({"SERVICE", "SILENT", "FROM", "NAMED", "LOAD"})


def _split_keyword(kind: str, value: str) -> tuple[tuple[str, str], ...]:
    """A prefixed name whose prefix is a fetch keyword, as the engines read it: the keyword, then
    the name with an empty prefix; any other token as it is."""
    prefix, colon, local = value.partition(":")
    if kind == "word" and colon and prefix.upper() in _FETCH_KEYWORDS:
        return (("word", prefix), *_split_keyword("word", colon + local))
    return ((kind, value),)


_PLACEHOLDER = re.compile(r"VALUES\s+[?$]([A-Za-z_][A-Za-z0-9_]*)\s*\{\s*UNDEF\s*\}", re.IGNORECASE)


def _next_target(tokens: list[tuple[str, str]], start: int, *, skip: set[str]) -> str:
    """The IRI, prefixed name or variable after a keyword (past SILENT / NAMED)."""
    for kind, value in tokens[start : start + 3]:
        if kind == "word" and value.upper() in skip:
            continue
        return value[1:-1] if kind == "iri" else value
    return ""


def check_text(
    text: str,
    *,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    updates: bool = False,
    allowed: Collection[str] = (),
    local_graphs: str | None = None,
) -> QueryText:
    """Refuse a SPARQL text before any engine sees it; return its shape when it may run.

    ``updates`` allows SPARQL Update; ``allowed`` are the endpoints ``SERVICE`` / ``FROM`` /
    ``LOAD`` may name; ``local_graphs`` is an IRI prefix of graphs the engine holds itself, which
    ``FROM`` may name without fetching (None: none may). Raises QueryTextRefused with a one-line
    reason.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_text_bytes:
        raise QueryTextRefused(f"the query is {size} bytes long; the limit is {max_text_bytes} bytes")
    shape = read_query_text(text)
    expanded = expand_codepoint_escapes(text)
    if expanded != text:  # what rdflib parses: \u0046ROM <file:///...> read a file, \u0053ERVICE fetched
        shape = _either(shape, read_query_text(expanded))
    if shape.depth > max_depth:
        raise QueryTextRefused(f"the query is nested {shape.depth} levels deep; the limit is {max_depth} levels")
    if shape.form in UPDATE_FORMS and not updates:
        raise QueryTextRefused(f"SPARQL updates ({shape.form}) are refused: this runs read-only queries only")
    if not shape.form:
        raise QueryTextRefused("not a SPARQL query: expected SELECT, ASK, CONSTRUCT or DESCRIBE")
    for keyword, targets in (("SERVICE", shape.services), ("LOAD", shape.loads)):
        for target in targets:
            if target not in allowed:
                raise QueryTextRefused(_fetch_refusal(keyword, target), fetch=True)
    for target in shape.datasets:
        local = local_graphs is not None and target.startswith(local_graphs)
        if not local and target not in allowed:
            raise QueryTextRefused(_fetch_refusal("FROM", target), fetch=True)
    return shape


#: SPARQL's codepoint escapes (``\\u0053``, ``\\U00000053``), which rdflib's parser expands in the
#: whole text before it parses (its ``expandUnicodeEscapes``; a keyword can be written with them).
_CODEPOINT: Final = re.compile(r"\\u([0-9a-f]{4}(?:[0-9a-f]{4})?)", re.IGNORECASE)


def expand_codepoint_escapes(text: str) -> str:
    """The text with its codepoint escapes expanded, as rdflib's SPARQL parser reads it (an
    escape of no code point is left as written: rdflib refuses the query)."""

    def expand(match: re.Match[str]) -> str:
        try:
            return chr(int(match.group(1), 16))
        except (ValueError, OverflowError):
            return match.group()

    return _CODEPOINT.sub(expand, text)


def _either(raw: QueryText, expanded: QueryText) -> QueryText:
    """A query read both as written (Oxigraph expands no escapes) and with its escapes expanded
    (rdflib): every endpoint, graph and load either names, an update if either is one."""
    form = expanded.form if expanded.form in UPDATE_FORMS or not raw.form else raw.form
    return QueryText(
        form=form,
        services=raw.services + expanded.services,
        datasets=raw.datasets + expanded.datasets,
        loads=raw.loads + expanded.loads,
        variables=raw.variables,
        placeholders=raw.placeholders,
        depth=max(raw.depth, expanded.depth),
    )


def _fetch_refusal(keyword: str, target: str) -> str:
    named = f" {target}" if target else ""
    return f"{keyword}{named} is refused: it would make the engine fetch from the network or read a file"


__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_TEXT_BYTES",
    "QUERY_FORMS",
    "UPDATE_FORMS",
    "QueryText",
    "QueryTextRefused",
    "check_text",
    "expand_codepoint_escapes",
    "read_query_text",
]
