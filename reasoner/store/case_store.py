"""The case knowledge graph as an API: add, list, query, remove and export cases, whatever the
backend (a local Oxigraph folder, :mod:`.local`, or a SPARQL server, :mod:`.remote`).

Adding a case replaces its three graphs in one SPARQL Update, which both kinds of store run as
one transaction; :meth:`CaseStore.add` puts up to :data:`WRITE_GROUP` cases in one. The store
writes what triage computed (:func:`.records.case_record`); it never reasons or triages itself:
``dorsum store add`` triages through :func:`reasoner.batch.run.run_batch`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, BinaryIO, Final, Literal

from reasoner.errors import EXIT_INVALID_CASE, UsageError, one_line
from reasoner.knowledge import Knowledge
from reasoner.pipeline.query_budget import QueryBudget, check_params, check_query_text
from reasoner.pipeline.read import CASE_ID
from reasoner.pipeline.triage import TriageResult
from reasoner.render.turtle import PROV, RESULT
from reasoner.store.errors import CaseCollisionError, CaseNotFoundError, StoreError
from reasoner.store.records import (
    DSTORE,
    GRAPH_KINDS,
    RDF_TYPE,
    STORE_GRAPH,
    XSD_DATETIME,
    AddReport,
    CaseFailure,
    CaseRecord,
    StoredCase,
    case_graph_iri,
    case_record,
    knowledge_graph_iri,
    literal_text,
)
from reasoner.store.sparql import PREFIXES, AskResult, SelectResult, SparqlResult, with_values

EXPORT_FORMATS: Final = ("nquads", "trig")
#: The store's own graphs (cases, knowledge, metadata): FROM may name them, as nothing is fetched.
DORSUM_IRIS: Final = "https://w3id.org/dorsum/"
RESULT_SOURCE: Final = str(RESULT.source)
ExportFormat = Literal["nquads", "trig"]
#: What :meth:`CaseStore.add` takes: a triage result with its trace, a record made of one, or a
#: case that could not be triaged (a CaseFailure, or a batch error record ``{"ok": false, ...}``).
Evaluated = CaseRecord | TriageResult | CaseFailure | Mapping[str, Any]


class CaseStore(ABC):
    """A case knowledge graph. Use :func:`reasoner.store.open_store`; close it (or use ``with``)."""

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
        self,
        text: str,
        *,
        union_default_graph: bool = True,
        params: Mapping[str, str] | None = None,
        budget: QueryBudget | None = None,
    ) -> SparqlResult:
        """Run a SPARQL query (SELECT, ASK, CONSTRUCT or DESCRIBE) within a budget.

        The text is checked first (:func:`reasoner.pipeline.query_budget.check_query_text`):
        updates, ``SERVICE`` / ``LOAD``, and ``FROM`` naming anything but the store's own graphs
        are refused unless the budget allows the endpoint, as are text over the size or nesting
        limit. The query then runs stopped at the budget's time limit, its answer capped in rows
        and bytes (QueryTimeoutError, AnswerTooLargeError). ``params`` binds variables of the
        query with ``VALUES`` (plain literals, or IRIs when written ``<...>``); a name that is
        not a variable of the query is refused.
        """
        chosen = budget if budget is not None else QueryBudget()
        shape = check_query_text(text, chosen, store_graphs=DORSUM_IRIS)
        if params:
            check_params(params, shape)
            text = with_values(text, params)
        return self._bounded_query(text, union_default_graph, chosen)

    @abstractmethod
    def _bounded_query(self, text: str, union_default_graph: bool, budget: QueryBudget) -> SparqlResult:
        """Run a checked query within the budget's time limit and answer caps."""

    def add(
        self,
        evaluated: Iterable[Evaluated],
        knowledge: Knowledge,
        *,
        on_case: Callable[[StoredCase | CaseFailure], None] | None = None,
        replace: bool = False,
    ) -> AddReport:
        """Store evaluated cases as they arrive, in transactions of up to :data:`WRITE_GROUP` cases
        (a group is written once it is full, older than :data:`WRITE_SECONDS` when the next case
        arrives, or at the end). Each case is stored whole or not at all. Failures are reported,
        not stored; ``on_case`` hears of every case in input order, once it is written or failed.

        A case is stored under its own id (:func:`.records.case_identity`), never its file name.
        A stored case with the same id and the same facts is replaced (re-adding is idempotent);
        one with other facts is kept, and the new case fails with a CaseCollisionError naming
        both sources, unless ``replace`` is true. A case waiting in the group counts as stored.

        ``evaluated`` holds triage results kept with their trace, records, or failures: for
        example ``run_batch(files, finish=case_record)``, or ``[triage(case, kb, keep_trace=True)]``.
        Every case must have been triaged with ``knowledge``.
        """
        self.ensure_knowledge(knowledge)
        group = _WriteGroup(self, on_case)
        for outcome in evaluated:
            if isinstance(outcome, TriageResult):
                outcome = case_record(outcome)
            if isinstance(outcome, CaseRecord):
                if outcome.content_hash != knowledge.content_hash:
                    raise UsageError(f"case {outcome.case_id} was triaged with other knowledge than the one given")
                collision = group.collision(outcome, replace=replace)
                if collision is not None:
                    group.fail(CaseFailure(outcome.source, one_line(collision), collision.exit_code))
                else:
                    group.put(outcome)
            elif isinstance(outcome, CaseFailure | Mapping):
                group.fail(outcome if isinstance(outcome, CaseFailure) else failure_of(outcome))
            else:
                raise UsageError(
                    f"CaseStore.add takes triage results, records or failures, not {type(outcome).__name__}: "
                    "triage case files with run_batch(files, finish=case_record)"
                )
        group.write()
        return AddReport(tuple(group.stored), tuple(group.failed))

    def collision(self, record: CaseRecord) -> CaseCollisionError | None:
        """The error of storing ``record`` over a different case with the same id, or None when
        the id is free or holds the same facts (a stored case without a digest: the same source)."""
        answer = self._query(_identity_query(record.graph("result")), False)
        if not isinstance(answer, SelectResult) or not answer.rows:
            return None
        row = answer.as_dicts()[0]
        return _collision(record, row.get("digest", ""), row.get("source", ""))

    def put(self, record: CaseRecord) -> StoredCase:
        """Write one evaluated case, replacing its graphs, in one transaction."""
        self.put_many([record])
        return StoredCase.from_record(record)

    def put_many(self, records: Sequence[CaseRecord]) -> None:
        """Write several evaluated cases in ONE transaction (all or none)."""
        if not records:
            return
        check_distinct(records)
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
        present = self._query(f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}", True)
        if not (isinstance(present, AskResult) and present.value):
            data = knowledge.ontology.serialize(format="nt", encoding="utf-8")
            self._put_graph(graph, data)
        if self.current_knowledge() != graph:
            self._update(_current_knowledge_update(knowledge, graph))
        self._ensured.add(graph)
        return graph

    def current_knowledge(self) -> str | None:
        """The knowledge graph most recently used to add cases, or None for an empty store."""
        answer = self._query(
            f"SELECT ?k WHERE {{ GRAPH <{STORE_GRAPH}> {{ <{STORE_GRAPH}> <{DSTORE}currentKnowledge> ?k }} }}", True
        )
        values = answer.column("k") if isinstance(answer, SelectResult) else []
        return values[0] if values else None

    def list_cases(self) -> list[StoredCase]:
        """Every stored case, by id."""
        answer = self._query(PREFIXES + _LIST_QUERY, False)
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
        answer = self._query(f"ASK {{ {checks} }}", False)
        return isinstance(answer, AskResult) and answer.value

    def remove(self, case_id: str) -> None:
        """Remove a case's three graphs in one transaction. Raises CaseNotFoundError."""
        if not self.has_case(case_id):
            raise CaseNotFoundError(f"no case '{case_id}' in the store {self.location}")
        self._update(" ;\n".join(f"DROP SILENT GRAPH <{case_graph_iri(case_id, kind)}>" for kind in GRAPH_KINDS))


#: Cases written per transaction by :meth:`CaseStore.add`: committing each case alone costs
#: about 10 ms of store work, far more than building its statements.
WRITE_GROUP: Final = 64
#: A group waiting longer than this is written when the next case arrives.
WRITE_SECONDS: Final = 1.0


def _collision(record: CaseRecord, digest: str, source: str, *, same_run: bool = False) -> CaseCollisionError | None:
    if (digest and digest == record.facts_digest) or (not digest and source == record.source):
        return None
    remedy = (
        "--replace replaces a case stored before, not another case added with it"
        if same_run
        else "or add with --replace to replace the stored case"
    )
    return CaseCollisionError(
        f"{record.source}: case id '{record.case_id}' is already stored from {source or 'another source'} "
        f"with other facts; not stored (two different cases cannot share an id: give one another id, {remedy})"
    )


class _WriteGroup:
    """The cases :meth:`CaseStore.add` has accepted but not yet written, and what it reports."""

    def __init__(self, store: CaseStore, on_case: Callable[[StoredCase | CaseFailure], None] | None) -> None:
        self.store = store
        self.on_case = on_case
        self.records: dict[str, CaseRecord] = {}  # by case id: a later same-id case replaces it
        self.added: dict[str, tuple[str, str]] = {}  # every case id of this run: its facts digest, source
        self.waiting: list[StoredCase | CaseFailure] = []  # reported once written, in input order
        self.started = 0.0
        self.stored: list[StoredCase] = []
        self.failed: list[CaseFailure] = []

    def collision(self, record: CaseRecord, *, replace: bool = False) -> CaseCollisionError | None:
        """The error of adding ``record`` over another case of the same id: one added in this run
        (with ``replace`` too: two inputs of one run with one id and other facts once kept only
        the last, each reported stored), else, unless ``replace``, one already in the store."""
        earlier = self.added.get(record.case_id)
        if earlier is not None:
            return _collision(record, *earlier, same_run=replace)
        return None if replace else self.store.collision(record)

    def put(self, record: CaseRecord) -> None:
        if not self.records:
            self.started = time.monotonic()
        self.records[record.case_id] = record
        self.added[record.case_id] = (record.facts_digest, record.source)
        item = StoredCase.from_record(record)
        self.stored.append(item)
        self.waiting.append(item)
        if len(self.records) >= WRITE_GROUP or time.monotonic() - self.started > WRITE_SECONDS:
            self.write()

    def fail(self, failure: CaseFailure) -> None:
        self.failed.append(failure)
        self.waiting.append(failure)
        if not self.records:
            self.write()

    def write(self) -> None:
        """Write the waiting cases in one transaction, then report everything waiting."""
        if self.records:
            self.store.put_many(list(self.records.values()))
            self.records.clear()
        waiting, self.waiting = self.waiting, []
        if self.on_case is not None:
            for item in waiting:
                self.on_case(item)


def _identity_query(result_graph: str) -> str:
    return (
        f"SELECT ?digest ?source WHERE {{ GRAPH <{result_graph}> {{ ?r <{DSTORE}caseId> ?id . "
        f"OPTIONAL {{ ?r <{DSTORE}factsDigest> ?digest }} "
        f"OPTIONAL {{ ?activity <{RESULT_SOURCE}> ?source }} }} }} LIMIT 1"
    )


def failure_of(record: Mapping[str, Any]) -> CaseFailure:
    """A batch error record (``{"case", "ok": false, "error", "exit_code"}``) as a CaseFailure;
    a record without a trace (a plain batch record) cannot be stored and fails too."""
    name = str(record.get("case", "?"))
    if record.get("ok"):
        return CaseFailure(name, f"{name}: no trace to store (triage it with keep_trace=True)", EXIT_INVALID_CASE)
    return CaseFailure(name, str(record.get("error", "")), int(record.get("exit_code", EXIT_INVALID_CASE)))


def check_distinct(records: Sequence[CaseRecord]) -> None:
    if len({r.case_id for r in records}) != len(records):
        raise StoreError("the same case id appears twice in one batch")


def _current_knowledge_update(knowledge: Knowledge, graph: str) -> str:
    when = datetime.now(UTC).isoformat(timespec="seconds")
    version = (
        f"  <{graph}> <{PROV.specializationOf}> <{knowledge.version_iri}> .\n"
        if knowledge.version_iri.startswith("http")
        else ""
    )
    return (
        f"DELETE WHERE {{ GRAPH <{STORE_GRAPH}> {{ <{STORE_GRAPH}> <{DSTORE}currentKnowledge> ?k }} }} ;\n"
        f"DELETE WHERE {{ GRAPH <{STORE_GRAPH}> {{ <{graph}> ?p ?o }} }} ;\n"
        f"INSERT DATA {{ GRAPH <{STORE_GRAPH}> {{\n"
        f"  <{STORE_GRAPH}> <{DSTORE}currentKnowledge> <{graph}> .\n"
        f"  <{graph}> <{RDF_TYPE}> <{DSTORE}KnowledgeGraph> .\n"
        f"  <{graph}> <{RDF_TYPE}> <{PROV.Entity}> .\n"
        f"  <{graph}> <{DSTORE}contentHash> {literal_text(knowledge.content_hash)} .\n"
        f"  <{graph}> <{DSTORE}versionInfo> {literal_text(knowledge.version)} .\n"
        f"{version}"
        f'  <{graph}> <{DSTORE}loadedAt> "{when}"^^<{XSD_DATETIME}> .\n'
        "} }"
    )


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

__all__ = ["EXPORT_FORMATS", "CaseStore", "Evaluated", "ExportFormat", "check_distinct", "failure_of"]
