"""The OWL 2 RL closure of an ontology, exactly as owlrl computes it, by semi-naive forward chaining.

owlrl's ``DeductiveClosure(OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False)`` adds its
one-time triples (cls-thing, cls-nothing1, prp-ap, dt-type1, dt-type2 with its datatype subsumptions,
the disjointness of the datatypes in use), then runs every rule over every triple of the graph, cycle
after cycle, until a cycle adds nothing; last it removes the triples whose predicate is a blank node
and adds a blank node per error message. Its rules are monotone and make no new nodes (its prp-ap of
the first cycle repeats the one-time prp-ap), so the cycles compute the least set of triples that
holds the input and the one-time triples and is closed under the rules. :func:`close_schema` computes
that same set, but joins each triple once, when it is added, with the triples already present
(indexed by subject and predicate, and by predicate and object).

Rules applied (names from the OWL 2 RL profile, tables 4-9; each as owlrl words it, with its guards):
eq-ref, prp-dom, prp-rng, prp-symp, prp-trp, prp-spo1, prp-eqp1/2, prp-inv1/2, cls-int1/2, cls-uni,
cls-svf1/2, cls-avf, cls-hv1/2, cax-sco, cax-eqc1/2, scm-cls, scm-sco, scm-eqc1/2, scm-op, scm-dp
(also on ``rdf:Property``, as owlrl does), scm-spo, scm-eqp1/2, scm-dom1/2, scm-rng1/2, scm-hv,
scm-svf1/2, scm-avf1/2, scm-int, scm-uni. The other equality rules derive nothing while every
``owl:sameAs`` is reflexive, which is checked; cax-dw only records errors, so it is a check too.

Anything else makes :func:`close_schema` raise :class:`UnsupportedRule`, so that the caller uses owlrl
itself: a triple that would trigger a rule not implemented here (prp-fp, prp-ifp, prp-irp, prp-asyp,
prp-adp, prp-pdw, prp-spo2, prp-key, prp-npa1/2, cls-com, cls-maxc1/2, cls-maxqc1-4, cls-oo, cax-adc,
eq-diff1-3), an ``owl:sameAs`` between two different nodes or in the input, an error owlrl would
record (dt-not-type: a literal whose lexical form does not fit its datatype; cls-nothing2: an instance
of ``owl:Nothing``; cax-dw: a common instance of two disjoint classes), a list that is not well formed,
a derived ``rdf:first`` or ``rdf:rest`` (owlrl reads the lists again in every cycle), or a literal
predicate in the input. The module is generic OWL 2 RL machinery: it holds no facts of any domain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

from owlrl.AxiomaticTriples import OWLRL_Datatypes_Disjointness
from owlrl.DatatypeHandling import AltXSDToPYTHON
from owlrl.OWLRL import OWLRL_Annotation_properties
from owlrl.XsdDatatypes import OWL_Datatype_Subsumptions, OWL_RL_Datatypes
from rdflib import BNode, Literal
from rdflib.namespace import OWL, RDF, RDFS
from rdflib.term import Node

from reasoner.terms import RDF_TYPE, Triple

__all__ = ["UnsupportedRule", "close_schema"]


_FIRST: Node = RDF.first
_REST: Node = RDF.rest
_SCO: Node = RDFS.subClassOf
_SPO: Node = RDFS.subPropertyOf
_DOMAIN: Node = RDFS.domain
_RANGE: Node = RDFS.range
_EQC: Node = OWL.equivalentClass
_EQP: Node = OWL.equivalentProperty
_INVERSE: Node = OWL.inverseOf
_ON_PROPERTY: Node = OWL.onProperty
_SOME: Node = OWL.someValuesFrom
_ALL: Node = OWL.allValuesFrom
_HAS_VALUE: Node = OWL.hasValue
_INTERSECTION: Node = OWL.intersectionOf
_UNION: Node = OWL.unionOf
_SAME_AS: Node = OWL.sameAs
_DISJOINT: Node = OWL.disjointWith
_THING: Node = OWL.Thing
_NOTHING: Node = OWL.Nothing
_CLASS: Node = OWL.Class
_SYMMETRIC: Node = OWL.SymmetricProperty
_TRANSITIVE: Node = OWL.TransitiveProperty
_PROPERTY_TYPES: frozenset[Node] = frozenset({OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property})  # scm-op/dp
_RL_DATATYPES: frozenset[Node] = frozenset(OWL_RL_Datatypes)
_LIST_PREDICATES: frozenset[Node] = frozenset({_FIRST, _REST})

# Predicates whose triples make owlrl apply a rule (or record an error) that is not implemented here.
_REFUSED_PREDICATES: Mapping[Node, str] = {
    OWL.propertyChainAxiom: "prp-spo2",
    OWL.propertyDisjointWith: "prp-pdw",
    OWL.hasKey: "prp-key",
    OWL.sourceIndividual: "prp-npa1/2",
    OWL.complementOf: "cls-com",
    OWL.maxCardinality: "cls-maxc1/2",
    OWL.maxQualifiedCardinality: "cls-maxqc1-4",
    OWL.oneOf: "cls-oo",
    OWL.differentFrom: "eq-diff1",
}
# Classes whose instances make owlrl apply a rule (or record an error) that is not implemented here.
_REFUSED_TYPES: Mapping[Node, str] = {
    OWL.FunctionalProperty: "prp-fp",
    OWL.InverseFunctionalProperty: "prp-ifp",
    OWL.IrreflexiveProperty: "prp-irp",
    OWL.AsymmetricProperty: "prp-asyp",
    OWL.AllDisjointProperties: "prp-adp",
    OWL.AllDisjointClasses: "cax-adc",
    OWL.AllDifferent: "eq-diff2/3",
    OWL.Nothing: "cls-nothing2",
}

# The terms the rules name.
_VOCABULARY: tuple[Node, ...] = (
    RDF_TYPE, _FIRST, _REST, _SCO, _SPO, _DOMAIN, _RANGE, _EQC, _EQP, _INVERSE, _ON_PROPERTY, _SOME, _ALL,
    _HAS_VALUE, _INTERSECTION, _UNION, _SAME_AS, _DISJOINT, _THING, _NOTHING, _CLASS, _SYMMETRIC, _TRANSITIVE,
    *_PROPERTY_TYPES, *_REFUSED_PREDICATES, *_REFUSED_TYPES,
)  # fmt: skip

_EMPTY: frozenset[Node] = frozenset()


class UnsupportedRule(Exception):
    """The ontology needs an owlrl rule (or owlrl records an error) that :func:`close_schema` does not
    implement: use owlrl."""


def close_schema(schema: Iterable[Triple]) -> set[Triple]:
    """Return a new set: the triples of owlrl's OWL 2 RL closure of ``schema`` (no axiomatic or datatype
    axiom triples), without its error records (there are none, or this raises).

    ``schema`` is not modified. Raises :class:`UnsupportedRule` as the module documents.
    """
    triples = list(schema)
    for s, p, _o in triples:
        if p == _SAME_AS:  # owlrl's one-time datatype rules read owl:sameAs of the input
            raise UnsupportedRule(f"owl:sameAs in the input (on {s.n3()})")
        if isinstance(p, Literal):  # kept by owlrl, where the rules never make one
            raise UnsupportedRule(f"a literal predicate in the input (on {s.n3()})")
    triples += _one_time_triples(triples)
    # One object per term (the rules' own terms first): the indexes then find their keys by identity.
    canonical: dict[Node, Node] = {term: term for term in _VOCABULARY}
    setdefault = canonical.setdefault
    triples = [(setdefault(s, s), setdefault(p, p), setdefault(o, o)) for s, p, o in triples]
    chainer = _Chainer({term for term in canonical if isinstance(term, Literal)})
    for s, p, o in triples:
        chainer.add(s, p, o)
    chainer.loaded = True
    chainer.saturate()
    chainer.check_disjointness()
    return {(s, p, o) for p, pairs in chainer.by_predicate.items() if not isinstance(p, BNode) for s, o in pairs}


def _one_time_triples(schema: list[Triple]) -> list[Triple]:
    """owlrl's one-time rules (``_one_time_rules_misc`` and ``_one_time_rules_datatypes``) on ``schema``."""
    found: list[Triple] = [(_THING, RDF_TYPE, _CLASS), (_NOTHING, RDF_TYPE, _CLASS)]  # cls-thing, cls-nothing1
    found += [(prop, RDF_TYPE, OWL.AnnotationProperty) for prop in OWLRL_Annotation_properties]  # prp-ap
    # dt-type2: every literal of a datatype of OWL 2 RL is an instance of it; dt-not-type: owlrl records
    # an error if its lexical form does not map into the datatype.
    implicit: dict[Node, Node] = {}
    for _s, _p, o in schema:
        if isinstance(o, Literal) and o.datatype in _RL_DATATYPES:
            implicit[o] = o.datatype
    used: set[Node] = set(implicit.values())
    for literal, datatype in implicit.items():
        found.append((literal, RDF_TYPE, datatype))
        convert: Callable[[str], object] = AltXSDToPYTHON.get(datatype, str)
        try:
            convert(str(literal))
        except Exception as exc:
            raise UnsupportedRule(f"owlrl records an error for {literal.n3()} (dt-not-type)") from exc
    explicit: defaultdict[Node, set[Node]] = defaultdict(set)  # nodes typed with a datatype in the input
    for s, p, o in schema:
        if p == RDF_TYPE and o in _RL_DATATYPES:
            used.add(o)
            if s not in implicit:
                explicit[s].add(o)
    found += [(datatype, RDF_TYPE, RDFS.Datatype) for datatype in OWL_RL_Datatypes]  # dt-type1
    found += [(datatype, RDF_TYPE, RDFS.Datatype) for datatypes in explicit.values() for datatype in datatypes]
    typed: list[tuple[Node, Node]] = [(r, dt) for r, dts in explicit.items() for dt in dts]
    for node, datatype in [*typed, *implicit.items()]:  # owlrl's datatype subsumptions
        for supertype in OWL_Datatype_Subsumptions.get(datatype, ()):
            found += [(node, RDF_TYPE, supertype), (supertype, RDF_TYPE, RDFS.Datatype)]
            used.add(supertype)
    found += [triple for triple in OWLRL_Datatypes_Disjointness if triple[0] in used and triple[2] in used]
    return found


class _Chainer:
    """The closure under construction: every triple indexed three ways, and the triples not yet joined."""

    def __init__(self, literals: set[Node]) -> None:
        self.literals = literals  # every literal of the closure: the rules make no new terms
        self.sp: defaultdict[tuple[Node, Node], set[Node]] = defaultdict(set)
        self.po: defaultdict[tuple[Node, Node], set[Node]] = defaultdict(set)
        self.by_predicate: defaultdict[Node, list[tuple[Node, Node]]] = defaultdict(list)
        self.agenda: list[Triple] = []
        self.loaded = False  # the input and the one-time triples are in: later list triples are derived
        self.intersections_by_member: defaultdict[Node, list[tuple[Node, tuple[Node, ...]]]] = defaultdict(list)
        self.intersection_lists: defaultdict[Node, list[tuple[Node, ...]]] = defaultdict(list)
        self.unions_by_member: defaultdict[Node, list[Node]] = defaultdict(list)
        self.on_triple: dict[Node, Callable[[Node, Node], None]] = {
            RDF_TYPE: self._type,
            _SCO: self._subclass,
            _EQC: self._equivalent_class,
            _SPO: self._subproperty,
            _EQP: self._equivalent_property,
            _INVERSE: self._inverse,
            _DOMAIN: self._domain,
            _RANGE: self._range,
            _ON_PROPERTY: self._on_property,
            _SOME: self._some_values,
            _ALL: self._all_values,
            _HAS_VALUE: self._has_value,
            _INTERSECTION: self._intersection,
            _UNION: self._union,
            _SAME_AS: self._same_as,
        }
        self.on_vocabulary_type: dict[Node, Callable[[Node], None]] = {
            _CLASS: self._class,
            **dict.fromkeys(_PROPERTY_TYPES, self._property),
            _SYMMETRIC: self._symmetric,
            _TRANSITIVE: self._transitive,
        }

    # ---- the store -----------------------------------------------------------------------------

    def objects(self, s: Node, p: Node) -> tuple[Node, ...]:
        """A snapshot: the loops over it may add triples."""
        found = self.sp.get((s, p))
        return tuple(found) if found else ()

    def subjects(self, p: Node, o: Node) -> tuple[Node, ...]:
        found = self.po.get((p, o))
        return tuple(found) if found else ()

    def pairs(self, p: Node) -> tuple[tuple[Node, Node], ...]:
        return tuple(self.by_predicate.get(p, ()))

    def has(self, s: Node, p: Node, o: Node) -> bool:
        return o in self.sp.get((s, p), _EMPTY)

    def add(self, s: Node, p: Node, o: Node) -> None:
        if p in self.literals:  # owlrl never stores a triple with a literal predicate
            return
        objects = self.sp[(s, p)]
        if o in objects:
            return
        if self.loaded and p in _LIST_PREDICATES:
            raise UnsupportedRule(f"a derived list triple (on {s.n3()}): owlrl reads the lists in every cycle")
        objects.add(o)
        self.po[(p, o)].add(s)
        self.by_predicate[p].append((s, o))
        self.agenda.append((s, p, o))

    def items(self, head: Node) -> tuple[Node, ...]:
        """The members of the list at ``head``, read as owlrl reads them (rdflib's ``Graph.items``)."""
        members: list[Node] = []
        chain: set[Node | None] = {head}
        node: Node | None = head
        while node:
            firsts, rests = self.sp.get((node, _FIRST), _EMPTY), self.sp.get((node, _REST), _EMPTY)
            if len(firsts) > 1 or len(rests) > 1:
                raise UnsupportedRule(f"a list that is not well formed (at {node.n3()})")
            members.extend(firsts)
            node = next(iter(rests), None)
            if node in chain:
                raise UnsupportedRule(f"a list with a cycle (at {head.n3()})")
            chain.add(node)
        return tuple(members)

    # ---- the rules ------------------------------------------------------------------------------

    def saturate(self) -> None:
        """Join every triple of the agenda with the store until no rule adds a triple."""
        agenda, add, on_triple = self.agenda, self.add, self.on_triple
        while agenda:
            s, p, o = agenda.pop()
            add(s, _SAME_AS, s)  # eq-ref
            add(p, _SAME_AS, p)
            add(o, _SAME_AS, o)
            self._any_property(s, p, o)
            handler = on_triple.get(p)
            if handler is not None:
                handler(s, o)
            elif p in _REFUSED_PREDICATES:
                raise UnsupportedRule(f"{p.n3()} (on {s.n3()}) needs owlrl's rule {_REFUSED_PREDICATES[p]}")

    def check_disjointness(self) -> None:
        """cax-dw: owlrl records an error for a common instance of two disjoint classes."""
        for c1, c2 in self.pairs(_DISJOINT):
            if self.po.get((RDF_TYPE, c1), _EMPTY) & self.po.get((RDF_TYPE, c2), _EMPTY):
                raise UnsupportedRule(f"owlrl records an error: {c1.n3()} and {c2.n3()} have a common instance")

    def _any_property(self, s: Node, p: Node, o: Node) -> None:
        """The rules with a premise ``s p o`` for any ``p``: prp-dom, prp-rng, prp-spo1, prp-eqp1/2,
        prp-inv1/2, prp-symp, prp-trp; then cls-svf1/2, cls-avf, cls-hv2 where p is a restriction's."""
        add, has = self.add, self.has
        for c in self.objects(p, _DOMAIN):  # prp-dom
            add(s, RDF_TYPE, c)
        for c in self.objects(p, _RANGE):  # prp-rng
            add(o, RDF_TYPE, c)
        for q in self.objects(p, _SPO):  # prp-spo1
            add(s, q, o)
        for q in (*self.objects(p, _EQP), *self.subjects(_EQP, p)):  # prp-eqp1/2
            if q != p:
                add(s, q, o)
        for q in (*self.objects(p, _INVERSE), *self.subjects(_INVERSE, p)):  # prp-inv1/2
            add(o, q, s)
        if has(p, RDF_TYPE, _SYMMETRIC):  # prp-symp
            add(o, p, s)
        if has(p, RDF_TYPE, _TRANSITIVE):  # prp-trp, this triple first or second
            for z in self.objects(o, p):
                add(s, p, z)
            for w in self.subjects(p, s):
                add(w, p, o)
        for restriction in self.subjects(_ON_PROPERTY, p):
            self._property_value(restriction, s, o)

    def _property_value(self, restriction: Node, s: Node, o: Node) -> None:
        """``s p o`` with ``restriction owl:onProperty p``: cls-svf1/2, cls-avf, cls-hv2."""
        has = self.has
        for filler in self.objects(restriction, _SOME):  # cls-svf1/2
            if filler == _THING or has(o, RDF_TYPE, filler):
                self.add(s, RDF_TYPE, restriction)
        if has(s, RDF_TYPE, restriction):  # cls-avf
            for filler in self.objects(restriction, _ALL):
                self.add(o, RDF_TYPE, filler)
        if has(restriction, _HAS_VALUE, o):  # cls-hv2
            self.add(s, RDF_TYPE, restriction)

    def _type(self, s: Node, c: Node) -> None:
        """``s rdf:type c``: cax-sco, cax-eqc1/2, cls-int1/2, cls-uni; the rules on restrictions (c the
        restriction or its filler); the rules on OWL's own classes (c one of them)."""
        add, has = self.add, self.has
        for sup in (*self.objects(c, _SCO), *self.objects(c, _EQC), *self.subjects(_EQC, c)):  # cax-sco, cax-eqc
            if sup != c:
                add(s, RDF_TYPE, sup)
        for intersection, members in self.intersections_by_member.get(c, ()):  # cls-int1
            if all(has(s, RDF_TYPE, member) for member in members):
                add(s, RDF_TYPE, intersection)
        for members in self.intersection_lists.get(c, ()):  # cls-int2
            for member in members:
                add(s, RDF_TYPE, member)
        for union in self.unions_by_member.get(c, ()):  # cls-uni
            add(s, RDF_TYPE, union)
        self._restriction_member(s, c)
        vocabulary = self.on_vocabulary_type.get(c)
        if vocabulary is not None:
            vocabulary(s)
        elif c in _REFUSED_TYPES:
            raise UnsupportedRule(f"{s.n3()} rdf:type {c.n3()} needs owlrl's rule {_REFUSED_TYPES[c]}")

    def _restriction_member(self, s: Node, c: Node) -> None:
        """``s rdf:type c``: cls-avf and cls-hv1 (c a restriction), cls-svf1 (c a filler, s the value)."""
        for prop in self.objects(c, _ON_PROPERTY):
            for filler in self.objects(c, _ALL):  # cls-avf
                for value in self.objects(s, prop):
                    self.add(value, RDF_TYPE, filler)
            for value in self.objects(c, _HAS_VALUE):  # cls-hv1
                self.add(s, prop, value)
        for restriction in self.subjects(_SOME, c):  # cls-svf1
            for prop in self.objects(restriction, _ON_PROPERTY):
                for u in self.subjects(prop, s):
                    self.add(u, RDF_TYPE, restriction)

    def _class(self, c: Node) -> None:
        """scm-cls."""
        self.add(c, _SCO, c)
        self.add(c, _EQC, c)
        self.add(c, _SCO, _THING)
        self.add(_NOTHING, _SCO, c)

    def _property(self, p: Node) -> None:
        """scm-op, scm-dp (and the same for an ``rdf:Property``)."""
        self.add(p, _SPO, p)
        self.add(p, _EQP, p)

    def _symmetric(self, p: Node) -> None:
        """prp-symp."""
        for x, y in self.pairs(p):
            self.add(y, p, x)

    def _transitive(self, p: Node) -> None:
        """prp-trp."""
        for x, y in self.pairs(p):
            for z in self.objects(y, p):
                self.add(x, p, z)

    def _subclass(self, c1: Node, c2: Node) -> None:
        """``c1 rdfs:subClassOf c2``: cax-sco, scm-sco (as either premise), scm-eqc2, scm-dom1, scm-rng1,
        scm-svf1 and scm-avf1 (as the fillers' subsumption)."""
        add = self.add
        if c1 != c2:
            for x in self.subjects(RDF_TYPE, c1):  # cax-sco
                add(x, RDF_TYPE, c2)
            for c3 in self.objects(c2, _SCO):  # scm-sco, this triple first
                if c3 != c1:
                    add(c1, _SCO, c3)
            for prop in self.subjects(_DOMAIN, c1):  # scm-dom1
                add(prop, _DOMAIN, c2)
            for prop in self.subjects(_RANGE, c1):  # scm-rng1
                add(prop, _RANGE, c2)
        for c0 in self.subjects(_SCO, c1):  # scm-sco, this triple second
            if c0 != c1 and c0 != c2:
                add(c0, _SCO, c2)
        if self.has(c2, _SCO, c1):  # scm-eqc2, both ways round
            add(c1, _EQC, c2)
            add(c2, _EQC, c1)
        for kind in (_SOME, _ALL):  # scm-svf1, scm-avf1
            for r1 in self.subjects(kind, c1):
                for prop in self.objects(r1, _ON_PROPERTY):
                    for r2 in self.subjects(kind, c2):
                        if self.has(r2, _ON_PROPERTY, prop):
                            add(r1, _SCO, r2)

    def _equivalent_class(self, c1: Node, c2: Node) -> None:
        """cax-eqc1/2 and scm-eqc1 (both without effect on ``c owl:equivalentClass c``)."""
        if c1 == c2:
            return
        for x in self.subjects(RDF_TYPE, c1):
            self.add(x, RDF_TYPE, c2)
        for x in self.subjects(RDF_TYPE, c2):
            self.add(x, RDF_TYPE, c1)
        self.add(c1, _SCO, c2)
        self.add(c2, _SCO, c1)

    def _subproperty(self, p1: Node, p2: Node) -> None:
        """``p1 rdfs:subPropertyOf p2``: prp-spo1, scm-spo (as either premise), scm-eqp2, scm-dom2,
        scm-rng2, and scm-hv, scm-svf2, scm-avf2 (as the properties' subsumption)."""
        add = self.add
        for x, y in self.pairs(p1):  # prp-spo1
            add(x, p2, y)
        if p1 != p2:
            for p3 in self.objects(p2, _SPO):  # scm-spo, this triple first
                if p3 != p1:
                    add(p1, _SPO, p3)
            if self.has(p2, _SPO, p1):  # scm-eqp2, both ways round
                add(p1, _EQP, p2)
                add(p2, _EQP, p1)
            for c in self.objects(p2, _DOMAIN):  # scm-dom2
                add(p1, _DOMAIN, c)
            for c in self.objects(p2, _RANGE):  # scm-rng2
                add(p1, _RANGE, c)
        for p0 in self.subjects(_SPO, p1):  # scm-spo, this triple second
            if p0 != p1 and p0 != p2:
                add(p0, _SPO, p2)
        for kind in (_HAS_VALUE, _SOME, _ALL):  # scm-hv, scm-svf2, scm-avf2
            for r1 in self.subjects(_ON_PROPERTY, p1):
                for value in self.objects(r1, kind):
                    for r2 in self.subjects(kind, value):
                        if self.has(r2, _ON_PROPERTY, p2):
                            self._property_subsumption(kind, r1, r2)

    def _property_subsumption(self, kind: Node, on_sub: Node, on_super: Node) -> None:
        """scm-hv, scm-svf2, scm-avf2: two restrictions of ``kind`` with the same filler, on a property and
        on one of its superproperties. The one on the subproperty is the subclass, except for scm-avf2."""
        if kind == _ALL:
            self.add(on_super, _SCO, on_sub)
        else:
            self.add(on_sub, _SCO, on_super)

    def _equivalent_property(self, p1: Node, p2: Node) -> None:
        """prp-eqp1/2 and scm-eqp1 (both without effect on ``p owl:equivalentProperty p``)."""
        if p1 == p2:
            return
        for x, y in self.pairs(p1):
            self.add(x, p2, y)
        for x, y in self.pairs(p2):
            self.add(x, p1, y)
        self.add(p1, _SPO, p2)
        self.add(p2, _SPO, p1)

    def _inverse(self, p1: Node, p2: Node) -> None:
        """prp-inv1/2."""
        for x, y in self.pairs(p1):
            self.add(y, p2, x)
        for x, y in self.pairs(p2):
            self.add(y, p1, x)

    def _domain(self, prop: Node, c: Node) -> None:
        """prp-dom, scm-dom1, scm-dom2."""
        self._domain_or_range(prop, c, _DOMAIN, 0)

    def _range(self, prop: Node, c: Node) -> None:
        """prp-rng, scm-rng1, scm-rng2."""
        self._domain_or_range(prop, c, _RANGE, 1)

    def _domain_or_range(self, prop: Node, c: Node, axiom: Node, end: int) -> None:
        """``prop axiom c``: type each subject (``end`` 0) or object (1) of ``prop`` with ``c``, and
        carry the axiom up ``c``'s superclasses and down ``prop``'s subproperties."""
        for pair in self.pairs(prop):
            self.add(pair[end], RDF_TYPE, c)
        for sup in self.objects(c, _SCO):
            if sup != c:
                self.add(prop, axiom, sup)
        for sub in self.subjects(_SPO, prop):
            if sub != prop:
                self.add(sub, axiom, c)

    def _on_property(self, restriction: Node, prop: Node) -> None:
        """``r owl:onProperty p``: cls-svf1/2, cls-avf, cls-hv1/2 and the scm-* rules on restrictions."""
        add, has = self.add, self.has
        for filler in self.objects(restriction, _SOME):  # cls-svf1/2
            for u, v in self.pairs(prop):
                if filler == _THING or has(v, RDF_TYPE, filler):
                    add(u, RDF_TYPE, restriction)
        for filler in self.objects(restriction, _ALL):  # cls-avf
            for u in self.subjects(RDF_TYPE, restriction):
                for v in self.objects(u, prop):
                    add(v, RDF_TYPE, filler)
        for value in self.objects(restriction, _HAS_VALUE):  # cls-hv1, cls-hv2
            for u in self.subjects(RDF_TYPE, restriction):
                add(u, prop, value)
            for u in self.subjects(prop, value):
                add(u, RDF_TYPE, restriction)
        for kind in (_HAS_VALUE, _SOME, _ALL):
            for filler in self.objects(restriction, kind):
                self._restriction_schema(kind, restriction, prop, filler)

    def _some_values(self, restriction: Node, filler: Node) -> None:
        """cls-svf1/2 and the scm-* rules on restrictions."""
        for prop in self.objects(restriction, _ON_PROPERTY):
            for u, v in self.pairs(prop):
                if filler == _THING or self.has(v, RDF_TYPE, filler):
                    self.add(u, RDF_TYPE, restriction)
            self._restriction_schema(_SOME, restriction, prop, filler)

    def _all_values(self, restriction: Node, filler: Node) -> None:
        """cls-avf and the scm-* rules on restrictions."""
        for prop in self.objects(restriction, _ON_PROPERTY):
            for u in self.subjects(RDF_TYPE, restriction):
                for v in self.objects(u, prop):
                    self.add(v, RDF_TYPE, filler)
            self._restriction_schema(_ALL, restriction, prop, filler)

    def _has_value(self, restriction: Node, value: Node) -> None:
        """cls-hv1, cls-hv2 and the scm-* rules on restrictions."""
        for prop in self.objects(restriction, _ON_PROPERTY):
            for u in self.subjects(RDF_TYPE, restriction):
                self.add(u, prop, value)
            for u in self.subjects(prop, value):
                self.add(u, RDF_TYPE, restriction)
            self._restriction_schema(_HAS_VALUE, restriction, prop, filler=value)

    def _restriction_schema(self, kind: Node, restriction: Node, prop: Node, filler: Node) -> None:
        """scm-hv, scm-svf1/2, scm-avf1/2 where the restriction ``restriction`` (of ``kind``, on ``prop``
        with ``filler``) is newly complete, as either of the two restrictions the rule compares."""
        has, subsume = self.has, self._property_subsumption
        for other in self.subjects(kind, filler):  # scm-hv, scm-svf2, scm-avf2: the same filler
            for other_prop in self.objects(other, _ON_PROPERTY):
                if has(prop, _SPO, other_prop):
                    subsume(kind, restriction, other)
                if has(other_prop, _SPO, prop):
                    subsume(kind, other, restriction)
        if kind == _HAS_VALUE:
            return
        for other in self.subjects(_ON_PROPERTY, prop):  # scm-svf1, scm-avf1: the same property
            for other_filler in self.objects(other, kind):
                if has(filler, _SCO, other_filler):
                    self.add(restriction, _SCO, other)
                if has(other_filler, _SCO, filler):
                    self.add(other, _SCO, restriction)

    def _intersection(self, c: Node, head: Node) -> None:
        """cls-int1, cls-int2, scm-int; the members are indexed for the later ``rdf:type`` triples."""
        members = self.items(head)
        self.intersection_lists[c].append(members)
        for member in set(members):
            self.intersections_by_member[member].append((c, members))
        if members:  # cls-int1
            for y in self.subjects(RDF_TYPE, members[0]):
                if all(self.has(y, RDF_TYPE, member) for member in members[1:]):
                    self.add(y, RDF_TYPE, c)
        for y in self.subjects(RDF_TYPE, c):  # cls-int2
            for member in members:
                self.add(y, RDF_TYPE, member)
        for member in members:  # scm-int
            self.add(c, _SCO, member)

    def _union(self, c: Node, head: Node) -> None:
        """cls-uni, scm-uni; the members are indexed for the later ``rdf:type`` triples."""
        for member in self.items(head):
            self.unions_by_member[member].append(c)
            for y in self.subjects(RDF_TYPE, member):
                self.add(y, RDF_TYPE, c)
            self.add(member, _SCO, c)

    def _same_as(self, s: Node, o: Node) -> None:
        """eq-sym, eq-trans, eq-rep-s/p/o derive nothing from ``x owl:sameAs x`` alone."""
        if s != o:
            raise UnsupportedRule(f"owl:sameAs between two nodes ({s.n3()}, {o.n3()})")
