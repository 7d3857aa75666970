"""What the reference pages show, read from the knowledge by the ``queries/docs-*.rq`` queries.

The queries return one row per element (multi-valued columns as space-separated IRIs); this module
only groups and orders those rows into small view models for the templates. Conflicts come from
``reasoner.authoring.conflicts``, the same list ``dorsum conflicts`` prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from rdflib import Graph, URIRef
from rdflib.namespace import RDFS
from rdflib.term import Identifier, Node

from reasoner.authoring.conflicts import KINDS, KnowledgeConflict, SourceClaim, knowledge_conflicts, packs_vs_seeds
from reasoner.authoring.docs.expressions import Rich, plain, render_class_expression
from reasoner.errors import KnowledgeError
from reasoner.knowledge import DX, PACKS_FOLDER, Knowledge

__all__ = [
    "Catalogue",
    "CheckItem",
    "ClassEntry",
    "PackConflict",
    "PackEntry",
    "Row",
    "ShapeEntry",
    "SourceEntry",
    "TreeNode",
    "read_catalogue",
]

Row = dict[str, str]

_WARNING = "http://www.w3.org/ns/shacl#Warning"
#: What a pack contributes, in the order the pages list it (kinds of ``docs-packs-elements``).
_ELEMENT_KINDS = (DX.Recommendation, DX.AvoidAdvice, DX.SummaryStatement, DX.RedFlag, DX.ClinicalSituation, DX.Finding)


@dataclass(frozen=True)
class ClassEntry:
    """A red flag or clinical situation: what places a case in it and what advice applies."""

    iri: str
    triggers: tuple[Rich, ...]
    children: tuple[str, ...]
    parents: tuple[str, ...]  # named superclasses other than the section's root
    recommendations: tuple[str, ...]
    avoid: tuple[str, ...]


@dataclass(frozen=True)
class TreeNode:
    iri: str
    first: bool  # the class's first place in the tree, which holds its anchor
    linked: bool  # the class has a section of its own (red flags, situations)
    children: tuple[TreeNode, ...]


@dataclass(frozen=True)
class CheckItem:
    name: str
    message: str
    other_properties: bool = False  # a node shape's message: any property the shape does not list
    assume: tuple[tuple[str, str], ...] = ()  # (property, value) IRIs assumed while the item is missing


@dataclass(frozen=True)
class ShapeEntry:
    row: Row
    warnings: tuple[CheckItem, ...]
    rules: tuple[CheckItem, ...]


@dataclass(frozen=True)
class SourceEntry:
    row: Row
    references: tuple[Row, ...]


@dataclass(frozen=True)
class PackConflict:
    """A disagreement between a guideline pack and the seed articles, with the two sides named."""

    conflict: KnowledgeConflict
    seed: SourceClaim
    pack: SourceClaim


@dataclass(frozen=True)
class PackEntry:
    """A guideline pack: its authority, its sources, what it contributes, where it disagrees with the seeds."""

    row: Row  # pack, packFile, authority, rank
    sources: tuple[Row, ...]  # docs-packs-sources rows; "place" is the source's IRI where its anchor is
    elements: tuple[Row, ...]  # element, kind, sources
    conflicts: tuple[PackConflict, ...]


@dataclass
class Catalogue:
    """Everything the pages show, in the order they show it."""

    ontology: Row | None
    red_flags: list[ClassEntry]
    situations: list[ClassEntry]
    recommendations: list[Row]
    avoid: list[Row]
    tiers: list[Row]
    topics: list[Row]
    topic_recommendations: dict[str, list[Row]]
    policies: list[Row]
    conflicts: dict[str, list[KnowledgeConflict]]
    shapes: list[ShapeEntry]
    findings: list[Row]
    thresholds: list[Row]
    age_bands: list[Row]
    actions: list[Row]
    tree: list[TreeNode]
    sources: list[SourceEntry]
    other_references: list[Row]
    packs: list[PackEntry]
    pack_conflicts: list[PackConflict]  # every pack-versus-seeds disagreement, as dorsum conflicts lists them
    authority_levels: list[Row]
    undeclared_packs: list[str]  # pack files in ontology/guidelines/ whose dx:KnowledgePack is not loaded
    shape_labels: dict[str, str]  # labels of elements the shapes define (not in the ontology)
    used_in: dict[str, list[str]]  # value or threshold IRI -> the classes whose definitions use it
    uses: dict[str, list[tuple[str, str]]]  # class IRI -> (property IRI or "", value IRI) it uses
    anchors: dict[str, str] = field(default_factory=dict)


def _select(
    knowledge: Knowledge, name: str, graph: Graph | None = None, **bindings: Identifier
) -> list[dict[str, Node | None]]:
    """The rows of the SELECT query ``queries/<name>.rq``, by variable name (None: unbound)."""
    if name not in knowledge.queries:
        raise KnowledgeError(f"dorsum docs needs queries/{name}.rq, which the knowledge does not have")
    result = (graph if graph is not None else knowledge.ontology).query(knowledge.queries[name], initBindings=bindings)
    names = [str(var) for var in result.vars or ()]
    return [dict(zip(names, cast(Sequence[Node | None], row), strict=True)) for row in result]


def _rows(knowledge: Knowledge, name: str, graph: Graph | None = None, **bindings: Identifier) -> list[Row]:
    """The rows as text; an unbound column is ""."""
    found = _select(knowledge, name, graph, **bindings)
    return [{key: "" if value is None else str(value) for key, value in row.items()} for row in found]


def _local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


class _Reader:
    """Reads the catalogue; orders by label (then IRI) wherever the order is not given."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.k = knowledge
        self.parents = {row["class"]: row["parents"].split() for row in _rows(knowledge, "docs-classes")}
        self.children: dict[str, list[str]] = {}
        for cls, parents in self.parents.items():
            for parent in parents:
                self.children.setdefault(parent, []).append(cls)

    def by_label(self, iris: Iterable[str]) -> list[str]:
        return sorted(set(iris), key=lambda iri: (self.k.label(URIRef(iri)).lower(), iri))

    def kids(self, cls: str) -> list[str]:
        return self.by_label(self.children.get(cls, ()))

    def tree_order(self, root: str) -> list[str]:
        order: list[str] = []
        stack = [root]
        while stack:
            node = stack.pop()
            if node not in order:
                order.append(node)
                stack.extend(reversed(self.kids(node)))
        return order

    def instances(self, root: URIRef) -> list[Row]:
        """Individuals of ``root`` or a subclass, grouped by kind in tree order, each once."""
        by_kind: dict[str, list[Row]] = {}
        for row in _rows(self.k, "docs-instances", root=root):
            by_kind.setdefault(row["kind"], []).append(row)
        found: list[Row] = []
        seen: set[str] = set()
        for kind in self.tree_order(str(root)):
            rows = {row["term"]: row for row in by_kind.get(kind, ())}
            for term in self.by_label(rows):
                if term not in seen:
                    seen.add(term)
                    found.append(rows[term])
        return found

    def class_entries(
        self, classes: list[str], root: str, recommendations: list[Row], avoid: list[Row]
    ) -> list[ClassEntry]:
        definitions: dict[str, list[Rich]] = {}
        graph = self.k.ontology
        for row in _select(self.k, "docs-class-definitions"):
            definition = row["definition"]
            if definition is None:
                continue
            words = render_class_expression(graph, definition, self.k.label, _range(graph))
            definitions.setdefault(str(row["class"]), []).append(words)
        return [
            ClassEntry(
                iri=cls,
                triggers=tuple(sorted(definitions.get(cls, ()), key=plain)),
                children=tuple(self.kids(cls)),
                parents=tuple(sorted(p for p in self.parents.get(cls, ()) if p != root)),
                recommendations=tuple(r["recommendation"] for r in recommendations if cls in r["appliesTo"].split()),
                avoid=tuple(a["avoid"] for a in avoid if cls in a["appliesTo"].split()),
            )
            for cls in classes
        ]

    def tree(self, elsewhere: set[str]) -> list[TreeNode]:
        placed: set[str] = set()

        def node(cls: str, path: frozenset[str]) -> TreeNode:
            first = cls not in elsewhere and cls not in placed
            placed.add(cls)
            kids = tuple(node(child, path | {cls}) for child in self.kids(cls) if child not in path)
            return TreeNode(cls, first, cls in elsewhere, kids)

        roots = [cls for cls in self.by_label(self.parents) if not any(p in self.parents for p in self.parents[cls])]
        return [node(root, frozenset()) for root in roots]

    def shapes(self) -> list[ShapeEntry]:
        by_shape: dict[str, list[Row]] = {}
        for row in _rows(self.k, "docs-shape-properties", self.k.shapes):
            by_shape.setdefault(row["shape"], []).append(row)
        return [self.shape(row, by_shape.get(row["shape"], [])) for row in _rows(self.k, "docs-shapes", self.k.shapes)]

    def shape(self, row: Row, properties: list[Row]) -> ShapeEntry:
        """A node shape's checklist items (sh:Warning: the shape itself or its property shapes) and
        its well-formedness rules (the other messages; a closed shape's own message is about any
        property it does not list)."""
        items = [row, *properties]
        warnings = tuple(
            CheckItem(item["name"], item["message"], assume=self.pairs(item["assume"]))
            for item in items
            if item["severity"] == _WARNING
        )
        rules: list[CheckItem] = []
        for item in items:
            rule = CheckItem(item["name"], item["message"], other_properties=item is row and row["closed"] == "true")
            if item["severity"] != _WARNING and rule.message and rule not in rules:
                rules.append(rule)
        return ShapeEntry(row, warnings, tuple(rules))

    def pairs(self, text: str) -> tuple[tuple[str, str], ...]:
        """(property, value) pairs from "p1 v1 p2 v2 ...", ordered by their labels."""
        words = text.split()
        pairs = [(words[i], words[i + 1]) for i in range(0, len(words) - 1, 2)]
        label = self.k.label
        return tuple(sorted(pairs, key=lambda pair: f"{label(URIRef(pair[0]))}: {label(URIRef(pair[1]))}"))

    def sources(self) -> tuple[list[SourceEntry], list[Row]]:
        references = _rows(self.k, "docs-references")
        seeds = _rows(self.k, "docs-sources")
        entries = [SourceEntry(s, tuple(r for r in references if s["seed"] in r["citedBy"].split())) for s in seeds]
        cited = {r["reference"] for entry in entries for r in entry.references}
        return entries, [r for r in references if r["reference"] not in cited]


def _packs(knowledge: Knowledge, conflicts: Iterable[KnowledgeConflict]) -> tuple[list[PackEntry], list[PackConflict]]:
    """The packs in the order of ``docs-packs``, each with its sources, the elements citing them and
    its disagreements with the seeds (``conflicts``, in their order)."""
    by_pack: dict[str, list[Row]] = {}
    for row in _rows(knowledge, "docs-packs-sources"):
        by_pack.setdefault(row["pack"], []).append(row)
    elements = _rows(knowledge, "docs-packs-elements")
    kinds = [str(kind) for kind in _ELEMENT_KINDS]
    pack_conflicts = []
    for conflict in packs_vs_seeds(conflicts):
        sides = conflict.seed_and_pack_sides()
        if sides is not None:
            pack_conflicts.append(PackConflict(conflict, *sides))
    placed: set[str] = set()
    entries = []
    for row in _rows(knowledge, "docs-packs"):
        sources = []
        for source in by_pack.get(row["pack"], ()):
            sources.append({**source, "place": "" if source["source"] in placed else source["source"]})
            placed.add(source["source"])
        iris = {source["source"] for source in sources}
        cited = [e for e in elements if iris & set(e["sources"].split()) and e["kind"] in kinds]
        cited.sort(key=lambda e: (kinds.index(e["kind"]), knowledge.label(URIRef(e["element"])).lower(), e["element"]))
        name = row["packFile"] or row["pack"]
        mine = tuple(c for c in pack_conflicts if name in c.pack.packs)
        entries.append(PackEntry(row, tuple(sources), tuple(cited), mine))
    return entries, pack_conflicts


def _undeclared_packs(knowledge: Knowledge, packs: Iterable[PackEntry]) -> list[str]:
    declared = {pack.row["packFile"] for pack in packs}
    folder = knowledge.root / "ontology" / PACKS_FOLDER
    return sorted(path.stem for path in folder.glob("*.ttl") if path.stem not in declared)


def _range(graph: Graph) -> Callable[[Node], Node | None]:
    def prop_range(prop: Node) -> Node | None:
        found = sorted(graph.objects(prop, RDFS.range), key=str)
        return found[0] if found else None

    return prop_range


def _uses(knowledge: Knowledge, classes: set[str]) -> dict[str, list[tuple[str, str]]]:
    uses: dict[str, list[tuple[str, str]]] = {}
    for row in _rows(knowledge, "docs-definition-uses"):
        if row["class"] in classes:
            uses.setdefault(row["class"], []).append((row.get("property", ""), row["value"]))
    return uses


def read_catalogue(knowledge: Knowledge) -> Catalogue:
    """Run the docs queries over ``knowledge`` and arrange their rows for the templates."""
    reader = _Reader(knowledge)
    red_flags = reader.by_label(reader.tree_order(str(DX.RedFlag))[1:])
    situations = [c for c in reader.by_label(reader.tree_order(str(DX.ClinicalSituation))[1:]) if c not in red_flags]
    recommendations = _rows(knowledge, "docs-recommendations")
    avoid = _rows(knowledge, "docs-avoid")
    uses = _uses(knowledge, {*red_flags, *situations})
    used_in: dict[str, list[str]] = {}
    for cls, found in uses.items():
        for _, value in found:
            used_in.setdefault(value, []).append(cls)
    topic_recommendations: dict[str, list[Row]] = {}
    for row in _rows(knowledge, "docs-topic-recommendations"):
        topic_recommendations.setdefault(row["topic"], []).append(row)
    conflicts: dict[str, list[KnowledgeConflict]] = {kind: [] for kind in KINDS}
    every = knowledge_conflicts(knowledge)
    for conflict in every:
        conflicts.setdefault(conflict.kind, []).append(conflict)
    packs, pack_conflicts = _packs(knowledge, every)
    sources, other_references = reader.sources()
    ontology = _rows(knowledge, "docs-ontology")
    catalogue = Catalogue(
        ontology=ontology[0] if ontology else None,
        red_flags=reader.class_entries(red_flags, str(DX.RedFlag), recommendations, avoid),
        situations=reader.class_entries(situations, str(DX.ClinicalSituation), recommendations, avoid),
        recommendations=recommendations,
        avoid=avoid,
        tiers=_rows(knowledge, "docs-tiers"),
        topics=_rows(knowledge, "docs-topics"),
        topic_recommendations=topic_recommendations,
        policies=_rows(knowledge, "docs-policies"),
        conflicts=conflicts,
        shapes=reader.shapes(),
        findings=reader.instances(DX.Finding) + reader.instances(DX.LumpAttributeValue),
        thresholds=_rows(knowledge, "docs-thresholds"),
        age_bands=_rows(knowledge, "docs-age-bands"),
        actions=reader.instances(DX.Action),
        tree=reader.tree({*red_flags, *situations}),
        sources=sources,
        other_references=other_references,
        packs=packs,
        pack_conflicts=pack_conflicts,
        authority_levels=_rows(knowledge, "docs-packs-authority"),
        undeclared_packs=_undeclared_packs(knowledge, packs),
        shape_labels={r["element"]: r["label"] for r in _rows(knowledge, "docs-shape-labels", knowledge.shapes)},
        used_in=used_in,
        uses=uses,
    )
    catalogue.anchors = _anchors(catalogue, reader.parents)
    return catalogue


def _anchors(c: Catalogue, classes: Mapping[str, object]) -> dict[str, str]:
    """One anchor per element that has a place of its own on the page, unique and stable."""
    order = [
        *(e.iri for e in c.red_flags),
        *(e.iri for e in c.situations),
        *(r["recommendation"] for r in c.recommendations),
        *(r["avoid"] for r in c.avoid),
        *(r["tier"] for r in c.tiers),
        *(r["topic"] for r in c.topics),
        *(r["policy"] for r in c.policies),
        *(s.row["seed"] for s in c.sources),
        *(r["reference"] for s in c.sources for r in s.references),
        *(r["reference"] for r in c.other_references),
        *(r["level"] for r in c.authority_levels),
        *(p.row["pack"] for p in c.packs),
        *(r["place"] for p in c.packs for r in p.sources if r["place"]),
        *(r["term"] for r in c.findings),
        *(r["threshold"] for r in c.thresholds),
        *(r["band"] for r in c.age_bands),
        *(r["term"] for r in c.actions),
        *classes,
    ]
    anchors: dict[str, str] = {}
    taken: set[str] = set()
    for iri in order:
        if iri in anchors:
            continue
        base = "dx-" + (re.sub(r"[^A-Za-z0-9_-]", "-", _local(iri)) or "x")
        name, suffix = base, 2
        while name in taken:
            name, suffix = f"{base}-{suffix}", suffix + 1
        taken.add(name)
        anchors[iri] = name
    return anchors
