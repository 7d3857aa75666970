"""One object per IRI and blank-node label in a process, for the terms that recur in every case.

rdflib compares terms in Python (``URIRef.__eq__``), but a dictionary or set lookup whose key is
the very same object never calls it. The knowledge loaded from the caches (:mod:`reasoner.cache`),
the engines' own constants and the vocabulary a case form is read into all take their terms from
here, so that the indexes the engines build per knowledge and the triples of each case share
objects, and the hot lookups of reasoning succeed on identity.

Only vocabulary belongs here (the knowledge's terms and the terms a case-form context names), never
a case's own nodes: the pool lives as long as the process.

:class:`KindTable` (``IS_LITERAL``, ``IS_IRI``, ``IS_BLANK``) tells a term's kind by a lookup of its
class, for the engines' inner loops: ``isinstance`` on rdflib's term classes, which are abstract base
classes, runs Python code on every call.
"""

from __future__ import annotations

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF
from rdflib.term import Node

__all__ = ["IS_BLANK", "IS_IRI", "IS_LITERAL", "RDF_TYPE", "TYPE_ONLY", "KindTable", "Triple", "blank_term", "iri_term"]

Triple = tuple[Node, Node, Node]

_NEW_STR = str.__new__  # builds a str subclass without running its constructor
_PLAIN = str.__str__  # the text of a str subclass as a plain str
_IRIS: dict[str, URIRef] = {}
_BLANKS: dict[str, BNode] = {}


def iri_term(value: str) -> URIRef:
    """The one ``URIRef`` object for ``value`` (an IRI, as text or a ``URIRef``, that was already
    checked when first made)."""
    key = _PLAIN(value)  # plain text: a URIRef never equals a str key
    term = _IRIS.get(key)
    if term is None:
        term = _IRIS[key] = _NEW_STR(URIRef, key)
    return term


def blank_term(label: str) -> BNode:
    """The one ``BNode`` object for a blank-node label of the knowledge."""
    key = _PLAIN(label)
    term = _BLANKS.get(key)
    if term is None:
        term = _BLANKS[key] = _NEW_STR(BNode, key)
    return term


class KindTable(dict[type, bool]):
    """Whether a class is ``kind`` or a subclass of it, looked up by the class: ``TABLE[term.__class__]``.

    rdflib's term classes are abstract base classes, so ``isinstance(term, Literal)`` runs Python code
    (``ABCMeta.__instancecheck__``) on every call; a dictionary lookup by the class is a C-level hash.
    Each class is checked with :func:`issubclass` the first time it is seen, so the answer is exact.
    """

    def __init__(self, kind: type) -> None:
        super().__init__()
        self.kind = kind

    def __missing__(self, cls: type) -> bool:
        answer = self[cls] = issubclass(cls, self.kind)
        return answer


IS_LITERAL = KindTable(Literal)
IS_IRI = KindTable(URIRef)
IS_BLANK = KindTable(BNode)


#: ``rdf:type``, pooled; and as a one-element set, so that a test ``p in TYPE_ONLY`` hashes (rdflib's
#: ``==`` on terms runs Python code, and runs only for an equal hash here).
RDF_TYPE: URIRef = iri_term(RDF.type)
TYPE_ONLY: frozenset[Node] = frozenset({RDF_TYPE})
