"""The naive reference pipeline that bench_triage.py compares dorsum with, run in a child process
under a time and a memory limit.

Per case it does what a straightforward implementation would: the derive queries and a full owlrl
closure of ontology + case until nothing new appears, every report query (each parsed with
``prepareQuery`` at every use), and pyshacl validation with ``inference='owlrl'`` and the ontology
as ``ont_graph``. The validation comes last, after the conclusions are printed: its result changes
no conclusion, and with the current ontology pyshacl's mixing of the ontology into the data graph
takes longer than any limit worth waiting for (and many GiB), so a case stopped at a limit still has
its conclusions compared, and its time counts as a lower bound.

    python benchmarks/naive_reference.py case FORM.json      # one case form (JSON)
    python benchmarks/naive_reference.py command CASE-FILE   # as `dorsum evaluate CASE-FILE` would be

The child prints one JSON line per event on standard output: ``start`` (wall-clock time, after the
knowledge is loaded), ``conclusions`` and ``done`` (with phase times).
"""

from __future__ import annotations

import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024**3

VALIDATE = "validate (pyshacl, inference=owlrl, ont_graph)"
CLOSE = "derive + owlrl closure to fixpoint"
REPORT = "report queries (parsed at each use)"


@dataclass(frozen=True)
class Conclusions:
    """What a pipeline concludes from the recorded facts: compared case by case."""

    urgency: str | None
    classes: frozenset[str]  # red flags and clinical situations
    advice: frozenset[str]  # applicable recommendations and avoid advice

    def differences(self, other: Conclusions) -> list[str]:
        return [name for name in ("urgency", "classes", "advice") if getattr(self, name) != getattr(other, name)]


# ---------------------------------------------------------------- the child


def _emit(event: str, **values: Any) -> None:
    print(json.dumps({"event": event, "wall": time.time(), **values}), flush=True)


def naive_triage(case: Any, knowledge: Any) -> None:
    """Run the naive pipeline on one case, emitting its conclusions, then validating."""
    import owlrl
    from pyshacl import validate
    from rdflib import Graph
    from rdflib.plugins.sparql import prepareQuery

    texts = {name: knowledge.queries.text(name) for name in knowledge.queries}
    derive = [text for name, text in sorted(texts.items()) if name.startswith("derive-")]
    report = [(name, text) for name, text in sorted(texts.items()) if name.startswith("report-")]
    _emit("start")
    phases: dict[str, float] = {}
    started = time.perf_counter()
    graph = Graph()
    graph += knowledge.ontology
    graph += case.graph
    for _ in range(10):
        before = len(graph)
        for text in derive:
            for triple in graph.query(prepareQuery(text)):
                graph.add(triple)  # type: ignore[arg-type]
        owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(graph)
        if len(graph) == before:
            break
    phases[CLOSE] = time.perf_counter() - started
    started = time.perf_counter()
    rows = {name: list(graph.query(prepareQuery(text))) for name, text in report}
    phases[REPORT] = time.perf_counter() - started
    urgency = rows.get("report-urgency", [])
    _emit(
        "conclusions",
        urgency=str(urgency[0][0]) if urgency else None,  # type: ignore[index]
        classes=sorted(str(row[0]) for row in rows.get("report-red-flags", [])),  # type: ignore[index]
        advice=sorted(str(row[0]) for row in rows.get("report-advice", [])),  # type: ignore[index]
        phases=phases,
    )
    started = time.perf_counter()
    validate(
        case.graph,
        shacl_graph=knowledge.shapes,
        ont_graph=knowledge.ontology,
        inference="owlrl",
        allow_warnings=True,
    )
    phases[VALIDATE] = time.perf_counter() - started
    _emit("done", phases=phases)


def child(argv: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from reasoner import case_from_form, load_knowledge, read_case

    mode, path = argv
    knowledge = load_knowledge()
    if mode == "case":
        form = json.loads(Path(path).read_text(encoding="utf-8"))
        case = case_from_form(form, knowledge, name=form["id"])
    else:
        case = read_case(path, knowledge)
    naive_triage(case, knowledge)


# ---------------------------------------------------------------- the parent


@dataclass
class NaiveRun:
    """One naive run: its time (a lower bound if it was stopped), conclusions and phase times."""

    seconds: float  # from the start of the case (``case``) or of the process (``command``)
    stopped: str | None  # why it did not finish: the limit it hit, or how it failed
    conclusions: Conclusions | None
    phases: dict[str, float] = field(default_factory=dict)
    peak_mib: float | None = None


def _limit_memory(gib: float) -> None:
    limit = int(gib * GIB)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_naive(
    mode: str, path: Path, env: dict[str, str], timeout: float, memory_gib: float, whole: bool = False
) -> NaiveRun:
    """Run the naive pipeline in a child process, stopping it at ``timeout`` seconds or
    ``memory_gib`` of address space. ``whole``: time the whole process, not just the case."""
    try:
        import psutil
    except ImportError:
        psutil = None
    peak = 0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        launched = time.time()
        process = subprocess.Popen(
            [sys.executable, __file__, mode, str(path)],
            stdout=out,
            stderr=err,
            text=True,
            env=env,
            preexec_fn=lambda: _limit_memory(memory_gib),
        )
        handle = psutil.Process(process.pid) if psutil is not None else None
        deadline = time.perf_counter() + timeout
        while process.poll() is None and time.perf_counter() < deadline:
            if handle is not None:
                with contextlib.suppress(psutil.Error):
                    peak = max(peak, handle.memory_info().rss)
            time.sleep(0.5)
        timed_out = process.poll() is None
        if timed_out:
            process.kill()
            process.wait()
        ended = time.time()
        out.seek(0)
        err.seek(0)
        events = [json.loads(line) for line in out if line.startswith("{")]
        stderr = err.read()
    by_name = {event["event"]: event for event in events}
    start = launched if whole or "start" not in by_name else by_name["start"]["wall"]
    finished = by_name.get("done")
    stopped = None
    if finished is None:
        if timed_out:
            stopped = f"stopped at the time limit ({timeout:,.0f} s)"
        elif "MemoryError" in stderr:
            stopped = f"stopped at the memory limit ({memory_gib:g} GiB)"
        else:
            last = stderr.strip().splitlines()[-1:] or ["no output"]
            stopped = f"failed (exit {process.returncode}: {last[0][:200]})"
    found = by_name.get("conclusions")
    conclusions = (
        Conclusions(found["urgency"], frozenset(found["classes"]), frozenset(found["advice"])) if found else None
    )
    phases = (finished or found or {}).get("phases", {})
    return NaiveRun(
        seconds=(finished["wall"] if finished else ended) - start,
        stopped=stopped,
        conclusions=conclusions,
        phases=phases,
        peak_mib=peak / (1024 * 1024) if peak else None,
    )


if __name__ == "__main__":
    child(sys.argv[1:])
