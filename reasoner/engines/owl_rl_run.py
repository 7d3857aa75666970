"""One application of compiled OWL 2 RL rules to a case (:meth:`owl_rl.CompiledRules.infer_triples`):
the triples added on top of the closed schema, and the A-box rules fired on each until none adds one.

Each class and each property has its rules gathered into one tuple
(:attr:`~owl_rl.CompiledRules.class_rules`, :attr:`~owl_rl.CompiledRules.property_rules`), so that
a triple costs one lookup, not one per rule. Generic OWL 2 RL machinery: no facts of any domain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rdflib.namespace import OWL
from rdflib.term import Node

from reasoner.engines.owl_rl_scope import UnsupportedConstruct, schema_statement
from reasoner.terms import IS_LITERAL, RDF_TYPE, TYPE_ONLY, Triple, iri_term

if TYPE_CHECKING:
    from reasoner.engines.owl_rl import CompiledRules

__all__ = ["CaseRun", "ClassRules", "PropertyRules"]

THING: Node = iri_term(OWL.Thing)

# What one class or property triggers (see CompiledRules.class_rules and .property_rules).
Pairs = tuple[tuple[Node, Node], ...]
ClassRules = tuple[
    frozenset[Node],  # cax-sco: superclasses
    tuple[tuple[Node, tuple[Node, ...]], ...],  # cls-int1: (intersection, members)
    tuple[tuple[Node, ...], ...],  # cls-int2: member lists
    frozenset[Node],  # cls-uni: unions
    Pairs,  # cls-hv1: (property, value)
    Pairs,  # cls-svf1: (property, restriction)
    Pairs,  # cls-avf: (property, filler)
]
PropertyRules = tuple[
    frozenset[Node], frozenset[Node], frozenset[Node], frozenset[Node], Pairs, Pairs, bool, bool, bool
]


class CaseRun:
    """The state of one :meth:`CompiledRules.infer` call: the triples added on top of the closed schema."""

    def __init__(self, rules: CompiledRules) -> None:
        self.rules = rules
        self.sp: defaultdict[tuple[Node, Node], set[Node]] = defaultdict(set)
        self.po: defaultdict[tuple[Node, Node], set[Node]] = defaultdict(set)
        self.added: list[Triple] = []
        self.agenda: list[Triple] = []
        # (node, class) pairs whose superclasses cax-sco has already added (via a subclass's types)
        self.typed_up: set[tuple[Node, Node]] | None = set() if rules.superclasses_closed else None

    def objects(self, s: Node, p: Node) -> Iterable[Node]:
        return _union(self.rules.base_sp.get((s, p)), self.sp.get((s, p)))

    def subjects(self, p: Node, o: Node) -> Iterable[Node]:
        return _union(self.rules.base_po.get((p, o)), self.po.get((p, o)))

    def has(self, s: Node, p: Node, o: Node) -> bool:
        base = self.rules.base_sp.get((s, p))
        if base is not None and o in base:
            return True
        extra = self.sp.get((s, p))
        return extra is not None and o in extra

    def add(self, triple: Triple) -> None:
        s, p, o = triple
        if IS_LITERAL[p.__class__]:
            return
        base = self.rules.base_sp.get((s, p))
        if base is not None and o in base:
            return
        extra = self.sp.get((s, p))
        if extra is not None and o in extra:
            return
        self.sp[(s, p)].add(o)
        self.po[(p, o)].add(s)
        self.added.append(triple)
        self.agenda.append(triple)

    def saturate(self) -> None:
        """Fire the rules on every triple of the agenda until no rule adds a triple."""
        agenda, class_rules, property_rules = self.agenda, self._class_rules, self._property_rules
        while agenda:
            triple = agenda.pop()
            reason = schema_statement(triple, derived=True)
            if reason is not None:
                raise UnsupportedConstruct(f"inference about {triple[0].n3()} produced {reason}")
            s, p, o = triple
            if p in TYPE_ONLY:
                class_rules(s, o)
            property_rules(s, p, o)

    def _class_rules(self, s: Node, c: Node) -> None:
        """The rules a triple ``s rdf:type c`` triggers: cax-sco, cls-int1/2, cls-uni, cls-hv1, and
        cls-svf1 and cls-avf where c is a restriction's filler or the restriction."""
        found = self.rules.class_rules.get(c)
        if found is None:
            return
        superclasses, intersections, intersection_members, unions, has_values, svf_fillers, avf_restrictions = found
        add, typed_up = self.add, self.typed_up
        if typed_up is None:
            for sup in superclasses:  # cax-sco
                add((s, RDF_TYPE, sup))
        elif (s, c) not in typed_up:  # cax-sco, unless a subclass's types already covered c's
            for sup in superclasses:
                typed_up.add((s, sup))
                add((s, RDF_TYPE, sup))
        for inter, members in intersections:  # cls-int1
            if all(self.has(s, RDF_TYPE, m) for m in members):
                add((s, RDF_TYPE, inter))
        for members in intersection_members:  # cls-int2
            for m in members:
                add((s, RDF_TYPE, m))
        for union in unions:  # cls-uni
            add((s, RDF_TYPE, union))
        if has_values or svf_fillers or avf_restrictions:
            self._restriction_rules(s, has_values, svf_fillers, avf_restrictions)

    def _restriction_rules(self, s: Node, has_values: Pairs, svf_fillers: Pairs, avf_restrictions: Pairs) -> None:
        """cls-hv1, cls-svf1 (``s`` as the value) and cls-avf (``s`` as the restricted node)."""
        add = self.add
        for prop, value in has_values:  # cls-hv1
            add((s, prop, value))
        for prop, restriction in svf_fillers:  # cls-svf1, s as the value
            for u in list(self.subjects(prop, s)):
                add((u, RDF_TYPE, restriction))
        for prop, filler in avf_restrictions:  # cls-avf, s as the restricted node
            for v in list(self.objects(s, prop)):
                add((v, RDF_TYPE, filler))

    def _property_rules(self, s: Node, p: Node, o: Node) -> None:
        """The rules any triple ``s p o`` triggers: prp-dom, prp-rng, prp-spo1 (and prp-eqp1/2),
        prp-inv1/2, prp-symp, prp-trp, cls-hv2, and cls-svf1/2 and cls-avf where p is a restriction's."""
        found = self.rules.property_rules.get(p)
        if found is None:
            return
        domains, ranges, superproperties, inverses, svfs, avfs, symmetric, transitive, has_value = found
        add = self.add
        for c in domains:  # prp-dom
            add((s, RDF_TYPE, c))
        for c in ranges:  # prp-rng
            add((o, RDF_TYPE, c))
        for q in superproperties:  # prp-spo1 (and prp-eqp1/2)
            add((s, q, o))
        for q in inverses:  # prp-inv1/2
            add((o, q, s))
        if symmetric:  # prp-symp
            add((o, p, s))
        if transitive:
            self._transitive_rule(s, p, o)
        if has_value:
            for restriction in self.rules.hv_by_property_value.get((p, o), ()):  # cls-hv2
                add((s, RDF_TYPE, restriction))
        for restriction, filler in svfs:  # cls-svf1/2, s as the subject
            if filler == THING or self.has(o, RDF_TYPE, filler):
                add((s, RDF_TYPE, restriction))
        for restriction, filler in avfs:  # cls-avf, the property value
            if self.has(s, RDF_TYPE, restriction):
                add((o, RDF_TYPE, filler))

    def _transitive_rule(self, s: Node, p: Node, o: Node) -> None:
        """prp-trp, for a triple of a transitive property."""
        for z in list(self.objects(o, p)):
            self.add((s, p, z))
        for w in list(self.subjects(p, s)):
            self.add((w, p, o))


def _union(base: frozenset[Node] | None, extra: set[Node] | None) -> Iterable[Node]:
    """The nodes of the closed schema's index and of the case's own, without copying either alone."""
    if base and extra:
        return base | extra
    return base or extra or ()
