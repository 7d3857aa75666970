"""The case knowledge graph: a persistent store of triaged cases and its SPARQL endpoint.

One job a module: :mod:`.records` (a stored case: graph names, triples, records),
:mod:`.case_store` (the store API), :mod:`.local` (an Oxigraph folder, locking),
:mod:`.remote` (a SPARQL server over HTTP), :mod:`.location` (opening either),
:mod:`.sparql` (query text, parameters, answers and their formats), :mod:`.server`
(``dorsum serve``), :mod:`.endpoint` (the guard in front of the Oxigraph server: checks, time
limit, caps) and :mod:`.errors`. Every query through :meth:`CaseStore.query` is checked and
bounded by a :class:`reasoner.pipeline.query_budget.QueryBudget`.

The store writes what triage computed and never reasons itself::

    from reasoner.batch.run import run_batch
    from reasoner.store import case_record, open_store

    with open_store("dorsum-store") as store:
        store.add(run_batch(["examples/"], jobs=2, finish=case_record), knowledge)
"""

from reasoner.store.case_store import EXPORT_FORMATS, CaseStore, Evaluated, ExportFormat
from reasoner.store.errors import (
    CaseCollisionError,
    CaseNotFoundError,
    RemoteStoreError,
    SparqlError,
    StoreBusyError,
    StoreError,
    StoreNotFoundError,
)
from reasoner.store.local import LocalStore, acquire_lock
from reasoner.store.location import DEFAULT_STORE, STORE_ENV, default_location, is_remote, open_store
from reasoner.store.records import (
    CASE_BASE,
    DSTORE,
    GRAPH_KINDS,
    KNOWLEDGE_BASE,
    STORE_GRAPH,
    AddReport,
    CaseFailure,
    CaseRecord,
    StoredCase,
    case_graph_iri,
    case_record,
    knowledge_graph_iri,
)
from reasoner.store.remote import RemoteStore
from reasoner.store.sparql import (
    SPARQL_FORMATS,
    AskResult,
    GraphResult,
    SelectResult,
    SparqlResult,
    Term,
    render_sparql,
    resolve_sparql,
    with_values,
)

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
    "CaseCollisionError",
    "CaseFailure",
    "CaseNotFoundError",
    "CaseRecord",
    "CaseStore",
    "Evaluated",
    "ExportFormat",
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
    "case_record",
    "default_location",
    "is_remote",
    "knowledge_graph_iri",
    "open_store",
    "render_sparql",
    "resolve_sparql",
    "with_values",
]
