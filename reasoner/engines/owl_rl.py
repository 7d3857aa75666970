"""OWL 2 RL reasoning over one small case graph, compiled once per ontology.

A full owlrl closure of ontology + case re-derives the whole ontology closure for every case, which
takes about a second. Here the ontology (the *schema*) is closed once, and the A-box rules of OWL 2 RL
are turned into indexes over the closed schema. The closure is owlrl's, computed by
:func:`owl_rl_schema.close_schema` (semi-naive, a fraction of owlrl's time) or, for an ontology that
needs a rule :mod:`owl_rl_schema` does not implement, by owlrl itself. :meth:`CompiledRules.infer` then runs a
semi-naive forward chainer whose every derivation uses at least one triple of the case or a triple
derived from it: any derivation from schema triples alone is already in the closed schema.

Rules implemented (names from the OWL 2 RL profile, table 4-9): cax-sco (over the closed
``rdfs:subClassOf``, which also covers cax-eqc1/2), cls-int1, cls-int2, cls-uni, cls-svf1, cls-svf2,
cls-avf, cls-hv1, cls-hv2, prp-dom, prp-rng, prp-spo1 (over the closed ``rdfs:subPropertyOf``, which
also covers prp-eqp1/2), prp-inv1, prp-inv2, prp-symp, prp-trp, and owlrl's one-time typing of
literals by their datatype (dt-type2 with owlrl's datatype subsumptions). The schema rules (scm-*)
are applied when the schema is closed. tests/test_engine_owl_rl.py has a test per rule.

Anything else that owlrl implements (functional and inverse-functional properties, cardinality,
keys, property chains, ``owl:sameAs``, ``owl:oneOf``, disjointness and the other consistency checks)
makes :func:`compile_rules` raise :class:`UnsupportedConstruct` (see :mod:`owl_rl_scope`), so that
the caller can use owlrl itself; so does a case, or an inference from it, that makes a statement
about the schema or reaches a property that is not an IRI (``owl:onProperty [ owl:inverseOf p ]``).
The module is generic OWL 2 RL machinery: it holds no facts of any domain.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import owlrl
from owlrl.XsdDatatypes import OWL_Datatype_Subsumptions
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, DefinedNamespaceMeta
from rdflib.term import Node

from reasoner.engines.owl_rl_run import CaseRun, ClassRules, PropertyRules
from reasoner.engines.owl_rl_schema import UnsupportedRule, close_schema
from reasoner.engines.owl_rl_scope import RL_DATATYPES, UnsupportedConstruct, check_supported, schema_statement
from reasoner.terms import IS_LITERAL, RDF_TYPE, TYPE_ONLY, Triple, iri_term

__all__ = [
    "CompiledRules",
    "Triple",
    "UnsupportedConstruct",
    "compile_rules",
    "owlrl_expand",
    "owlrl_reference_infer",
    "owlrl_reference_infer_many",
]


# The supertypes owlrl adds to a literal's datatype (rule dt-type2 with its datatype subsumptions).
_DATATYPE_SUPERTYPES: Mapping[Node, tuple[Node, ...]] = {
    dt: tuple(supers) for dt, supers in OWL_Datatype_Subsumptions.items()
}

# Hot-loop constants (a namespace attribute lookup costs a function call each time).
# (The pooled objects, the same as the cached knowledge's: lookups then succeed on identity.)
_THING: Node = iri_term(OWL.Thing)
_SAME_AS: Node = iri_term(OWL.sameAs)
_TRIVIAL_TYPES: frozenset[Node] = frozenset({_THING, iri_term(RDFS.Resource)})


_SAME_AS_ONLY: frozenset[Node] = frozenset({_SAME_AS})


def _is_trivial(triple: Triple) -> bool:
    s, p, o = triple
    if IS_LITERAL[s.__class__]:
        return True
    if p in TYPE_ONLY:
        return o in _TRIVIAL_TYPES
    return p in _SAME_AS_ONLY and s == o


def _frozen(index: Mapping[Node, set[Node]]) -> dict[Node, frozenset[Node]]:
    return {k: frozenset(v) for k, v in index.items()}


@dataclass(frozen=True, eq=False)
class CompiledRules:
    """Indexes over the owlrl closure of a schema; :meth:`infer` applies them to one case graph.

    All mappings are built by :func:`compile_rules` and must be treated as read-only.
    """

    # the closed schema, as (subject, predicate) -> objects and (predicate, object) -> subjects
    base_sp: Mapping[tuple[Node, Node], frozenset[Node]]
    base_po: Mapping[tuple[Node, Node], frozenset[Node]]
    base_by_subject: Mapping[Node, tuple[Triple, ...]]
    # cax-sco: class -> its strict superclasses
    superclasses: Mapping[Node, frozenset[Node]]
    # prp-spo1: property -> its strict superproperties
    superproperties: Mapping[Node, frozenset[Node]]
    # prp-dom, prp-rng: property -> classes
    domains: Mapping[Node, frozenset[Node]]
    ranges: Mapping[Node, frozenset[Node]]
    # prp-inv1/2: property -> the properties it is inverse of (both directions)
    inverses: Mapping[Node, frozenset[Node]]
    symmetric: frozenset[Node]
    transitive: frozenset[Node]
    # cls-int1/2: intersection class -> member lists; member class -> (intersection, members)
    intersection_members: Mapping[Node, tuple[tuple[Node, ...], ...]]
    intersections_by_member: Mapping[Node, tuple[tuple[Node, tuple[Node, ...]], ...]]
    # cls-uni: member class -> union classes
    unions_by_member: Mapping[Node, frozenset[Node]]
    # cls-svf1/2: property -> (restriction, filler); filler -> (property, restriction)
    svf_by_property: Mapping[Node, tuple[tuple[Node, Node], ...]]
    svf_by_filler: Mapping[Node, tuple[tuple[Node, Node], ...]]
    # cls-avf: restriction -> (property, filler); property -> (restriction, filler)
    avf_by_restriction: Mapping[Node, tuple[tuple[Node, Node], ...]]
    avf_by_property: Mapping[Node, tuple[tuple[Node, Node], ...]]
    # cls-hv1: restriction -> (property, value); cls-hv2: (property, value) -> restrictions
    hv_by_restriction: Mapping[Node, tuple[tuple[Node, Node], ...]]
    hv_by_property_value: Mapping[tuple[Node, Node], frozenset[Node]]

    def infer(self, case: Graph) -> Graph:
        """Return a NEW graph: every triple of ``case`` plus every triple entailed by OWL 2 RL (as owlrl
        computes it over schema + case) whose subject occurs as a subject in ``case``.

        ``case`` is not modified and its blank nodes are kept. The trivial triples ``?x rdf:type
        owl:Thing``, ``?x rdf:type rdfs:Resource``, ``?x owl:sameAs ?x`` and triples with a literal
        subject are left out of the entailed triples. Raises :class:`UnsupportedConstruct` if the case
        makes schema statements (``rdfs:subClassOf``, ``owl:sameAs``, ``rdf:type owl:Class``, ...).
        """
        result = Graph()
        for triple in self.infer_triples(case):
            result.add(triple)
        return result

    def infer_triples(self, case: Iterable[Triple]) -> set[Triple]:
        """:meth:`infer` over plain triples: returns a new set, the case's triples and their entailments."""
        get = self.canonical_terms.get
        case_triples: list[Triple] = list(dict.fromkeys((get(s, s), get(p, p), get(o, o)) for s, p, o in case))
        subjects = {s for s, _p, _o in case_triples}
        run = CaseRun(self)
        for triple in case_triples:
            reason = schema_statement(triple, derived=False)
            if reason is not None:
                raise UnsupportedConstruct(f"case triple uses {reason} on {triple[0].n3()}")
            run.add(triple)
        # owlrl's one-time rule dt-type2: literals are typed with their datatype and its supertypes
        for _s, _p, o in case_triples:
            if isinstance(o, Literal) and o.datatype in RL_DATATYPES:
                datatype = URIRef(o.datatype)
                run.add((o, RDF.type, datatype))
                for supertype in _DATATYPE_SUPERTYPES.get(datatype, ()):
                    run.add((o, RDF.type, supertype))
        run.saturate()

        result = set(case_triples)
        for triple in run.added:
            if triple[0] in subjects and not _is_trivial(triple):
                result.add(triple)
        for subject in subjects:
            for triple in self.base_by_subject.get(subject, ()):
                if not _is_trivial(triple):
                    result.add(triple)
        return result

    @cached_property
    def superclasses_closed(self) -> bool:
        """Whether :attr:`superclasses` is transitive (as the closed schema makes it): then a class's
        superclasses already include every superclass of each of them, and cax-sco need not run again
        for a type it added."""
        superclasses = self.superclasses
        return all(superclasses.get(sup, frozenset()) <= sups | {c} for c, sups in superclasses.items() for sup in sups)

    @cached_property
    def class_rules(self) -> dict[Node, ClassRules]:
        """Per class, every index entry a triple ``s rdf:type c`` reads, in one tuple: one lookup per
        type triple instead of seven (classes no rule reads are left out)."""
        indexes = (
            self.superclasses,
            self.intersections_by_member,
            self.intersection_members,
            self.unions_by_member,
            self.hv_by_restriction,
            self.svf_by_filler,
            self.avf_by_restriction,
        )
        classes = set().union(*indexes)
        return {c: tuple(index.get(c, ()) for index in indexes) for c in classes}  # type: ignore[misc]

    @cached_property
    def property_rules(self) -> dict[Node, PropertyRules]:
        """Per property, every index entry a triple ``s p o`` reads, in one tuple (as
        :attr:`class_rules`); the value restrictions (cls-hv2) are keyed by property and value, so
        only whether the property has any is kept."""
        has_value = {p for p, _value in self.hv_by_property_value}
        indexes = (
            self.domains,
            self.ranges,
            self.superproperties,
            self.inverses,
            self.svf_by_property,
            self.avf_by_property,
        )
        properties = set().union(*indexes, self.symmetric, self.transitive, has_value)
        return {
            p: (  # type: ignore[misc]
                *(index.get(p, ()) for index in indexes),
                p in self.symmetric,
                p in self.transitive,
                p in has_value,
            )
            for p in properties
        }

    @cached_property
    def canonical_terms(self) -> dict[Node, Node]:
        """One object per term of the indexes: mapping a case's terms onto them first lets every
        later dictionary lookup succeed on identity instead of calling rdflib's ``__eq__``."""
        canonical: dict[Node, Node] = {}
        for (s, p), objects in self.base_sp.items():
            for term in (s, p, *objects):
                canonical.setdefault(term, term)
        for index in (self.superclasses, self.superproperties, self.domains, self.ranges, self.inverses):
            for key, values in index.items():
                for term in (key, *values):
                    canonical.setdefault(term, term)
        return canonical


class _KeptTerms:
    """One of rdflib's vocabulary classes (``OWL``, ``RDF``, ``RDFS``, ``XSD``) as owlrl's rules use it,
    with each term kept once it has been looked up. rdflib checks the name at every attribute access
    (a function call with string tests), and owlrl's rules look up a vocabulary term for each triple
    they test, millions of times a closure: about half of owlrl's time. The terms are the same."""

    def __init__(self, vocabulary: DefinedNamespaceMeta) -> None:
        self._vocabulary = vocabulary

    def __getattr__(self, name: str) -> Any:
        term = getattr(self._vocabulary, name)
        setattr(self, name, term)
        return term

    def __getitem__(self, name: str) -> Any:
        return self._vocabulary[name]


@cache
def _owlrl_terms_kept() -> None:
    """Give owlrl's modules :class:`_KeptTerms` in place of rdflib's vocabulary classes (once per
    process). owlrl answers exactly as before, about twice as fast."""
    for name, module in list(sys.modules.items()):
        if name == "owlrl" or name.startswith("owlrl."):
            for attribute, value in list(vars(module).items()):
                if isinstance(value, DefinedNamespaceMeta):
                    setattr(module, attribute, _KeptTerms(value))


def owlrl_expand(graph: Graph) -> None:
    """Add owlrl's OWL 2 RL closure to ``graph``, in place (no axiomatic or datatype axiom triples; its
    error records, if any, are added too): the closure every reference and fallback here uses."""
    _owlrl_terms_kept()
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(graph)


def _add_to(index: dict[Node, list[tuple[Node, Node]]], key: Node, value: tuple[Node, Node]) -> None:
    index.setdefault(key, []).append(value)


def _tuples(index: Mapping[Node, list[tuple[Node, Node]]]) -> dict[Node, tuple[tuple[Node, Node], ...]]:
    return {k: tuple(v) for k, v in index.items()}


# Schema axioms indexed for the A-box rules: predicate -> (index, whether it also holds reversed).
_AXIOM_INDEXES: Mapping[Node, tuple[str, bool]] = {
    RDFS.subClassOf: ("superclasses", False),  # cax-sco
    OWL.equivalentClass: ("superclasses", True),  # cax-eqc1/2
    RDFS.subPropertyOf: ("superproperties", False),  # prp-spo1
    OWL.equivalentProperty: ("superproperties", True),  # prp-eqp1/2
    RDFS.domain: ("domains", False),  # prp-dom
    RDFS.range: ("ranges", False),  # prp-rng
    OWL.inverseOf: ("inverses", True),  # prp-inv1/2
}
# The axioms owlrl's closure makes reflexive (scm-cls, scm-op, scm-dp): no rule needs ``x sub x``.
_REFLEXIVE_AXIOMS: frozenset[Node] = frozenset(
    {RDFS.subClassOf, OWL.equivalentClass, RDFS.subPropertyOf, OWL.equivalentProperty}
)
# prp-symp and prp-trp: property characteristic -> index of the properties that have it.
_CHARACTERISTICS: Mapping[Node, str] = {OWL.SymmetricProperty: "symmetric", OWL.TransitiveProperty: "transitive"}


def _closed_schema(schema: Graph) -> list[Triple]:
    """The OWL 2 RL closure of ``schema`` as owlrl computes it, with one object per term (so the indexes
    and their pickle share them): by :func:`close_schema`, or by owlrl itself (on a copy) if that needs a
    rule :func:`close_schema` lacks. Raises :class:`UnsupportedConstruct` as :func:`compile_rules` documents."""
    try:
        raw: Iterable[Triple] = close_schema(schema)
    except UnsupportedRule:
        graph = Graph(store="SimpleMemory")
        graph += schema
        owlrl_expand(graph)
        raw = graph
    check_supported(raw)
    canonical: dict[Node, Node] = {}
    setdefault = canonical.setdefault
    return [(setdefault(s, s), setdefault(p, p), setdefault(o, o)) for s, p, o in raw]


def _items(sp: Mapping[tuple[Node, Node], Iterable[Node]], head: Node) -> tuple[Node, ...]:
    """The members of the list at ``head``, read as rdflib's ``Graph.items`` reads them."""
    members: list[Node] = []
    chain: set[Node | None] = {head}
    node: Node | None = head
    while node:
        first = next(iter(sp.get((node, RDF.first), ())), None)
        if first is not None:
            members.append(first)
        node = next(iter(sp.get((node, RDF.rest), ())), None)
        if node in chain:
            raise ValueError("List contains a recursive rdf:rest reference")
        chain.add(node)
    return tuple(members)


def _axiom_indexes(
    closed: Iterable[Triple],
) -> tuple[dict[str, dict[Node, frozenset[Node]]], dict[str, frozenset[Node]]]:
    """The indexes of :data:`_AXIOM_INDEXES` by name, and the properties of each characteristic."""
    indexes: dict[str, defaultdict[Node, set[Node]]] = {name: defaultdict(set) for name, _ in _AXIOM_INDEXES.values()}
    characteristic: dict[str, set[Node]] = {name: set() for name in _CHARACTERISTICS.values()}
    for s, p, o in closed:
        axiom = _AXIOM_INDEXES.get(p)
        if axiom is not None and not (s == o and p in _REFLEXIVE_AXIOMS):
            name, reversed_too = axiom
            indexes[name][s].add(o)
            if reversed_too:
                indexes[name][o].add(s)
        elif p == RDF_TYPE and o in _CHARACTERISTICS:
            characteristic[_CHARACTERISTICS[o]].add(s)
    frozen = {name: _frozen(index) for name, index in indexes.items()}
    return frozen, {name: frozenset(members) for name, members in characteristic.items()}


def _intersection_indexes(
    pairs: Iterable[tuple[Node, Node]], sp: Mapping[tuple[Node, Node], Iterable[Node]]
) -> tuple[dict[Node, tuple[tuple[Node, ...], ...]], dict[Node, tuple[tuple[Node, tuple[Node, ...]], ...]]]:
    """cls-int1/2 from the ``owl:intersectionOf`` pairs: intersection class -> member lists; member
    class -> (intersection, members)."""
    intersection_members: dict[Node, list[tuple[Node, ...]]] = {}
    intersections_by_member: dict[Node, list[tuple[Node, tuple[Node, ...]]]] = {}
    for inter, head in pairs:
        members = _items(sp, head)
        if not members:
            continue
        intersection_members.setdefault(inter, []).append(members)
        for m in set(members):
            intersections_by_member.setdefault(m, []).append((inter, members))
    return (
        {k: tuple(v) for k, v in intersection_members.items()},
        {k: tuple(v) for k, v in intersections_by_member.items()},
    )


def _union_index(
    pairs: Iterable[tuple[Node, Node]], sp: Mapping[tuple[Node, Node], Iterable[Node]]
) -> dict[Node, frozenset[Node]]:
    """cls-uni from the ``owl:unionOf`` pairs: member class -> union classes."""
    unions_by_member: defaultdict[Node, set[Node]] = defaultdict(set)
    for union, head in pairs:
        for m in _items(sp, head):
            unions_by_member[m].add(union)
    return _frozen(unions_by_member)


_RESTRICTION_INDEXES = (
    "svf_by_property",
    "svf_by_filler",
    "avf_by_restriction",
    "avf_by_property",
    "hv_by_restriction",
)


def _restriction_indexes(
    pairs: Iterable[tuple[Node, Node]], sp: Mapping[tuple[Node, Node], Iterable[Node]]
) -> dict[str, dict[Node, tuple[tuple[Node, Node], ...]]]:
    """The cls-svf1/2, cls-avf and cls-hv1 indexes from the ``owl:onProperty`` pairs, by their field
    names in :class:`CompiledRules`."""
    index: dict[str, dict[Node, list[tuple[Node, Node]]]] = {name: {} for name in _RESTRICTION_INDEXES}
    for restriction, prop in pairs:
        for filler in sp.get((restriction, OWL.someValuesFrom), ()):
            _add_to(index["svf_by_property"], prop, (restriction, filler))
            _add_to(index["svf_by_filler"], filler, (prop, restriction))
        for filler in sp.get((restriction, OWL.allValuesFrom), ()):
            _add_to(index["avf_by_restriction"], restriction, (prop, filler))
            _add_to(index["avf_by_property"], prop, (restriction, filler))
        for value in sp.get((restriction, OWL.hasValue), ()):
            _add_to(index["hv_by_restriction"], restriction, (prop, value))
    return {name: _tuples(pairs) for name, pairs in index.items()}


def compile_rules(schema: Graph) -> CompiledRules:
    """Close a copy of ``schema`` under OWL 2 RL as owlrl does (no axiomatic or datatype axiom triples)
    and build the indexes of the A-box rules that can fire on a case graph.

    Raises :class:`UnsupportedConstruct`, naming the construct and its subject, if the closed schema
    uses anything the compiled rules do not implement.
    """
    closed = _closed_schema(schema)
    sp: defaultdict[tuple[Node, Node], set[Node]] = defaultdict(set)
    po: defaultdict[tuple[Node, Node], set[Node]] = defaultdict(set)
    by_subject: defaultdict[Node, list[Triple]] = defaultdict(list)
    by_predicate: defaultdict[Node, list[tuple[Node, Node]]] = defaultdict(list)
    for triple in closed:
        s, p, o = triple
        sp[(s, p)].add(o)
        po[(p, o)].add(s)
        by_subject[s].append(triple)
        by_predicate[p].append((s, o))
    axioms, characteristic = _axiom_indexes(closed)
    intersection_members, intersections_by_member = _intersection_indexes(by_predicate[OWL.intersectionOf], sp)
    restrictions = _restriction_indexes(by_predicate[OWL.onProperty], sp)
    hv_by_property_value: defaultdict[tuple[Node, Node], set[Node]] = defaultdict(set)
    for restriction, pairs in restrictions["hv_by_restriction"].items():  # cls-hv2
        for prop, value in pairs:
            hv_by_property_value[(prop, value)].add(restriction)
    return CompiledRules(
        base_sp={k: frozenset(v) for k, v in sp.items()},
        base_po={k: frozenset(v) for k, v in po.items()},
        base_by_subject={k: tuple(v) for k, v in by_subject.items()},
        superclasses=axioms["superclasses"],
        superproperties=axioms["superproperties"],
        domains=axioms["domains"],
        ranges=axioms["ranges"],
        inverses=axioms["inverses"],
        symmetric=characteristic["symmetric"],
        transitive=characteristic["transitive"],
        intersection_members=intersection_members,
        intersections_by_member=intersections_by_member,
        unions_by_member=_union_index(by_predicate[OWL.unionOf], sp),
        svf_by_property=restrictions["svf_by_property"],
        svf_by_filler=restrictions["svf_by_filler"],
        avf_by_restriction=restrictions["avf_by_restriction"],
        avf_by_property=restrictions["avf_by_property"],
        hv_by_restriction=restrictions["hv_by_restriction"],
        hv_by_property_value={k: frozenset(v) for k, v in hv_by_property_value.items()},
    )


def owlrl_reference_infer(schema: Graph, case: Graph) -> Graph:
    """The slow reference for :meth:`CompiledRules.infer`: a full owlrl closure of a copy of schema + case,
    keeping the case's triples and the entailed triples whose subject occurs as a subject in ``case``,
    minus the same trivial triples."""
    subjects = set(case.subjects())
    combined = Graph(store="SimpleMemory")
    combined += schema
    combined += case
    owlrl_expand(combined)
    result = Graph()
    for triple in case:
        result.add(triple)
    for triple in combined:
        if triple[0] in subjects and not _is_trivial(triple):
            result.add(triple)
    return result


def owlrl_reference_infer_many(schema: Graph, cases: list[Graph], batch: int = 100) -> list[Graph]:
    """:func:`owlrl_reference_infer` for many cases, closing up to ``batch`` cases in one owlrl run.

    Each case's subjects are renamed apart first, so no two cases share a node they make statements
    about. Cases can then only influence each other through a fact derived about a node that no case
    owns (an ontology term) or a triple linking two cases; both are checked after every run, and if
    either is found the cases of that run are closed one at a time instead. The answers are therefore
    exactly those of closing each case on its own. Exempt from the check: literals, trivial triples
    (see :meth:`CompiledRules.infer`), owlrl's statements about the datatypes of the literals present
    and its error records, which follow from each case alone and are not kept in any answer.
    """
    if not cases:
        return []
    schema_closed = Graph(store="SimpleMemory")
    schema_closed += schema
    owlrl_expand(schema_closed)
    results: list[Graph] = []
    for start in range(0, len(cases), batch):
        group = cases[start : start + batch]
        closed = _close_together(schema, schema_closed, group)
        results.extend(closed if closed is not None else [owlrl_reference_infer(schema, case) for case in group])
    return results


def _close_together(schema: Graph, schema_closed: Graph, cases: list[Graph]) -> list[Graph] | None:
    schema_nodes = {node for triple in schema_closed for node in triple}
    combined = Graph(store="SimpleMemory")
    combined += schema
    renamings: list[dict[Node, Node]] = []
    owner: dict[Node, int] = {}
    for index, case in enumerate(cases):
        subjects = set(case.subjects())
        if subjects & schema_nodes:
            return None  # the case makes statements about ontology terms
        # Every node the case owns (not a term of the ontology) is renamed; an isomorphic copy.
        nodes = subjects | {o for o in case.objects() if isinstance(o, (URIRef, BNode)) and o not in schema_nodes}
        renaming: dict[Node, Node] = {}
        for node in nodes:
            renaming[node] = URIRef(f"urn:dorsum:reference:{index}:{node}") if isinstance(node, URIRef) else BNode()
        renamings.append(renaming)
        owner.update({new: index for new in renaming.values()})
        for s, p, o in case:
            combined.add((renaming.get(s, s), p, renaming.get(o, o)))
    owlrl_expand(combined)
    grouped: list[list[Triple]] = [[] for _ in cases]
    for triple in combined:
        s, _p, o = triple
        if s in owner:
            if o in owner and owner[o] != owner[s]:
                return None  # a triple links two cases
            grouped[owner[s]].append(triple)
        elif not (
            isinstance(s, Literal)
            or s in RL_DATATYPES
            or (isinstance(s, BNode) and s not in schema_nodes)  # owlrl's error records (rules make no nodes)
            or _is_trivial(triple)
            or triple in schema_closed
        ):
            return None  # a fact about a shared node came from some case
    results = []
    for case, renaming, triples in zip(cases, renamings, grouped, strict=True):
        back = {new: old for old, new in renaming.items()}
        subjects = set(case.subjects())
        result = Graph()
        for triple in case:
            result.add(triple)
        for s, p, o in triples:
            restored = (back.get(s, s), p, back.get(o, o))
            if restored[0] in subjects and not _is_trivial(restored):
                result.add(restored)
        results.append(result)
    return results
