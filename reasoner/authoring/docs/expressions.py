"""OWL class expressions in words, e.g. ``finding present: fever OR finding present: night pain``.

A definition is a tree of blank nodes (intersections, unions, restrictions); walking it is
structure, not content, so it stays in Python. Every word shown comes from a label in the knowledge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL
from rdflib.term import Node

__all__ = ["Ref", "Rich", "plain", "render_class_expression"]


@dataclass(frozen=True)
class Ref:
    """A mention of a knowledge element: a link to its anchor when the page has one."""

    iri: str
    label: str


Rich = tuple[str | Ref, ...]

_CARDINALITIES = (
    (OWL.minCardinality, "at least"),
    (OWL.minQualifiedCardinality, "at least"),
    (OWL.maxCardinality, "at most"),
    (OWL.maxQualifiedCardinality, "at most"),
    (OWL.cardinality, "exactly"),
    (OWL.qualifiedCardinality, "exactly"),
)


def plain(rich: Rich) -> str:
    """The text of rich text, without links."""
    return "".join(segment if isinstance(segment, str) else segment.label for segment in rich)


def _join(parts: Iterable[Rich], sep: str) -> Rich:
    out: list[str | Ref] = []
    for index, part in enumerate(parts):
        if index:
            out.append(sep)
        out.extend(part)
    return tuple(out)


def _first(graph: Graph, subject: Node, prop: URIRef) -> Node | None:
    """The object of (subject, prop); the smallest if there are several, so output never depends on hashing."""
    found = sorted(graph.objects(subject, prop), key=lambda node: (type(node).__name__, str(node)))
    return found[0] if found else None


class _Words:
    """Renders one class expression; ``seen`` guards against cyclic lists."""

    def __init__(
        self, graph: Graph, label: Callable[[Node], str], prop_range: Callable[[Node], Node | None] | None
    ) -> None:
        self.graph = graph
        self.label = label
        self.prop_range = prop_range

    def composite(self, item: Node) -> bool:
        return any(_first(self.graph, item, prop) is not None for prop in (OWL.intersectionOf, OWL.unionOf))

    def grouped(self, item: Node, seen: frozenset[Node]) -> Rich:
        inner = self.render(item, seen)
        return ("(", *inner, ")") if self.composite(item) else inner

    def render(self, item: Node, seen: frozenset[Node]) -> Rich:
        if isinstance(item, URIRef):
            return (Ref(str(item), self.label(item)),)
        if isinstance(item, Literal):
            return (self.label(item),)
        if item in seen:
            return ("…",)
        seen = seen | {item}
        return self.boolean(item, seen) or self.restriction(item, seen)

    def boolean(self, item: Node, seen: frozenset[Node]) -> Rich:
        """An intersection, union, complement or enumeration; () if ``item`` is none of these."""
        graph = self.graph
        for operator, word in ((OWL.intersectionOf, " AND "), (OWL.unionOf, " OR ")):
            head = _first(graph, item, operator)
            if head is not None:
                return _join((self.grouped(member, seen) for member in Collection(graph, head)), word)
        complement = _first(graph, item, OWL.complementOf)
        if complement is not None:
            return ("NOT ", *self.grouped(complement, seen))
        one_of = _first(graph, item, OWL.oneOf)
        if one_of is not None:
            members = ((Ref(str(m), self.label(m)),) for m in Collection(graph, one_of))
            return ("one of: ", *_join(members, ", "))
        return ()

    def restriction(self, item: Node, seen: frozenset[Node]) -> Rich:
        graph = self.graph
        prop = _first(graph, item, OWL.onProperty)
        if prop is None:
            return ("(unrecognised class expression)",)
        prop_label = self.label(prop)
        value = _first(graph, item, OWL.hasValue)
        if value is not None:
            shown: str | Ref = Ref(str(value), self.label(value)) if isinstance(value, URIRef) else self.label(value)
            return (f"{prop_label}: ", shown)
        quantified = self.quantified(item, prop, seen)
        if quantified:
            return quantified
        for card, word in _CARDINALITIES:
            number = _first(graph, item, card)
            if number is not None:
                on_class = _first(graph, item, OWL.onClass)
                tail = (" of ", *self.render(on_class, seen)) if on_class is not None else ()
                return (f"{prop_label}: {word} {number}", *tail)
        if _first(graph, item, OWL.hasSelf) is not None:
            return (f"{prop_label}: itself",)
        return (f"{prop_label}: (unrecognised restriction)",)

    def quantified(self, item: Node, prop: Node, seen: frozenset[Node]) -> Rich:
        """A someValuesFrom or allValuesFrom restriction; () if ``item`` is neither."""
        prop_label = self.label(prop)
        for quantifier, word in ((OWL.someValuesFrom, ""), (OWL.allValuesFrom, "every ")):
            filler = _first(self.graph, item, quantifier)
            if filler is None:
                continue
            if filler == OWL.Thing:
                return (f"{prop_label}: any",)
            target = self.prop_range(prop) if self.prop_range is not None else None
            subject = self.label(target) if target is not None else prop_label
            if isinstance(filler, URIRef):
                return (f"{word}{subject}: ", *self.render(filler, seen))
            return (f"{word}{subject} ", *self.grouped(filler, seen))
        return ()


def render_class_expression(
    graph: Graph,
    node: Node,
    label: Callable[[Node], str],
    prop_range: Callable[[Node], Node | None] | None = None,
) -> Rich:
    """An OWL class expression in words, e.g. ``finding present: fever OR finding present: night pain``.

    Named classes become links (``Ref``); a restriction ``someValuesFrom`` on a property whose
    range is a class reads as that class's label followed by the filler ("lump depth: deep").
    """
    return _Words(graph, label, prop_range).render(node, frozenset())
