"""A local store: an Oxigraph (RocksDB) folder opened in this process, guarded by a lock file."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Sequence
from pathlib import Path
from typing import IO, BinaryIO, Final

import pyoxigraph as ox

from reasoner.errors import UsageError, one_line
from reasoner.pipeline.query_budget import AnswerMeter, QueryBudget, run_bounded
from reasoner.store.case_store import EXPORT_FORMATS, CaseStore, ExportFormat, check_distinct
from reasoner.store.errors import SparqlError, StoreBusyError, StoreError, StoreNotFoundError
from reasoner.store.records import GRAPH_KINDS, CaseRecord
from reasoner.store.sparql import SparqlResult, from_ox_answer

LOCK_FILE: Final = "dorsum.lock"


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
        if read_only and not looks_like_store(self.path):
            raise StoreNotFoundError(f"no store at {self.path} (fill one with: dorsum store add CASE --store {path})")
        if not read_only and self.path.exists() and not self.path.is_dir():
            raise StoreError(f"{self.path} is a file, not a store folder")
        if not read_only and self.path.is_dir() and any(self.path.iterdir()) and not looks_like_store(self.path):
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
                # No optimize(): a full compaction, it rewrote the whole store at each close (0.5 s
                # after one case added to 491, 6.7 s at 4,910 cases) and left it no smaller. The
                # write-ahead log (about twice the data) goes when the store is next opened to write.
                store.flush()
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
            return from_ox_answer(answer)
        except SyntaxError as error:
            raise SparqlError(f"SPARQL syntax error: {one_line(error)}") from error
        except (OSError, RuntimeError, ValueError) as error:
            raise SparqlError(f"query failed: {one_line(error)}") from error

    def _bounded_query(self, text: str, union_default_graph: bool, budget: QueryBudget) -> SparqlResult:
        """Run a query within the budget.

        On a store opened read-only (what ``dorsum sparql`` opens) the query runs in a forked
        child that is killed at the time limit: pyoxigraph cannot be interrupted inside a call,
        and a killed process is work truly stopped (a crash of the engine takes only the child
        down). A store open for writing has RocksDB threads that may hold locks at any moment,
        which a forked child would inherit held: there the query runs in this process, its
        answer capped in rows and bytes but its time not limited.
        """
        store = self.store

        def answer() -> SparqlResult:
            meter = AnswerMeter(budget)
            try:
                solutions = store.query(text, use_default_graph_as_union=union_default_graph)
                return from_ox_answer(solutions, meter)
            except SyntaxError as error:
                raise SparqlError(f"SPARQL syntax error: {one_line(error)}") from error
            except (OSError, RuntimeError, ValueError) as error:
                raise SparqlError(f"query failed: {one_line(error)}") from error

        return run_bounded(answer, budget) if self.read_only else answer()

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

    def _put_graph(self, graph_iri: str, ntriples: bytes) -> None:
        """As CaseStore._put_graph; a new graph is loaded without the SPARQL parser."""
        name = ox.NamedNode(graph_iri)
        if self.read_only or self.store.contains_named_graph(name):
            super()._put_graph(graph_iri, ntriples)
            return
        try:
            self._wrote = True
            self.store.load(ntriples, ox.RdfFormat.N_TRIPLES, to_graph=name)  # one transaction
        except (OSError, SyntaxError, ValueError) as error:
            raise StoreError(f"cannot write to {self.location}: {one_line(error)}") from error

    def put_many(self, records: Sequence[CaseRecord]) -> None:
        """As CaseStore.put_many; new cases skip the SPARQL parser: their N-Quads are loaded in
        one transaction (all of these cases or none)."""
        graphs = [(record, kind, record.graph(kind)) for record in records for kind in GRAPH_KINDS]
        if self.read_only or not records or any(self.store.contains_named_graph(ox.NamedNode(g)) for *_, g in graphs):
            super().put_many(records)  # a replacement: DROP and INSERT DATA in one update
            return
        check_distinct(records)
        lines: list[str] = []
        for record, kind, graph in graphs:
            tail = f" <{graph}> ."
            lines.extend(statement + tail for statement in getattr(record, kind))
        try:
            self._wrote = True
            self.store.load("\n".join(lines).encode("utf-8"), ox.RdfFormat.N_QUADS)
            # Write the group's buffers to disk now: left to RocksDB they grew with the store (the
            # parent's peak was 794 MiB at 2,000 cases, 164 MiB with this flush, in the same time).
            self.store.flush()
        except (OSError, SyntaxError, ValueError) as error:
            raise StoreError(f"cannot write to {self.location}: {one_line(error)}") from error

    def export(self, output: BinaryIO, fmt: ExportFormat = "nquads") -> None:
        try:
            self.store.dump(output, format=rdf_format(fmt))
        except (OSError, ValueError) as error:
            raise StoreError(f"cannot export {self.location}: {one_line(error)}") from error

    def flush(self) -> None:
        self.store.flush()


def looks_like_store(path: Path) -> bool:
    """Whether a folder holds an Oxigraph (RocksDB) store."""
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


def rdf_format(fmt: str) -> ox.RdfFormat:
    if fmt == "nquads":
        return ox.RdfFormat.N_QUADS
    if fmt == "trig":
        return ox.RdfFormat.TRIG
    raise UsageError(f"unknown export format '{fmt}' (use one of {', '.join(EXPORT_FORMATS)})")


__all__ = ["LOCK_FILE", "LocalStore", "acquire_lock", "looks_like_store", "rdf_format"]
