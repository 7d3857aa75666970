"""rdflib's JSON-LD to RDF, refusing what it would drop without a word.

JSON-LD processing drops a value it cannot turn into RDF: a node reference or ``@vocab`` term
that is not an IRI (``"xray_suggests_bone_sarcoma "``, with a trailing space, or ``"a b"``), a
key that maps to no IRI, a node whose ``@id`` is not an IRI (with everything said about it).
rdflib's parser does so silently, so a present finding typed with a stray space vanished and the
case was triaged as if it had never been recorded. :func:`parse_json_ld` runs the same parser
but raises :class:`LostValue` instead, naming the key and the value. A JSON ``null`` is no value
in JSON-LD (and in a case form) and is not reported.

The check overrides three private methods of rdflib's parser. Should an rdflib release rename
them or change their parameters, the overrides would no longer run and values would again be
dropped silently, so :func:`parse_json_ld` first checks that the parser still has them, with the
parameters this module passes, and refuses to read JSON-LD (:class:`UncheckedParser`) otherwise.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import rdflib.plugins.parsers.jsonld as jsonld_parser
from rdflib import ConjunctiveGraph, Graph
from rdflib.plugins.shared.jsonld.context import Context, Term
from rdflib.plugins.shared.jsonld.keys import GRAPH, INCLUDED, LIST, NEST, SET, TYPE, VALUE
from rdflib.term import Node


class LostValue(Exception):
    """A value JSON-LD processing would have dropped. ``key`` is the key it was under (if known)."""

    def __init__(self, key: str | None, value: Any, reason: str) -> None:
        super().__init__(f"{key}: {value!r}" if key else repr(value))
        self.key = key
        self.value = value
        self.reason = reason

    @property
    def problem(self) -> str:
        """The value, where it was, and why it cannot be read, for an error line."""
        shown = self.value if isinstance(self.value, str) else repr(self.value)
        where = f"'{self.key}': " if self.key else ""
        return f"{where}{_quoted(shown)} {self.reason} (JSON-LD would drop it silently)"


def _quoted(text: str, longest: int = 60) -> str:
    text = text if len(text) <= longest else f"{text[:longest]}... ({len(text)} characters)"
    return repr(text) if not text.isprintable() or text != text.strip() else f"'{text}'"


class UncheckedParser(Exception):
    """The installed rdflib's JSON-LD parser lacks a method this module overrides, or takes other
    parameters: reading with it could drop values silently."""


#: The parser methods :class:`_StrictParser` overrides, with the parameters it calls them with.
_OVERRIDDEN: dict[str, tuple[str, ...]] = {
    "_add_to_graph": ("self", "dataset", "graph", "context", "node", "topcontext"),
    "_key_to_graph": ("self", "dataset", "graph", "context", "subj", "key", "obj", "reverse", "no_id"),
    "_to_object": ("self", "dataset", "graph", "context", "term", "node", "inlist"),
}


def unchecked_methods(parser: type = jsonld_parser.Parser) -> list[str]:
    """The methods of ``parser`` that :class:`_StrictParser` overrides but that are missing or take
    other parameters (none for the rdflib dorsum was written against)."""
    unchecked = []
    for name, parameters in _OVERRIDDEN.items():
        try:
            found = tuple(inspect.signature(getattr(parser, name)).parameters)
        except (AttributeError, TypeError, ValueError):
            found = ()
        if found != parameters:
            unchecked.append(name)
    return unchecked


@functools.cache
def _require_checked_parser() -> None:
    unchecked = unchecked_methods()
    if unchecked:
        raise UncheckedParser(
            f"this rdflib's JSON-LD parser has changed ({', '.join(unchecked)}), so dorsum cannot check that it "
            "keeps every value: JSON-LD is not read (install rdflib 7, or give the case as a case form or Turtle)"
        )


_NOT_A_TERM = "is not a term or an IRI"
#: The keywords whose values become triples (the others reaching a node's keys give none).
_KEYWORDS_WITH_VALUES = frozenset({TYPE, GRAPH, SET, INCLUDED, NEST, LIST})


class _StrictParser(jsonld_parser.Parser):
    """rdflib's JSON-LD parser, raising LostValue where it would drop a value or a key."""

    def _add_to_graph(
        self, dataset: Graph, graph: Graph, context: Context, node: Any, topcontext: bool = False
    ) -> Node | None:
        subject = super()._add_to_graph(dataset, graph, context, node, topcontext)
        if subject is None:
            identifier = context.get_id(node) if isinstance(node, dict) else None
            if identifier is not None:
                raise LostValue(None, identifier, "is not an IRI, so nothing said about it can be read")
            raise LostValue(None, node, "is not a node object")
        return subject

    def _key_to_graph(
        self,
        dataset: Graph,
        graph: Graph,
        context: Context,
        subj: Node,
        key: str,
        obj: Any,
        reverse: bool = False,
        no_id: bool = False,
    ) -> None:
        if key.startswith("@"):
            if key not in _KEYWORDS_WITH_VALUES:  # "@index", "@foo": JSON-LD keeps nothing of it
                raise LostValue(key, obj, "is under a key that JSON-LD ignores")
        else:
            term = context.terms.get(key)
            predicate = term.id if term else context.expand(key)
            if not isinstance(predicate, str) or not predicate or predicate.startswith("_:"):
                raise LostValue(key, obj, "is under a key that names no property")
        super()._key_to_graph(dataset, graph, context, subj, key, obj, reverse, no_id)

    def _to_object(
        self, dataset: Graph, graph: Graph, context: Context, term: Term | None, node: Any, inlist: bool = False
    ) -> Node | None:
        try:
            found = super()._to_object(dataset, graph, context, term, node, inlist)
        except LostValue as lost:
            if isinstance(node, str):  # a reference by term or IRI, expanded before it was refused
                raise LostValue(term.name if term else lost.key, node, _NOT_A_TERM) from None
            if lost.key is None and term is not None:
                raise LostValue(term.name, lost.value, lost.reason) from None
            raise
        if found is None and not _null(context, node):
            raise LostValue(term.name if term else None, node, _NOT_A_TERM)
        return found


def _null(context: Context, node: Any) -> bool:
    """JSON-LD's "no value": ``null``, a null in a language map, ``{"@value": null}``."""
    if node is None:
        return True
    if isinstance(node, tuple):
        return node[0] is None
    if isinstance(node, dict):
        return (VALUE in node or context.get_key(VALUE) in node) and context.get_value(node) is None
    return False


def parse_json_ld(graph: Graph, document: Any, base: str) -> None:
    """Add the triples of a decoded JSON-LD document to ``graph``, relative IRIs against ``base``
    (what ``graph.parse(format="json-ld", publicID=base)`` does), raising LostValue where rdflib
    would drop a value. A remote or file context is loaded by rdflib's loader (which dorsum
    replaces by one that refuses, see :mod:`reasoner.pipeline.read`). Raises UncheckedParser if
    rdflib's parser is not one this module can check."""
    _require_checked_parser()
    sink = ConjunctiveGraph(store=graph.store, identifier=graph.identifier)
    _StrictParser().parse(document, Context(base=base, version=1.1), sink)
