"""The case knowledge graph: evaluated cases kept in a persistent RDF store, queried with SPARQL.

Layout (one RDF dataset; every triple is in a named graph):

* ``<https://w3id.org/dorsum/case/{id}/asserted>``: the case's facts as given (blank nodes are
  replaced by skolem IRIs ``<https://w3id.org/dorsum/case/{id}/node/{n}>`` so that the case's
  graphs join on the same nodes in any SPARQL store).
* ``<https://w3id.org/dorsum/case/{id}/inferred>``: what the derive rules and OWL 2 RL inference
  add (the closure minus the asserted facts).
* ``<https://w3id.org/dorsum/case/{id}/result>``: the triage result (``render_turtle``) plus the
  store's record: PROV-O activity with ``prov:used`` the knowledge version IRI and the knowledge
  graph, ``prov:endedAtTime``, and ``dstore:caseId`` / ``dstore:knowledgeGraph`` /
  ``dstore:effectiveUrgency``.
* ``<https://w3id.org/dorsum/knowledge/{content_hash[:12]}>``: the ontology the cases were
  evaluated with, one graph per knowledge content hash.
* ``<https://w3id.org/dorsum/store>``: metadata: ``<https://w3id.org/dorsum/store>
  dstore:currentKnowledge <knowledge graph>`` and a description of each knowledge graph.

A local store is an Oxigraph (RocksDB) folder opened with pyoxigraph; a remote store is the URL
of an Oxigraph server (``oxigraph serve``), used over SPARQL 1.1 Query, Update and the Graph
Store Protocol. Adding a case replaces its three graphs in one SPARQL Update, which both kinds
of store run as one transaction. Nothing here fetches ``owl:imports`` or touches the network
except a RemoteStore talking to its own endpoint.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import logging
import multiprocessing
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO, Final, Literal, cast

import pyoxigraph as ox
from rdflib import BNode, Graph, URIRef
from rdflib import Literal as RdfLiteral
from rdflib.term import Node

from reasoner.errors import DorsumError, UsageError, one_line
from reasoner.knowledge import Knowledge, load_knowledge
from reasoner.pipeline.infer import infer_case
from reasoner.pipeline.read import CASE_ID, CaseInput, case_from_form, read_case
from reasoner.pipeline.triage import TriageResult, triage
from reasoner.render.turtle import PROV, RESULT, render_turtle

CASE_BASE: Final = "https://w3id.org/dorsum/case/"
KNOWLEDGE_BASE: Final = "https://w3id.org/dorsum/knowledge/"
RESULT_BASE: Final = "https://w3id.org/dorsum/result/"
STORE_GRAPH: Final = "https://w3id.org/dorsum/store"
DSTORE: Final = "https://w3id.org/dorsum/store#"
XSD_DATETIME: Final = "http://www.w3.org/2001/XMLSchema#dateTime"
RDF_TYPE: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
GRAPH_KINDS: Final = ("asserted", "inferred", "result")
STORE_ENV: Final = "DORSUM_STORE"
DEFAULT_STORE: Final = "dorsum-store"
LOCK_FILE: Final = "dorsum.lock"
EXPORT_FORMATS: Final = ("nquads", "trig")
HTTP_TIMEOUT: Final = 60.0

PREFIXES: Final = f"""PREFIX dx: <https://w3id.org/dorsum/ontology#>
PREFIX res: <{RESULT}>
PREFIX prov: <{PROV}>
PREFIX dstore: <{DSTORE}>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""

ExportFormat = Literal["nquads", "trig"]
CaseSource = Path | CaseInput | Mapping[str, Any]


# ---------------------------------------------------------------- errors


class StoreError(UsageError):
    """The store cannot be opened, read or written (exit code 2)."""


class StoreBusyError(StoreError):
    """Another process holds the store (a server, or another dorsum command writing to it)."""


class StoreNotFoundError(StoreError):
    """There is no store at the given location."""


class CaseNotFoundError(StoreError):
    """No case with that id is in the store."""


class SparqlError(StoreError):
    """A SPARQL query or update was malformed or rejected."""


class RemoteStoreError(StoreError):
    """A remote SPARQL endpoint could not be reached or answered with an error."""


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Term:
    """One RDF term of a query answer."""

    kind: Literal["uri", "bnode", "literal", "triple"]
    value: str
    datatype: str = ""
    language: str = ""

    @property
    def n3(self) -> str:
        """The term in N-Triples / SPARQL syntax."""
        if self.kind == "uri":
            return f"<{self.value}>"
        if self.kind == "bnode":
            return f"_:{self.value}"
        if self.kind == "triple":
            return self.value
        return str(_ox_literal(self))

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SelectResult:
    """The rows of a SELECT query (``None`` for an unbound variable)."""

    variables: tuple[str, ...]
    rows: tuple[tuple[Term | None, ...], ...]

    def column(self, name: str) -> list[str]:
        index = self.variables.index(name)
        return [row[index].value if row[index] is not None else "" for row in self.rows]  # type: ignore[union-attr]

    def as_dicts(self) -> list[dict[str, str]]:
        return [
            {name: cell.value for name, cell in zip(self.variables, row, strict=True) if cell is not None}
            for row in self.rows
        ]


@dataclass(frozen=True)
class AskResult:
    """The answer of an ASK query."""

    value: bool


@dataclass(frozen=True)
class GraphResult:
    """The triples of a CONSTRUCT or DESCRIBE query."""

    triples: tuple[tuple[Term, Term, Term], ...]

    def to_ntriples(self) -> str:
        return "".join(f"{s.n3} {p.n3} {o.n3} .\n" for s, p, o in self.triples)

    def to_turtle(self) -> str:
        triples = [ox.Triple(_ox_term(s), _ox_term(p), _ox_term(o)) for s, p, o in self.triples]  # type: ignore[arg-type]
        prefixes = {
            "dx": "https://w3id.org/dorsum/ontology#",
            "res": RESULT,
            "prov": str(PROV),
            "dstore": DSTORE,
            "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
            "skos": "http://www.w3.org/2004/02/skos/core#",
        }
        data = ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes)
        return data.decode("utf-8") if data else ""


SparqlResult = SelectResult | AskResult | GraphResult


@dataclass(frozen=True)
class CaseRecord:
    """One evaluated case, ready to be written: N-Triples statements (no final dot) per graph.

    Plain strings, so that worker processes can evaluate cases and hand them to the writer.
    """

    case_id: str
    case_iri: str
    source: str
    status: str
    urgency: str  # tier IRI from the recorded facts ("at least" when incomplete), or ""
    effective_urgency: str  # the tier to act on, or ""
    content_hash: str
    knowledge_version: str
    evaluated_at: str
    asserted: tuple[str, ...]
    inferred: tuple[str, ...]
    result: tuple[str, ...]

    @property
    def knowledge_graph(self) -> str:
        return knowledge_graph_iri(self.content_hash)

    def graph(self, kind: str) -> str:
        return case_graph_iri(self.case_id, kind)


@dataclass(frozen=True)
class StoredCase:
    """One case as the store holds it."""

    case_id: str
    case_iri: str
    status: str
    urgency: str
    effective_urgency: str
    knowledge_graph: str
    knowledge_version: str
    content_hash: str
    evaluated_at: str
    source: str = ""
    graphs: tuple[str, ...] = field(default=())

    @classmethod
    def from_record(cls, record: CaseRecord) -> StoredCase:
        return cls(
            case_id=record.case_id,
            case_iri=record.case_iri,
            status=record.status,
            urgency=record.urgency,
            effective_urgency=record.effective_urgency,
            knowledge_graph=record.knowledge_graph,
            knowledge_version=record.knowledge_version,
            content_hash=record.content_hash,
            evaluated_at=record.evaluated_at,
            source=record.source,
            graphs=tuple(record.graph(kind) for kind in GRAPH_KINDS),
        )


@dataclass(frozen=True)
class CaseFailure:
    """A case that could not be evaluated (invalid, or unreadable)."""

    source: str
    error: str
    exit_code: int


@dataclass(frozen=True)
class AddReport:
    stored: tuple[StoredCase, ...]
    failed: tuple[CaseFailure, ...]


# ---------------------------------------------------------------- names


def case_graph_iri(case_id: str, kind: str) -> str:
    if kind not in GRAPH_KINDS:
        raise UsageError(f"unknown case graph kind '{kind}' (use one of {', '.join(GRAPH_KINDS)})")
    return f"{CASE_BASE}{_checked_id(case_id)}/{kind}"


def knowledge_graph_iri(content_hash: str) -> str:
    return f"{KNOWLEDGE_BASE}{content_hash[:12]}"


def _checked_id(case_id: str) -> str:
    if not CASE_ID.fullmatch(case_id):
        raise UsageError(f"'{case_id}' is not a case id (letters, digits, '.', '_' or '-')")
    return case_id


def default_location() -> str:
    return os.environ.get(STORE_ENV) or DEFAULT_STORE


def is_remote(location: str | Path) -> bool:
    return str(location).startswith(("http://", "https://"))


# ---------------------------------------------------------------- evaluation


def evaluate_case(
    case: CaseInput, knowledge: Knowledge, *, result: TriageResult | None = None, now: datetime | None = None
) -> CaseRecord:
    """Triage one case and build its three graphs. Raises CaseError if the case is malformed.

    Pass ``result`` if the case was already triaged with this knowledge, to skip triaging it again.
    """
    if result is None:
        result = triage(case, knowledge)
    elif result.knowledge.content_hash != knowledge.content_hash:
        raise UsageError(f"case {result.case_id} was triaged with other knowledge than the one given")
    case_id = _checked_id(result.case_id)
    closure = infer_case(case.graph, knowledge)
    skolem = _Skolemizer(f"{CASE_BASE}{case_id}/node/")
    asserted = {triple for triple in case.graph if not isinstance(triple[0], RdfLiteral)}
    inferred = [t for t in closure if t not in asserted and not isinstance(t[0], RdfLiteral)]
    case_node = skolem.node(case.case)
    when = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    kg = knowledge_graph_iri(knowledge.content_hash)
    result_lines = _result_statements(result, case_node, kg, when, skolem)
    effective = result.effective_urgency
    return CaseRecord(
        case_id=case_id,
        case_iri=case_node,
        source=result.source,
        status=result.status,
        urgency=result.urgency.iri if result.urgency else "",
        effective_urgency=effective.iri if effective else "",
        content_hash=knowledge.content_hash,
        knowledge_version=knowledge.version,
        evaluated_at=when,
        asserted=tuple(sorted(skolem.statement(t) for t in asserted)),
        inferred=tuple(sorted(skolem.statement(t) for t in inferred)),
        result=tuple(sorted(result_lines)),
    )


def _result_statements(result: TriageResult, case_node: str, kg: str, when: str, skolem: _Skolemizer) -> list[str]:
    graph = Graph()
    graph.parse(data=render_turtle(result), format="turtle")
    node = URIRef(f"{RESULT_BASE}{result.case_id}")
    activity = URIRef(f"{RESULT_BASE}{result.case_id}/activity")
    lines: list[str] = []
    for s, p, o in graph:
        if isinstance(s, RdfLiteral):
            continue
        if p == RESULT.forCase:  # render_turtle writes a fresh blank node for a blank case node
            continue
        lines.append(skolem.statement((s, p, o)))
    result_iri, activity_iri = f"<{node}>", f"<{activity}>"
    lines.append(f"{result_iri} <{RESULT.forCase}> <{case_node}>")
    lines.append(f"{result_iri} <{DSTORE}caseId> {_ox_str(result.case_id)}")
    lines.append(f"{result_iri} <{DSTORE}knowledgeGraph> <{kg}>")
    for kind in GRAPH_KINDS:
        lines.append(f"{result_iri} <{DSTORE}{kind}Graph> <{case_graph_iri(result.case_id, kind)}>")
    effective = result.effective_urgency
    if effective is not None:
        lines.append(f"{result_iri} <{DSTORE}effectiveUrgency> <{effective.iri}>")
    lines.append(f"{activity_iri} <{PROV.used}> <{kg}>")
    lines.append(f'{activity_iri} <{PROV.endedAtTime}> "{when}"^^<{XSD_DATETIME}>')
    lines.append(f"{activity_iri} <{PROV.generated}> {result_iri}")
    return lines


class _Skolemizer:
    """Replaces blank nodes by IRIs under one case's namespace, consistently across its graphs."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.names: dict[BNode, str] = {}

    def node(self, term: Node) -> str:
        if isinstance(term, BNode):
            name = self.names.get(term)
            if name is None:
                name = self.names[term] = f"{self.base}{len(self.names) + 1}"
            return name
        return str(term)

    def term(self, term: Node) -> str:
        if isinstance(term, BNode):
            return f"<{self.node(term)}>"
        if isinstance(term, URIRef):
            return str(ox.NamedNode(str(term)))
        if isinstance(term, RdfLiteral):
            if term.language:
                return str(ox.Literal(str(term), language=term.language))
            if term.datatype is not None:
                return str(ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype))))
            return _ox_str(str(term))
        raise UsageError(f"unsupported RDF term {term!r}")

    def statement(self, triple: tuple[Node, Node, Node]) -> str:
        s, p, o = triple
        return f"{self.term(s)} {self.term(p)} {self.term(o)}"


def _ox_str(text: str) -> str:
    return str(ox.Literal(text))


_WORKER_KNOWLEDGE: Knowledge | None = None


def _worker_init(root: str, content_hash: str) -> None:  # pragma: no cover - runs in worker processes
    """Load the knowledge once per worker process, and keep library log noise off stderr."""
    global _WORKER_KNOWLEDGE
    logging.getLogger("rdflib").setLevel(logging.CRITICAL)
    logging.getLogger("pyshacl").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")
    if _WORKER_KNOWLEDGE is None or _WORKER_KNOWLEDGE.content_hash != content_hash:
        _WORKER_KNOWLEDGE = load_knowledge(root)
    if _WORKER_KNOWLEDGE.content_hash != content_hash:
        raise DorsumError(f"the knowledge at {root} changed while cases were being evaluated")


def _evaluate_source(source: CaseSource) -> CaseRecord | CaseFailure:
    knowledge = _WORKER_KNOWLEDGE
    if knowledge is None:  # pragma: no cover - _worker_init always ran
        raise DorsumError("worker has no knowledge loaded")
    if isinstance(source, Path):
        label = str(source)
    elif isinstance(source, CaseInput):
        label = source.source
    else:
        label = f"<form {source.get('id', '?')}>"
    try:
        if isinstance(source, Path):
            case = read_case(source, knowledge)
        elif isinstance(source, CaseInput):
            case = source
        else:
            name = str(source.get("id") or "form")
            case = case_from_form(source, knowledge, name=name, source=label)
        return evaluate_case(case, knowledge)
    except DorsumError as error:
        return CaseFailure(label, one_line(error), error.exit_code)


def evaluate_many(
    sources: Iterable[CaseSource], knowledge: Knowledge, *, jobs: int = 1
) -> Iterator[CaseRecord | CaseFailure]:
    """Evaluate cases, in order, in ``jobs`` worker processes (1: in this process).

    A source is a case file, a :class:`CaseInput`, or a case form (a mapping; its ``id`` names
    the case).
    """
    global _WORKER_KNOWLEDGE
    _WORKER_KNOWLEDGE = knowledge
    if jobs <= 1:
        for source in sources:
            yield _evaluate_source(source)
        return
    # fork where there is one: workers inherit the loaded knowledge, and a script that calls this
    # without an `if __name__ == "__main__"` guard still works. They never touch the store.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    initargs = (str(knowledge.root), knowledge.content_hash)
    with context.Pool(jobs, initializer=_worker_init, initargs=initargs) as pool:
        yield from pool.imap(_evaluate_source, sources, chunksize=4)


# ---------------------------------------------------------------- stores


class CaseStore(ABC):
    """A case knowledge graph. Use :func:`open_store`; close it (or use ``with``) when done."""

    location: str
    _ensured: set[str]

    # -- backend primitives

    @abstractmethod
    def _query(self, text: str, union_default_graph: bool) -> SparqlResult: ...

    @abstractmethod
    def _update(self, text: str) -> None: ...

    def _put_graph(self, graph_iri: str, ntriples: bytes) -> None:
        """Replace one graph with N-Triples data, in one transaction."""
        body = ntriples.decode("utf-8")
        self._update(f"DROP SILENT GRAPH <{graph_iri}> ;\nINSERT DATA {{ GRAPH <{graph_iri}> {{\n{body}\n}} }}")

    @abstractmethod
    def export(self, output: BinaryIO, fmt: ExportFormat = "nquads") -> None:
        """Write the whole dataset (cases, knowledge, metadata) as N-Quads or TriG."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the store."""

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # -- public API

    def query(
        self, text: str, *, union_default_graph: bool = True, params: Mapping[str, str] | None = None
    ) -> SparqlResult:
        """Run a SPARQL query (SELECT, ASK, CONSTRUCT or DESCRIBE). Updates are refused.

        ``params`` binds variables with a trailing ``VALUES`` clause (plain literals, or IRIs when
        the value is written ``<...>``).
        """
        if params:
            text = with_values(text, params)
        return self._query(text, union_default_graph)

    def add(
        self,
        sources: Iterable[CaseSource],
        knowledge: Knowledge,
        *,
        jobs: int = 1,
        on_case: Callable[[StoredCase | CaseFailure], None] | None = None,
    ) -> AddReport:
        """Evaluate and store cases. Each case is committed in its own transaction, as soon as
        it is evaluated; a case already in the store is replaced (all three graphs at once)."""
        self.ensure_knowledge(knowledge)
        stored: list[StoredCase] = []
        failed: list[CaseFailure] = []
        for outcome in evaluate_many(sources, knowledge, jobs=jobs):
            item: StoredCase | CaseFailure
            if isinstance(outcome, CaseFailure):
                failed.append(outcome)
                item = outcome
            else:
                item = self.put(outcome)
                stored.append(item)
            if on_case is not None:
                on_case(item)
        return AddReport(tuple(stored), tuple(failed))

    def add_case(self, case: CaseInput, knowledge: Knowledge) -> StoredCase:
        """Evaluate and store one case (replacing it if present). Raises CaseError if invalid."""
        self.ensure_knowledge(knowledge)
        return self.put(evaluate_case(case, knowledge))

    def put(self, record: CaseRecord) -> StoredCase:
        """Write one evaluated case, replacing its graphs, in one transaction."""
        self.put_many([record])
        return StoredCase.from_record(record)

    def put_many(self, records: Sequence[CaseRecord]) -> None:
        """Write several evaluated cases in ONE transaction (all or none)."""
        if not records:
            return
        if len({r.case_id for r in records}) != len(records):
            raise StoreError("the same case id appears twice in one batch")
        drops = [f"DROP SILENT GRAPH <{r.graph(kind)}>" for r in records for kind in GRAPH_KINDS]
        blocks: list[str] = []
        for record in records:
            for kind in GRAPH_KINDS:
                statements = getattr(record, kind)
                body = " .\n".join(statements)
                blocks.append(f"GRAPH <{record.graph(kind)}> {{\n{body}{' .' if body else ''}\n}}")
        self._update(" ;\n".join(drops) + " ;\nINSERT DATA {\n" + "\n".join(blocks) + "\n}")

    def ensure_knowledge(self, knowledge: Knowledge) -> str:
        """Load the knowledge's ontology into its own graph (once) and mark it current."""
        graph = knowledge_graph_iri(knowledge.content_hash)
        if graph in self._ensured:
            return graph
        present = self.query(f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        if not (isinstance(present, AskResult) and present.value):
            data = knowledge.ontology.serialize(format="nt", encoding="utf-8")
            self._put_graph(graph, data)
        current = self.current_knowledge()
        if current != graph:
            when = datetime.now(UTC).isoformat(timespec="seconds")
            self._update(
                f"DELETE WHERE {{ GRAPH <{STORE_GRAPH}> {{ <{STORE_GRAPH}> <{DSTORE}currentKnowledge> ?k }} }} ;\n"
                f"DELETE WHERE {{ GRAPH <{STORE_GRAPH}> {{ <{graph}> ?p ?o }} }} ;\n"
                f"INSERT DATA {{ GRAPH <{STORE_GRAPH}> {{\n"
                f"  <{STORE_GRAPH}> <{DSTORE}currentKnowledge> <{graph}> .\n"
                f"  <{graph}> <{RDF_TYPE}> <{DSTORE}KnowledgeGraph> .\n"
                f"  <{graph}> <{RDF_TYPE}> <{PROV.Entity}> .\n"
                f"  <{graph}> <{DSTORE}contentHash> {_ox_str(knowledge.content_hash)} .\n"
                f"  <{graph}> <{DSTORE}versionInfo> {_ox_str(knowledge.version)} .\n"
                + (
                    f"  <{graph}> <{PROV.specializationOf}> <{knowledge.version_iri}> .\n"
                    if knowledge.version_iri.startswith("http")
                    else ""
                )
                + f'  <{graph}> <{DSTORE}loadedAt> "{when}"^^<{XSD_DATETIME}> .\n'
                "} }"
            )
        self._ensured.add(graph)
        return graph

    def current_knowledge(self) -> str | None:
        """The knowledge graph most recently used to add cases, or None for an empty store."""
        answer = self.query(
            f"SELECT ?k WHERE {{ GRAPH <{STORE_GRAPH}> {{ <{STORE_GRAPH}> <{DSTORE}currentKnowledge> ?k }} }}"
        )
        values = answer.column("k") if isinstance(answer, SelectResult) else []
        return values[0] if values else None

    def list_cases(self) -> list[StoredCase]:
        """Every stored case, by id."""
        answer = self.query(PREFIXES + _LIST_QUERY, union_default_graph=False)
        if not isinstance(answer, SelectResult):  # pragma: no cover - the query is a SELECT
            raise StoreError("unexpected answer to the case list query")
        cases: dict[str, StoredCase] = {}
        for row in answer.as_dicts():
            case_id = row.get("id", "")
            if not CASE_ID.fullmatch(case_id) or case_id in cases:
                continue
            cases[case_id] = StoredCase(
                case_id=case_id,
                case_iri=row.get("case", ""),
                status=row.get("status", ""),
                urgency=row.get("urgency", ""),
                effective_urgency=row.get("effective", ""),
                knowledge_graph=row.get("kg", ""),
                knowledge_version=row.get("version", ""),
                content_hash=row.get("hash", ""),
                evaluated_at=row.get("ended", ""),
                source=row.get("source", ""),
                graphs=tuple(case_graph_iri(case_id, kind) for kind in GRAPH_KINDS),
            )
        return sorted(cases.values(), key=lambda case: case.case_id)

    def has_case(self, case_id: str) -> bool:
        checks = " UNION ".join(f"{{ GRAPH <{case_graph_iri(case_id, kind)}> {{ ?s ?p ?o }} }}" for kind in GRAPH_KINDS)
        answer = self.query(f"ASK {{ {checks} }}", union_default_graph=False)
        return isinstance(answer, AskResult) and answer.value

    def remove(self, case_id: str) -> None:
        """Remove a case's three graphs in one transaction. Raises CaseNotFoundError."""
        if not self.has_case(case_id):
            raise CaseNotFoundError(f"no case '{case_id}' in the store {self.location}")
        self._update(" ;\n".join(f"DROP SILENT GRAPH <{case_graph_iri(case_id, kind)}>" for kind in GRAPH_KINDS))


_LIST_QUERY = """
SELECT ?id ?case ?status ?urgency ?effective ?kg ?version ?hash ?ended ?source WHERE {
  GRAPH ?g {
    ?result dstore:caseId ?id ; res:status ?status ; dstore:knowledgeGraph ?kg ;
            dstore:resultGraph ?g ; prov:wasGeneratedBy ?activity .
    OPTIONAL { ?result res:forCase ?case }
    OPTIONAL { ?result res:urgency|res:urgencyAtLeast ?urgency }
    OPTIONAL { ?result dstore:effectiveUrgency ?effective }
    OPTIONAL { ?activity prov:endedAtTime ?ended }
    OPTIONAL { ?activity res:source ?source }
  }
  OPTIONAL { GRAPH <https://w3id.org/dorsum/store> { ?kg dstore:versionInfo ?version ; dstore:contentHash ?hash } }
}
ORDER BY ?id
"""


def with_values(text: str, params: Mapping[str, str]) -> str:
    """Bind query variables to values (an IRI when written ``<...>``, else a plain literal).

    A query may mark where a variable is bound with the placeholder ``VALUES ?name { UNDEF }``
    (standard SPARQL for "any value"): every placeholder is filled in, so that each UNION branch
    is restricted early. Otherwise a VALUES block is put at the start of the outer WHERE group
    (so it restricts GROUP BY queries too), or at the end of a query without ``WHERE {``.
    """
    terms: dict[str, str] = {}
    for name, value in params.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UsageError(f"'{name}' is not a SPARQL variable name")
        if value.startswith("<") and value.endswith(">"):
            try:
                terms[name] = str(ox.NamedNode(value[1:-1]))
            except ValueError as error:
                raise UsageError(f"parameter {name}: {value} is not a valid IRI") from error
        else:
            terms[name] = _ox_str(value)
    rest: dict[str, str] = {}
    for name, term in terms.items():
        placeholder = re.compile(r"VALUES\s+[?$]" + name + r"\s*\{\s*UNDEF\s*\}", re.IGNORECASE)
        filled = f"VALUES ?{name} {{ {term} }}".replace("\\", "\\\\")  # a template for re.subn
        text, count = placeholder.subn(filled, text)
        if not count:
            rest[name] = term
    if not rest:
        return text
    block = f"VALUES ({' '.join('?' + n for n in rest)}) {{ ({' '.join(rest.values())}) }}"
    offset = 0
    for line in text.splitlines(keepends=True):
        if not line.lstrip().startswith("#"):
            found = _WHERE.search(line)
            if found:
                at = offset + found.end()
                return f"{text[:at]}\n  {block}\n{text[at:]}"
        offset += len(line)
    return f"{text.rstrip()}\n{block}\n"


_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


# ---------------------------------------------------------------- local store


class LocalStore(CaseStore):
    """An Oxigraph (RocksDB) folder opened in this process.

    ``read_only=True`` opens it for reading only (several readers may share it); otherwise the
    folder is created if needed and locked for writing. A dorsum lock file in the folder keeps a
    writer and readers (including ``dorsum serve``) from using the store at the same time.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.read_only = read_only
        self._wrote = False
        self._ensured = set()
        self._lock: IO[bytes] | None = None
        if read_only and not _looks_like_store(self.path):
            raise StoreNotFoundError(f"no store at {self.path} (fill one with: dorsum store add CASE --store {path})")
        if not read_only and self.path.exists() and not self.path.is_dir():
            raise StoreError(f"{self.path} is a file, not a store folder")
        if not read_only and self.path.is_dir() and any(self.path.iterdir()) and not _looks_like_store(self.path):
            raise StoreError(f"{self.path} is a folder that is not an Oxigraph store; refusing to write into it")
        try:
            if not read_only:
                self.path.mkdir(parents=True, exist_ok=True)
            self._lock = acquire_lock(self.path, exclusive=not read_only)
            self._store = ox.Store.read_only(str(self.path)) if read_only else ox.Store(str(self.path))
        except OSError as error:
            self.close()
            raise _open_error(self.path, error) from error

    def close(self) -> None:
        store = self.__dict__.pop("_store", None)
        if store is not None and not self.read_only and self._wrote:
            with contextlib.suppress(OSError):
                store.flush()
                store.optimize()  # compacts: after 10,000 cases, 1.5 GB of logs become 0.5 GB
        del store
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    @property
    def store(self) -> ox.Store:
        store: ox.Store | None = self.__dict__.get("_store")
        if store is None:
            raise StoreError(f"the store {self.location} is closed")
        return store

    def _query(self, text: str, union_default_graph: bool) -> SparqlResult:
        try:
            answer = self.store.query(text, use_default_graph_as_union=union_default_graph)
            return _from_ox_answer(answer)
        except SyntaxError as error:
            raise SparqlError(f"SPARQL syntax error: {one_line(error)}") from error
        except (OSError, RuntimeError, ValueError) as error:
            raise SparqlError(f"query failed: {one_line(error)}") from error

    def _update(self, text: str) -> None:
        if self.read_only:
            raise StoreError(f"the store {self.location} is open read-only")
        try:
            self._wrote = True
            self.store.update(text)
        except SyntaxError as error:
            raise SparqlError(f"SPARQL update syntax error: {one_line(error)}") from error
        except (OSError, RuntimeError, ValueError) as error:
            raise StoreError(f"cannot write to {self.location}: {one_line(error)}") from error

    def put_many(self, records: Sequence[CaseRecord]) -> None:
        """As CaseStore.put_many; new cases skip the SPARQL parser (one atomic ``extend``)."""
        names = [ox.NamedNode(r.graph(kind)) for r in records for kind in GRAPH_KINDS]
        if self.read_only or not records or any(self.store.contains_named_graph(name) for name in names):
            super().put_many(records)  # a replacement: DROP and INSERT DATA in one update
            return
        if len({r.case_id for r in records}) != len(records):
            raise StoreError("the same case id appears twice in one batch")
        lines = [
            f"{statement} <{record.graph(kind)}> ."
            for record in records
            for kind in GRAPH_KINDS
            for statement in getattr(record, kind)
        ]
        try:
            quads = list(ox.parse("\n".join(lines).encode("utf-8"), ox.RdfFormat.N_QUADS))
            self._wrote = True
            self.store.extend(quads)  # one transaction: all of these cases or none
        except (OSError, SyntaxError, ValueError) as error:
            raise StoreError(f"cannot write to {self.location}: {one_line(error)}") from error

    def export(self, output: BinaryIO, fmt: ExportFormat = "nquads") -> None:
        try:
            self.store.dump(output, format=_rdf_format(fmt))
        except (OSError, ValueError) as error:
            raise StoreError(f"cannot export {self.location}: {one_line(error)}") from error

    def flush(self) -> None:
        self.store.flush()


def _looks_like_store(path: Path) -> bool:
    return path.is_dir() and (path / "CURRENT").is_file()


def acquire_lock(folder: Path, *, exclusive: bool) -> IO[bytes] | None:
    """Take dorsum's advisory lock on a store folder (shared for readers, exclusive for a writer).

    Returns the open lock file (keep it open to hold the lock), or None if the folder cannot hold
    a lock file (a read-only file system: reading is then allowed unguarded).
    """
    try:
        handle = (folder / LOCK_FILE).open("a+b")
    except OSError:
        if exclusive:
            raise
        return None
    try:
        fcntl.flock(handle.fileno(), (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except OSError as error:
        handle.close()
        raise StoreBusyError(
            f"the store {folder} is in use by another process"
            + (
                " (a server or another reader: stop it, or add through a writable server with --store http://...)"
                if exclusive
                else " that writes to it (a writable server? query it through its URL instead)"
            )
        ) from error
    return handle


def _open_error(path: Path, error: OSError) -> StoreError:
    if isinstance(error, StoreError):
        return error
    text = one_line(error)
    if "lock" in text.lower():
        return StoreBusyError(f"the store {path} is in use by another process: {text}")
    return StoreError(f"cannot open the store {path}: {text}")


def _rdf_format(fmt: str) -> ox.RdfFormat:
    if fmt == "nquads":
        return ox.RdfFormat.N_QUADS
    if fmt == "trig":
        return ox.RdfFormat.TRIG
    raise UsageError(f"unknown export format '{fmt}' (use one of {', '.join(EXPORT_FORMATS)})")


def _from_ox_term(term: object) -> Term:
    if isinstance(term, ox.NamedNode):
        return Term("uri", term.value)
    if isinstance(term, ox.BlankNode):
        return Term("bnode", term.value)
    if isinstance(term, ox.Literal):
        return Term("literal", term.value, term.datatype.value, term.language or "")
    return Term("triple", str(term))


def _ox_literal(term: Term) -> ox.Literal:
    if term.language:
        return ox.Literal(term.value, language=term.language)
    if term.datatype:
        return ox.Literal(term.value, datatype=ox.NamedNode(term.datatype))
    return ox.Literal(term.value)


def _ox_term(term: Term) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if term.kind == "uri":
        return ox.NamedNode(term.value)
    if term.kind == "bnode":
        return ox.BlankNode(term.value)
    if term.kind == "literal":
        return _ox_literal(term)
    raise UsageError("RDF-star triple terms cannot be written as Turtle here")


def _from_ox_answer(answer: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples) -> SparqlResult:
    if isinstance(answer, ox.QueryBoolean):
        return AskResult(bool(answer))
    if isinstance(answer, ox.QueryTriples):
        return GraphResult(
            tuple((_from_ox_term(t.subject), _from_ox_term(t.predicate), _from_ox_term(t.object)) for t in answer)
        )
    variables = tuple(v.value for v in answer.variables)
    rows = tuple(
        tuple(_from_ox_term(solution[name]) if solution[name] is not None else None for name in variables)
        for solution in answer
    )
    return SelectResult(variables, rows)


# ---------------------------------------------------------------- remote store


class RemoteStore(CaseStore):
    """A SPARQL 1.1 endpoint with Update and the Graph Store Protocol (an Oxigraph server).

    ``url`` is the server's base URL; the query, update and graph-store URLs default to
    Oxigraph's ``/query``, ``/update`` and ``/store`` under it.
    """

    def __init__(
        self,
        url: str,
        *,
        query_url: str | None = None,
        update_url: str | None = None,
        store_url: str | None = None,
        timeout: float = HTTP_TIMEOUT,
        union_parameter: str | None = "union-default-graph",
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"'{url}' is not an http(s) URL")
        base = url.rstrip("/")
        self.location = base
        self._ensured = set()
        self.query_url = query_url or f"{base}/query"
        self.update_url = update_url or f"{base}/update"
        self.store_url = store_url or f"{base}/store"
        self.timeout = timeout
        self.union_parameter = union_parameter

    def _request(
        self, url: str, *, method: str, body: bytes | None, content_type: str | None, accept: str
    ) -> tuple[str, bytes]:
        headers = {"Accept": accept, "User-Agent": "dorsum"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.headers.get("Content-Type", ""), cast(bytes, response.read())
        except urllib.error.HTTPError as error:
            detail = one_line(Exception(error.read(2000).decode("utf-8", "replace"))) if error.fp else ""
            message = f"{self.location} answered HTTP {error.code}" + (f": {detail}" if detail else "")
            if error.code == 400:
                raise SparqlError(message) from error
            raise RemoteStoreError(message) from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RemoteStoreError(f"cannot reach {self.location}: {one_line(Exception(str(reason)))}") from error

    def _query(self, text: str, union_default_graph: bool) -> SparqlResult:
        url = self.query_url
        if union_default_graph and self.union_parameter:
            url += ("&" if "?" in url else "?") + self.union_parameter
        content_type, body = self._request(
            url,
            method="POST",
            body=text.encode("utf-8"),
            content_type="application/sparql-query",
            accept="application/sparql-results+json, application/n-triples;q=0.9",
        )
        if "n-triples" in content_type or "turtle" in content_type:
            fmt = ox.RdfFormat.N_TRIPLES if "n-triples" in content_type else ox.RdfFormat.TURTLE
            try:
                triples = list(ox.parse(body, fmt))
            except SyntaxError as error:
                raise RemoteStoreError(f"{self.location} sent malformed RDF: {one_line(error)}") from error
            return GraphResult(
                tuple((_from_ox_term(t.subject), _from_ox_term(t.predicate), _from_ox_term(t.object)) for t in triples)
            )
        try:
            return _from_json_results(json.loads(body))
        except (ValueError, KeyError, TypeError) as error:
            raise RemoteStoreError(f"{self.location} sent an unreadable answer ({content_type})") from error

    def _update(self, text: str) -> None:
        self._request(
            self.update_url,
            method="POST",
            body=text.encode("utf-8"),
            content_type="application/sparql-update",
            accept="*/*",
        )

    def _put_graph(self, graph_iri: str, ntriples: bytes) -> None:
        url = f"{self.store_url}?{urllib.parse.urlencode({'graph': graph_iri})}"
        self._request(url, method="PUT", body=ntriples, content_type="application/n-triples", accept="*/*")

    def export(self, output: BinaryIO, fmt: ExportFormat = "nquads") -> None:
        accept = {"nquads": "application/n-quads", "trig": "application/trig"}.get(fmt)
        if accept is None:
            raise UsageError(f"unknown export format '{fmt}' (use one of {', '.join(EXPORT_FORMATS)})")
        _content_type, body = self._request(self.store_url, method="GET", body=None, content_type=None, accept=accept)
        output.write(body)


def _from_json_results(document: Mapping[str, Any]) -> SparqlResult:
    if "boolean" in document:
        return AskResult(bool(document["boolean"]))
    variables = tuple(str(v) for v in document["head"].get("vars", []))
    rows: list[tuple[Term | None, ...]] = []
    for binding in document["results"]["bindings"]:
        row: list[Term | None] = []
        for name in variables:
            cell = binding.get(name)
            if cell is None:
                row.append(None)
                continue
            kind = {"uri": "uri", "bnode": "bnode", "literal": "literal", "typed-literal": "literal"}.get(
                cell["type"], "triple"
            )
            row.append(
                Term(
                    cast(Any, kind),
                    str(cell["value"]) if kind != "triple" else json.dumps(cell["value"]),
                    str(cell.get("datatype", "")) if kind == "literal" else "",
                    str(cell.get("xml:lang", "")),
                )
            )
        rows.append(tuple(row))
    return SelectResult(variables, tuple(rows))


# ---------------------------------------------------------------- opening


def open_store(location: str | Path | None = None, *, read_only: bool = False) -> CaseStore:
    """Open a store: a folder (created on first write) or the http(s) URL of a SPARQL endpoint."""
    where = str(location) if location is not None else default_location()
    if not where.strip():
        raise UsageError("empty store location")
    if is_remote(where):
        return RemoteStore(where)
    return LocalStore(Path(where).expanduser(), read_only=read_only)


# ---------------------------------------------------------------- rendering


SPARQL_FORMATS: Final = ("table", "csv", "json", "tsv")
TABLE_CELL: Final = 100  # longer cells are cut in the table format (csv, tsv and json are complete)


def render_sparql(answer: SparqlResult, fmt: str = "table") -> str:
    """Render a query answer: an aligned table, W3C SPARQL CSV / TSV / JSON results, or for a
    CONSTRUCT, Turtle (table), N-Triples (tsv), or subject/predicate/object rows (csv, json)."""
    if fmt not in SPARQL_FORMATS:
        raise UsageError(f"unknown format '{fmt}' (use one of {', '.join(SPARQL_FORMATS)})")
    if isinstance(answer, AskResult):
        if fmt == "json":
            return json.dumps({"head": {}, "boolean": answer.value}, indent=2) + "\n"
        return ("true" if answer.value else "false") + "\n"
    if isinstance(answer, GraphResult):
        if fmt == "table":
            return answer.to_turtle()
        if fmt == "tsv":
            return answer.to_ntriples()
        answer = SelectResult(("subject", "predicate", "object"), answer.triples)
    if fmt == "json":
        return _results_json(answer) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(answer.variables)
        writer.writerows([cell.value if cell else "" for cell in row] for row in answer.rows)
        return out.getvalue()
    if fmt == "tsv":
        lines = ["\t".join(f"?{v}" for v in answer.variables)]
        lines += ["\t".join(cell.n3 if cell else "" for cell in row) for row in answer.rows]
        return "\n".join(lines) + "\n"
    return _table(answer) + "\n"


def _results_json(answer: SelectResult) -> str:
    bindings = []
    for row in answer.rows:
        binding: dict[str, dict[str, str]] = {}
        for name, cell in zip(answer.variables, row, strict=True):
            if cell is None:
                continue
            entry = {"type": cell.kind, "value": cell.value}
            if cell.kind == "literal" and cell.language:
                entry["xml:lang"] = cell.language
            elif cell.kind == "literal" and cell.datatype:
                entry["datatype"] = cell.datatype
            binding[name] = entry
        bindings.append(binding)
    return json.dumps({"head": {"vars": list(answer.variables)}, "results": {"bindings": bindings}}, indent=2)


def _table(answer: SelectResult) -> str:
    if not answer.variables:
        return "(no columns)"
    shorten = (("https://w3id.org/dorsum/ontology#", "dx:"), (CASE_BASE, "case:"), (KNOWLEDGE_BASE, "knowledge:"))
    rows = []
    for row in answer.rows:
        cells = []
        for cell in row:
            text = "" if cell is None else cell.value
            for long, short in shorten:
                if cell is not None and cell.kind == "uri" and text.startswith(long):
                    text = short + text[len(long) :]
            text = " ".join(text.split())
            cells.append(text if len(text) <= TABLE_CELL else text[: TABLE_CELL - 3] + "...")
        rows.append(cells)
    widths = [len(v) for v in answer.variables]
    for cells in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]
    header = "  ".join(v.ljust(w) for v, w in zip(answer.variables, widths, strict=True)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() for cells in rows]
    return "\n".join([header, rule, *body, f"({len(rows)} rows)"])


__all__ = [
    "CASE_BASE",
    "DEFAULT_STORE",
    "DSTORE",
    "EXPORT_FORMATS",
    "GRAPH_KINDS",
    "KNOWLEDGE_BASE",
    "SPARQL_FORMATS",
    "STORE_ENV",
    "STORE_GRAPH",
    "AddReport",
    "AskResult",
    "CaseFailure",
    "CaseNotFoundError",
    "CaseRecord",
    "CaseSource",
    "CaseStore",
    "GraphResult",
    "LocalStore",
    "RemoteStore",
    "RemoteStoreError",
    "SelectResult",
    "SparqlError",
    "SparqlResult",
    "StoreBusyError",
    "StoreError",
    "StoreNotFoundError",
    "StoredCase",
    "Term",
    "acquire_lock",
    "case_graph_iri",
    "default_location",
    "evaluate_case",
    "evaluate_many",
    "is_remote",
    "knowledge_graph_iri",
    "open_store",
    "render_sparql",
    "with_values",
]
