"""Benchmark dorsum against the issue's targets and against a naive reference pipeline.

    python benchmarks/bench_triage.py                      # everything (takes several minutes)
    python benchmarks/bench_triage.py --cases 100 --batch-sizes 1000 --reference-cases 3

Measures, on generated (invented) cases:

- in process: ``triage()`` per case with the knowledge already loaded (median, p90);
- the naive reference pipeline, per case: pyshacl with ``inference='owlrl'`` and the ontology as
  ``ont_graph``, then derive queries and a full owlrl closure of ontology + case until nothing
  new appears, then every report query, each query parsed (``prepareQuery``) at every use;
- ``dorsum evaluate <example>`` as a whole command (warm, median of 5);
- ``dorsum batch`` throughput and peak memory (the sum over the process tree, sampled) with
  ``--jobs 2`` at each batch size.

Prints one table: target, measured, reference. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reasoner import CaseError, case_from_form, load_knowledge, triage  # noqa: E402
from reasoner.batch.generate import generate_forms, write_jsonl  # noqa: E402

EXAMPLE = ROOT / "examples" / "lumbar-mass-back-pain.yaml"
MIB = 1024 * 1024


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def percentile_ms(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


# ---------------------------------------------------------------- in process


def bench_production(forms: list[dict[str, Any]]) -> tuple[list[float], list[float], dict[str, int]]:
    knowledge = load_knowledge()
    cases = []
    parse: list[float] = []
    for form in forms:
        started = time.perf_counter()
        try:
            cases.append(case_from_form(form, knowledge, name=form["id"]))
        except CaseError:
            continue
        parse.append(time.perf_counter() - started)
    for case in cases[:3]:  # warm caches (query plans, term caches)
        _safe_triage(case, knowledge)
    times: list[float] = []
    statuses: dict[str, int] = {}
    for case in cases:
        started = time.perf_counter()
        status = _safe_triage(case, knowledge)
        times.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
    return times, parse, statuses


def _safe_triage(case: Any, knowledge: Any) -> str:
    try:
        return str(triage(case, knowledge).status)
    except CaseError:
        return "invalid"


def naive_triage(case: Any, knowledge: Any, phases: dict[str, list[float]] | None = None) -> str | None:
    """The naive pipeline for one case; returns the urgency IRI it finds (or None)."""
    import owlrl
    from pyshacl import validate
    from rdflib import Graph
    from rdflib.plugins.sparql import prepareQuery

    texts = {name: knowledge.queries.text(name) for name in knowledge.queries}
    derive = [text for name, text in sorted(texts.items()) if name.startswith("derive-")]
    report = [(name, text) for name, text in sorted(texts.items()) if name.startswith("report-")]
    phase = time.perf_counter()
    validate(
        case.graph,
        shacl_graph=knowledge.shapes,
        ont_graph=knowledge.ontology,
        inference="owlrl",
        allow_warnings=True,
    )
    _phase(phases, "validate (pyshacl, inference=owlrl)", phase)
    phase = time.perf_counter()
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
    _phase(phases, "derive + owlrl closure to fixpoint", phase)
    phase = time.perf_counter()
    urgency = None
    for name, text in report:
        rows = list(graph.query(prepareQuery(text)))
        if name == "report-urgency" and rows:
            urgency = str(rows[0][0])  # type: ignore[index]
    _phase(phases, "report queries (parsed at each use)", phase)
    return urgency


def _phase(phases: dict[str, list[float]] | None, name: str, started: float) -> None:
    if phases is not None:
        phases.setdefault(name, []).append(time.perf_counter() - started)


def bench_reference(forms: list[dict[str, Any]], count: int) -> tuple[list[float], int, int]:
    """The naive pipeline. Returns per-case times and how many urgencies agree with production."""
    knowledge = load_knowledge()
    times: list[float] = []
    phases: dict[str, list[float]] = {}
    agree = checked = 0
    for form in forms:
        if len(times) >= count:
            break
        try:
            case = case_from_form(form, knowledge, name=form["id"])
            expected = triage(case, knowledge)
        except CaseError:
            continue
        started = time.perf_counter()
        urgency = naive_triage(case, knowledge, phases)
        times.append(time.perf_counter() - started)
        print(f"  reference case {checked + 1}: {times[-1]:.1f} s", file=sys.stderr, flush=True)
        checked += 1
        agree += int(expected.urgency is not None and urgency == expected.urgency.iri)
    PHASES.update({name: median_ms(values) for name, values in phases.items() if values})
    return times, agree, checked


def naive_command(path: Path) -> None:
    """What ``dorsum evaluate`` would be with the naive pipeline: load, read, triage one case."""
    from reasoner import read_case

    knowledge = load_knowledge()
    naive_triage(read_case(path, knowledge), knowledge)


PHASES: dict[str, float] = {}


# ---------------------------------------------------------------- whole commands


def dorsum_command(subcommand: str) -> list[str]:
    """How to run ``dorsum SUBCOMMAND``: the installed script if it has it, else the modules."""
    script = shutil.which("dorsum")
    if script:
        probe = subprocess.run([script, subcommand, "--help"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [script, subcommand]
    module = "reasoner.cli.main" if subcommand in ("evaluate", "validate", "query") else "reasoner.cli.batch"
    return [sys.executable, "-m", module, subcommand]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def bench_evaluate(runs: int = 5) -> list[float]:
    command = [*dorsum_command("evaluate"), str(EXAMPLE)]
    subprocess.run(command, capture_output=True, env=child_env(), check=False)  # warm: OS cache, disk caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, env=child_env(), check=False)
        times.append(time.perf_counter() - started)
    return times


def bench_evaluate_cold(runs: int = 3) -> list[float]:
    """``dorsum evaluate`` with an empty cache folder: as the first run after the knowledge changes."""
    command = [*dorsum_command("evaluate"), str(EXAMPLE)]
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            env = {**child_env(), "DORSUM_CACHE_DIR": cache}
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, env=env, check=False)
            times.append(time.perf_counter() - started)
    return times


def bench_naive_command() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--naive-command", str(EXAMPLE)], capture_output=True, env=child_env(), check=False
    )
    return time.perf_counter() - started


def run_sampled(
    command: list[str], on_sample: Callable[[int, int], None]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command, sampling RSS over its process tree (psutil, if installed): (sum, largest)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    started = time.perf_counter()
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child_env()
    ) as process:
        if psutil is not None:
            parent = psutil.Process(process.pid)
            while process.poll() is None:
                try:
                    tree = [parent, *parent.children(recursive=True)]
                    sizes = [p.memory_info().rss for p in tree if p.is_running()]
                    on_sample(sum(sizes), max(sizes, default=0))
                except psutil.Error:
                    pass
                time.sleep(0.1)
        _, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    return elapsed, subprocess.CompletedProcess(command, process.returncode, "", stderr)


def bench_batch(size: int, jobs: int, folder: Path) -> dict[str, Any]:
    cases = folder / f"cases-{size}.jsonl"
    with cases.open("w", encoding="utf-8") as stream:
        write_jsonl(generate_forms(size, seed=size), stream)
    peak = [0, 0]

    def sample(total: int, largest: int) -> None:
        peak[0] = max(peak[0], total)
        peak[1] = max(peak[1], largest)

    command = [*dorsum_command("batch"), str(cases), "--jobs", str(jobs), "--out", str(folder / f"out-{size}.jsonl")]
    elapsed, done = run_sampled(command, sample)
    lines = sum(1 for _ in (folder / f"out-{size}.jsonl").open(encoding="utf-8"))
    if not peak[1]:  # no psutil: the largest child so far (inflated if this process was large when forking)
        peak[1] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    return {
        "size": size,
        "jobs": jobs,
        "seconds": elapsed,
        "cases_per_second": size / elapsed,
        "peak_tree_rss_mib": peak[0] / MIB if peak[0] else None,
        "largest_process_rss_mib": peak[1] / MIB,
        "exit_code": done.returncode,
        "lines": lines,
        "summary": done.stderr.strip().splitlines()[:1],
    }


# ---------------------------------------------------------------- report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=200, help="generated cases for the in-process timing")
    parser.add_argument("--reference-cases", type=int, default=5, help="cases for the naive pipeline (seconds each)")
    parser.add_argument("--batch-sizes", default="1000,10000", help="comma-separated batch sizes ('' to skip)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--naive-command", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.naive_command is not None:
        naive_command(args.naive_command)
        return

    figures: dict[str, Any] = {"cpu_count": os.cpu_count(), "python": sys.version.split()[0]}
    forms = list(generate_forms(args.cases, seed=args.seed))
    print(f"in process: {len(forms)} generated cases ...", file=sys.stderr, flush=True)
    times, parse, statuses = bench_production(forms)
    figures["production"] = {
        "cases": len(times),
        "median_ms": median_ms(times),
        "p90_ms": percentile_ms(times, 0.9),
        "mean_ms": statistics.mean(times) * 1000,
        "parse_median_ms": median_ms(parse),
        "statuses": statuses,
    }
    reference: list[float] = []
    if args.reference_cases > 0:
        print(f"reference pipeline: {args.reference_cases} cases ...", file=sys.stderr, flush=True)
        reference, agree, checked = bench_reference(forms, args.reference_cases)
        figures["reference"] = {
            "cases": checked,
            "median_ms": median_ms(reference),
            "urgency_agrees": agree,
            "phases_median_ms": dict(PHASES),
        }
    print("whole command: dorsum evaluate ...", file=sys.stderr, flush=True)
    evaluate = bench_evaluate()
    figures["evaluate_command_s"] = {"median": statistics.median(evaluate), "runs": evaluate}
    print("whole command, empty cache (first run after a knowledge change) ...", file=sys.stderr, flush=True)
    cold = bench_evaluate_cold()
    figures["evaluate_cold_s"] = {"median": statistics.median(cold), "runs": cold}
    naive_evaluate = bench_naive_command() if args.reference_cases > 0 else None
    figures["naive_evaluate_command_s"] = naive_evaluate
    batches = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in args.batch_sizes.split(",") if s.strip()]:
            print(f"dorsum batch: {size} cases, --jobs {args.jobs} ...", file=sys.stderr, flush=True)
            batches.append(bench_batch(size, args.jobs, Path(tmp)))
    figures["batches"] = batches

    production_ms = figures["production"]["median_ms"]
    rows = [
        (
            "triage() per case, in process (median)",
            "<= 10 ms",
            f"{production_ms:.1f} ms (p90 {figures['production']['p90_ms']:.1f})",
            f"{median_ms(reference):.0f} ms naive" if reference else "-",
        ),
    ]
    if reference:
        rows.append(
            (
                "speed-up over the naive pipeline",
                ">= 200x",
                f"{median_ms(reference) / production_ms:.0f}x",
                f"urgency agrees {figures['reference']['urgency_agrees']}/{figures['reference']['cases']}",
            )
        )
    rows.append(
        (
            "dorsum evaluate, whole command (warm median of 5)",
            "<= 1.0 s",
            f"{statistics.median(evaluate):.2f} s",
            f"{naive_evaluate:.1f} s naive" if naive_evaluate else "-",
        )
    )
    rows.append(
        (
            "first run after a knowledge change (empty cache)",
            "rebuilt, never stale",
            f"{statistics.median(cold):.2f} s (caches rebuilt)",
            "keyed by content hash",
        )
    )
    for run in batches:
        memory = run["peak_tree_rss_mib"]
        rows.append(
            (
                f"dorsum batch {run['size']:,} cases, --jobs {run['jobs']}: throughput",
                ">= 500 cases/s",
                f"{run['cases_per_second']:.1f} cases/s ({run['seconds']:.0f} s, {run['lines']:,} lines, "
                f"exit {run['exit_code']})",
                f"~{run['jobs'] * 1000 / median_ms(reference):.2f} cases/s naive (est.)" if reference else "-",
            )
        )
        rows.append(
            (
                f"dorsum batch {run['size']:,} cases: peak memory",
                "< 1 GiB, flat",
                f"{memory:.0f} MiB all processes" if memory else "n/a (no psutil)",
                f"largest one process {run['largest_process_rss_mib']:.0f} MiB",
            )
        )
    widths = [max(len(row[i]) for row in [("what", "target", "measured", "reference"), *rows]) for i in range(4)]
    print()
    for row in [("what", "target", "measured", "reference"), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    for name, value in PHASES.items():
        print(f"reference phase, median: {name}: {value / 1000:.1f} s")
    print(f"\n{os.cpu_count()} CPUs, Python {figures['python']}; in-process statuses: {statuses}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
