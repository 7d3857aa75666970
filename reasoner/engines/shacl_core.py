"""SHACL Core validation of one small data graph, compiled once per shapes graph.

pyshacl rebuilds its shape objects and walks an rdflib graph for every validation, which costs
about 10 ms for one case. Here the shapes graph is read once into plain Python objects, and each
validation runs over a dictionary index of the data triples. The results are the same as
pyshacl's with ``inference='none'``: the same focus nodes, value nodes, result paths, source shapes
and severities (a test compares the two on every scenario and on generated cases).

Implemented (SHACL Core): the targets ``sh:targetClass``, ``sh:targetNode``, ``sh:targetSubjectsOf``
and ``sh:targetObjectsOf``; node shapes with ``sh:property``; paths that are an IRI,
``sh:inversePath`` of an IRI or ``sh:alternativePath`` of IRIs; ``sh:closed`` with
``sh:ignoredProperties``, ``sh:minCount``, ``sh:maxCount``, ``sh:datatype``, ``sh:class``,
``sh:nodeKind``, ``sh:hasValue``, ``sh:in``, ``sh:disjoint``, ``sh:equals``, ``sh:minInclusive``,
``sh:maxInclusive``, ``sh:minExclusive``, ``sh:maxExclusive``, ``sh:minLength``, ``sh:maxLength``,
``sh:node``, ``sh:not``, ``sh:and``, ``sh:or``, ``sh:xone``, ``sh:severity`` and ``sh:deactivated``.

Any other SHACL construct (SPARQL constraints, ``sh:pattern``, qualified shapes, complex paths,
implicit class targets, ...) makes :func:`compile_shapes` raise :class:`UnsupportedShape`, and the
caller validates with pyshacl instead. Every shape that can report a result must carry an authored
``sh:message``, because the messages dorsum shows come from the shapes, not from the engine.
tests/test_engine_shacl_core.py has a test per construct. The module is generic SHACL machinery: it
holds no facts of any domain.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import Node

from reasoner.terms import IS_LITERAL, RDF_TYPE, TYPE_ONLY, Triple

__all__ = ["CompiledShapes", "ShapeResult", "Triple", "UnsupportedShape", "compile_shapes"]


# Predicates of the SHACL namespace that carry no validation meaning of their own here.
_DESCRIPTIVE = frozenset({SH.name, SH.description, SH.message, SH.order, SH.group, SH.defaultValue})
_TARGETS = frozenset({SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf})
_VALUE_CONSTRAINTS = frozenset(
    {
        SH.minCount,
        SH.maxCount,
        SH.datatype,
        SH["class"],
        SH.nodeKind,
        SH.hasValue,
        SH["in"],
        SH.disjoint,
        SH.equals,
        SH.minInclusive,
        SH.maxInclusive,
        SH.minExclusive,
        SH.maxExclusive,
        SH.minLength,
        SH.maxLength,
        SH.node,
        SH["not"],
        SH["and"],
        SH["or"],
        SH.xone,
    }
)
_STRUCTURE = frozenset({SH.path, SH.property, SH.severity, SH.deactivated, SH.closed, SH.ignoredProperties})
_SUPPORTED = _DESCRIPTIVE | _TARGETS | _VALUE_CONSTRAINTS | _STRUCTURE
_SHAPE_TYPES = frozenset({SH.NodeShape, SH.PropertyShape, SH.Shape})
# Hot-loop constants; one-element sets, so that a test costs a hash lookup, not rdflib's ``__eq__``.
_SUBCLASS_OF: Node = RDFS.subClassOf
_RESOURCE_ONLY = frozenset({RDFS.Resource})
_TARGET_NODE = frozenset({SH.targetNode})
_TARGET_CLASS = frozenset({SH.targetClass})
_TARGET_SUBJECTS_OF = frozenset({SH.targetSubjectsOf})

_NODE_KINDS: Mapping[Node, tuple[bool, bool, bool]] = {  # (IRI, blank node, literal) allowed
    SH.IRI: (True, False, False),
    SH.BlankNode: (False, True, False),
    SH.Literal: (False, False, True),
    SH.BlankNodeOrIRI: (True, True, False),
    SH.BlankNodeOrLiteral: (False, True, True),
    SH.IRIOrLiteral: (True, False, True),
}


class UnsupportedShape(Exception):
    """The shapes graph uses a SHACL construct that the compiled validator does not implement."""


@dataclass(frozen=True)
class ShapeResult:
    """One validation result, as pyshacl would report it (the fields dorsum reads)."""

    severity: Node
    focus: Node
    path: Node | None
    value: Node | None
    source_shape: Node
    message: str | None = None  # the engine's own message (pyshacl); None where the shape has one


class DataIndex:
    """A read-only index of the data triples that SHACL Core needs."""

    def __init__(self, triples: Iterable[Triple]) -> None:
        self.sp: defaultdict[tuple[Node, Node], list[Node]] = defaultdict(list)
        self.po: defaultdict[tuple[Node, Node], list[Node]] = defaultdict(list)
        self.by_subject: defaultdict[Node, list[tuple[Node, Node]]] = defaultdict(list)
        self._subjects_of: dict[Node, dict[Node, None]] | None = None
        self._objects_of: dict[Node, dict[Node, None]] | None = None
        self._types: dict[Node, set[Node]] = {}
        seen: set[Triple] = set()
        for triple in triples:
            if triple in seen:
                continue
            seen.add(triple)
            s, p, o = triple
            self.sp[(s, p)].append(o)
            self.po[(p, o)].append(s)
            self.by_subject[s].append((p, o))

    @property
    def subjects_of(self) -> dict[Node, dict[Node, None]]:
        """Predicate -> its subjects, each once, in the order first met (for sh:targetSubjectsOf)."""
        if self._subjects_of is None:
            self._subjects_of = _by_predicate((p, s) for s, p in self.sp)
        return self._subjects_of

    @property
    def objects_of(self) -> dict[Node, dict[Node, None]]:
        """Predicate -> its objects, each once, in the order first met (for sh:targetObjectsOf)."""
        if self._objects_of is None:
            self._objects_of = _by_predicate(self.po)
        return self._objects_of

    def objects(self, s: Node, p: Node) -> list[Node]:
        return self.sp.get((s, p), [])

    def subjects(self, p: Node, o: Node) -> list[Node]:
        return self.po.get((p, o), [])

    def subclasses(self, cls: Node) -> set[Node]:
        """``cls`` and every class below it by ``rdfs:subClassOf`` in the data."""
        found = {cls}
        frontier = [cls]
        while frontier:
            for sub in self.subjects(_SUBCLASS_OF, frontier.pop()):
                if sub not in found:
                    found.add(sub)
                    frontier.append(sub)
        return found

    def is_instance(self, node: Node, cls: Node) -> bool:
        """SHACL instance: ``node rdf:type/rdfs:subClassOf* cls`` in the data."""
        if IS_LITERAL[node.__class__]:
            return False
        types = self._types.get(node)
        if types is None:  # every class the node is an instance of, found once per node
            types = self._types[node] = set()
            frontier = list(self.objects(node, RDF_TYPE))
            while frontier:
                current = frontier.pop()
                if current not in types:
                    types.add(current)
                    frontier.extend(self.objects(current, _SUBCLASS_OF))
        return cls in types


def _by_predicate(pairs: Iterable[tuple[Node, Node]]) -> dict[Node, dict[Node, None]]:
    """(predicate, node) pairs grouped by predicate, each node once, in the order first met."""
    grouped: dict[Node, dict[Node, None]] = {}
    for predicate, node in pairs:
        grouped.setdefault(predicate, {})[node] = None
    return grouped


Check = Callable[[DataIndex, Node, list[Node]], Sequence[Node | None]]
"""A compiled constraint: (data, focus, value nodes) -> the value of each result (None: no sh:value)."""


@dataclass(frozen=True, eq=False)
class _Shape:
    iri: Node
    severity: Node
    path: tuple[str, tuple[Node, ...]] | None  # ("predicate" | "inverse" | "alternative", predicates)
    checks: tuple[Check, ...]
    properties: tuple[_Shape, ...]
    closed: frozenset[Node] | None  # allowed predicates, if the shape is closed
    targets: tuple[tuple[Node, Node], ...]  # (target predicate, object)

    def value_nodes(self, data: DataIndex, focus: Node) -> list[Node]:
        if self.path is None:
            return [focus]
        kind, predicates = self.path
        if kind == "inverse":
            return data.subjects(predicates[0], focus)
        if len(predicates) == 1:
            return data.objects(focus, predicates[0])  # unique: the index holds each triple once
        values: dict[Node, None] = {}
        for predicate in predicates:
            values.update(dict.fromkeys(data.objects(focus, predicate)))
        return list(values)

    def validate(self, data: DataIndex, focus: Node, out: list[ShapeResult] | None) -> bool:
        """Check ``focus``; append results to ``out`` (None: only conformance is wanted)."""
        values = self.value_nodes(data, focus)
        conforms = True
        path = self.path[1][0] if self.path is not None and self.path[0] == "predicate" else None
        for check in self.checks:
            failures = check(data, focus, values)
            if failures:
                conforms = False
                if out is None:
                    return False
                out.extend(ShapeResult(self.severity, focus, path, value, self.iri) for value in failures)
        if self.closed is not None:
            for value in values:
                for predicate, obj in data.by_subject.get(value, ()):
                    if predicate in self.closed or (predicate in TYPE_ONLY and obj in _RESOURCE_ONLY):
                        continue
                    conforms = False
                    if out is None:
                        return False
                    out.append(ShapeResult(self.severity, value, predicate, obj, self.iri))
        for prop in self.properties:
            for value in values:
                if not prop.validate(data, value, out):
                    conforms = False
                    if out is None:
                        return False
        return conforms

    def focus_nodes(self, data: DataIndex) -> list[Node]:
        nodes: dict[Node, None] = {}  # each node once, in the order first found
        for kind, obj in self.targets:
            if kind in _TARGET_NODE:
                nodes[obj] = None
            elif kind in _TARGET_CLASS:
                for cls in data.subclasses(obj):
                    nodes.update(dict.fromkeys(data.subjects(RDF_TYPE, cls)))
            elif kind in _TARGET_SUBJECTS_OF:
                nodes.update(data.subjects_of.get(obj, {}))
            else:
                nodes.update(data.objects_of.get(obj, {}))
        return list(nodes)


@dataclass(frozen=True, eq=False)
class CompiledShapes:
    """Shapes with targets, compiled; :meth:`validate` checks one data graph."""

    shapes: tuple[_Shape, ...]

    def validate(self, triples: Iterable[Triple]) -> tuple[ShapeResult, ...]:
        """Every validation result of the data (the triples given, and nothing inferred)."""
        data = DataIndex(triples)
        results: list[ShapeResult] = []
        for shape in self.shapes:
            for focus in shape.focus_nodes(data):
                shape.validate(data, focus, results)
        return tuple(results)


def compile_shapes(shapes: Graph) -> CompiledShapes:
    """Read the shapes that have targets (and the shapes they use) into a :class:`CompiledShapes`.

    Raises :class:`UnsupportedShape` naming the construct if any shape uses SHACL the compiled
    validator does not implement.
    """
    compiler = _Compiler(shapes)
    with_targets = sorted({s for target in _TARGETS for s in shapes.subjects(target, None)}, key=lambda node: node.n3())
    for candidate in shapes.subjects(RDF.type, None):
        types = set(shapes.objects(candidate, RDF.type))
        if types & _SHAPE_TYPES and types & {RDFS.Class, URIRef("http://www.w3.org/2002/07/owl#Class")}:
            raise UnsupportedShape(f"implicit class target on {candidate.n3()}")
    compiled = tuple(compiler.shape(s, top_level=True) for s in with_targets if not compiler.deactivated(s))
    return CompiledShapes(shapes=compiled)


class _Compiler:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.cache: dict[Node, _Shape] = {}
        self.active: set[Node] = set()

    def term(self, node: Node | None) -> str:
        if isinstance(node, URIRef):
            return self.graph.namespace_manager.normalizeUri(node)
        return node.n3() if node is not None else "nothing"

    def describe(self, shape: Node) -> str:
        """A shape as an author would recognise it: its sh:name, its IRI or its path."""
        name = self.graph.value(shape, SH.name)
        if name is not None:
            return f"the shape for '{name}'"
        if isinstance(shape, URIRef):
            return self.term(shape)
        path = self.graph.value(shape, SH.path)
        return f"the shape on {self.term(path)}" if path is not None else "a blank node shape"

    def deactivated(self, shape: Node) -> bool:
        flag = self.graph.value(shape, SH.deactivated)
        return isinstance(flag, Literal) and flag.value is True

    def one(self, shape: Node, predicate: Node) -> Node | None:
        values = list(self.graph.objects(shape, predicate))
        if len(values) > 1:
            raise UnsupportedShape(f"{self.describe(shape)} has {len(values)} values of {self.term(predicate)}")
        return values[0] if values else None

    def items(self, head: Node) -> list[Node]:
        return list(self.graph.items(head))

    def shape(self, node: Node, *, top_level: bool = False, reports: bool = True) -> _Shape:
        if reports:  # before the cache: a shape may be compiled first where it cannot report
            self._require_message(node)
        cached = self.cache.get(node)
        if cached is not None:
            if cached.targets and not top_level:  # whichever of the two uses is compiled first
                raise UnsupportedShape(f"nested shape {self.describe(node)} has its own targets")
            return cached
        if node in self.active:
            raise UnsupportedShape(f"recursive shape {self.describe(node)}")
        self.active.add(node)
        g = self.graph
        for predicate in set(g.predicates(node, None)):
            if str(predicate).startswith(str(SH)) and predicate not in _SUPPORTED:
                raise UnsupportedShape(f"{self.term(predicate)} on {self.describe(node)}")
        path = self._path(node)
        targets = tuple(
            sorted(((t, o) for t in _TARGETS for o in g.objects(node, t)), key=lambda pair: (pair[0], pair[1].n3()))
        )
        if targets and not top_level:
            raise UnsupportedShape(f"nested shape {self.describe(node)} has its own targets")
        properties: list[_Shape] = []
        for prop in g.objects(node, SH.property):
            if self.deactivated(prop):
                continue
            if path is not None:
                raise UnsupportedShape(f"sh:property on the property shape {self.describe(node)}")
            properties.append(self.shape(prop, reports=reports))
        severity = self.one(node, SH.severity) or SH.Violation
        shape = _Shape(
            iri=node,
            severity=severity,
            path=path,
            checks=tuple(self._checks(node)),
            properties=tuple(properties),
            closed=self._closed(node),
            targets=targets,
        )
        self.active.discard(node)
        self.cache[node] = shape
        return shape

    def _closed(self, node: Node) -> frozenset[Node] | None:
        """sh:closed: the predicates a closed shape allows (its paths and sh:ignoredProperties), or None."""
        flag = self.one(node, SH.closed)
        if not isinstance(flag, Literal) or flag.value is not True:
            return None
        allowed: set[Node] = set()
        for ignored in self.graph.objects(node, SH.ignoredProperties):
            allowed.update(self.items(ignored))
        for prop in self.graph.objects(node, SH.property):
            prop_path = self.graph.value(prop, SH.path)
            if prop_path is not None:
                allowed.add(prop_path)
        return frozenset(allowed)

    def _require_message(self, node: Node) -> None:
        """Refuse a shape that can report a result but has no authored sh:message."""
        if self.graph.value(node, SH.message) is not None:
            return
        predicates = set(self.graph.predicates(node, None))
        if predicates & _VALUE_CONSTRAINTS or self.graph.value(node, SH.closed) is not None:
            raise UnsupportedShape(f"{self.describe(node)} has no sh:message")

    def _path(self, node: Node) -> tuple[str, tuple[Node, ...]] | None:
        path = self.one(node, SH.path)
        if path is None:
            return None
        if isinstance(path, URIRef):
            return ("predicate", (path,))
        if isinstance(path, BNode):
            inverse = self.graph.value(path, SH.inversePath)
            if isinstance(inverse, URIRef) and len(set(self.graph.predicate_objects(path))) == 1:
                return ("inverse", (inverse,))
            alternatives = self.graph.value(path, SH.alternativePath)
            if alternatives is not None and len(set(self.graph.predicate_objects(path))) == 1:
                members = self.items(alternatives)
                if members and all(isinstance(m, URIRef) for m in members):
                    return ("alternative", tuple(members))
        raise UnsupportedShape(f"the path of {self.describe(node)} is not an IRI, an inverse or an alternative of IRIs")

    def _conformance(self, member: Node) -> Callable[[DataIndex, Node], bool]:
        shape = self.shape(member, reports=False)
        return lambda data, value: shape.validate(data, value, None)

    def _checks(self, node: Node) -> list[Check]:
        g = self.graph
        checks: list[Check] = []
        for predicate, obj in sorted(g.predicate_objects(node), key=lambda po: (po[0], po[1].n3())):
            if predicate not in _VALUE_CONSTRAINTS:
                continue
            checks.append(self._check(node, predicate, obj))
        return checks

    def _check(self, node: Node, predicate: Node, obj: Node) -> Check:
        return _CONSTRAINT_COMPONENTS[predicate](self, node, predicate, obj)

    def _integer(self, node: Node, predicate: Node, obj: Node) -> int:
        if not isinstance(obj, Literal) or not isinstance(obj.value, int):
            raise UnsupportedShape(f"{self.term(predicate)} on {self.describe(node)} is not an integer")
        return obj.value

    def _count(self, node: Node, predicate: Node, obj: Node) -> Check:
        """sh:minCount, sh:maxCount."""
        bound = self._integer(node, predicate, obj)
        if predicate == SH.minCount:
            return lambda data, focus, values: [None] if len(values) < bound else []
        return lambda data, focus, values: [None] if len(values) > bound else []

    def _datatype(self, node: Node, predicate: Node, obj: Node) -> Check:
        return lambda data, focus, values: [v for v in values if not _has_datatype(v, obj)]

    def _class(self, node: Node, predicate: Node, obj: Node) -> Check:
        return lambda data, focus, values: [v for v in values if not data.is_instance(v, obj)]

    def _node_kind(self, node: Node, predicate: Node, obj: Node) -> Check:
        kinds = _NODE_KINDS.get(obj)
        if kinds is None:
            raise UnsupportedShape(f"sh:nodeKind {self.term(obj)} on {self.describe(node)}")
        return lambda data, focus, values: [v for v in values if not _node_kind_matches(v, kinds)]

    def _has_value(self, node: Node, predicate: Node, obj: Node) -> Check:
        return lambda data, focus, values: [] if obj in set(values) else [None]  # set: no rdflib __eq__

    def _in(self, node: Node, predicate: Node, obj: Node) -> Check:
        allowed = frozenset(self.items(obj))
        return lambda data, focus, values: [v for v in values if v not in allowed]

    def _disjoint(self, node: Node, predicate: Node, obj: Node) -> Check:
        return lambda data, focus, values: [v for v in values if v in data.objects(focus, obj)]

    def _equals(self, node: Node, predicate: Node, obj: Node) -> Check:
        def check(data: DataIndex, focus: Node, values: list[Node]) -> Sequence[Node | None]:
            expected = data.objects(focus, obj)
            return [v for v in values if v not in expected] + [v for v in expected if v not in values]

        return check

    def _range(self, node: Node, predicate: Node, obj: Node) -> Check:
        """sh:minInclusive, sh:maxInclusive, sh:minExclusive, sh:maxExclusive."""
        if not isinstance(obj, Literal):
            raise UnsupportedShape(f"{self.term(predicate)} on {self.describe(node)} is not a literal")
        accept = _RANGE_TESTS[predicate]
        return lambda data, focus, values: [v for v in values if not _in_range(v, obj, accept)]

    def _length(self, node: Node, predicate: Node, obj: Node) -> Check:
        """sh:minLength, sh:maxLength."""
        limit = self._integer(node, predicate, obj)
        longest = predicate == SH.maxLength
        return lambda data, focus, values: [v for v in values if not _length_ok(v, limit, longest)]

    def _shape(self, node: Node, predicate: Node, obj: Node) -> Check:
        """sh:node, sh:not."""
        test = self._conformance(obj)
        wanted = predicate == SH.node
        return lambda data, focus, values: [v for v in values if test(data, v) is not wanted]

    def _logical(self, node: Node, predicate: Node, obj: Node) -> Check:
        """sh:and, sh:or, sh:xone."""
        members = [self._conformance(member) for member in self.items(obj)]
        if predicate == SH["and"]:
            return lambda data, focus, values: [v for v in values if not all(t(data, v) for t in members)]
        if predicate == SH["or"]:
            return lambda data, focus, values: [v for v in values if not any(t(data, v) for t in members)]
        return lambda data, focus, values: [v for v in values if sum(1 for t in members if t(data, v)) != 1]


# Each supported constraint component: its parameter -> the compiler method that builds its check.
_CONSTRAINT_COMPONENTS: Mapping[Node, Callable[[_Compiler, Node, Node, Node], Check]] = {
    SH.minCount: _Compiler._count,
    SH.maxCount: _Compiler._count,
    SH.datatype: _Compiler._datatype,
    SH["class"]: _Compiler._class,
    SH.nodeKind: _Compiler._node_kind,
    SH.hasValue: _Compiler._has_value,
    SH["in"]: _Compiler._in,
    SH.disjoint: _Compiler._disjoint,
    SH.equals: _Compiler._equals,
    SH.minInclusive: _Compiler._range,
    SH.maxInclusive: _Compiler._range,
    SH.minExclusive: _Compiler._range,
    SH.maxExclusive: _Compiler._range,
    SH.minLength: _Compiler._length,
    SH.maxLength: _Compiler._length,
    SH.node: _Compiler._shape,
    SH["not"]: _Compiler._shape,
    SH["and"]: _Compiler._logical,
    SH["or"]: _Compiler._logical,
    SH.xone: _Compiler._logical,
}
_RANGE_TESTS: Mapping[Node, Callable[[int], bool]] = {
    SH.minInclusive: lambda cmp: cmp >= 0,
    SH.minExclusive: lambda cmp: cmp > 0,
    SH.maxInclusive: lambda cmp: cmp <= 0,
    SH.maxExclusive: lambda cmp: cmp < 0,
}

# What pyshacl checks of a value's Python type when the datatype IRI matches.
_PYTHON_TYPES: Mapping[Node, type | tuple[type, ...]] = {
    XSD.string: (str, bytes),
    RDF.langString: (str, bytes),
    XSD.integer: int,
    XSD.float: float,
    XSD.decimal: Decimal,
    XSD.boolean: bool,
    XSD.date: datetime.date,
    XSD.time: datetime.time,
    XSD.dateTime: datetime.datetime,
}


def _python_type_ok(value: Literal, datatype: Node) -> bool:
    expected = _PYTHON_TYPES.get(datatype)
    return expected is None or isinstance(value.value, expected)


def _has_datatype(value: Node, datatype: Node) -> bool:
    """sh:datatype as pyshacl checks it (including its lexical-form checks)."""
    if not isinstance(value, Literal):
        return False
    if value.datatype == datatype:
        if getattr(value, "ill_typed", None) is True:
            return False
        return _python_type_ok(value, datatype)
    if datatype == RDFS.Literal:
        return True
    if datatype == RDFS.Datatype and value.datatype:
        return True
    if value.datatype is None and value.language is None and datatype == XSD.string:
        return _python_type_ok(value, datatype)
    if datatype == RDF.langString and value.language:
        return _python_type_ok(value, datatype)
    return False


def _node_kind_matches(value: Node, kinds: tuple[bool, bool, bool]) -> bool:
    if isinstance(value, BNode):
        return kinds[1]
    if isinstance(value, Literal):
        return kinds[2]
    return kinds[0]


def _in_range(value: Node, bound: Literal, accept: Callable[[int], bool]) -> bool:
    if not isinstance(value, Literal):
        return False
    if isinstance(bound.value, str) != isinstance(value.value, str):
        return False
    try:
        return accept(_compare_literal(value, bound))
    except (TypeError, NotImplementedError):
        return False


# Literal values compared as Python values rather than by rdflib's total order (pyshacl's list).
_COMPARED_BY_VALUE = (datetime.datetime, datetime.time)


def _compare_literal(left: Literal, right: Literal) -> int:
    """-1, 0 or 1 as ``left`` is below, equal to or above ``right``: pyshacl's
    ``rdfutil.compare.compare_literal``, the same steps (a test checks that they agree), without
    importing pyshacl, which is slow to import. Raises TypeError for incomparable values."""
    if left.eq(right):
        return 0
    if left.value.__class__ in _COMPARED_BY_VALUE:
        if left.value == right.value:
            return 0
        if left.value > right.value:
            return 1
    elif left > right:
        return 1
    return -1


def _length_ok(value: Node, limit: int, longest: bool) -> bool:
    if isinstance(value, BNode):
        return False
    size = len(str(value))
    return size <= limit if longest else size >= limit
