"""Read a checked case form straight into triples, through the case-form context compiled once.

A case form becomes a graph by JSON-LD: the form, the shipped context and ``@type: Case``
parsed by rdflib's JSON-LD parser (:func:`reasoner.pipeline.read.case_from_form_json_ld`). That
route is exact but slow: each case dumps JSON text, loads the whole context again and walks the
document through rdflib's general JSON-LD machinery. This module gives the same triples without
the round trip. The context is loaded once per knowledge into rdflib's own JSON-LD ``Context``
and turned into a table of its terms: predicate, value kind (plain, typed with a datatype, a
reference by ``@vocab`` or ``@id``); every term's expansion, the case type and each case's
``@id`` against ``@base`` are computed by that ``Context``, so the IRIs are rdflib's.

The reader covers a subset of what JSON-LD allows, the subset case forms use; for everything
else it returns None and the caller takes the JSON-LD route, so a form never gets a different
graph or a different error. Covered: a context with an absolute ``@base``, ``id`` aliasing
``@id``, no default ``@language`` and propagating; terms with an ``@id`` (not a keyword or
blank node), an optional ``@type`` (a datatype IRI, ``@id`` or ``@vocab``) and no other keyword
but ``@container: @set``; values that are ``None`` (no triple), text, booleans, whole numbers
within 64 bits, finite floats, ``Decimal`` (written out as text, as ``json.dumps(default=str)``
does), objects without ``id`` (blank nodes, nested at most :data:`MAX_NESTING` deep) and lists of
these (one triple each, in the order given, duplicates included: the triple limit counts every
triple the JSON-LD parser would add). Anything else (another key, a nested list, a tuple, a date,
text with lone surrogates, a term the table does not cover) falls back.

The triples are those rdflib's parser adds with literal normalisation off (the numbers as
written); :mod:`reasoner.pipeline.read` checks and normalises them exactly as it does the parsed
graph's.
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF, XSD
from rdflib.plugins.shared.jsonld.context import UNDEF, Context
from rdflib.plugins.shared.jsonld.keys import ID, JSON, SET, VOCAB
from rdflib.term import Node

from reasoner.knowledge import Knowledge
from reasoner.terms import Triple, iri_term

#: The deepest nesting of objects the direct reader follows (a case form nests one: its lump);
#: a deeper form takes the JSON-LD route, whose recursion limits then apply.
MAX_NESTING = 8
#: The term a case form's ``@type`` names, and the form key that names the case (an @id alias).
CASE_TYPE = "Case"
ID_KEY = "id"
_INT_BOUND = 1 << 63  # a faster JSON library (orjson, if rdflib finds it) reads no wider integers
_SURROGATE = re.compile("[\ud800-\udfff]")
_PLAIN, _TYPED, _VOCAB, _ID = "plain", "typed", "vocab", "id"


class _Outside(Exception):
    """The form holds something the direct reader does not cover: take the JSON-LD route."""


@dataclass(frozen=True)
class _Property:
    """A context term a form may use as a key: the triples a value of it gives."""

    predicate: URIRef
    kind: str  # _PLAIN, _TYPED, _VOCAB or _ID
    datatype: URIRef | None  # for _TYPED


@dataclass(frozen=True, eq=False)
class FormContext:
    """The case-form context compiled for the direct reader (:func:`compile_form_context`)."""

    jsonld: Context  # rdflib's reading of the context: expansions not in the tables are its own
    properties: Mapping[str, _Property]  # form key -> how its values become triples
    references: Mapping[str, URIRef]  # a term used as a value of an @vocab property -> its node
    case_type: URIRef  # the object of the case's rdf:type triple
    id_key: str  # the form key that names the case (an alias of @id)

    def triples(self, document: Mapping[str, Any]) -> list[Triple] | None:
        """The triples of a checked form (``id`` included), as rdflib's JSON-LD parser would add
        them for the form with the context and ``@type`` of the case type; None if the form holds
        anything the direct reader does not cover."""
        try:
            case = self._identified(document.get(self.id_key))
            found: list[Triple] = [(case, RDF.type, self.case_type)]
            self._describe(case, document, found, 0)
        except Exception:  # _Outside, or rdflib refusing a reference: the JSON-LD route decides
            return None
        return found

    def _describe(self, subject: URIRef | BNode, node: Mapping[str, Any], found: list[Triple], depth: int) -> None:
        for key, value in node.items():
            if key == self.id_key and depth == 0:
                continue
            prop = self.properties.get(key) if isinstance(key, str) else None
            if prop is None:
                raise _Outside
            for item in value if isinstance(value, list) else (value,):
                obj = self._object(prop, item, found, depth)
                if obj is not None:
                    found.append((subject, prop.predicate, obj))

    def _object(self, prop: _Property, value: Any, found: list[Triple], depth: int) -> Node | None:
        if value is None:
            return None
        if type(value) is dict:
            if depth + 1 > MAX_NESTING or self.id_key in value:
                raise _Outside
            node = BNode()
            self._describe(node, value, found, depth + 1)
            return node
        value = _as_json_reads(value)
        if prop.kind == _TYPED:
            return Literal(value, datatype=prop.datatype, normalize=False)
        if prop.kind == _PLAIN:
            if type(value) is float:
                return Literal(value, datatype=XSD.double)
            return Literal(value, normalize=False)
        if type(value) is not str:
            raise _Outside
        if prop.kind == _VOCAB:
            known = self.references.get(value)
            if known is not None:
                return known
            return self._identified(self.jsonld.expand(value) or self.jsonld.resolve_iri(value))
        return self._identified(self.jsonld.resolve(value))

    def _identified(self, reference: Any) -> URIRef:
        return _reference_node(self.jsonld, reference)


def _as_json_reads(value: Any) -> Any:
    """A scalar as rdflib's parser gets it back from ``json.dumps(default=str)``: a Decimal as
    its text, text, a boolean, an integer or a finite float as they are; _Outside for anything
    else (a nested list, a tuple, a date, another mapping...) and for what some JSON libraries
    read differently (text with lone surrogates, integers beyond 64 bits)."""
    kind = type(value)
    if kind is Decimal:
        return str(value)
    if kind is str:
        if not value.isascii() and _SURROGATE.search(value):
            raise _Outside
        return value
    if kind is bool:
        return value
    if kind is int and -_INT_BOUND <= value < _INT_BOUND:
        return value
    if kind is float and math.isfinite(value):
        return value
    raise _Outside


def _reference_node(jsonld: Context, reference: Any) -> URIRef:
    """The node rdflib's JSON-LD parser makes of a node reference (its ``_to_rdf_id``); _Outside
    where it would make a blank node or drop the triple."""
    if not isinstance(reference, str) or reference.startswith("_:"):
        raise _Outside
    iri = jsonld.resolve(reference)
    if ":" not in iri:
        raise _Outside
    node = URIRef(iri)
    if not str(node):
        raise _Outside
    return node


def compile_form_context(context: Mapping[str, Any], case_type: str = CASE_TYPE) -> FormContext | None:
    """The direct reader for a case-form context, or None if the context uses JSON-LD features
    the reader does not cover (then every form takes the JSON-LD route). ``case_type`` is the
    ``@type`` a form is read with."""
    jsonld = Context(version=1.1)
    try:
        jsonld.load(dict(context))
    except Exception:  # a context rdflib cannot load (or would fetch): the JSON-LD route reports it
        return None
    base = jsonld.base
    if (
        not context
        or jsonld.version < 1.1
        or jsonld.language is not None
        or not jsonld.propagate
        or not isinstance(base, str)
        or "://" not in base
        or ID_KEY not in jsonld._alias.get(ID, [])
    ):
        return None
    aliases = {alias for names in jsonld._alias.values() for alias in names}
    properties = {
        name: prop
        for name, term in jsonld.terms.items()
        if name not in aliases and (prop := _property(jsonld, term)) is not None
    }
    references = {}
    for name in jsonld.terms:
        try:
            references[name] = iri_term(_reference_node(jsonld, jsonld.expand(name) or jsonld.resolve_iri(name)))
        except Exception:  # rdflib refusing the term: its values take the JSON-LD route
            continue
    type_term = jsonld.terms.get(case_type)
    if type_term is None or type_term.context is not UNDEF or case_type not in references:
        return None
    return FormContext(jsonld, properties, references, references[case_type], ID_KEY)


def _property(jsonld: Context, term: Any) -> _Property | None:
    """How the JSON-LD parser turns values of ``term`` into triples, if the reader covers it."""
    identifier = term.id
    if (
        not isinstance(identifier, str)
        or not identifier
        or identifier.startswith(("@", "_:"))
        or term.reverse
        or term.context is not UNDEF
        or term.language is not UNDEF
        or term.index not in (UNDEF, None)
        or not set(term.container) <= {SET}
    ):
        return None
    predicate = iri_term(URIRef(identifier))  # vocabulary: the pooled object (see reasoner.terms)
    coercion = term.type
    if not coercion:
        return _Property(predicate, _PLAIN, None)
    if coercion == VOCAB:
        return _Property(predicate, _VOCAB, None)
    if coercion == ID:
        return _Property(predicate, _ID, None)
    if not isinstance(coercion, str) or coercion.startswith("@") or coercion in jsonld.get_keys(JSON):
        return None
    datatype = jsonld.expand(coercion)
    if not isinstance(datatype, str) or not datatype or datatype.startswith("@"):
        return None
    return _Property(predicate, _TYPED, iri_term(URIRef(datatype)))


_COMPILED: weakref.WeakKeyDictionary[Knowledge, FormContext | None] = weakref.WeakKeyDictionary()


def form_context(knowledge: Knowledge) -> FormContext | None:
    """The knowledge's case-form context, compiled on first use (None: the reader does not cover it)."""
    try:
        return _COMPILED[knowledge]
    except KeyError:
        compiled = _COMPILED[knowledge] = compile_form_context(knowledge.context)
        return compiled
