"""Load the knowledge base (ontology, shapes, queries, case-form context) once per process.

The knowledge lives in three folders, ``ontology/``, ``shapes/`` and ``queries/``. They ship
inside the wheel (as ``reasoner/kb``); ``--kb DIR`` or the ``DORSUM_KB`` environment variable
points dorsum at a working copy instead.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import rdflib
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS
from rdflib.term import Node

from reasoner.cache import cache_file, pickled, prune, read_cached, source_hash, unpickled, write_cached
from reasoner.engines.sparql_text import QueryTextRefused, check_text
from reasoner.errors import KnowledgeError, QueryRefusedError, one_line

if TYPE_CHECKING:
    from rdflib.plugins.sparql.sparql import Query

    from reasoner.engines.sparql_store import Row

DX = Namespace("https://w3id.org/dorsum/ontology#")
KB_ENV = "DORSUM_KB"
CONTEXT_FILE = "case-form.context.jsonld"
KNOWLEDGE_FOLDERS = ("ontology", "shapes", "queries")
CASE_SHAPES_PREFIX = "case-"  # shapes/case-*.ttl check cases; other shape files check the knowledge
REQUIRED_QUERIES = ("report-advice", "report-urgency", "report-red-flags", "report-triggers")
LABELS_QUERY, SOURCES_QUERY = "knowledge-labels", "knowledge-sources"  # lookups run once, when parsed
LOOKUP_QUERIES = (LABELS_QUERY, SOURCES_QUERY)
CACHE_KIND = "knowledge"
PACKS_FOLDER = "guidelines"  # ontology/guidelines/*.ttl: one guideline pack a file
CACHE_SOURCES = ("knowledge.py", "cache.py", "errors.py")  # the code that builds a cached knowledge
CACHE_KEEP = 32  # knowledge caches kept on disk (about 2 MB each)


@dataclass(frozen=True)
class SourceRef:
    """A guideline source (or a reference it cites) behind a knowledge element."""

    iri: str
    label: str
    short: str
    citation: str
    date: str
    relation: str  # "source" (the seed article) or "reference" (a reference it cites)


@dataclass(frozen=True)
class ElementInfo:
    """Human-readable text about one knowledge element."""

    iri: str
    label: str
    definition: str = ""
    evidence: str = ""
    interpretation: str = ""


class PreparedQueries(Mapping[str, "Query"]):
    """The knowledge's SPARQL queries by name (the stems of ``queries/*.rq``).

    Each query is parsed with rdflib the first time it is looked up, so a command pays only for
    the queries it runs. The texts are the ones the knowledge was loaded (and checked) from. Each
    text passes :func:`reasoner.engines.sparql_text.check_text` before its first use, whichever
    engine runs it: a query that would fetch (``SERVICE``, ``FROM``, ``LOAD``, also written with
    escapes such as ``\\u0053ERVICE``) or update is a QueryRefusedError naming the file.
    """

    def __init__(self, files: Mapping[str, Path], texts: Mapping[str, str]) -> None:
        self.files = dict(files)
        self._texts = dict(texts)
        self._prepared: dict[str, Query] = {}
        self._checked: set[str] = set()

    def __getitem__(self, name: str) -> Query:
        query = self._prepared.get(name)
        if query is None:
            query = _prepare_text(self.text(name), self.files[name])
            self._prepared[name] = query
        return query

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def __contains__(self, name: object) -> bool:
        return name in self._texts  # without parsing it (Mapping's own would)

    def text(self, name: str) -> str:
        """The SPARQL text of the named query, checked the first time (QueryRefusedError)."""
        text = self._texts[name]
        if name not in self._checked:
            _check_text(text, self.files[name])
            self._checked.add(name)
        return text

    def check_syntax(self) -> None:
        """Check every query now: one that would fetch raises a QueryRefusedError, a syntax error
        a KnowledgeError, each naming the file.

        Oxigraph's parser checks each text (for all the queries, about what rdflib takes for one);
        a text it refuses is parsed by rdflib, whose verdict stands (it accepts some texts Oxigraph
        refuses, and those load as they always did). A text Oxigraph accepts and rdflib would
        refuse fails when it is first looked up; ``dorsum check`` parses every file with rdflib."""
        for name in self._texts:
            if name not in self._prepared and not _oxigraph_accepts(self.text(name)):
                self[name]


def _check_text(text: str, path: Path) -> None:
    """Refuse a knowledge query that would fetch or update (the guard every SPARQL text passes)."""
    try:
        check_text(text)
    except QueryTextRefused as refused:
        raise QueryRefusedError(f"{path}: {refused}") from None


def _oxigraph_accepts(text: str) -> bool:
    """Whether Oxigraph parses the query text. It runs what it parses, so the text is run over an
    empty store, once checked (:meth:`PreparedQueries.text`: it fetches nothing)."""
    import pyoxigraph  # local: only a knowledge parsed from its files needs it

    try:
        pyoxigraph.Store().query(text)
    except Exception:  # a syntax error, or anything else: rdflib decides
        return False
    return True


@dataclass(frozen=True, eq=False)
class Knowledge:
    """A loaded knowledge base. Treat every graph in it as read-only."""

    root: Path
    stored_ontology: Graph | bytes = field(repr=False)  # the ontology, or its pickle: see ontology
    schema: Graph  # the ontology without annotations: what reasoning needs
    shapes: Graph
    validation_support: Mapping[Node, tuple[tuple[Node, Node, Node], ...]]  # per term: what sh:class needs
    queries: PreparedQueries  # name -> rdflib Query, parsed on first use
    query_files: Mapping[str, Path]
    context: Mapping[str, Any]
    version: str
    version_iri: str
    content_hash: str
    elements: Mapping[str, ElementInfo]
    sources: Mapping[str, tuple[SourceRef, ...]]
    ontology_labels: str = ""  # blank_labels() of the ontology, when the disk cache holds it
    terms: frozenset[str] = frozenset()  # every IRI the ontology uses, without unpickling it

    @cached_property
    def ontology(self) -> Graph:
        """The whole ontology, annotations included. A knowledge read from the disk cache unpickles
        it when it is first used: a run whose rules and queries are cached never needs it."""
        if isinstance(self.stored_ontology, Graph):
            return self.stored_ontology
        graph = unpickled(self.stored_ontology, Graph)
        if self.ontology_labels:
            _remember_blank_labels(graph, self.ontology_labels)
        return graph

    def ontology_blank_labels(self) -> str:
        """:func:`blank_labels` of the ontology, without unpickling it."""
        return self.ontology_labels or blank_labels(self.ontology)

    def label(self, node: object) -> str:
        """The label of a knowledge element, or a readable fallback for anything else."""
        key = str(node)
        info = self.elements.get(key)
        if info is not None:
            return info.label
        if isinstance(node, Literal):
            return str(node)
        return key.rsplit("#", 1)[-1].rsplit("/", 1)[-1]

    def info(self, node: object) -> ElementInfo:
        key = str(node)
        return self.elements.get(key) or ElementInfo(iri=key, label=self.label(node))

    def sources_of(self, node: object) -> tuple[SourceRef, ...]:
        return self.sources.get(str(node), ())


_PER_KNOWLEDGE: weakref.WeakKeyDictionary[Knowledge, dict[Callable[..., Any], Any]] = weakref.WeakKeyDictionary()
T = TypeVar("T")


def per_knowledge(build: Callable[[Knowledge], T]) -> Callable[[Knowledge], T]:
    """Decorate a function of a loaded knowledge base so that it runs once per knowledge (per
    process); the result lives as long as the knowledge does."""

    @functools.wraps(build)
    def cached(knowledge: Knowledge) -> T:
        values = _PER_KNOWLEDGE.setdefault(knowledge, {})
        if build not in values:
            values[build] = build(knowledge)
        return values[build]  # type: ignore[no-any-return]

    return cached


_BLANK_LABELS: dict[int, tuple[weakref.ref[Graph], str]] = {}  # id(graph) -> (the graph, its fingerprint)


def blank_labels(graph: Graph) -> str:
    """A short fingerprint of the labels of the graph's blank nodes. Two parses of the same files
    label them differently, so what is built from one parse and cached (compiled rules that name
    its class expressions) is keyed by it. Computed once per graph object, and never for the
    graphs of a knowledge read from its disk cache, which holds their fingerprints."""
    known = _BLANK_LABELS.get(id(graph))
    if known is not None and known[0]() is graph:
        return known[1]
    labels = sorted({str(node) for triple in graph for node in triple if isinstance(node, BNode)})
    fingerprint = hashlib.sha256("\0".join(labels).encode()).hexdigest()[:16]
    _remember_blank_labels(graph, fingerprint)
    return fingerprint


def _remember_blank_labels(graph: Graph, fingerprint: str) -> None:
    key = id(graph)
    _BLANK_LABELS[key] = (weakref.ref(graph, lambda _gone: _BLANK_LABELS.pop(key, None)), fingerprint)


def default_kb_root() -> Path:
    """Where the knowledge is when neither --kb nor DORSUM_KB says otherwise: the package's own
    ``kb`` folder (found with importlib.resources) in an installed wheel, else the checkout the
    package sits in."""
    env = os.environ.get(KB_ENV)
    if env:
        return Path(env)
    package = importlib.resources.files("reasoner")
    if isinstance(package, Path):  # not inside a zip file: the knowledge is read as files
        for candidate in (package / "kb", package.parent):
            if (candidate / "ontology").is_dir():
                return candidate
    raise KnowledgeError(f"cannot find the knowledge base next to {package}; pass --kb DIR or set {KB_ENV}")


def _knowledge_files(root: Path, packs: frozenset[str] | None = None) -> list[Path]:
    if not root.is_dir():
        raise KnowledgeError(f"knowledge directory not found: {root}")
    missing = [name for name in KNOWLEDGE_FOLDERS if not (root / name).is_dir()]
    if missing:
        raise KnowledgeError(f"{root} is not a dorsum knowledge base: missing {', '.join(missing)}/")
    files = sorted((root / "ontology").glob("*.ttl")) + _pack_files(root, None)  # unused packs: their vocabulary
    files += sorted((root / "shapes").glob("*.ttl")) + _pack_shapes(root, packs)
    files += sorted((root / "queries").glob("**/*.rq"))
    files.append(root / "ontology" / CONTEXT_FILE)
    return files


def _case_vocabulary(pack: Graph) -> Graph:
    """What a pack not in use still contributes: the terms a case form can name (everything said
    about a subject with a ``dx:formKey``), so the same case reads under every profile; its rules,
    advice and sources stay out."""
    vocabulary = Graph()
    terms = set(pack.subjects(DX.formKey, None))
    classes = {cls for term in terms for cls in pack.objects(term, RDF.type)}
    while classes:  # the classes those terms belong to, up their subclass chains within the pack
        cls = classes.pop()
        if (cls, None, None) in vocabulary:
            continue
        terms.add(cls)
        for triple in pack.triples((cls, None, None)):
            vocabulary.add(triple)
        classes |= set(pack.objects(cls, RDFS.subClassOf))
    for term in terms:
        for triple in pack.triples((term, None, None)):
            vocabulary.add(triple)
    return vocabulary


def _pack_shapes(root: Path, packs: frozenset[str] | None) -> list[Path]:
    """The case shapes of the loaded packs (``shapes/guidelines/<pack>.ttl``, where a pack has any)."""
    stems = {path.stem for path in _pack_files(root, packs)}
    return [path for path in sorted((root / "shapes" / PACKS_FOLDER).glob("*.ttl")) if path.stem in stems]


def _pack_files(root: Path, packs: frozenset[str] | None) -> list[Path]:
    """The guideline packs (``ontology/guidelines/*.ttl``) to load: all, or those named."""
    found = sorted((root / "ontology" / PACKS_FOLDER).glob("*.ttl"))
    if packs is None:
        return found
    unknown = packs - {path.stem for path in found}
    if unknown:
        raise KnowledgeError(f"unknown guideline pack(s): {', '.join(sorted(unknown))}")
    return [path for path in found if path.stem in packs]


def content_hash(root: Path, packs: frozenset[str] | None = None) -> str:
    """SHA-256 over the names and bytes of every knowledge file that is loaded."""
    digest = hashlib.sha256()
    if packs is not None:  # the same files, read differently: the selection is part of the identity
        digest.update(("packs:" + ",".join(sorted(packs)) + "\0").encode())
    for path in _knowledge_files(root, packs):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KnowledgeError(f"cannot read {path}: {exc.strerror}") from exc
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(data)
        digest.update(b"\0")
    return digest.hexdigest()


def load_knowledge(root: Path | str | None = None, *, packs: Iterable[str] | None = None) -> Knowledge:
    """Load (or return the cached) knowledge base at ``root``, with every guideline pack in
    ``ontology/guidelines/`` or only the ``packs`` named (file stems; none for the seeds alone).

    The caches (in this process, and on disk: see :mod:`reasoner.cache`) are keyed by the content
    hash of the files, so an edited file is always re-read.
    """
    resolved = Path(root) if root is not None else default_kb_root()
    resolved = resolved.expanduser().resolve()
    selected = frozenset(packs) if packs is not None else None
    return _load_cached(resolved, content_hash(resolved, selected), selected)


@lru_cache(maxsize=8)
def _load_cached(root: Path, digest: str, packs: frozenset[str] | None = None) -> Knowledge:
    return _read_knowledge(root, digest, packs)


@dataclass(frozen=True)
class _Parsed:
    """What the disk cache holds for one knowledge base: everything parsed or derived from its
    files, nothing tied to a process (stores, compiled queries) or to the folder it was read from."""

    content_hash: str
    ontology: Graph | bytes  # bytes in the disk cache (pickled apart: see Knowledge.ontology)
    schema: Graph
    shapes: Graph
    validation_support: dict[Node, tuple[tuple[Node, Node, Node], ...]]
    query_texts: dict[str, str]
    context: Mapping[str, Any]
    version: str
    version_iri: str
    elements: dict[str, ElementInfo]
    sources: dict[str, tuple[SourceRef, ...]]
    terms: frozenset[str]
    blank_labels: tuple[str, str] = ("", "")  # of the ontology and the schema: see blank_labels()


def _read_knowledge(root: Path, digest: str, packs: frozenset[str] | None = None) -> Knowledge:
    """The knowledge at ``root`` (whose files hash to ``digest``) from the disk cache, or parsed
    and then cached."""
    source = source_hash(CACHE_SOURCES, (rdflib.__version__,))
    path = cache_file(CACHE_KIND, digest, source)
    key = f"{digest} {source}"
    parsed = read_cached(path, key, _Parsed)
    if parsed is None or parsed.content_hash != digest or isinstance(parsed.ontology, Graph):
        parsed, ontology, queries = _parse_knowledge(root, digest, packs)
        if path is not None and content_hash(root, packs) == digest:  # never cache a mix of old and new files
            parsed = replace(parsed, blank_labels=(blank_labels(ontology), blank_labels(parsed.schema)))
            write_cached(path, key, replace(parsed, ontology=pickled(ontology)))
            prune(CACHE_KIND, CACHE_KEEP)
    else:
        queries = PreparedQueries(_query_files(root / "queries", parsed.query_texts), parsed.query_texts)
        if parsed.blank_labels[1]:
            _remember_blank_labels(parsed.schema, parsed.blank_labels[1])
    return Knowledge(
        root=root,
        stored_ontology=parsed.ontology,
        schema=parsed.schema,
        shapes=parsed.shapes,
        validation_support=parsed.validation_support,
        queries=queries,
        query_files=queries.files,
        context=parsed.context,
        version=parsed.version,
        version_iri=parsed.version_iri,
        content_hash=digest,
        elements=parsed.elements,
        sources=parsed.sources,
        ontology_labels=parsed.blank_labels[0],
        terms=parsed.terms,
    )


def _parse_knowledge(root: Path, digest: str, packs: frozenset[str] | None) -> tuple[_Parsed, Graph, PreparedQueries]:
    ontology = _parse_turtle_folder(root / "ontology")
    loaded = _pack_files(root, packs)
    for path in _pack_files(root, None):
        pack = _parse_turtle_files([path], path.parent)
        ontology += pack if path in loaded else _case_vocabulary(pack)
    shape_files = sorted((root / "shapes").glob(f"{CASE_SHAPES_PREFIX}*.ttl")) + _pack_shapes(root, packs)
    shapes = _parse_turtle_files(shape_files, root / "shapes")
    queries = _prepare_queries(root / "queries")
    context = _load_context(root / "ontology" / CONTEXT_FILE)
    version, version_iri = _version(ontology)
    lookups = _lookup_rows(ontology, queries)
    parsed = _Parsed(
        content_hash=digest,
        ontology=ontology,
        schema=_without_annotations(ontology),
        shapes=shapes,
        validation_support=_type_support(ontology),
        query_texts={name: queries.text(name) for name in queries},
        context=context,
        version=version,
        version_iri=version_iri,
        elements=_elements(lookups.get(LABELS_QUERY, ())),
        sources=_sources(ontology, lookups.get(SOURCES_QUERY, ())),
        terms=frozenset(str(node) for triple in ontology for node in triple if isinstance(node, URIRef)),
    )
    return parsed, ontology, queries


def _type_support(ontology: Graph) -> dict[Node, tuple[tuple[Node, Node, Node], ...]]:
    """For each term of the ontology, its rdf:type triples and the rdfs:subClassOf chain above
    those types: exactly what SHACL sh:class needs to check a case that mentions the term."""
    support: dict[Node, tuple[tuple[Node, Node, Node], ...]] = {}
    for term in set(ontology.subjects(RDF.type, None)):
        triples: set[tuple[Node, Node, Node]] = set()
        frontier = list(ontology.objects(term, RDF.type))
        triples |= {(term, RDF.type, t) for t in frontier}
        seen: set[Node] = set()
        while frontier:
            cls = frontier.pop()
            if cls in seen:
                continue
            seen.add(cls)
            for parent in ontology.objects(cls, RDFS.subClassOf):
                triples.add((cls, RDFS.subClassOf, parent))
                frontier.append(parent)
        support[term] = tuple(sorted(triples))
    return support


def _parse_turtle_folder(folder: Path) -> Graph:
    return _parse_turtle_files(sorted(folder.glob("*.ttl")), folder)


def _parse_turtle_files(files: list[Path], folder: Path) -> Graph:
    graph = Graph()
    if not files:
        raise KnowledgeError(f"no Turtle files in {folder}")
    for path in files:
        try:
            graph.parse(path, format="turtle")
        except Exception as exc:  # rdflib raises many parser exception types
            raise KnowledgeError(f"{path}: does not parse as Turtle: {one_line(exc)}") from exc
    return graph


def _query_files(folder: Path, names: Iterable[str]) -> dict[str, Path]:
    return {name: folder / f"{name}.rq" for name in names}


def _prepare_queries(folder: Path) -> PreparedQueries:
    """The queries of ``queries/*.rq``, every one checked, so that a syntax error stops the loading
    (see :meth:`PreparedQueries.check_syntax`); rdflib parses each when it is first used."""
    paths = sorted(folder.glob("*.rq"))
    queries = PreparedQueries({path.stem: path for path in paths}, {path.stem: _read_query(path) for path in paths})
    queries.check_syntax()
    for required in REQUIRED_QUERIES:
        if required not in queries:
            raise KnowledgeError(f"{folder}: required query {required}.rq is missing")
    return queries


def _read_query(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise KnowledgeError(f"{path}: not UTF-8 text") from exc


def _prepare_text(text: str, path: Path) -> Query:
    from rdflib.plugins.sparql import prepareQuery  # local: the SPARQL parser is slow to import

    try:
        return prepareQuery(text)
    except Exception as exc:  # pyparsing and rdflib raise several types
        raise KnowledgeError(f"{path}: SPARQL syntax error: {one_line(exc)}") from exc


def _load_context(path: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KnowledgeError(f"{path}: cannot load the case-form context: {one_line(exc)}") from exc
    context = document.get("@context") if isinstance(document, dict) else None
    if not isinstance(context, dict):
        raise KnowledgeError(f"{path}: expected an object with an '@context' object")
    return context


def _without_annotations(ontology: Graph) -> Graph:
    annotation_properties = set(ontology.subjects(RDF.type, OWL.AnnotationProperty))
    annotation_properties |= {RDFS.label, RDFS.comment, SKOS.definition}
    schema = Graph()
    for s, p, o in ontology:
        if p in annotation_properties or str(p).startswith(str(DCTERMS)):
            continue
        schema.add((s, p, o))
    return schema


def _version(ontology: Graph) -> tuple[str, str]:
    for subject in ontology.subjects(RDF.type, OWL.Ontology):
        info = ontology.value(subject, OWL.versionInfo)
        iri = ontology.value(subject, OWL.versionIRI)
        return (str(info) if info else "unversioned", str(iri) if iri else str(subject))
    return ("unversioned", "")


def _lookup_rows(ontology: Graph, queries: PreparedQueries) -> dict[str, list[Row]]:
    """The rows of the lookup queries (:data:`LOOKUP_QUERIES`, those the knowledge has) over the
    ontology, in sorted order: what is built from them does not depend on an engine's order. They
    run on Oxigraph, in a store built for them (a fifth of what rdflib's engine takes); a query
    Oxigraph cannot run runs on rdflib. Each text is checked first (:meth:`PreparedQueries.text`)."""
    from reasoner.engines.sparql_store import GraphStore

    store = GraphStore.of(ontology)
    found: dict[str, list[Row]] = {}
    for name in (name for name in LOOKUP_QUERIES if name in queries):
        rows = store.select(queries.text(name))
        if rows is None:  # a text only rdflib accepts (see PreparedQueries.check_syntax), or no SELECT
            result = ontology.query(queries[name])
            if result.type != "SELECT":
                raise KnowledgeError(f"{queries.files[name]}: a lookup query must be a SELECT")
            rows = [tuple(row) for row in result]  # type: ignore[arg-type]
        found[name] = sorted(rows, key=lambda row: tuple("" if term is None else str(term) for term in row))
    return found


def _elements(rows: Iterable[Row]) -> dict[str, ElementInfo]:
    """Each element's label and texts (an element with several, such as a property that each pack
    declares again, takes the first row)."""
    elements: dict[str, ElementInfo] = {}
    for element, label, definition, evidence, interpretation in rows:
        elements.setdefault(
            str(element),
            ElementInfo(
                iri=str(element),
                label=str(label),
                definition=str(definition or ""),
                evidence=str(evidence or ""),
                interpretation=str(interpretation or ""),
            ),
        )
    return elements


def _sources(ontology: Graph, rows: Iterable[Row]) -> dict[str, tuple[SourceRef, ...]]:
    found: dict[str, list[SourceRef]] = {}
    for element, relation, source, short, citation, date in rows:
        label = ontology.value(source, RDFS.label)
        found.setdefault(str(element), []).append(
            SourceRef(
                iri=str(source),
                label=str(label) if label else str(source),
                short=str(short) if short else str(source).rsplit("#", 1)[-1],
                citation=str(citation or ""),
                date=str(date or ""),
                relation=str(relation).rsplit("#", 1)[-1],
            )
        )
    return {key: tuple(value) for key, value in found.items()}
