"""Completeness gaps for ``dorsum check``: a finding that an advice's condition uses, which the
completeness shapes do not ask wherever the advice can apply.

While a finding is unrecorded, triage assumes it present only if a completeness shape asks for it
(its ``dx:assume``). A shape may ask only in some situation: ``sh:or ( [ sh:not CONDITION ] ASKED )``.
If a recommendation (or avoid advice) can apply where CONDITION does not hold, a case there with the
finding unrecorded is triaged as if the finding were absent, and can be reported complete. This
module finds such pairs statically, from the knowledge's structure alone (no clinical terms here):

* each advice's condition (``dx:appliesTo``) is expanded into *routes*: the sets of recorded facts
  that put a case in the class (its disjunctive normal form over the sufficient definitions, the
  blank class expressions that are ``rdfs:subClassOf`` it, and those of its named subclasses);
* a finding on a route is *asked* there if some completeness shape asks it unconditionally, asks it
  "unless X is recorded" (an alternative of its ``sh:or`` outside ``sh:not``, taken as the author's
  statement that X rules the finding out), or asks it where CONDITION holds and the route contains
  one of CONDITION's alternatives (a number compared with a bound cannot be compared with the
  routes and counts as met; a value merely recorded, ``sh:minCount``, is on no route);
* a route is *covered* when the finding ``dx:impliesFinding`` another finding that, put in its place,
  still makes a route of the same condition, and that finding is asked there (a case recording the
  implied finding absent is rejected, and while it is unrecorded its worst case holds).

Codes: ``completeness-narrower-than-advice`` (WARN) and ``finding-never-asked`` (INFO: no shape asks
the finding at all, as for test results and contraindications that are recorded only when known).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from rdflib import BNode, Graph, Literal, Node, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH

from reasoner.knowledge import DX, Knowledge

#: A recorded fact: ("case" | "lump", property, value).
Atom = tuple[str, Node, Node]
Route = frozenset[Atom]

RANGES = (SH.minInclusive, SH.minExclusive, SH.maxInclusive, SH.maxExclusive)
MAX_ROUTES = 20_000  # per class expression: far above what the shipped knowledge needs
SHOWN_ADVICE = 3


@dataclass(frozen=True)
class Gap:
    """A finding an advice's condition uses, not asked on at least one of its routes."""

    finding: URIRef
    shapes: tuple[Node, ...]  # the completeness shapes that ask it (empty: none does)
    advice: tuple[Node, ...]
    example: Route  # one route on which the finding is not asked


@dataclass(frozen=True)
class _Ask:
    """How one completeness shape asks one finding: everywhere (``gate`` None) or only where one
    of the gate's alternatives (sets of atoms) holds."""

    shape: Node
    gate: tuple[frozenset[Atom], ...] | None


def completeness_gaps(knowledge: Knowledge) -> list[Gap]:
    """Every finding used by an advice's condition and not asked on some route of it, sorted."""
    conditions = ConditionRoutes(knowledge.ontology)
    asks = _asks(knowledge.shapes)
    implied = {
        finding: tuple(knowledge.ontology.objects(finding, DX.impliesFinding))
        for finding in set(knowledge.ontology.subjects(DX.impliesFinding, None))
    }
    found: dict[URIRef, tuple[list[Node], Route]] = {}
    pairs = knowledge.ontology.subject_objects(DX.appliesTo)
    for advice, condition in sorted(pairs, key=lambda pair: (not _is_recommendation(knowledge, pair[0]), str(pair))):
        if condition == DX.Case or not isinstance(condition, URIRef):
            continue  # advice on every case: its condition uses no finding
        routes = conditions.routes(condition)
        for route in sorted(routes, key=_route_key):
            for finding in _findings(route):
                if _asked(finding, route, asks) or _covered(finding, route, routes, asks, implied):
                    continue
                entry = found.setdefault(finding, ([], route))
                if advice not in entry[0]:
                    entry[0].append(advice)
    return [
        Gap(finding, tuple(ask.shape for ask in asks.get(finding, ())), tuple(advice), example)
        for finding, (advice, example) in sorted(found.items(), key=lambda item: str(item[0]))
    ]


def describe(gap: Gap, label: Callable[[Node], str]) -> str:
    """One line for ``dorsum check``."""
    names = [label(a) for a in gap.advice[:SHOWN_ADVICE]]
    more = f" and {len(gap.advice) - SHOWN_ADVICE} more" if len(gap.advice) > SHOWN_ADVICE else ""
    facts = route_text(gap.example, label)
    if not gap.shapes:
        return (
            f"{label(gap.finding)}: no completeness shape asks it, but {', '.join(names)}{more} can apply "
            f"with it (e.g. {facts}); while unrecorded it is read as absent"
        )
    return (
        f"{label(gap.finding)}: {', '.join(label(s) for s in gap.shapes)} "
        f"{'asks' if len(gap.shapes) == 1 else 'ask'} it only in a narrower "
        f"situation than where {', '.join(names)}{more} can apply (e.g. {facts}): there a case with it "
        "unrecorded is triaged as if it were absent"
    )


def route_text(route: Route, label: Callable[[Node], str]) -> str:
    """A route's recorded facts, in a stable order, for a message."""
    return ", ".join(_atom_text(atom, label) for atom in sorted(route, key=_atom_key))


def _is_recommendation(knowledge: Knowledge, advice: Node) -> bool:
    return (advice, RDF.type, DX.Recommendation) in knowledge.ontology


# ---------------------------------------------------------------- conditions as routes


class ConditionRoutes:
    """The routes (DNF over recorded facts) of the ontology's class expressions: each route is one
    set of recorded facts that puts a case in the class (also used by
    :mod:`reasoner.authoring.pack_population`)."""

    def __init__(self, ontology: Graph) -> None:
        self.graph = ontology
        self.definitions: dict[Node, list[Node]] = {}
        self.subclasses: dict[Node, list[Node]] = {}
        for sub, sup in ontology.subject_objects(RDFS.subClassOf):
            if isinstance(sub, BNode):
                self.definitions.setdefault(sup, []).append(sub)
            elif isinstance(sub, URIRef) and sub != sup:
                self.subclasses.setdefault(sup, []).append(sub)
        self.memo: dict[Node, list[Route]] = {}
        self.stack: list[Node] = []
        self.cut = 0  # the lowest stack depth a cycle returned to, within the current expansion

    def routes(self, expression: Node) -> list[Route]:
        """The routes of a class expression. A cycle (a class whose subclass is defined through it)
        adds no route of its own; an expansion cut short by a cycle through a class further up the
        stack is not remembered, since that class's other routes are still to come."""
        if expression in self.memo:
            return self.memo[expression]
        if expression in self.stack:
            self.cut = min(self.cut, self.stack.index(expression))
            return []
        depth = len(self.stack)
        outer, self.cut = self.cut, depth
        self.stack.append(expression)
        try:
            found = _minimal(self._expand(expression))
        finally:
            self.stack.pop()
        if self.cut >= depth:
            self.memo[expression] = found
        self.cut = min(outer, self.cut)
        return found

    def _expand(self, expression: Node) -> list[Route]:
        g = self.graph
        if isinstance(expression, URIRef):
            members = [*self.definitions.get(expression, ()), *self.subclasses.get(expression, ())]
            if not members:
                return [frozenset({("class", expression, expression)})]  # asserted, or undefined
            return [route for member in members for route in self.routes(member)]
        prop = g.value(expression, OWL.onProperty)
        if prop is not None:
            value = g.value(expression, OWL.hasValue)
            if value is not None:
                return [frozenset({("case", prop, value)})]
            inner = g.value(expression, OWL.someValuesFrom)
            if prop == DX.hasLump and inner is not None:
                return [frozenset(("lump", p, v) for _scope, p, v in route) for route in self.routes(inner)]
            return [frozenset({("expression", expression, expression)})]
        union = g.value(expression, OWL.unionOf)
        if union is not None:
            return [route for member in Collection(g, union) for route in self.routes(member)]
        intersection = g.value(expression, OWL.intersectionOf)
        if intersection is not None:
            product: list[Route] = [frozenset()]
            for member in Collection(g, intersection):
                product = list(islice((a | b for a in product for b in self.routes(member)), MAX_ROUTES))
            return product
        return [frozenset({("expression", expression, expression)})]


def _minimal(routes: Iterable[Route]) -> list[Route]:
    """The routes with no other route inside them: a larger one adds nothing to the condition."""
    ordered = sorted(dict.fromkeys(routes), key=len)
    kept: list[Route] = []
    for route in ordered:
        if not any(smaller <= route for smaller in kept):
            kept.append(route)
    return kept


def _findings(route: Route) -> Iterator[URIRef]:
    for scope, prop, value in route:
        if scope == "case" and prop == DX.hasFinding and isinstance(value, URIRef):
            yield value


# ---------------------------------------------------------------- what the shapes ask


def _asks(shapes: Graph) -> dict[Node, list[_Ask]]:
    """finding -> how each completeness shape that assumes it present asks it."""
    asks: dict[Node, list[_Ask]] = {}
    for holder, assumption in shapes.subject_objects(DX.assume):
        if shapes.value(assumption, DX.onProperty) != DX.hasFinding:
            continue
        finding = shapes.value(assumption, DX.value)
        if finding is None:
            continue
        gates = [
            _gate(shapes, shapes.value(member, SH["not"]))
            for member in _items(shapes, shapes.value(holder, SH["or"]))
            if shapes.value(member, SH["not"]) is not None
        ]
        gate = tuple(alternative for found in gates for alternative in found) if gates else None
        asks.setdefault(finding, []).append(_Ask(holder, gate))
    return asks


def _gate(shapes: Graph, condition: Node | None) -> list[frozenset[Atom]]:
    """The alternatives (each a set of atoms, all needed) of a shape's condition."""
    if condition is None:
        return [frozenset()]
    alternatives: list[frozenset[Atom]] = [frozenset()]
    for prop in shapes.objects(condition, SH.property):
        atoms = _property_atoms(shapes, prop)
        alternatives = [a | atoms for a in alternatives]
    choice = shapes.value(condition, SH["or"])
    if choice is not None:
        branches = [b for member in _items(shapes, choice) for b in _gate(shapes, member)]
        alternatives = [a | b for a in alternatives for b in branches]
    return alternatives


def _property_atoms(shapes: Graph, prop: Node) -> frozenset[Atom]:
    path = shapes.value(prop, SH.path)
    value = shapes.value(prop, SH.hasValue)
    if isinstance(path, URIRef) and value is not None:
        return frozenset({("case", path, value)})
    nested = shapes.value(prop, SH.node)
    if path == DX.hasLump and nested is not None:
        inner = [_property_atoms(shapes, fact) for fact in shapes.objects(nested, SH.property)]
        return frozenset(("lump", p, v) for atoms in inner for _scope, p, v in atoms)
    if path is None or any((prop, bound, None) in shapes for bound in RANGES):
        return frozenset()  # a number compared with a bound: cannot be compared with the routes, counts as met
    return frozenset({("recorded", path, path)})  # a value recorded at all: no route can require it


def _items(shapes: Graph, head: Node | None) -> list[Node]:
    return list(Collection(shapes, head)) if head is not None else []


def _asked(finding: Node, route: Route, asks: dict[Node, list[_Ask]]) -> bool:
    return any(ask.gate is None or any(alt <= route for alt in ask.gate) for ask in asks.get(finding, ()))


def _covered(
    finding: URIRef,
    route: Route,
    routes: list[Route],
    asks: dict[Node, list[_Ask]],
    implied: dict[Node, tuple[Node, ...]],
) -> bool:
    rest = route - {("case", DX.hasFinding, finding)}
    for other in implied.get(finding, ()):
        replaced = rest | {("case", DX.hasFinding, other)}
        if _asked(other, replaced, asks) and any(candidate <= replaced for candidate in routes):
            return True
    return False


# ---------------------------------------------------------------- text


def _atom_key(atom: Atom) -> tuple[str, str, str]:
    return (atom[0], str(atom[1]), str(atom[2]))


def _route_key(route: Route) -> tuple[int, list[tuple[str, str, str]]]:
    return (len(route), sorted(_atom_key(atom) for atom in route))


def _atom_text(atom: Atom, label: Callable[[Node], str]) -> str:
    scope, prop, value = atom
    if scope in ("class", "expression"):
        return label(prop)
    shown = str(value.toPython()) if isinstance(value, Literal) else label(value)
    return f"{'lump ' if scope == 'lump' else ''}{label(prop)} {shown}"
