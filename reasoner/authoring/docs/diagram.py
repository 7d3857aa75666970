"""The four-column diagram: findings and lump values -> red flags and situations ->
recommendations -> urgency tiers.

This module only lays the diagram out (which boxes, where, and the curve of each line); the SVG is
written by ``templates/diagram.svg.j2``. Columns 2 and 3 are ordered by the mean position of their
neighbours on the left (the barycentre heuristic), which keeps most lines short.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rdflib import URIRef
from rdflib.namespace import OWL, RDF

from reasoner.authoring.docs.catalogue import Catalogue
from reasoner.knowledge import DX, Knowledge

__all__ = ["COLUMN_HEADINGS", "Diagram", "layout"]

COLUMN_HEADINGS = ("Findings and lump values", "Red flags and situations", "Recommendations", "Urgency tiers")

_COL_X = (20.0, 420.0, 870.0, 1390.0)
_COL_W = (230.0, 280.0, 340.0, 190.0)  # the tier column widens to show every tier's label in full
_ROW = 15.0
_BOX_H = 12.0
_TOP = 56.0
_CHAR_W = 5.25  # average width of a 9.5px sans-serif character


@dataclass
class Box:
    key: str
    iri: str
    label: str
    tooltip: str
    css: str
    column: int
    group: str = ""
    y: float = 0.0
    rect_css: str = ""
    widths: tuple[float, ...] = _COL_W

    @property
    def x(self) -> float:
        return _COL_X[self.column]

    @property
    def width(self) -> float:
        return self.widths[self.column]

    @property
    def top(self) -> float:
        return self.y - _BOX_H / 2

    @property
    def text(self) -> str:
        limit = max(4, int((self.width - 8) / _CHAR_W))
        return self.label if len(self.label) <= limit else self.label[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Line:
    a: str
    b: str
    css: str
    tooltip: str
    path: str


@dataclass(frozen=True)
class Heading:
    x: float
    text: str
    count: int


@dataclass
class Diagram:
    """Everything the SVG template needs; sizes in pixels."""

    width: float = 0.0
    height: float = 0.0
    box_height: float = _BOX_H
    headings: list[Heading] = field(default_factory=list)
    tier_colours: list[str] = field(default_factory=list)  # by tier index, most urgent first
    lines: list[Line] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)


def _curve(x1: float, y1: float, c1: float, c2: float, x2: float, y2: float) -> str:
    """A cubic Bezier from (x1, y1) to (x2, y2) with horizontal tangents at control x c1 and c2."""
    return f"M{x1:.1f},{y1:.1f} C{c1:.1f},{y1:.1f} {c2:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"


def _tier_colour(rank: int, low: int, high: int) -> str:
    share = 0.0 if high == low else (rank - low) / (high - low)
    return f"hsl({round(120 * (1 - share))},65%,38%)"


def _rank(row: dict[str, str]) -> int:
    try:
        return int(row.get("rank", "0"))
    except ValueError:
        return 0


def _local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _curie(iri: str) -> str:
    return "dx:" + iri[len(str(DX)) :] if iri.startswith(str(DX)) else iri


class _Builder:
    def __init__(self, knowledge: Knowledge, widths: tuple[float, ...]) -> None:
        self.k = knowledge
        self.widths = widths
        self.boxes: dict[str, Box] = {}
        self.counter: Iterator[int] = iter(range(1_000_000))
        self.lines: dict[tuple[str, str], list[str]] = {}
        self.line_css: dict[tuple[str, str], str] = {}

    def box(self, iri: str, column: int, css: str, extra: str = "", group: str = "") -> Box:
        key = f"{column}|{iri}"
        if key not in self.boxes:
            info = self.k.info(URIRef(iri))
            tip = "\n".join(part for part in (f"{info.label} ({_curie(iri)})", info.definition, extra) if part)
            self.boxes[key] = Box(
                f"n{next(self.counter)}", iri, info.label, tip, css, column, group, widths=self.widths
            )
        return self.boxes[key]

    def line(self, a: Box, b: Box, css: str, tip: str) -> None:
        tips = self.lines.setdefault((a.key, b.key), [])
        if tip not in tips:
            tips.append(tip)
        self.line_css[(a.key, b.key)] = css

    def kinds(self, value: str) -> list[str]:
        types = self.k.ontology.objects(URIRef(value), RDF.type)
        found = {str(t) for t in types if t != OWL.NamedIndividual}
        return sorted(found, key=lambda iri: (self.k.label(URIRef(iri)).lower(), iri))

    def findings(self, c: Catalogue) -> list[Box]:
        """Column 1 starts with every finding and lump value, grouped by kind."""
        label = self.k.label
        return [self.box(r["term"], 0, "finding", f"kind: {label(URIRef(r['kind']))}", r["kind"]) for r in c.findings]

    def values(self, c: Catalogue, classes: dict[str, Box], column: list[Box]) -> None:
        """Column 1 ends with any other value a definition uses; lines from values to classes."""
        label = self.k.label
        others = sorted(
            {value for found in c.uses.values() for prop, value in found if prop},
            key=lambda v: (label(URIRef(self.kinds(v)[0])) if self.kinds(v) else "", label(URIRef(v)), v),
        )
        known = {box.iri for box in column}
        for value in (v for v in others if v not in known):
            kinds = self.kinds(value)
            names = ", ".join(label(URIRef(k)) for k in kinds)
            column.append(self.box(value, 0, "value", f"kind: {names}" if names else "", kinds[0] if kinds else ""))
        for entry in [*c.red_flags, *c.situations]:
            target = classes[entry.iri]
            for prop, value in sorted(c.uses.get(entry.iri, ()), key=lambda use: (use[0] or "None", use[1])):
                if not prop and value in classes:
                    source = classes[value]
                    self.line(source, target, "uses", f"{source.label} is part of the definition of {target.label}")
                elif prop:
                    source = self.boxes.get(f"0|{value}") or self.box(value, 0, "value")
                    self.line(source, target, "def", f"{label(URIRef(prop))}: {source.label} → {target.label}")

    def advice(self, c: Catalogue, classes: dict[str, Box], tiers: list[dict[str, str]]) -> tuple[list[Box], list[Box]]:
        """Columns 3 and 4, and the lines from classes to recommendations to tiers."""
        recs = sorted(c.recommendations, key=lambda r: r["recommendation"])
        for rec in recs:
            for cls in sorted(rec["appliesTo"].split()):
                if cls not in classes:
                    classes[cls] = self.box(cls, 1, "other")
        column3 = [
            self.box(r["recommendation"], 2, "rec", f"only if: {r['onlyIf']}" if r.get("onlyIf") else "") for r in recs
        ]
        column4 = [
            self.box(t["tier"], 3, "tier", f"rank {t.get('rank', '')}, time frame {t.get('timeFrame', '')}")
            for t in tiers
        ]
        tier_css = {t["tier"]: f"tier{index}" for index, t in enumerate(tiers)}
        for box in column4:
            box.rect_css = tier_css[box.iri]
        for rec, rec_box in zip(recs, column3, strict=True):
            name = _local(rec["recommendation"])
            for cls in sorted(rec["appliesTo"].split()):
                self.line(classes[cls], rec_box, "applies", f"{name} applies to {classes[cls].label}")
            for tier in sorted(rec["urgency"].split()):
                tier_box = self.boxes.get(f"3|{tier}") or self.box(tier, 3, "tier")
                conditional = " (conditional)" if rec.get("onlyIf") else ""
                self.line(rec_box, tier_box, tier_css.get(tier, "urg"), f"{name}: {tier_box.label}{conditional}")
        return column3, column4


def _place(column: list[Box], height: float) -> None:
    step = height / max(len(column), 1)
    for index, item in enumerate(column):
        item.y = _TOP + step * (index + 0.5)


def _arrange(builder: _Builder, columns: list[list[Box]], height: float) -> None:
    """Column 1 grouped by kind; columns 2 and 3 by the barycentre of their left neighbours."""
    by_key = {box.key: box for box in builder.boxes.values()}
    pairs = list(builder.lines)

    def mean(ys: list[float], empty: float) -> float:
        return sum(ys) / len(ys) if ys else empty

    def barycentre(column: list[Box], left: int) -> None:
        def key(item: Box) -> tuple[float, str, str]:
            ys = [by_key[a].y for a, b in pairs if b == item.key and by_key[a].column == left]
            return (mean(ys, -1.0), item.label.lower(), item.iri)

        column.sort(key=key)
        _place(column, height)

    def regroup(column: list[Box]) -> None:
        groups = list(dict.fromkeys(item.group for item in column))

        def key(item: Box) -> tuple[int, float, str, str]:
            ys = [by_key[b].y for a, b in pairs if a == item.key and by_key[b].column == 1]
            return (groups.index(item.group), mean(ys, 1e9), item.label.lower(), item.iri)

        column.sort(key=key)
        _place(column, height)

    _place(columns[0], height)
    barycentre(columns[1], 0)
    regroup(columns[0])
    barycentre(columns[1], 0)
    barycentre(columns[2], 1)
    _place(columns[3], height)


def _path(source: Box, target: Box) -> str:
    if source.column == target.column:
        bulge = min(70.0, 12.0 + abs(target.y - source.y) / 6)
        return _curve(source.x, source.y, source.x - bulge, source.x - bulge, source.x, target.y)
    x1, x2 = source.x + source.width, target.x
    mid = (x2 - x1) / 2
    return _curve(x1, source.y, x1 + mid, x2 - mid, x2, target.y)


def layout(knowledge: Knowledge, c: Catalogue) -> Diagram:
    """Place every box and line of the diagram."""
    tier_labels = [len(knowledge.label(URIRef(t["tier"]))) for t in c.tiers]
    widths = (*_COL_W[:3], max(_COL_W[3], max(tier_labels, default=0) * _CHAR_W + 12))
    builder = _Builder(knowledge, widths)
    column1 = builder.findings(c)
    classes: dict[str, Box] = {}
    for entry in c.red_flags:
        classes[entry.iri] = builder.box(entry.iri, 1, "redflag")
    for entry in c.situations:
        classes[entry.iri] = builder.box(entry.iri, 1, "situation")
    builder.values(c, classes, column1)
    column3, column4 = builder.advice(c, classes, c.tiers)
    columns = [column1, list(classes.values()), column3, column4]
    height = max(*(len(column) for column in columns), 1) * _ROW
    _arrange(builder, columns, height)
    by_key = {box.key: box for box in builder.boxes.values()}
    ranks = [_rank(t) for t in c.tiers] or [0]
    ordered = sorted(builder.lines.items(), key=lambda item: (by_key[item[0][0]].y, by_key[item[0][1]].y, item[0]))
    return Diagram(
        width=_COL_X[3] + widths[3] + 20,
        height=_TOP + height + 16,
        headings=[
            Heading(_COL_X[i] + widths[i] / 2, heading, len(columns[i])) for i, heading in enumerate(COLUMN_HEADINGS)
        ],
        tier_colours=[_tier_colour(_rank(t), min(ranks), max(ranks)) for t in c.tiers],
        lines=[
            Line(a, b, builder.line_css[(a, b)], "\n".join(tips), _path(by_key[a], by_key[b]))
            for (a, b), tips in ordered
        ],
        boxes=sorted(builder.boxes.values(), key=lambda box: (box.column, box.y)),
    )
