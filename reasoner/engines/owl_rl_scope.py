"""The OWL vocabulary the compiled OWL 2 RL rules (:mod:`reasoner.engines.owl_rl`) implement, and the
checks that a closed schema, a case and every triple inferred from it stay inside it.

Anything outside makes the compiled rules raise :class:`UnsupportedConstruct`, so that the caller can
use owlrl itself. Generic OWL 2 RL machinery: it holds no facts of any domain.
"""

from __future__ import annotations

from collections.abc import Iterable

from owlrl.XsdDatatypes import OWL_RL_Datatypes
from rdflib import URIRef
from rdflib.namespace import OWL, RDF, RDFS
from rdflib.term import Node

from reasoner.terms import RDF_TYPE, Triple

__all__ = ["RL_DATATYPES", "UnsupportedConstruct", "check_supported", "schema_statement"]


_OWL_NS = str(OWL)
_RDFS_NS = str(RDFS)

# The literal datatypes owlrl types literals with (rule dt-type2).
RL_DATATYPES: frozenset[Node] = frozenset(OWL_RL_Datatypes)

# Predicates of the OWL namespace the engine understands, or that owlrl gives no A-box meaning to.
_KNOWN_OWL_PREDICATES: frozenset[Node] = frozenset(
    {
        OWL.onProperty,
        OWL.someValuesFrom,
        OWL.allValuesFrom,
        OWL.hasValue,
        OWL.intersectionOf,
        OWL.unionOf,
        OWL.equivalentClass,
        OWL.equivalentProperty,
        OWL.inverseOf,
        OWL.sameAs,  # accepted only as the reflexive x owl:sameAs x that owlrl adds to every node
        OWL.disjointWith,  # accepted only between two datatypes (owlrl adds those itself)
        OWL.imports,
        OWL.versionIRI,
        OWL.versionInfo,
        OWL.priorVersion,
        OWL.backwardCompatibleWith,
        OWL.incompatibleWith,
        OWL.deprecated,
    }
)

# Classes of the OWL namespace that may appear as the object of rdf:type in the closed schema.
_KNOWN_OWL_TYPES: frozenset[Node] = frozenset(
    {
        OWL.Class,
        OWL.Restriction,
        OWL.ObjectProperty,
        OWL.DatatypeProperty,
        OWL.AnnotationProperty,
        OWL.OntologyProperty,
        OWL.NamedIndividual,
        OWL.Ontology,
        OWL.Thing,
        OWL.TransitiveProperty,
        OWL.SymmetricProperty,
        OWL.DeprecatedClass,
        OWL.DeprecatedProperty,
    }
)

# Annotation properties that owlrl declares itself (rule prp-ap); they carry no A-box meaning.
_ANNOTATION_PREDICATES: frozenset[Node] = frozenset(
    {
        RDFS.label,
        RDFS.comment,
        RDFS.seeAlso,
        RDFS.isDefinedBy,
        OWL.deprecated,
        OWL.versionInfo,
        OWL.priorVersion,
        OWL.backwardCompatibleWith,
        OWL.incompatibleWith,
    }
)

# Predicates outside the OWL namespace that make a triple part of the schema.
_SCHEMA_PREDICATES: frozenset[Node] = frozenset(
    {RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range, RDF.first, RDF.rest}
)

# rdf:type objects a case node may have without the triple being a schema statement.
_INSTANCE_TYPES_IN_VOCABULARY: frozenset[Node] = frozenset({OWL.Thing, OWL.NamedIndividual, RDFS.Resource})


class UnsupportedConstruct(Exception):
    """The schema (or a case) uses an OWL construct the compiled engine does not implement."""


def _in_namespace(node: Node, namespace: str) -> bool:
    return isinstance(node, URIRef) and str(node).startswith(namespace)


_MEMO_LIMIT = 10_000
_BY_PREDICATE: dict[tuple[Node, bool], str | None] = {}  # answers that depend on the predicate only
_BY_CLASS: dict[tuple[Node, bool], str | None] = {}  # rdf:type answers, by class


def schema_statement(triple: Triple, *, derived: bool) -> str | None:
    """Why a case triple (or a triple derived from the case) would change the schema, or None if it does not.

    A case may not type a node with a datatype (owlrl's one-time datatype rules would treat it specially);
    a derived triple may, because owlrl does not re-run those rules. Answers are memoised: they
    depend on the predicate alone, or for ``rdf:type`` on the class alone.
    """
    _s, p, o = triple
    memo, key = (_BY_CLASS, (o, derived)) if p is RDF_TYPE or p == RDF_TYPE else (_BY_PREDICATE, (p, derived))
    try:
        return memo[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable term: no memo
        return _schema_statement(p, o, derived)
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    answer = memo[key] = _schema_statement(p, o, derived)
    return answer


def _schema_statement(p: Node, o: Node, derived: bool) -> str | None:
    if not isinstance(p, URIRef):
        return f"a predicate that is not an IRI ({p!r})"
    if p == RDF_TYPE:
        if o in _INSTANCE_TYPES_IN_VOCABULARY:
            return None
        if o in RL_DATATYPES:
            return None if derived else f"rdf:type {o.n3()}"
        if o == RDF.Property or any(_in_namespace(o, ns) for ns in (_OWL_NS, _RDFS_NS)):
            return f"rdf:type {o.n3()}"
        return None
    if p in _SCHEMA_PREDICATES:
        return p.n3()
    if _in_namespace(p, _OWL_NS) and p not in _ANNOTATION_PREDICATES:
        return p.n3()
    return None


def check_supported(closed: Iterable[Triple]) -> None:
    """Raise :class:`UnsupportedConstruct` naming the first construct of the closed schema that the
    compiled rules do not implement."""
    for s, p, o in closed:
        if p == RDF.type:
            if _in_namespace(o, _OWL_NS) and o not in _KNOWN_OWL_TYPES:
                raise UnsupportedConstruct(f"{o.n3()} (on {s.n3()}) is not implemented by the compiled rules")
            continue
        if not _in_namespace(p, _OWL_NS) or p in _ANNOTATION_PREDICATES:
            continue
        if p not in _KNOWN_OWL_PREDICATES:
            raise UnsupportedConstruct(f"{p.n3()} (on {s.n3()}) is not implemented by the compiled rules")
        if p == OWL.sameAs and s != o:
            raise UnsupportedConstruct(f"owl:sameAs (on {s.n3()}) is not implemented by the compiled rules")
        if p == OWL.disjointWith and not (s in RL_DATATYPES and o in RL_DATATYPES):
            raise UnsupportedConstruct(f"owl:disjointWith (on {s.n3()}) is not implemented by the compiled rules")
