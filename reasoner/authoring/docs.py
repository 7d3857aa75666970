"""``dorsum docs``: a browsable reference generated from the knowledge base alone.

``build_docs(knowledge, out)`` writes ``index.html`` (one page with sections and a table of
contents), ``index.md`` (the same content as Markdown) and ``diagram.svg`` (findings -> red flags
and situations -> recommendations -> urgency tiers). Every clinical word on these pages comes from
the Turtle files: labels, definitions, evidence, citations, shape messages. The Python here only
arranges them. The output is deterministic: the same knowledge gives byte-identical files.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SH, SKOS
from rdflib.term import Node

from reasoner.knowledge import DX, Knowledge

__all__ = ["COLUMN_HEADINGS", "DOC_FILES", "build_docs", "render_class_expression"]

DOC_FILES = ("index.html", "index.md", "diagram.svg")
COLUMN_HEADINGS = ("Findings and lump values", "Red flags and situations", "Recommendations", "Urgency tiers")

# ---------------------------------------------------------------- a tiny document model
# Sections are built once as blocks of rich text, then rendered to HTML and to Markdown, so the two
# always say the same thing.


@dataclass(frozen=True)
class Ref:
    """A mention of a knowledge element: a link to its anchor when the page has one."""

    iri: str
    label: str


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Em:
    text: str


Segment = str | Ref | Code | Em
Rich = tuple[Segment, ...]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str | None = None


@dataclass(frozen=True)
class Para:
    rich: Rich


@dataclass(frozen=True)
class Item:
    rich: Rich
    children: tuple[Item, ...] = ()
    anchor: str | None = None


@dataclass(frozen=True)
class ItemList:
    items: tuple[Item, ...]
    css: str = ""


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Rich, ...], ...]
    table_id: str | None = None
    row_anchors: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class Figure:
    svg: str
    href: str
    caption: str


Block = Heading | Para | ItemList | Table | Figure


@dataclass
class Section:
    anchor: str
    title: str
    blocks: list[Block] = field(default_factory=list)


def _join(parts: Iterable[Rich], sep: str = "; ") -> Rich:
    out: list[Segment] = []
    for index, part in enumerate(parts):
        if index:
            out.append(sep)
        out.extend(part)
    return tuple(out)


# ---------------------------------------------------------------- reading the knowledge


def _first(graph: Graph, subject: Node | None, prop: URIRef) -> Node | None:
    """The object of (subject, prop); the smallest if there are several, so output never depends on hashing."""
    if subject is None:
        return None
    found = sorted(graph.objects(subject, prop), key=lambda node: (type(node).__name__, str(node)))
    return found[0] if found else None


def _local(iri: object) -> str:
    return str(iri).rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _curie(iri: object) -> str:
    text = str(iri)
    return "dx:" + text[len(str(DX)) :] if text.startswith(str(DX)) else text


def _number(value: object) -> str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    text = format(number.normalize(), "f")
    return text


class _Model:
    """The knowledge, with the lookups the pages need. Everything is sorted for determinism."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.k = knowledge
        self.g: Graph = knowledge.ontology
        self.shapes: Graph = knowledge.shapes
        self.anchors: dict[str, str] = {}
        self._anchor_names: set[str] = set()

    # -- labels and text
    def label(self, node: Node) -> str:
        if isinstance(node, URIRef):
            for graph in (self.g, self.shapes):
                value = _first(graph, node, RDFS.label)
                if value is not None:
                    return str(value)
            return _local(node)
        if isinstance(node, Literal):
            return _number(node) if node.datatype is not None else str(node)
        return "(anonymous)"

    def text(self, node: Node, prop: URIRef, graph: Graph | None = None) -> str:
        value = _first(graph if graph is not None else self.g, node, prop)
        return str(value) if value is not None else ""

    def ref(self, node: Node) -> Ref:
        return Ref(str(node), self.label(node))

    def refs(self, nodes: Iterable[Node]) -> Rich:
        return _join(((self.ref(node),) for node in self.sort(nodes)), "; ")

    def sort(self, nodes: Iterable[Node]) -> list[Node]:
        return sorted(set(nodes), key=lambda node: (self.label(node).lower(), str(node)))

    def uris(self, nodes: Iterable[Node]) -> list[URIRef]:
        return sorted({node for node in nodes if isinstance(node, URIRef)}, key=str)

    # -- anchors: one per element that has a place of its own on the page
    def register(self, node: Node, prefix: str = "dx-") -> str:
        key = str(node)
        if key in self.anchors:
            return self.anchors[key]
        base = prefix + (re.sub(r"[^A-Za-z0-9_-]", "-", _local(node)) or "x")
        name, suffix = base, 2
        while name in self._anchor_names:
            name, suffix = f"{base}-{suffix}", suffix + 1
        self._anchor_names.add(name)
        self.anchors[key] = name
        return name

    # -- classes
    def named_classes(self) -> list[URIRef]:
        found: set[Node] = set(self.g.subjects(RDF.type, OWL.Class)) | set(self.g.subjects(RDF.type, RDFS.Class))
        for sub, sup in self.g.subject_objects(RDFS.subClassOf):
            if isinstance(sub, URIRef) and isinstance(sup, URIRef):
                found.update((sub, sup))
        return [node for node in self.uris(found) if node != OWL.Thing]

    def parents(self, cls: Node) -> list[URIRef]:
        return self.uris(self.g.objects(cls, RDFS.subClassOf))

    def children(self, cls: Node) -> list[Node]:
        return self.sort(node for node in self.g.subjects(RDFS.subClassOf, cls) if isinstance(node, URIRef))

    def descendants(self, cls: Node) -> list[Node]:
        seen: list[Node] = []
        stack = [cls]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.append(current)
            stack.extend(self.children(current))
        return seen

    def subclasses_of(self, cls: URIRef) -> list[Node]:
        return self.sort(self.descendants(cls)[1:])

    def instances_of(self, cls: URIRef) -> list[tuple[Node, Node]]:
        """(class, individual) for every individual typed with ``cls`` or a subclass, in tree order."""
        out: list[tuple[Node, Node]] = []
        seen: set[Node] = set()
        for sub in self.tree_order(cls):
            for individual in self.sort(self.g.subjects(RDF.type, sub)):
                if isinstance(individual, URIRef) and individual not in seen:
                    seen.add(individual)
                    out.append((sub, individual))
        return out

    def tree_order(self, cls: Node) -> list[Node]:
        order: list[Node] = []

        def visit(node: Node) -> None:
            if node in order:
                return
            order.append(node)
            for child in self.children(node):
                visit(child)

        visit(cls)
        return order

    def definitions(self, cls: Node) -> list[Node]:
        """The class expressions that are rdfs:subClassOf ``cls``: what makes a case one of these."""
        return sorted(
            (node for node in self.g.subjects(RDFS.subClassOf, cls) if isinstance(node, BNode)),
            key=lambda node: _plain(self.expression(node)),
        )

    # -- class expressions in words
    def expression(self, node: Node) -> Rich:
        return render_class_expression(self.g, node, self.label, self._range)

    def _range(self, prop: Node) -> Node | None:
        return _first(self.g, prop, RDFS.range)

    def expression_uses(self, node: Node) -> list[tuple[Node | None, URIRef]]:
        """(property, value) for each owl:hasValue, (None, class) for each named class operand."""
        uses: list[tuple[Node | None, URIRef]] = []
        stack: list[Node] = [node]
        seen: set[Node] = set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            if isinstance(current, URIRef):
                if current != node and current != OWL.Thing:
                    uses.append((None, current))
                continue
            value = _first(self.g, current, OWL.hasValue)
            if isinstance(value, URIRef):
                uses.append((_first(self.g, current, OWL.onProperty), value))
            for prop in (OWL.someValuesFrom, OWL.allValuesFrom, OWL.complementOf, OWL.onClass):
                stack.extend(self.g.objects(current, prop))
            for prop in (OWL.intersectionOf, OWL.unionOf):
                for head in self.g.objects(current, prop):
                    stack.extend(Collection(self.g, head))
        return sorted(set(uses), key=lambda use: (str(use[0]), str(use[1])))

    # -- sources
    def source_refs(self, node: Node, relation: str = "source") -> Rich:
        found = sorted({(ref.short, ref.iri) for ref in self.k.sources_of(node) if ref.relation == relation})
        return _join(((Ref(iri, short),) for short, iri in found), ", ")

    def sources_cell(self, node: Node) -> Rich:
        sources = self.source_refs(node)
        references = self.source_refs(node, "reference")
        if references:
            return (*sources, " (", Em("refs: "), *references, ")")
        return sources

    def evidence_cell(self, node: Node) -> Rich:
        info = self.k.info(node)
        out: list[Segment] = [info.evidence] if info.evidence else []
        if info.interpretation:
            out.extend([" " if out else "", Em("Encoding: " + info.interpretation)])
        return tuple(out)


def _plain(rich: Rich) -> str:
    return "".join(seg if isinstance(seg, str) else seg.label if isinstance(seg, Ref) else seg.text for seg in rich)


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

    def composite(item: Node) -> bool:
        return any(_first(graph, item, prop) is not None for prop in (OWL.intersectionOf, OWL.unionOf))

    def render(item: Node, seen: frozenset[Node]) -> Rich:
        if isinstance(item, URIRef):
            return (Ref(str(item), label(item)),)
        if isinstance(item, Literal):
            return (label(item),)
        if item in seen:
            return ("…",)
        seen = seen | {item}
        for operator, word in ((OWL.intersectionOf, " AND "), (OWL.unionOf, " OR ")):
            head = _first(graph, item, operator)
            if head is not None:
                parts = []
                for member in Collection(graph, head):
                    inner = render(member, seen)
                    parts.append(("(", *inner, ")") if composite(member) else inner)
                return _join(parts, word)
        complement = _first(graph, item, OWL.complementOf)
        if complement is not None:
            inner = render(complement, seen)
            return ("NOT ", *(("(", *inner, ")") if composite(complement) else inner))
        one_of = _first(graph, item, OWL.oneOf)
        if one_of is not None:
            return ("one of: ", *_join(((Ref(str(m), label(m)),) for m in Collection(graph, one_of)), ", "))
        prop = _first(graph, item, OWL.onProperty)
        if prop is None:
            return ("(unrecognised class expression)",)
        prop_label = label(prop)
        value = _first(graph, item, OWL.hasValue)
        if value is not None:
            shown: Segment = Ref(str(value), label(value)) if isinstance(value, URIRef) else label(value)
            return (f"{prop_label}: ", shown)
        for quantifier, word in ((OWL.someValuesFrom, ""), (OWL.allValuesFrom, "every ")):
            filler = _first(graph, item, quantifier)
            if filler is None:
                continue
            if filler == OWL.Thing:
                return (f"{prop_label}: any",)
            target = prop_range(prop) if prop_range is not None else None
            subject = label(target) if target is not None else prop_label
            inner = render(filler, seen)
            if isinstance(filler, URIRef):
                return (f"{word}{subject}: ", *inner)
            return (f"{word}{subject} ", *(("(", *inner, ")") if composite(filler) else inner))
        for card, word in (
            (OWL.minCardinality, "at least"),
            (OWL.minQualifiedCardinality, "at least"),
            (OWL.maxCardinality, "at most"),
            (OWL.maxQualifiedCardinality, "at most"),
            (OWL.cardinality, "exactly"),
            (OWL.qualifiedCardinality, "exactly"),
        ):
            number = _first(graph, item, card)
            if number is not None:
                on_class = _first(graph, item, OWL.onClass)
                tail = (" of ", *render(on_class, seen)) if on_class is not None else ()
                return (f"{prop_label}: {word} {number}", *tail)
        if _first(graph, item, OWL.hasSelf) is not None:
            return (f"{prop_label}: itself",)
        return (f"{prop_label}: (unrecognised restriction)",)

    return render(node, frozenset())


# ---------------------------------------------------------------- sections


def _sections(m: _Model, diagram_svg: Callable[[], str]) -> list[Section]:
    g = m.g
    red_flags = m.subclasses_of(DX.RedFlag)
    situations = [node for node in m.subclasses_of(DX.ClinicalSituation) if node not in red_flags]
    recs = m.uris(g.subjects(RDF.type, DX.Recommendation))
    avoids = m.uris(g.subjects(RDF.type, DX.AvoidAdvice))
    tiers = sorted(
        m.uris(g.subjects(RDF.type, DX.UrgencyTier)),
        key=lambda tier: (-_rank(g, tier), str(tier)),
    )
    topics = m.sort(g.subjects(RDF.type, DX.Topic))
    policies = m.sort(g.subjects(RDF.type, DX.ConflictPolicy))
    seeds = sorted(m.uris(g.subjects(RDF.type, DX.SeedArticle)), key=lambda s: (m.text(s, SKOS.altLabel), str(s)))
    references = m.uris(g.subjects(RDF.type, DX.CitedReference))
    terms = m.instances_of(DX.Finding) + m.instances_of(DX.LumpAttributeValue)
    thresholds = m.sort(g.subjects(RDF.type, DX.SizeThreshold))
    age_bands = m.sort(g.subjects(RDF.type, DX.AgeBand))
    actions = m.instances_of(DX.Action)

    # Register anchors up front, so every mention can link to the element's own place.
    for node in [*red_flags, *situations, *recs, *avoids, *tiers, *topics, *policies, *seeds, *references]:
        m.register(node)
    for node in [*(i for _, i in terms), *thresholds, *age_bands, *(i for _, i in actions)]:
        m.register(node)
    for node in m.named_classes():
        m.register(node)

    used_in: dict[str, set[Node]] = {}
    for cls in [*red_flags, *situations]:
        for definition in m.definitions(cls):
            for _, value in m.expression_uses(definition):
                used_in.setdefault(str(value), set()).add(cls)

    def applies(advice_type: URIRef, cls: Node) -> list[Node]:
        return sorted(
            (a for a in g.subjects(DX.appliesTo, cls) if (a, RDF.type, advice_type) in g),
            key=str,
        )

    sections: list[Section] = []

    # -- version
    ontology_iri = next(iter(m.uris(g.subjects(RDF.type, OWL.Ontology))), None)
    version = Section("version", "Knowledge version")
    rows: list[tuple[Rich, ...]] = []
    if ontology_iri is not None:
        rows.append((("ontology",), (m.label(ontology_iri),)))
        rows.append((("ontology IRI",), (Code(str(ontology_iri)),)))
    rows.append((("owl:versionInfo",), (Code(m.k.version),)))
    rows.append((("owl:versionIRI",), (Code(m.k.version_iri),)))
    if ontology_iri is not None and m.text(ontology_iri, DCTERMS.modified):
        rows.append((("dcterms:modified",), (m.text(ontology_iri, DCTERMS.modified),)))
    rows.append((("content hash (SHA-256)",), (Code(m.k.content_hash),)))
    version.blocks.append(Table(("", ""), tuple(rows), "version-table"))
    if ontology_iri is not None and m.text(ontology_iri, RDFS.comment):
        version.blocks.append(Para((m.text(ontology_iri, RDFS.comment),)))
    counts = (
        f"{len(red_flags)} red flags, {len(situations)} clinical situations, {len(recs)} recommendations, "
        f"{len(avoids)} avoid advice, {len(tiers)} urgency tiers, {len(seeds)} seed articles, "
        f"{len(references)} cited references."
    )
    version.blocks.append(Para((counts,)))
    sections.append(version)

    # -- diagram
    diagram = Section("diagram", "Diagram")
    diagram.blocks.append(
        Para(
            (
                " → ".join(COLUMN_HEADINGS) + ". Lines: a value used in a definition; a recommendation that ",
                Code("dx:appliesTo"),
                " the class; the recommendation's ",
                Code("dx:urgency"),
                ". Dashed arcs: a definition that uses another class. Hover for details.",
            )
        )
    )
    diagram.blocks.append(
        Figure(diagram_svg(), "diagram.svg", "Findings → red flags and situations → recommendations → tiers")
    )
    sections.append(diagram)

    # -- red flags and situations
    def class_section(anchor: str, title: str, classes: list[Node], root: URIRef) -> Section:
        section = Section(anchor, title)
        section.blocks.append(
            Para(("Subclasses of ", m.ref(root), f" ({len(classes)}). ", m.text(root, SKOS.definition)))
        )
        for cls in classes:
            section.blocks.append(Heading(3, m.label(cls), m.anchors[str(cls)]))
            section.blocks.append(Para((Code(_curie(cls)), " — ", m.text(cls, SKOS.definition))))
            triggers: list[Item] = [Item(m.expression(d)) for d in m.definitions(cls)]
            triggers.extend(Item(("any case that is: ", m.ref(sub))) for sub in m.children(cls))
            if triggers:
                section.blocks.append(Para((Em("Triggered when:"),)))
                section.blocks.append(ItemList(tuple(triggers), "triggers"))
            else:
                section.blocks.append(Para((Em("No definition: no case is placed in this class."),)))
            facts: list[Item] = []
            parents = [p for p in m.parents(cls) if p not in (DX.RedFlag, DX.ClinicalSituation)]
            if parents:
                facts.append(Item(("Also a subclass of: ", *m.refs(parents))))
            if m.source_refs(cls):
                facts.append(Item(("Sources: ", *m.sources_cell(cls))))
            if m.evidence_cell(cls):
                facts.append(Item(("Evidence: ", *m.evidence_cell(cls))))
            for advice_type, word in ((DX.Recommendation, "Recommendations"), (DX.AvoidAdvice, "Avoid advice")):
                found = applies(advice_type, cls)
                if found:
                    facts.append(Item((f"{word}: ", *_join(((Code(_local(a)),) for a in found), ", "))))
            if facts:
                section.blocks.append(ItemList(tuple(facts)))
        return section

    sections.append(class_section("red-flags", "Red flags", red_flags, DX.RedFlag))
    sections.append(class_section("situations", "Clinical situations", situations, DX.ClinicalSituation))

    # -- recommendations
    rec_section = Section("recommendations-section", "Recommendations")
    rec_section.blocks.append(
        Para(
            (
                f"{len(recs)} recommendations. A step with a condition (",
                Code("dx:onlyIf"),
                ") is shown as conditional and does not set the urgency tier.",
            )
        )
    )
    rec_rows = []
    for rec in recs:
        rec_rows.append(
            (
                (Code(_local(rec)),),
                (m.label(rec),),
                m.refs(g.objects(rec, DX.appliesTo)),
                m.refs(g.objects(rec, DX.action)),
                m.refs(g.objects(rec, DX.urgency)),
                (m.text(rec, DX.onlyIf),),
                m.refs(g.objects(rec, DX.topic)),
                m.sources_cell(rec),
                m.evidence_cell(rec),
            )
        )
    rec_section.blocks.append(
        Table(
            (
                "id",
                "label",
                "applies to",
                "action",
                "urgency tier",
                "condition (only if)",
                "topic",
                "source",
                "evidence",
            ),
            tuple(rec_rows),
            "recommendations",
            tuple(m.anchors[str(rec)] for rec in recs),
        )
    )
    sections.append(rec_section)

    # -- avoid advice
    avoid_section = Section("avoid", "Avoid advice")
    avoid_rows = []
    for avoid in avoids:
        avoid_rows.append(
            (
                (Code(_local(avoid)),),
                (m.label(avoid),),
                m.refs(g.objects(avoid, DX.appliesTo)),
                m.refs(g.objects(avoid, DX.action)),
                (m.text(avoid, DX.exceptWhen),),
                m.sources_cell(avoid),
                m.evidence_cell(avoid),
            )
        )
    avoid_section.blocks.append(Para((f"{len(avoids)} pieces of advice on what not to do.",)))
    avoid_section.blocks.append(
        Table(
            ("id", "label", "applies to", "action to avoid", "except when", "source", "evidence"),
            tuple(avoid_rows),
            "avoid-advice",
            tuple(m.anchors[str(a)] for a in avoids),
        )
    )
    sections.append(avoid_section)

    # -- urgency scale
    urgency = Section("urgency", "Urgency scale")
    urgency.blocks.append(Para((m.text(DX.UrgencyTier, SKOS.definition), " Most urgent first.")))
    tier_rows = []
    for tier in tiers:
        count = len(set(g.subjects(DX.urgency, tier)))
        tier_rows.append(
            (
                (m.text(tier, DX.rank),),
                (m.label(tier),),
                (Code(_local(tier)),),
                (Code(m.text(tier, DX.timeFrame)),),
                (m.text(tier, SKOS.definition),),
                (str(count),),
                m.source_refs(tier),
            )
        )
    urgency.blocks.append(
        Table(
            ("rank", "tier", "id", "time frame", "definition", "recommendations", "source"),
            tuple(tier_rows),
            "urgency-tiers",
            tuple(m.anchors[str(t)] for t in tiers),
        )
    )
    sections.append(urgency)

    # -- conflicts
    conflicts = Section("conflicts", "Conflicts within the knowledge")
    conflicts.blocks.append(
        Para(
            (
                "Disagreements the knowledge already contains. A case sees one only when the disagreeing advice "
                "all applies to it; the policy below then decides.",
            )
        )
    )
    conflicts.blocks.append(Heading(3, "Topics"))
    for topic in topics:
        on_topic = sorted(
            g.subjects(DX.topic, topic),
            key=lambda rec: (-_rank(g, _first(g, rec, DX.urgency)), str(rec)),
        )
        answers = {(str(_first(g, r, DX.action)), str(_first(g, r, DX.urgency))) for r in on_topic}
        conflicts.blocks.append(Heading(4, m.label(topic), m.anchors[str(topic)]))
        status = (
            f"{len(answers)} different answers (action, urgency) from {len(on_topic)} recommendations."
            if len(answers) > 1
            else f"{len(on_topic)} recommendations, one answer: no disagreement."
        )
        policy_part: Rich = ()
        for policy in m.sort(g.objects(topic, DX.resolvedBy)):
            policy_part = (*policy_part, " Resolved by: ", m.ref(policy), ".")
        conflicts.blocks.append(Para((m.text(topic, SKOS.definition), " ", Em(status), *policy_part)))
        conflicts.blocks.append(
            Table(
                ("recommendation", "action", "urgency tier", "applies to", "condition (only if)", "source"),
                tuple(
                    (
                        (Ref(str(rec), _local(rec)),),
                        m.refs(g.objects(rec, DX.action)),
                        m.refs(g.objects(rec, DX.urgency)),
                        m.refs(g.objects(rec, DX.appliesTo)),
                        (m.text(rec, DX.onlyIf),),
                        m.source_refs(rec),
                    )
                    for rec in on_topic
                ),
            )
        )

    conflicts.blocks.append(Heading(3, "Size thresholds that measure the same quantity"))
    by_quantity: dict[Node, list[Node]] = {}
    for threshold in thresholds:
        for quantity in g.objects(threshold, DX.measures):
            by_quantity.setdefault(quantity, []).append(threshold)
    threshold_conflicts = 0
    for quantity in m.sort(by_quantity):
        members = sorted(by_quantity[quantity], key=lambda t: (_decimal(_first(g, t, DX.minCm)), str(t)))
        if len({_number(_first(g, t, DX.minCm)) for t in members}) < 2:
            continue
        threshold_conflicts += 1
        conflicts.blocks.append(
            Para((Em(m.label(quantity)), " — ", m.text(quantity, SKOS.definition), " ", Code(_curie(quantity))))
        )
        conflicts.blocks.append(
            Table(
                ("threshold", "larger than", "source", "used by"),
                tuple(
                    (
                        (m.ref(t),),
                        (f"{_number(_first(g, t, DX.minCm))} {m.text(t, DX.unit)}".strip(),),
                        m.source_refs(t),
                        m.refs(used_in.get(str(t), set())),
                    )
                    for t in members
                ),
            )
        )
    if not threshold_conflicts:
        conflicts.blocks.append(Para(("No two thresholds measure the same quantity with different values.",)))

    do_avoid_rows = []
    for rec in recs:
        for action in m.uris(g.objects(rec, DX.action)):
            avoided_actions = {action, *g.objects(action, DX.variantOf)}
            for avoid in avoids:
                for avoided in m.uris(g.objects(avoid, DX.action)):
                    if avoided in avoided_actions:
                        do_avoid_rows.append(
                            (
                                (Ref(str(rec), _local(rec)),),
                                (m.ref(action),),
                                (Ref(str(avoid), _local(avoid)),),
                                (m.ref(avoided),),
                                m.refs(g.objects(rec, DX.appliesTo)),
                                m.refs(g.objects(avoid, DX.appliesTo)),
                            )
                        )
    conflicts.blocks.append(Heading(3, "Do and avoid"))
    conflicts.blocks.append(
        Para(
            (
                "A recommendation whose action is, or is a ",
                Code("dx:variantOf"),
                ", an action that advice says to avoid.",
            )
        )
    )
    if do_avoid_rows:
        conflicts.blocks.append(
            Table(
                ("recommendation", "action", "avoid advice", "avoided action", "recommendation for", "avoid for"),
                tuple(do_avoid_rows),
            )
        )
    else:
        conflicts.blocks.append(Para(("None.",)))

    conflicts.blocks.append(Heading(3, "Conflict policy"))
    for policy in policies:
        resolved = m.sort(g.subjects(DX.resolvedBy, policy))
        conflicts.blocks.append(Heading(4, m.label(policy), m.anchors[str(policy)]))
        conflicts.blocks.append(Para((m.text(policy, SKOS.definition),)))
        if resolved:
            conflicts.blocks.append(Para(("Topics: ", *m.refs(resolved))))
    sections.append(conflicts)

    # -- case checklist (SHACL)
    sections.append(_checklist_section(m))

    # -- findings and lump values
    findings = Section("findings", "Findings and lump values")
    findings.blocks.append(
        Para(("Terms a case records; the case-form key is the word used in JSON or YAML (", Code("dx:formKey"), ")."))
    )
    findings.blocks.append(
        Table(
            ("term", "id", "kind", "case-form key", "definition", "used by"),
            tuple(
                (
                    (m.label(term),),
                    (Code(_curie(term)),),
                    (m.ref(kind),),
                    (Code(m.text(term, DX.formKey)),) if m.text(term, DX.formKey) else (),
                    (m.text(term, SKOS.definition),),
                    m.refs(used_in.get(str(term), set())),
                )
                for kind, term in terms
            ),
            "findings-table",
            tuple(m.anchors[str(term)] for _, term in terms),
        )
    )
    sections.append(findings)

    # -- thresholds and age bands
    numbers = Section("thresholds", "Size thresholds and age bands")
    numbers.blocks.append(Para((m.text(DX.SizeThreshold, SKOS.definition),)))
    numbers.blocks.append(
        Table(
            ("threshold", "id", "larger than", "measures", "source", "used by"),
            tuple(
                (
                    (m.label(t),),
                    (Code(_curie(t)),),
                    (f"{_number(_first(g, t, DX.minCm))} {m.text(t, DX.unit)}".strip(),),
                    m.refs(g.objects(t, DX.measures)),
                    m.source_refs(t),
                    m.refs(used_in.get(str(t), set())),
                )
                for t in thresholds
            ),
            "thresholds-table",
            tuple(m.anchors[str(t)] for t in thresholds),
        )
    )
    numbers.blocks.append(Para((m.text(DX.AgeBand, SKOS.definition),)))
    numbers.blocks.append(
        Table(
            ("age band", "id", "from (years, inclusive)", "below (years)", "definition", "used by"),
            tuple(
                (
                    (m.label(band),),
                    (Code(_curie(band)),),
                    (_number(_first(g, band, DX.minAgeYears)) if _first(g, band, DX.minAgeYears) is not None else "",),
                    (_number(_first(g, band, DX.maxAgeYears)) if _first(g, band, DX.maxAgeYears) is not None else "",),
                    (m.text(band, SKOS.definition),),
                    m.refs(used_in.get(str(band), set())),
                )
                for band in age_bands
            ),
            "age-bands-table",
            tuple(m.anchors[str(band)] for band in age_bands),
        )
    )
    sections.append(numbers)

    # -- actions
    action_section = Section("actions", "Actions")
    action_section.blocks.append(
        Table(
            ("action", "id", "kind", "definition", "variant of"),
            tuple(
                (
                    (m.label(action),),
                    (Code(_curie(action)),),
                    (m.ref(kind),),
                    (m.text(action, SKOS.definition),),
                    m.refs(g.objects(action, DX.variantOf)),
                )
                for kind, action in actions
            ),
            "actions-table",
            tuple(m.anchors[str(a)] for _, a in actions),
        )
    )
    sections.append(action_section)

    # -- class tree
    sections.append(_class_tree_section(m, {str(c) for c in [*red_flags, *situations]}))

    # -- sources
    sources = Section("sources", "Sources")
    cited: set[Node] = set()
    for seed in seeds:
        sources.blocks.append(Heading(3, m.label(seed), m.anchors[str(seed)]))
        facts: list[Segment] = [Code(m.text(seed, SKOS.altLabel) or _local(seed))]
        if m.text(seed, DCTERMS.date):
            facts.extend([" · date: ", m.text(seed, DCTERMS.date)])
        if m.text(seed, DX.seedFile):
            facts.extend([" · seed file: ", Code(m.text(seed, DX.seedFile))])
        sources.blocks.append(Para(tuple(facts)))
        if m.text(seed, DX.citation):
            sources.blocks.append(Para((Em("Citation: "), m.text(seed, DX.citation))))
        if m.text(seed, SKOS.definition):
            sources.blocks.append(Para((m.text(seed, SKOS.definition),)))
        refs = set(g.objects(seed, DX.citesReference)) | set(g.subjects(DX.citedBy, seed))
        cited |= refs
        if refs:
            sources.blocks.append(_reference_table(m, [r for r in references if r in refs]))
    orphans = [r for r in references if r not in cited]
    if orphans:
        sources.blocks.append(Heading(3, "Other cited references"))
        sources.blocks.append(_reference_table(m, orphans))
    sections.append(sources)
    return sections


def _rank(graph: Graph, tier: Node | None) -> int:
    return _int(_first(graph, tier, DX.rank))


def _int(value: Node | None) -> int:
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0


def _decimal(value: Node | None) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _reference_table(m: _Model, refs: list[URIRef]) -> Table:
    ordered = sorted(refs, key=lambda r: (_int(_first(m.g, r, DX.referenceNumber)), str(r)))
    return Table(
        ("no.", "reference", "citation", "date"),
        tuple(
            (
                (m.text(r, DX.referenceNumber),),
                (Code(m.text(r, SKOS.altLabel) or _local(r)),),
                (m.text(r, DX.citation) or m.label(r),),
                (m.text(r, DCTERMS.date),),
            )
            for r in ordered
        ),
        None,
        tuple(m.anchors[str(r)] for r in ordered),
    )


def _class_tree_section(m: _Model, elsewhere: set[str]) -> Section:
    section = Section("classes", "Class tree")
    section.blocks.append(
        Para(
            (
                "Named classes by ",
                Code("rdfs:subClassOf"),
                ", with labels and definitions. (Red flags and situations link to their own sections.)",
            )
        )
    )
    placed: set[str] = set()

    def item(cls: Node, path: frozenset[Node]) -> Item:
        key = str(cls)
        anchor = None
        if key not in elsewhere and key not in placed:
            anchor = m.anchors.get(key)
            placed.add(key)
        rich: Rich = (Ref(key, m.label(cls)) if key in elsewhere else m.label(cls), " ", Code(_curie(cls)))
        definition = m.text(cls, SKOS.definition)
        if definition:
            rich = (*rich, " — ", definition)
        kids = tuple(item(child, path | {cls}) for child in m.children(cls) if child not in path)
        return Item(rich, kids, anchor)

    classes = m.named_classes()
    named = set(classes)
    roots = [c for c in m.sort(classes) if not any(p in named for p in m.parents(c))]
    section.blocks.append(ItemList(tuple(item(root, frozenset()) for root in roots), "tree"))
    return section


def _checklist_section(m: _Model) -> Section:
    shapes = m.shapes
    section = Section("checklist", "What a case must record")
    section.blocks.append(
        Para(
            (
                "From the completeness shapes (",
                Code("sh:Warning"),
                "): a case missing an item is still triaged, marked incomplete, and evaluated again with the "
                "worst case assumed for what is missing.",
            )
        )
    )
    node_shapes = sorted(
        (s for s in shapes.subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef)),
        key=lambda s: (m.label(s), str(s)),
    )

    def target(shape: Node) -> Rich:
        parts: list[Rich] = []
        for cls in m.sort(shapes.objects(shape, SH.targetClass)):
            parts.append(("every ", m.ref(cls)))
        for prop in m.sort(shapes.objects(shape, SH.targetObjectsOf)):
            parts.append(("every value of ", Code(_curie(prop))))
        for prop in m.sort(shapes.objects(shape, SH.targetSubjectsOf)):
            parts.append(("every subject of ", Code(_curie(prop))))
        return _join(parts, ", ")

    def prop_key(prop_shape: Node) -> tuple[Decimal, str, str]:
        order = _first(shapes, prop_shape, SH.order)
        return (_decimal(order), m.text(prop_shape, SH.name, shapes), m.text(prop_shape, SH.message, shapes))

    wellformed: list[tuple[Node, list[Item]]] = []
    for shape in node_shapes:
        props = sorted(shapes.objects(shape, SH.property), key=prop_key)
        warnings = [p for p in props if _first(shapes, p, SH.severity) == SH.Warning]
        if warnings:
            section.blocks.append(Heading(3, m.label(shape)))
            section.blocks.append(Para(("Applies to ", *target(shape), ".")))
            items = []
            for prop_shape in warnings:
                assumed = []
                for assume in shapes.objects(prop_shape, DX.assume):
                    on = _first(shapes, assume, DX.onProperty)
                    value = _first(shapes, assume, DX.value)
                    if on is not None and value is not None:
                        assumed.append(f"{m.label(on)}: {m.label(value)}")
                rich: Rich = (
                    "☐ ",
                    Code(m.text(prop_shape, SH.name, shapes)),
                    " — ",
                    m.text(prop_shape, SH.message, shapes),
                )
                if assumed:
                    rich = (*rich, " ", Em("While missing, assume: " + "; ".join(sorted(assumed)) + "."))
                items.append(Item(rich))
            section.blocks.append(ItemList(tuple(items), "checklist"))
        rules: list[Item] = []
        node_message = m.text(shape, SH.message, shapes)
        if node_message and not warnings:
            rules.append(Item((Em("any other property"), " — ", node_message)))
        seen: set[tuple[str, str]] = set()
        for prop_shape in props:
            if prop_shape in warnings:
                continue
            key = (m.text(prop_shape, SH.name, shapes), m.text(prop_shape, SH.message, shapes))
            if key in seen or not key[1]:
                continue
            seen.add(key)
            rules.append(Item((Code(key[0]), " — ", key[1]) if key[0] else (key[1],)))
        if rules:
            wellformed.append((shape, rules))
    if wellformed:
        section.blocks.append(Heading(3, "Well-formedness rules"))
        section.blocks.append(
            Para(
                (
                    "A case that breaks one of these (",
                    Code("sh:Violation"),
                    ") is rejected with the message shown.",
                )
            )
        )
        for rule_shape, rules in wellformed:
            section.blocks.append(Heading(4, m.label(rule_shape)))
            section.blocks.append(Para(("Applies to ", *target(rule_shape), ".")))
            section.blocks.append(ItemList(tuple(rules)))
    return section


# ---------------------------------------------------------------- the diagram


@dataclass
class _DNode:
    key: str
    iri: str
    label: str
    tooltip: str
    css: str
    column: int
    group: str = ""
    y: float = 0.0


_COL_X = (20.0, 420.0, 870.0, 1390.0)
_COL_W = (230.0, 280.0, 340.0, 190.0)
_ROW = 15.0
_BOX_H = 12.0
_TOP = 56.0
_CHAR_W = 5.25  # average width of a 9.5px sans-serif character


def _truncate(text: str, width: float) -> str:
    limit = max(4, int((width - 8) / _CHAR_W))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _curve(x1: float, y1: float, c1: float, c2: float, x2: float, y2: float) -> str:
    """A cubic Bezier from (x1, y1) to (x2, y2) with horizontal tangents at control x c1 and c2."""
    return f"M{x1:.1f},{y1:.1f} C{c1:.1f},{y1:.1f} {c2:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"


def _tier_colour(rank: int, low: int, high: int) -> str:
    share = 0.0 if high == low else (rank - low) / (high - low)
    hue = round(120 * (1 - share))
    return f"hsl({hue},65%,38%)"


def _diagram(m: _Model, link_prefix: str) -> str:
    """The four-column SVG; node labels link to ``link_prefix + anchor``."""
    g = m.g
    red_flags = m.subclasses_of(DX.RedFlag)
    situations = [node for node in m.subclasses_of(DX.ClinicalSituation) if node not in red_flags]
    classes = [*red_flags, *situations]
    recs = sorted(m.uris(g.subjects(RDF.type, DX.Recommendation)), key=str)
    tiers = sorted(m.uris(g.subjects(RDF.type, DX.UrgencyTier)), key=lambda t: (-_rank(g, t), str(t)))
    ranks = [_rank(g, t) for t in tiers] or [0]

    nodes: dict[str, _DNode] = {}
    counter = iter(range(1_000_000))

    def node(iri: Node, column: int, css: str, extra: str = "", group: str = "") -> _DNode:
        key = f"{column}|{iri}"
        if key not in nodes:
            info = m.k.info(iri)
            tip = f"{m.label(iri)} ({_curie(iri)})"
            if info.definition:
                tip += f"\n{info.definition}"
            if extra:
                tip += f"\n{extra}"
            nodes[key] = _DNode(f"n{next(counter)}", str(iri), m.label(iri), tip, css, column, group)
        return nodes[key]

    edges: dict[tuple[str, str], list[str]] = {}
    edge_css: dict[tuple[str, str], str] = {}

    def edge(a: _DNode, b: _DNode, css: str, tip: str) -> None:
        pair = (a.key, b.key)
        edges.setdefault(pair, [])
        if tip not in edges[pair]:
            edges[pair].append(tip)
        edge_css[pair] = css

    # Column 1: every finding and lump value, then any other value a definition uses.
    column1: list[_DNode] = []
    for kind, term in m.instances_of(DX.Finding) + m.instances_of(DX.LumpAttributeValue):
        column1.append(node(term, 0, "finding", f"kind: {m.label(kind)}", str(kind)))
    class_nodes: dict[str, _DNode] = {}
    red_flag_set = {str(c) for c in red_flags}
    for cls in classes:
        class_nodes[str(cls)] = node(cls, 1, "redflag" if str(cls) in red_flag_set else "situation")
    uses: dict[str, list[tuple[Node | None, URIRef]]] = {}
    for cls in classes:
        uses[str(cls)] = sorted(
            {use for d in m.definitions(cls) for use in m.expression_uses(d)}, key=lambda u: (str(u[0]), str(u[1]))
        )

    def kinds_of(value: Node) -> list[Node]:
        return [k for k in m.sort(g.objects(value, RDF.type)) if k != OWL.NamedIndividual]

    others = sorted(
        {value for found in uses.values() for prop, value in found if prop is not None},
        key=lambda v: (m.label(kinds_of(v)[0]) if kinds_of(v) else "", m.label(v), str(v)),
    )
    known = {n.iri for n in column1}
    for value in others:
        if str(value) not in known:
            kinds = kinds_of(value)
            kind_label = ", ".join(m.label(k) for k in kinds)
            group = str(kinds[0]) if kinds else ""
            column1.append(node(value, 0, "value", f"kind: {kind_label}" if kind_label else "", group))
    for cls in classes:
        target = class_nodes[str(cls)]
        for prop, value in uses[str(cls)]:
            if prop is None:
                if str(value) in class_nodes:
                    source = class_nodes[str(value)]
                    edge(source, target, "uses", f"{source.label} is part of the definition of {target.label}")
                continue
            source = nodes.get(f"0|{value}") or node(value, 0, "value")
            edge(source, target, "def", f"{m.label(prop)}: {source.label} → {target.label}")

    # Column 2 also holds any other class a recommendation applies to (for example every case).
    for rec in recs:
        for cls in m.uris(g.objects(rec, DX.appliesTo)):
            if str(cls) not in class_nodes:
                class_nodes[str(cls)] = node(cls, 1, "other")
    column3 = [node(rec, 2, "rec", m.text(rec, DX.onlyIf) and f"only if: {m.text(rec, DX.onlyIf)}") for rec in recs]
    column4 = [node(t, 3, "tier", f"rank {m.text(t, DX.rank)}, time frame {m.text(t, DX.timeFrame)}") for t in tiers]
    tier_css = {str(t): f"tier{index}" for index, t in enumerate(tiers)}
    for rec, rec_node in zip(recs, column3, strict=True):
        for cls in m.uris(g.objects(rec, DX.appliesTo)):
            cls_node = class_nodes[str(cls)]
            edge(cls_node, rec_node, "applies", f"{_local(rec)} applies to {cls_node.label}")
        for tier in m.uris(g.objects(rec, DX.urgency)):
            tier_node = nodes.get(f"3|{tier}") or node(tier, 3, "tier")
            conditional = " (conditional)" if m.text(rec, DX.onlyIf) else ""
            edge(rec_node, tier_node, tier_css.get(str(tier), "urg"), f"{_local(rec)}: {tier_node.label}{conditional}")

    # Layout: column 1 grouped by kind; columns 2 and 3 ordered by the mean position of their
    # neighbours on the left (the barycentre heuristic), which keeps most lines short.
    column2 = list(class_nodes.values())

    def place(column: list[_DNode], height: float) -> None:
        step = height / max(len(column), 1)
        for index, item in enumerate(column):
            item.y = _TOP + step * (index + 0.5)

    longest = max(len(column1), len(column2), len(column3), len(column4), 1)
    height = longest * _ROW
    place(column1, height)
    by_key = {n.key: n for n in nodes.values()}

    def barycentre(column: list[_DNode], left_column: int) -> None:
        def key(item: _DNode) -> tuple[float, str, str]:
            ys = [by_key[a].y for (a, b) in edges if b == item.key and by_key[a].column == left_column]
            return ((sum(ys) / len(ys)) if ys else -1.0, item.label.lower(), item.iri)

        column.sort(key=key)
        place(column, height)

    def regroup(column: list[_DNode]) -> None:
        """Reorder column 1 inside each kind by the mean position of what it feeds on the right."""

        def key(item: _DNode) -> tuple[int, float, str, str]:
            ys = [by_key[b].y for (a, b) in edges if a == item.key and by_key[b].column == 1]
            return (groups.index(item.group), (sum(ys) / len(ys)) if ys else 1e9, item.label.lower(), item.iri)

        groups = list(dict.fromkeys(item.group for item in column))
        column.sort(key=key)
        place(column, height)

    barycentre(column2, 0)
    regroup(column1)
    barycentre(column2, 0)
    barycentre(column3, 1)
    place(column4, height)

    width = _COL_X[3] + _COL_W[3] + 20
    total_height = _TOP + height + 16
    out: list[str] = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="dorsum-diagram" '
        f'width="{width:.0f}" height="{total_height:.0f}" viewBox="0 0 {width:.0f} {total_height:.0f}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="9.5">',
        "<title>" + html.escape(" → ".join(COLUMN_HEADINGS)) + "</title>",
        "<style>"
        + _SVG_CSS
        + "".join(
            f".e.tier{i}{{stroke:{_tier_colour(_rank(g, t), min(ranks), max(ranks))}}}"
            f".n.tier rect.tier{i}{{fill:{_tier_colour(_rank(g, t), min(ranks), max(ranks))}}}"
            for i, t in enumerate(tiers)
        )
        + "</style>",
        f'<rect class="bg" x="0" y="0" width="{width:.0f}" height="{total_height:.0f}"/>',
    ]
    for index, heading in enumerate(COLUMN_HEADINGS):
        x = _COL_X[index] + _COL_W[index] / 2
        out.append(f'<text class="h" x="{x:.1f}" y="22" text-anchor="middle">{html.escape(heading)}</text>')
    counts = (len(column1), len(column2), len(column3), len(column4))
    for index, count in enumerate(counts):
        x = _COL_X[index] + _COL_W[index] / 2
        out.append(f'<text class="sub" x="{x:.1f}" y="36" text-anchor="middle">{count}</text>')

    out.append('<g class="edges">')
    for (a, b), tips in sorted(edges.items(), key=lambda item: (by_key[item[0][0]].y, by_key[item[0][1]].y, item[0])):
        source, target = by_key[a], by_key[b]
        css = edge_css[(a, b)]
        tip = html.escape("\n".join(tips))
        if source.column == target.column:
            x = _COL_X[source.column]
            bulge = min(70.0, 12.0 + abs(target.y - source.y) / 6)
            d = _curve(x, source.y, x - bulge, x - bulge, x, target.y)
        else:
            x1 = _COL_X[source.column] + _COL_W[source.column]
            x2 = _COL_X[target.column]
            mid = (x2 - x1) / 2
            d = _curve(x1, source.y, x1 + mid, x2 - mid, x2, target.y)
        out.append(f'<path class="e {css}" data-a="{a}" data-b="{b}" d="{d}"><title>{tip}</title></path>')
    out.append("</g>")

    out.append('<g class="nodes">')
    for item in sorted(nodes.values(), key=lambda n: (n.column, n.y)):
        x, w = _COL_X[item.column], _COL_W[item.column]
        y = item.y - _BOX_H / 2
        rect_css = tier_css.get(item.iri, "") if item.css == "tier" else ""
        anchor = m.anchors.get(item.iri)
        text = html.escape(_truncate(item.label, w))
        out.append(
            f'<g class="n {item.css}" data-k="{item.key}"><title>{html.escape(item.tooltip)}</title>'
            f'<rect class="{rect_css}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{_BOX_H:.1f}" rx="3"/>'
            + (f'<a href="{html.escape(link_prefix + anchor)}">' if anchor else "")
            + f'<text x="{x + 4:.1f}" y="{item.y + 3.3:.1f}">{text}</text>'
            + ("</a>" if anchor else "")
            + "</g>"
        )
    out.append("</g>")
    legend_y = total_height - 6
    out.append(
        f'<text class="sub" x="{_COL_X[0]:.1f}" y="{legend_y:.1f}">'
        "red: red flag · blue: clinical situation · grey: other class · dashed arc: definition uses another class"
        "</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


_SVG_CSS = (
    ".bg{fill:#fff}.h{font-size:13px;font-weight:bold;fill:#222}.sub{fill:#666;font-size:9px}"
    ".e{fill:none;stroke:#8a9bb0;stroke-width:.7;stroke-opacity:.45}"
    ".e.applies{stroke:#9b7fb0}.e.uses{stroke:#b05050;stroke-dasharray:3 2}"
    ".e:hover,.e.hl{stroke-opacity:1;stroke-width:1.8}"
    ".n rect{fill:#eef2f7;stroke:#9aa8b8;stroke-width:.6}.n text{fill:#111}"
    ".n.redflag rect{fill:#fbe3e1;stroke:#c0605a}.n.situation rect{fill:#e1ecfb;stroke:#5a7fc0}"
    ".n.other rect{fill:#eee;stroke:#888}.n.value rect{fill:#f4f0e0;stroke:#b0a060}"
    ".n.rec rect{fill:#f1ebf7;stroke:#9b7fb0}.n.tier text{fill:#fff;font-weight:bold}"
    ".n:hover rect,.n.hl rect{stroke:#000;stroke-width:1.4}.n a text{text-decoration:none}"
)

# ---------------------------------------------------------------- HTML


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1b1b1b;
line-height:1.45;font-size:15px}
header{background:#223047;color:#fff;padding:.8em 1.5em}header h1{margin:0;font-size:1.4em}
header p{margin:.2em 0 0;color:#c9d3e3;font-size:.9em}
nav{position:sticky;top:0;background:#f3f5f8;border-bottom:1px solid #d5dbe3;padding:.4em 1.5em;z-index:2;
font-size:.9em;display:flex;flex-wrap:wrap;gap:.2em 1em}nav a{white-space:nowrap}
main{padding:0 1.5em 3em;max-width:110em}h2{border-bottom:2px solid #223047;margin-top:2em}
h3{margin-bottom:.2em}h4{margin-bottom:.2em}a{color:#1d4f91}code{font-size:.88em;background:#f1f1f1;padding:0 .2em}
.tablewrap{overflow-x:auto}table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #d0d6de;padding:.25em .45em;vertical-align:top;text-align:left}
th{background:#e8edf3}tr:target,li:target,h3:target,h4:target{background:#fff4c2}
ul.tree ul{border-left:1px dotted #aab;margin-left:.3em}ul.checklist{list-style:none;padding-left:.5em}
ul.triggers li{margin:.2em 0}em{color:#555}
figure{margin:0}.diagram{overflow:auto;max-height:90vh;border:1px solid #d0d6de}
""".strip()

_SCRIPT = """
(function () {
  "use strict";
  function mark(key, on) {
    var selector = 'path[data-a="' + key + '"],path[data-b="' + key + '"]';
    document.querySelectorAll(selector).forEach(function (p) { p.classList.toggle("hl", on); });
  }
  function setup() {
    document.querySelectorAll("svg.dorsum-diagram g.n").forEach(function (g) {
      var key = g.getAttribute("data-k");
      g.addEventListener("mouseenter", function () { mark(key, true); });
      g.addEventListener("mouseleave", function () { mark(key, false); });
    });
    document.body.dataset.loaded = "ok";
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
""".strip()


class _Html:
    def __init__(self, anchors: dict[str, str]) -> None:
        self.anchors = anchors

    def rich(self, rich: Rich) -> str:
        out = []
        for seg in rich:
            if isinstance(seg, str):
                out.append(html.escape(seg))
            elif isinstance(seg, Ref):
                anchor = self.anchors.get(seg.iri)
                text = html.escape(seg.label)
                out.append(f'<a href="#{anchor}">{text}</a>' if anchor else text)
            elif isinstance(seg, Code):
                out.append(f"<code>{html.escape(seg.text)}</code>")
            else:
                out.append(f"<em>{html.escape(seg.text)}</em>")
        return "".join(out)

    def items(self, items: Sequence[Item], css: str = "") -> str:
        cls = f' class="{css}"' if css else ""
        out = [f"<ul{cls}>"]
        for item in items:
            anchor = f' id="{item.anchor}"' if item.anchor else ""
            inner = self.rich(item.rich)
            if item.children:
                inner += self.items(item.children)
            out.append(f"<li{anchor}>{inner}</li>")
        out.append("</ul>")
        return "\n".join(out)

    def block(self, block: Block) -> str:
        if isinstance(block, Heading):
            anchor = f' id="{block.anchor}"' if block.anchor else ""
            return f"<h{block.level}{anchor}>{html.escape(block.text)}</h{block.level}>"
        if isinstance(block, Para):
            return f"<p>{self.rich(block.rich)}</p>"
        if isinstance(block, ItemList):
            return self.items(block.items, block.css)
        if isinstance(block, Figure):
            svg = block.svg
            return (
                f'<figure><div class="diagram">{svg}</div><figcaption>{html.escape(block.caption)} — '
                f'<a href="{html.escape(block.href)}">open diagram.svg</a></figcaption></figure>'
            )
        table_id = f' id="{block.table_id}"' if block.table_id else ""
        out = [f'<div class="tablewrap"><table{table_id}>']
        if any(block.headers):
            out.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block.headers) + "</tr></thead>")
        out.append("<tbody>")
        for index, row in enumerate(block.rows):
            row_anchor = block.row_anchors[index] if index < len(block.row_anchors) else None
            row_id = f' id="{row_anchor}"' if row_anchor else ""
            out.append(f"<tr{row_id}>" + "".join(f"<td>{self.rich(cell)}</td>" for cell in row) + "</tr>")
        out.append("</tbody></table></div>")
        return "\n".join(out)

    def page(self, title: str, subtitle: str, sections: list[Section]) -> str:
        out = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            f"<style>\n{_CSS}\n</style>",
            "</head>",
            "<body>",
            f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>",
            "<nav>" + "\n".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections) + "</nav>",
            "<main>",
        ]
        for section in sections:
            out.append(f'<section id="{section.anchor}">')
            out.append(f"<h2>{html.escape(section.title)}</h2>")
            out.extend(self.block(block) for block in section.blocks)
            out.append("</section>")
        out.extend(["</main>", f"<script>\n{_SCRIPT}\n</script>", "</body>", "</html>"])
        return "\n".join(out) + "\n"


# ---------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _md_text(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text))


def _md_em(text: str) -> str:
    core = text.strip()
    if not core:
        return _md_text(text)
    lead = " " if text[:1].isspace() else ""
    tail = " " if text[-1:].isspace() else ""
    return f"{lead}*{_md_text(core)}*{tail}"


class _Markdown:
    def __init__(self, anchors: dict[str, str]) -> None:
        self.anchors = anchors

    def rich(self, rich: Rich) -> str:
        out = []
        for seg in rich:
            if isinstance(seg, str):
                out.append(_md_text(seg))
            elif isinstance(seg, Ref):
                anchor = self.anchors.get(seg.iri)
                out.append(f"[{_md_text(seg.label)}](#{anchor})" if anchor else _md_text(seg.label))
            elif isinstance(seg, Code):
                text = " ".join(seg.text.split()).replace("|", "\\|")
                out.append(f"`{text}`" if "`" not in text else f"`` {text} ``")
            else:
                out.append(_md_em(seg.text))
        return "".join(out)

    def items(self, items: Sequence[Item], depth: int = 0, bullet: str = "-") -> list[str]:
        lines = []
        for item in items:
            anchor = f'<a id="{item.anchor}"></a>' if item.anchor else ""
            lines.append("  " * depth + f"{bullet} {anchor}{self.rich(item.rich)}")
            lines.extend(self.items(item.children, depth + 1, bullet))
        return lines

    def block(self, block: Block, bullet: str = "-") -> str:
        if isinstance(block, Heading):
            anchor = f' <a id="{block.anchor}"></a>' if block.anchor else ""
            return "#" * block.level + " " + _md_text(block.text) + anchor
        if isinstance(block, Para):
            return self.rich(block.rich)
        if isinstance(block, ItemList):
            return "\n".join(self.items(block.items, 0, bullet))
        if isinstance(block, Figure):
            return f"![{_md_text(block.caption)}]({block.href})"
        headers = [_md_text(h) or " " for h in block.headers]
        lines = []
        if block.table_id:
            lines.append(f'<a id="{block.table_id}"></a>\n')
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|" + "---|" * len(headers))
        for index, row in enumerate(block.rows):
            row_anchor = block.row_anchors[index] if index < len(block.row_anchors) else None
            cells = [self.rich(cell) for cell in row]
            if row_anchor and cells:
                cells[0] = f'<a id="{row_anchor}"></a>{cells[0]}'
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def page(self, title: str, subtitle: str, sections: list[Section]) -> str:
        out = [f"# {_md_text(title)}", "", _md_text(subtitle), ""]
        out.append("Contents: " + " · ".join(f"[{_md_text(s.title)}](#{s.anchor})" for s in sections))
        for section in sections:
            out.extend(["", f'## {_md_text(section.title)} <a id="{section.anchor}"></a>'])
            bullet = "*"
            for block in section.blocks:
                # Two lists in a row would merge in Markdown unless their bullets differ.
                bullet = ("*" if bullet == "-" else "-") if isinstance(block, ItemList) else "*"
                out.extend(["", self.block(block, bullet)])
        return "\n".join(out) + "\n"


# ---------------------------------------------------------------- entry point


def build_docs(knowledge: Knowledge, out: Path) -> list[Path]:
    """Write index.html, index.md and diagram.svg for ``knowledge`` into ``out``; return their paths."""
    model = _Model(knowledge)
    sections = _sections(model, lambda: _diagram(model, "#"))
    svg = _diagram(model, "index.html#")
    ontology_iri = next(iter(model.uris(model.g.subjects(RDF.type, OWL.Ontology))), None)
    title = model.label(ontology_iri) if ontology_iri is not None else "dorsum knowledge"
    subtitle = f"Knowledge reference, version {knowledge.version} ({knowledge.version_iri})"
    html_text = _Html(model.anchors).page(title, subtitle, sections)
    md_text = _Markdown(model.anchors).page(title, subtitle, sections)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("index.html", html_text), ("index.md", md_text), ("diagram.svg", _svg_document(svg))):
        path = out / name
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written


def _svg_document(svg: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + svg
