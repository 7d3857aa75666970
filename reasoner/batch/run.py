"""Evaluate many cases: stream them through worker processes and yield one result per case, in order.

INPUT items are case files, directories of case files, JSONL files (one case form per line) or
``-`` for JSONL on standard input. Inputs and outputs are streamed: at most a small window of
chunks is in flight, so memory stays flat however many cases there are. One bad case never
stops the batch: it yields an error record in its place.

Each worker process loads the knowledge once (in the pool initializer) and triages chunks of
cases with the same :func:`reasoner.pipeline.triage.triage` as ``dorsum evaluate``, so the records
are exactly those of a one-by-one run. Workers hand back objects, never text to parse again: a
JSON-ready mapping per case (or, for ``dorsum batch``, its JSONL line rendered in the worker:
:func:`run_batch_lines`), or whatever ``finish`` makes of the triage result (the store's
:func:`reasoner.store.records.case_record`, for ``dorsum store add``). The optional ``dask``
executor sends the same chunks to a dask.distributed cluster; its workers must be able to import
``reasoner`` and read the knowledge.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Protocol, TypeVar, overload

from reasoner.batch.summary import BatchLine, BatchSummary, RecordCounts
from reasoner.errors import (
    EXIT_INVALID_CASE,
    EXIT_USAGE,
    CaseError,
    DorsumError,
    InputTooLarge,
    NotRegularFile,
    UsageError,
    one_line,
    worse_exit,
)
from reasoner.knowledge import Knowledge, load_knowledge
from reasoner.pipeline.form_syntax import BYTES_ENV, InputLimits, jsonl_lines, parse_json
from reasoner.pipeline.read import BYTE_ORDER_MARK, CaseInput, case_from_form, read_case
from reasoner.pipeline.triage import TriageResult, as_mapping, triage

#: Suffixes of the case files a directory is searched for.
CASE_SUFFIXES = (".json", ".yaml", ".yml", ".ttl", ".nt", ".jsonld")
JSONL_SUFFIX = ".jsonl"
STDIN = "-"
STDIN_LABEL = "<stdin>"
EXECUTORS = ("local", "dask")
#: Largest number of cases sent to a worker at once. Chunks start at one case and double up
#: to this size, so small batches still spread over every worker.
DEFAULT_CHUNKSIZE = 16
#: Chunks in flight per worker: enough to keep workers busy, few enough to keep memory flat.
WINDOW_PER_WORKER = 4
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")

Record = dict[str, Any]
T = TypeVar("T")
#: Turns a triage result (with its trace) into what a batch yields; runs in the worker process.
Finish = Callable[[TriageResult], T]


class BatchError(DorsumError):
    """The batch itself failed (a worker died, the cluster is unreachable or uses other knowledge)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class WorkItem:
    """One case to evaluate, as cheap to send to a worker as possible (not yet parsed as RDF)."""

    name: str
    source: str
    kind: Literal["file", "form", "error"]
    path: str = ""  # kind "file": the case file
    form: Any = None  # kind "form": the decoded JSONL line
    error: str = ""  # kind "error": why the line could not be read
    error_code: int = EXIT_INVALID_CASE  # kind "error": its exit code (a limit has its own)


# ---------------------------------------------------------------- inputs


def check_inputs(inputs: Sequence[str]) -> None:
    """Raise UsageError for an INPUT that does not exist or is not a case, JSONL file or directory."""
    if not inputs:
        raise UsageError("no INPUT given: name case files, directories, JSONL files or - for standard input")
    for item in inputs:
        if item == STDIN:
            continue
        path = Path(item)
        if not path.exists():
            raise UsageError(f"{path}: file not found")
        if path.is_dir():
            continue
        suffix = path.suffix.lower()
        if suffix != JSONL_SUFFIX and suffix not in CASE_SUFFIXES:
            raise UsageError(
                f"{path}: unsupported file type '{suffix}' (use one of {', '.join((*CASE_SUFFIXES, JSONL_SUFFIX))})"
            )


def iter_work(inputs: Sequence[str], stdin: IO[str] | None = None) -> Iterator[WorkItem]:
    """Expand INPUT items into work items, lazily and in order."""
    for item in inputs:
        if item == STDIN:
            yield from _jsonl_items(stdin if stdin is not None else sys.stdin.buffer, STDIN_LABEL, "stdin")
            continue
        path = Path(item)
        if path.is_dir():
            for file in _directory_files(path):
                yield from _file_items(file)
        else:
            yield from _file_items(path)


def count_cases(inputs: Sequence[str]) -> int | None:
    """How many cases the inputs hold (for a progress bar), or None if standard input is one of them."""
    if STDIN in inputs:
        return None
    total = 0
    for item in inputs:
        path = Path(item)
        for file in _directory_files(path) if path.is_dir() else [path]:
            if file.suffix.lower() == JSONL_SUFFIX:
                try:
                    with file.open("rb") as stream:
                        total += sum(1 for line in stream if line.strip())
                except OSError:
                    total += 1
            else:
                total += 1
    return total


def _directory_files(folder: Path) -> list[Path]:
    """Case and JSONL files in a folder (not its subfolders: examples/fhir holds FHIR resources, read
    by `dorsum evaluate-fhir`), sorted by path; hidden entries are skipped."""
    wanted = {*CASE_SUFFIXES, JSONL_SUFFIX}
    found = [
        path
        for path in folder.glob("*")
        if path.is_file()
        and path.suffix.lower() in wanted
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    return sorted(found)


def _file_items(path: Path) -> Iterator[WorkItem]:
    if path.suffix.lower() != JSONL_SUFFIX:
        yield WorkItem(name=path.stem, source=str(path), kind="file", path=str(path))
        return
    try:
        if not path.is_file():  # stat first: a FIFO or device named *.jsonl would block or never end
            raise NotRegularFile(str(path), ["refused: not a regular file (nothing was read)"])
        with path.open("rb") as stream:
            yield from _jsonl_items(stream, str(path), path.stem)
    except NotRegularFile as error:
        yield WorkItem(
            name=str(path), source=str(path), kind="error", error=error.problems[0], error_code=error.exit_code
        )
    except OSError as exc:
        yield WorkItem(name=str(path), source=str(path), kind="error", error=f"cannot read: {exc.strerror}")


def _jsonl_items(stream: IO[bytes] | IO[str], label: str, stem: str) -> Iterator[WorkItem]:
    """Each line of a JSONL stream as a work item; a line that cannot be read (not UTF-8, too
    long, bad JSON) becomes an error item and the lines after it are still read."""
    limits = InputLimits.from_environment()
    binary = getattr(stream, "buffer", stream)  # standard input as bytes: a bad line is one error
    for number, (raw, whole) in enumerate(jsonl_lines(binary, limits.max_bytes), start=1):
        where = f"{label}:{number}"
        if not whole:
            error = f"line longer than the limit of {limits.max_bytes} bytes ({BYTES_ENV})"
            yield WorkItem(name=where, source=where, kind="error", error=error, error_code=InputTooLarge.exit_code)
            continue
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            if number == 1:  # a byte-order mark starts the stream, not its first case
                line = line.removeprefix(BYTE_ORDER_MARK)
        except UnicodeDecodeError:
            yield WorkItem(name=where, source=where, kind="error", error="not UTF-8 text")
            continue
        if not line.strip():
            continue
        try:
            form = parse_json(line, where, limits)
        except CaseError as error:
            detail = "; ".join(error.problems)
            yield WorkItem(name=where, source=where, kind="error", error=detail, error_code=error.exit_code)
            continue
        case_id = form.get("id") if isinstance(form, dict) else None
        if isinstance(form, dict) and "id" not in form:
            # A form without an id gets one that is a valid case id (the batch name has ':').
            form = {**form, "id": _UNSAFE_ID.sub("-", f"{stem}-{number}").strip("-.") or f"line-{number}"}
        name = case_id if isinstance(case_id, str) and case_id else where
        yield WorkItem(name=name, source=where, kind="form", form=form)


def load_item(item: WorkItem, knowledge: Knowledge) -> CaseInput:
    """Read one work item into a case graph. Raises CaseError (or UsageError for a vanished file)."""
    if item.kind == "error":
        error = CaseError(item.source, [item.error])
        error.exit_code = item.error_code
        raise error
    if item.kind == "form":  # a case form: one carrying its own @context is refused, as read_case does
        return case_from_form(item.form, knowledge, name=item.name, source=item.source)
    return read_case(item.path, knowledge)


def iter_case_inputs(
    inputs: Sequence[str], knowledge: Knowledge, *, stdin: IO[str] | None = None
) -> Iterator[tuple[str, CaseInput | CaseError]]:
    """Each case of the inputs, read in this process, as (name, case) or (name, CaseError).

    A case that cannot be read yields its CaseError instead of raising, so the caller can go on.
    """
    check_inputs(inputs)
    for item in iter_work(inputs, stdin):
        try:
            yield item.name, load_item(item, knowledge)
        except CaseError as error:
            yield item.name, error
        except DorsumError as error:
            yield item.name, CaseError(item.source, [_strip_source(str(error), item.source)])


# ---------------------------------------------------------------- evaluation


def evaluate_item(item: WorkItem, knowledge: Knowledge, finish: Finish[Any] | None = None) -> Any:
    """Read and triage one case; never raises for a bad case (it becomes an error record).

    Without ``finish``, a triaged case gives its JSON-ready record; with it, ``finish(result)``
    of the result triaged with ``keep_trace=True``.
    """
    try:
        result = triage(load_item(item, knowledge), knowledge, keep_trace=finish is not None)
        if finish is not None:
            return finish(result)
    except DorsumError as error:
        return error_record(item.name, str(error), error.exit_code)
    except Exception as error:  # one broken case must not stop a batch of thousands
        return error_record(item.name, f"{item.source}: cannot triage: {one_line(error)}", EXIT_INVALID_CASE)
    return result_record(result, item.name)


def result_record(result: TriageResult, name: str) -> Record:
    """A triage result as a batch record: the mapping ``dorsum evaluate --format json`` writes
    (lists for tuples, as JSON reads back), plus ``"case"`` and ``"ok": true``."""
    record: Record = dict(as_mapping(result, lists=True))
    record["case"] = name
    record["ok"] = True
    return record


def error_record(name: str, message: str, exit_code: int = EXIT_INVALID_CASE) -> Record:
    return {"case": name, "ok": False, "error": " ".join(message.split()), "exit_code": exit_code}


_WORKER_KNOWLEDGE: dict[str, Knowledge] = {}


def _quiet_worker() -> None:
    """rdflib and pyshacl log and warn about bad input; the batch reports it in the record."""
    logging.getLogger("rdflib").setLevel(logging.CRITICAL)
    logging.getLogger("pyshacl").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")


def _worker_knowledge(kb_root: str | None) -> Knowledge:
    key = kb_root or ""
    knowledge = _WORKER_KNOWLEDGE.get(key)
    if knowledge is None:
        _quiet_worker()
        knowledge = load_knowledge(kb_root)
        _WORKER_KNOWLEDGE[key] = knowledge
    return knowledge


def _init_worker(kb_root: str | None) -> None:
    """Pool initializer: load the knowledge once per worker process."""
    _worker_knowledge(kb_root)


def evaluate_chunk(
    kb_root: str | None,
    items: Sequence[WorkItem],
    finish: Finish[Any] | None = None,
    content_hash: str | None = None,
    lines: bool = False,
) -> list[Any]:
    """Worker task: triage a chunk of cases with the worker's knowledge (loaded once per process).

    With ``lines`` (and no ``finish``) each case comes back as its rendered :class:`BatchLine`.
    Raises BatchError if that knowledge is not the one whose ``content_hash`` is given.
    """
    knowledge = _worker_knowledge(kb_root)
    if content_hash is not None and knowledge.content_hash != content_hash:
        raise BatchError(
            f"workers use other knowledge (sha256 {knowledge.content_hash[:12]}, here {content_hash[:12]}): "
            "point them at the same knowledge base, and do not edit it during a batch"
        )
    if lines:
        return [BatchLine.of(evaluate_item(item, knowledge)) for item in items]
    return [evaluate_item(item, knowledge, finish) for item in items]


class _Future(Protocol):
    def result(self) -> Any: ...

    def cancel(self) -> Any: ...


def _chunks(items: Iterator[WorkItem], largest: int) -> Iterator[list[WorkItem]]:
    size = 1
    chunk: list[WorkItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
            size = min(size * 2, largest)
    if chunk:
        yield chunk


def _ordered(
    submit: Callable[[list[WorkItem]], _Future], chunks: Iterator[list[WorkItem]], window: int
) -> Iterator[Any]:
    """Submit chunks with at most ``window`` in flight; yield their records in submission order."""
    pending: deque[_Future] = deque()
    try:
        for chunk in chunks:
            pending.append(submit(chunk))
            while len(pending) >= window:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


@overload
def run_batch(
    inputs: Sequence[str],
    kb_root: Path | str | None = None,
    jobs: int | None = None,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    chunksize: int = DEFAULT_CHUNKSIZE,
    summary: BatchSummary | None = None,
    stdin: IO[str] | None = None,
    finish: None = None,
) -> Iterator[Record]: ...


@overload
def run_batch(
    inputs: Sequence[str],
    kb_root: Path | str | None = None,
    jobs: int | None = None,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    chunksize: int = DEFAULT_CHUNKSIZE,
    summary: None = None,
    stdin: IO[str] | None = None,
    finish: Finish[T],
) -> Iterator[T | Record]: ...


def run_batch(
    inputs: Sequence[str],
    kb_root: Path | str | None = None,
    jobs: int | None = None,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    chunksize: int = DEFAULT_CHUNKSIZE,
    summary: BatchSummary | None = None,
    stdin: IO[str] | None = None,
    finish: Finish[Any] | None = None,
) -> Iterator[Any]:
    """Evaluate every case of ``inputs`` and yield one item per case, in input order.

    A triaged case gives its JSON-ready record (:func:`result_record`: the JSON of ``render_json``
    as a mapping, plus ``"case"`` (its name) and ``"ok": true``), or with ``finish``, what
    ``finish`` makes of its result triaged with ``keep_trace=True`` (run in the worker, so it
    must be picklable: a module-level function). A case that cannot be triaged gives the error
    record ``{"case", "ok": false, "error", "exit_code"}``. ``jobs`` worker processes (default:
    one per CPU; 1 runs in this process) share the work; ``executor="dask"`` sends it to the
    dask.distributed scheduler at ``scheduler`` instead. If ``summary`` is given (not with
    ``finish``) it is updated as records are yielded.

    Inputs, knowledge and options are checked before this returns (raising UsageError or
    KnowledgeError); evaluation happens as the returned iterator is consumed.
    """
    if summary is not None and finish is not None:
        raise UsageError("a batch summary counts JSON records: it cannot be kept with finish")
    options = _Options(kb_root, jobs, executor, scheduler, chunksize, stdin)
    return _summarised(_records(*_start(inputs, options, finish, lines=False)), summary)


def run_batch_lines(
    inputs: Sequence[str],
    kb_root: Path | str | None = None,
    jobs: int | None = None,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    chunksize: int = DEFAULT_CHUNKSIZE,
    summary: BatchSummary | None = None,
    stdin: IO[str] | None = None,
) -> Iterator[BatchLine]:
    """As :func:`run_batch` without ``finish``, but each case comes as its JSONL line
    (:func:`reasoner.render.json.json_line` of its record), rendered in the worker process.

    This is what ``dorsum batch`` writes: the parent process only writes text.
    """
    options = _Options(kb_root, jobs, executor, scheduler, chunksize, stdin)
    return _summarised(_records(*_start(inputs, options, None, lines=True)), summary)


@dataclass(frozen=True)
class _Options:
    kb_root: Path | str | None
    jobs: int | None
    executor: str
    scheduler: str | None
    chunksize: int
    stdin: IO[str] | None


def _start(
    inputs: Sequence[str], options: _Options, finish: Finish[Any] | None, *, lines: bool
) -> tuple[Iterator[WorkItem], _Plan]:
    """Check the inputs, options and knowledge now (raising UsageError or KnowledgeError); the
    work items are read as they are consumed."""
    check_inputs(inputs)
    if options.executor not in EXECUTORS:
        raise UsageError(f"unknown executor '{options.executor}' (use one of {', '.join(EXECUTORS)})")
    workers = (os.cpu_count() or 1) if options.jobs is None else options.jobs
    if workers < 1:
        raise UsageError(f"--jobs must be at least 1 (got {workers})")
    if options.chunksize < 1:
        raise UsageError(f"chunk size must be at least 1 (got {options.chunksize})")
    if options.executor == "dask" and not options.scheduler:
        raise UsageError("the dask executor needs --scheduler tcp://HOST:PORT")
    root = str(Path(options.kb_root).expanduser().resolve()) if options.kb_root is not None else None
    knowledge = load_knowledge(root)  # fail fast on a broken knowledge base; forked workers reuse it
    plan = _Plan(root, knowledge, workers, options.executor, options.scheduler, options.chunksize, finish, lines)
    return iter_work(inputs, options.stdin), plan


@dataclass(frozen=True)
class _Plan:
    """How a batch runs: which knowledge, where, in what chunks, finished how."""

    root: str | None
    knowledge: Knowledge
    workers: int
    executor: str
    scheduler: str | None
    chunksize: int
    finish: Finish[Any] | None
    lines: bool = False

    def task(self, chunk: list[WorkItem]) -> tuple[Any, ...]:
        """The arguments of :func:`evaluate_chunk` for one chunk."""
        return (self.root, chunk, self.finish, self.knowledge.content_hash, self.lines)


def _summarised(records: Iterator[Any], summary: BatchSummary | None) -> Iterator[Any]:
    started = time.perf_counter()
    try:
        for record in records:
            if summary is not None:
                summary.add(record)
                summary.elapsed = time.perf_counter() - started
            yield record
    finally:
        if summary is not None:
            summary.elapsed = time.perf_counter() - started


def _records(items: Iterator[WorkItem], plan: _Plan) -> Iterator[Any]:
    if plan.executor == "dask":
        yield from _dask_records(items, plan)
        return
    if plan.workers == 1:
        for item in items:
            record = evaluate_item(item, plan.knowledge, plan.finish)
            yield BatchLine.of(record) if plan.lines else record
        return
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(max_workers=plan.workers, initializer=_init_worker, initargs=(plan.root,)) as pool:
        try:
            yield from _ordered(
                lambda chunk: pool.submit(evaluate_chunk, *plan.task(chunk)),
                _chunks(items, plan.chunksize),
                plan.workers * WINDOW_PER_WORKER,
            )
        except BrokenProcessPool as exc:
            raise BatchError(f"a worker process died: {one_line(exc)}") from exc


def _dask_records(items: Iterator[WorkItem], plan: _Plan) -> Iterator[Any]:
    try:
        distributed: Any = importlib.import_module("dask.distributed")  # optional extra, imported lazily
    except ImportError as exc:
        raise UsageError("the dask executor needs dask.distributed: pip install 'dorsum[dask]'") from exc
    try:
        client = distributed.Client(plan.scheduler, timeout=30, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise BatchError(f"cannot connect to the dask scheduler at {plan.scheduler}: {one_line(exc)}") from exc
    with client:
        threads = sum(client.nthreads().values()) or 1
        records = _ordered(
            lambda chunk: client.submit(evaluate_chunk, *plan.task(chunk), pure=False),
            _chunks(items, plan.chunksize),
            threads * WINDOW_PER_WORKER,
        )
        try:
            yield from records
        except DorsumError:
            raise
        except Exception as exc:  # a task failed on the cluster (e.g. reasoner not importable there)
            raise BatchError(f"a dask task failed: {one_line(exc)}") from exc


def _strip_source(message: str, source: str) -> str:
    prefix = f"{source}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


__all__ = [
    "CASE_SUFFIXES",
    "DEFAULT_CHUNKSIZE",
    "EXECUTORS",
    "BatchError",
    "BatchLine",
    "BatchSummary",
    "Finish",
    "RecordCounts",
    "WorkItem",
    "check_inputs",
    "count_cases",
    "error_record",
    "evaluate_chunk",
    "evaluate_item",
    "iter_case_inputs",
    "iter_work",
    "load_item",
    "result_record",
    "run_batch",
    "run_batch_lines",
    "worse_exit",
]
