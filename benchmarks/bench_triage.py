"""Measure dorsum against issue 14's targets, side by side with a naive reference pipeline, in one run.

    python benchmarks/bench_triage.py                         # the full run (about an hour, most of it naive)
    python benchmarks/bench_triage.py --large                 # also dorsum batch on 100,000 cases (long)
    python benchmarks/bench_triage.py --cases 100 --batch-sizes 1000 --reference-cases 3 --store-cases 500
    python benchmarks/bench_triage.py ... --write-readme      # rewrite the table in benchmarks/README.md

Measures, on generated (invented) cases, through dorsum's public API and its command line only:

- in process: ``triage()`` per case with the knowledge already loaded (median, p90);
- the naive reference pipeline (naive_reference.py), per case in a child process stopped at
  ``--naive-timeout`` seconds or ``--naive-memory-gib`` of address space (a stopped run's time is a
  lower bound): derive queries and a full owlrl closure of ontology + case to a fixpoint, every
  report query parsed at every use, then pyshacl with ``inference='owlrl'`` and the ontology as
  ``ont_graph``; its urgency, red flags and situations, and applicable advice are compared with
  ``triage()``'s;
- ``dorsum evaluate <example>`` as a whole command: warm (median of 5), and with an empty cache
  folder (``DORSUM_CACHE_DIR``), as the first run after a knowledge change; the naive reference is
  the same command with the naive pipeline;
- ``dorsum batch --jobs 2`` throughput and peak memory (the sum over the process tree, sampled with
  psutil), with the peak in each quarter of the run to show whether memory stays flat;
- ``dorsum store add --jobs 2`` of generated cases into a new local store.

Prints the table as Markdown; ``--write-readme`` puts it between the markers in
benchmarks/README.md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reasoner import CaseError, __version__, case_from_form, load_knowledge, triage  # noqa: E402
from reasoner.batch.generate import generate_forms, write_jsonl  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from naive_reference import Conclusions, NaiveRun, run_naive  # noqa: E402

EXAMPLE = ROOT / "examples" / "lumbar-mass-back-pain.yaml"
README = Path(__file__).resolve().parent / "README.md"
BEGIN = "<!-- bench:begin (written by bench_triage.py --write-readme; do not edit by hand) -->"
END = "<!-- bench:end -->"
MIB = 1024 * 1024
#: The flags of a full run: a run with smaller ones is marked as a small run.
FULL_CASES, FULL_REFERENCE_CASES, FULL_BATCH_SIZES, FULL_STORE_CASES = 200, 5, (10_000,), 10_000
LARGE_BATCH = 100_000
DASH, TIMES = "\u2013", "\u00d7"  # for the Markdown table


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def percentile_ms(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


# ---------------------------------------------------------------- the machine and the code


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, Python, as this process sees them."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gib": memory / (1024 * MIB) if memory else None,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def code_version() -> dict[str, str]:
    """dorsum's version and the checkout's commit (with ``-dirty`` if it has uncommitted changes)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    changes = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/README.md")
    return {"dorsum": __version__, "commit": commit + ("-dirty" if changes else "")}


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


# ---------------------------------------------------------------- in process


def bench_production(
    forms: list[dict[str, Any]],
) -> tuple[list[float], dict[str, int], dict[str, Conclusions]]:
    """``triage()`` per valid case: times, counts by status, and each case's conclusions."""
    knowledge = load_knowledge()
    cases = []
    invalid = 0
    for form in forms:
        try:
            cases.append(case_from_form(form, knowledge, name=form["id"]))
        except CaseError:
            invalid += 1
    for case in cases[:3]:  # warm the per-process caches (query plans, term caches)
        _safe_triage(case, knowledge)
    times: list[float] = []
    statuses: dict[str, int] = {"invalid": invalid} if invalid else {}
    conclusions: dict[str, Conclusions] = {}
    for case in cases:
        started = time.perf_counter()
        try:
            result = triage(case, knowledge)
        except CaseError:
            statuses["invalid"] = statuses.get("invalid", 0) + 1
            continue
        times.append(time.perf_counter() - started)
        statuses[result.status] = statuses.get(result.status, 0) + 1
        conclusions[case.name] = Conclusions(
            urgency=result.urgency.iri if result.urgency is not None else None,
            classes=frozenset(item.iri for item in result.red_flags + result.situations),
            advice=frozenset(step.iri for step in result.next_steps + result.avoid + result.excepted),
        )
    return times, statuses, conclusions


def _safe_triage(case: Any, knowledge: Any) -> None:
    with contextlib.suppress(CaseError):
        triage(case, knowledge)


@dataclass
class Reference:
    """The naive pipeline on a few cases, compared with ``triage()``."""

    runs: list[NaiveRun] = field(default_factory=list)
    agree: int = 0
    differ: list[str] = field(default_factory=list)  # case ids, with what differs
    missing: int = 0  # cases stopped before their conclusions

    def figures(self) -> dict[str, Any]:
        times = [run.seconds for run in self.runs]
        phases: dict[str, list[float]] = {}
        for run in self.runs:
            for name, seconds in run.phases.items():
                phases.setdefault(name, []).append(seconds)
        return {
            "cases": len(self.runs),
            "median_s": statistics.median(times),
            "p90_s": percentile_ms(times, 0.9) / 1000,
            "lower_bound": any(run.stopped for run in self.runs),
            "stopped": [run.stopped for run in self.runs if run.stopped],
            "compared": self.agree + len(self.differ),
            "agree": self.agree,
            "differ": self.differ,
            "peak_mib": max((run.peak_mib or 0 for run in self.runs), default=0) or None,
            "phases": {name: {"median_s": statistics.median(v), "finished": len(v)} for name, v in phases.items()},
        }


def bench_reference(
    forms: list[dict[str, Any]],
    count: int,
    production: dict[str, Conclusions],
    limits: tuple[float, float],
    env: dict[str, str],
) -> Reference:
    """The naive pipeline on the first ``count`` cases that ``triage()`` answered, each in a child
    process under ``limits`` (seconds, GiB), its conclusions compared with ``triage()``'s."""
    reference = Reference()
    with tempfile.TemporaryDirectory(prefix="dorsum-bench-naive-") as folder:
        for form in [form for form in forms if form["id"] in production][:count]:
            path = Path(folder) / f"{form['id']}.json"
            path.write_text(json.dumps(form), encoding="utf-8")
            run = run_naive("case", path, env, *limits)
            reference.runs.append(run)
            if run.conclusions is None:
                reference.missing += 1
                verdict = "no conclusions"
            elif which := run.conclusions.differences(production[form["id"]]):
                reference.differ.append(f"{form['id']} ({', '.join(which)})")
                verdict = "differs: " + ", ".join(which)
            else:
                reference.agree += 1
                verdict = "same conclusions"
            step(
                f"  naive case {len(reference.runs)}/{count}: {run.seconds:,.1f} s"
                f"{' (' + run.stopped + ')' if run.stopped else ''}, {verdict}"
            )
    return reference


# ---------------------------------------------------------------- whole commands


def dorsum(*args: str) -> list[str]:
    """``dorsum ARGS`` from this checkout (``python -m reasoner``, with this checkout on PYTHONPATH)."""
    return [sys.executable, "-m", "reasoner", *args]


def child_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["DORSUM_CACHE_DIR"] = str(cache)
    env.pop("DORSUM_KB", None)
    env.pop("DORSUM_STORE", None)
    return env


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"bench: {' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def bench_evaluate(cache: Path, runs: int = 5) -> list[float]:
    """``dorsum evaluate`` warm: the cache folder already filled by one run."""
    command = dorsum("evaluate", str(EXAMPLE))
    timed(command, child_env(cache))  # fills the cache folder and the OS file cache
    return [timed(command, child_env(cache)) for _ in range(runs)]


def bench_evaluate_cold(runs: int = 3) -> list[float]:
    """``dorsum evaluate`` with an empty cache folder: as the first run after the knowledge changes
    (every cache file is keyed by the knowledge's content hash, so a change finds none)."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="dorsum-bench-cold-") as empty:
            times.append(timed(dorsum("evaluate", str(EXAMPLE)), child_env(Path(empty))))
    return times


def bench_evaluate_edited(runs: int = 3) -> list[float]:
    """``dorsum evaluate --kb COPY`` right after an edit of one ontology file of the copy: the
    cache folder holds what the run before the edit left, as on an author's machine."""
    times = []
    with tempfile.TemporaryDirectory(prefix="dorsum-bench-edit-") as folder:
        kb, cache = Path(folder) / "kb", Path(folder) / "cache"
        for part in ("ontology", "shapes", "queries"):
            shutil.copytree(ROOT / part, kb / part)
        command = dorsum("evaluate", "--kb", str(kb), str(EXAMPLE))
        timed(command, child_env(cache))  # the knowledge before the edit, cached
        for run in range(runs):
            with (kb / "ontology" / "core.ttl").open("a", encoding="utf-8") as turtle:
                turtle.write(f"\n# benchmark edit {run}\n")  # new content: a new content hash
            times.append(timed(command, child_env(cache)))
    return times


@dataclass
class Sampled:
    seconds: float
    exit_code: int
    stdout: str
    stderr: str
    samples: list[tuple[float, int, int]]  # (seconds since start, RSS of the process tree, largest process)

    @property
    def peak_mib(self) -> float | None:
        return max(total for _, total, _ in self.samples) / MIB if self.samples else None

    @property
    def largest_mib(self) -> float | None:
        return max(largest for _, _, largest in self.samples) / MIB if self.samples else None

    def quarter_peaks_mib(self) -> list[float]:
        """The peak tree RSS in each quarter of the run (empty without samples)."""
        peaks = [0, 0, 0, 0]
        for at, total, _ in self.samples:
            quarter = min(3, int(4 * at / self.seconds)) if self.seconds else 0
            peaks[quarter] = max(peaks[quarter], total)
        return [peak / MIB for peak in peaks] if self.samples else []


def run_sampled(command: list[str], env: dict[str, str], every: float = 0.2) -> Sampled:
    """Run a command, sampling RSS over its process tree with psutil (no samples if not installed)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    samples: list[tuple[float, int, int]] = []
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        parent = psutil.Process(process.pid) if psutil is not None else None
        while process.poll() is None:
            if parent is not None:
                try:
                    sizes = [p.memory_info().rss for p in [parent, *parent.children(recursive=True)]]
                    samples.append((time.perf_counter() - started, sum(sizes), max(sizes)))
                except psutil.Error:
                    pass
            time.sleep(every)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return Sampled(elapsed, process.returncode, out.read(), err.read(), samples)


def bench_naive_command(cache: Path, limits: tuple[float, float]) -> NaiveRun:
    """``dorsum evaluate EXAMPLE`` with the naive pipeline, as a whole process, under ``limits``."""
    return run_naive("command", EXAMPLE, child_env(cache), *limits, whole=True)


def bench_batch(size: int, jobs: int, folder: Path, cache: Path) -> dict[str, Any]:
    cases = folder / f"batch-{size}.jsonl"
    with cases.open("w", encoding="utf-8") as stream:
        write_jsonl(generate_forms(size, seed=size), stream)
    out = folder / f"batch-{size}-out.jsonl"
    run = run_sampled(dorsum("batch", str(cases), "--jobs", str(jobs), "--out", str(out)), child_env(cache))
    with out.open(encoding="utf-8") as stream:
        lines = sum(1 for _ in stream)
    return {
        "size": size,
        "jobs": jobs,
        "seconds": run.seconds,
        "cases_per_second": size / run.seconds,
        "lines": lines,
        "exit_code": run.exit_code,  # 3: some generated cases are invalid on purpose
        "peak_tree_mib": run.peak_mib,
        "largest_process_mib": run.largest_mib,
        "quarter_peaks_mib": run.quarter_peaks_mib(),
        "summary": run.stderr.strip().splitlines()[-3:],
    }


def bench_store(count: int, jobs: int, folder: Path, cache: Path) -> dict[str, Any]:
    cases = folder / f"store-{count}.jsonl"
    with cases.open("w", encoding="utf-8") as stream:
        write_jsonl(generate_forms(count, seed=count + 1), stream)
    store = folder / f"store-{count}"
    run = run_sampled(dorsum("store", "add", str(cases), "--jobs", str(jobs), "--store", str(store)), child_env(cache))
    stored = sum(1 for line in run.stdout.splitlines() if line.startswith("stored "))
    return {
        "cases": count,
        "jobs": jobs,
        "seconds": run.seconds,
        "cases_per_second": count / run.seconds,
        "stored": stored,
        "exit_code": run.exit_code,  # 3: the invalid generated cases were not stored
        "peak_tree_mib": run.peak_mib,
    }


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Row:
    what: str
    target: str
    measured: str
    naive: str
    ratio: str
    met: bool | None  # None: nothing to meet, or not measured


def _ratio(naive: float | None, measured: float | None, bound: bool = False) -> str:
    """How many times faster dorsum is; ``bound``: the naive figure is a lower bound on its time."""
    if not naive or not measured:
        return DASH
    return f"{'≥ ' if bound else ''}{naive / measured:,.0f}{TIMES}"


def _met(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: DASH}[met]


def _seconds(value: float, bound: bool) -> str:
    return f"{'≥ ' if bound else ''}{value:,.1f} s"


def _stopped(reference: dict[str, Any]) -> str:
    stopped = reference["stopped"]
    if not stopped:
        return ""
    reasons = sorted(set(stopped))
    return f"; {len(stopped)}/{reference['cases']} {' or '.join(reasons)}"


def in_process_rows(figures: dict[str, Any]) -> list[Row]:
    production = figures["production"]
    ref = figures.get("reference")
    bound = bool(ref and ref["lower_bound"])
    naive_s = ref["median_s"] if ref else None
    speedup = naive_s * 1000 / production["median_ms"] if naive_s else None
    naive_text = (
        f"{_seconds(naive_s, bound)} (median of {ref['cases']}{_stopped(ref)})" if ref and naive_s else "not run"
    )
    rows = [
        Row(
            f"`triage()` per case, in process, median of {production['cases']}",
            "≤ 5 ms",
            f"{production['median_ms']:.1f} ms",
            naive_text,
            _ratio(naive_s and naive_s * 1000, production["median_ms"], bound),
            production["median_ms"] <= 5,
        ),
        Row(
            "`triage()` per case, in process, p90",
            "≤ 5 ms",
            f"{production['p90_ms']:.1f} ms",
            _seconds(ref["p90_s"], bound) if ref else "not run",
            _ratio(ref["p90_s"] * 1000 if ref else None, production["p90_ms"], bound),
            production["p90_ms"] <= 5,
        ),
        Row(
            "speed-up of `triage()` over the naive pipeline (medians)",
            f"≥ 1,000{TIMES}",
            _ratio(naive_s and naive_s * 1000, production["median_ms"], bound),
            _seconds(naive_s, bound) if naive_s else "not run",
            DASH,
            speedup >= 1000 if speedup else None,
        ),
    ]
    if ref:
        differ = f"; differ: {', '.join(ref['differ'])}" if ref["differ"] else ""
        unanswered = ref["cases"] - ref["compared"]
        rows.append(
            Row(
                "same conclusions as the naive pipeline (urgency, red flags and situations, applicable advice)",
                "all compared",
                f"{ref['agree']}/{ref['compared']} agree{differ}"
                + (f"; {unanswered} stopped before concluding" if unanswered else ""),
                DASH,
                DASH,
                ref["agree"] == ref["compared"] > 0 if ref["compared"] else None,
            )
        )
    return rows


def command_rows(figures: dict[str, Any]) -> list[Row]:
    warm = figures["evaluate_warm_s"]
    cold = figures["evaluate_cold_s"]
    edited = figures.get("evaluate_edited_s")
    naive = figures.get("naive_evaluate")
    naive_s = naive["seconds"] if naive else None
    bound = bool(naive and naive["stopped"])
    naive_text = (
        _seconds(naive["seconds"], bound) + (f" ({naive['stopped']})" if naive["stopped"] else "")
        if naive
        else "not run"
    )

    def timed(what: str, timing: dict[str, Any], goal_s: float) -> Row:
        median = timing["median"]
        return Row(
            f"{what} (median of {len(timing['runs'])})",
            f"≤ {goal_s:g} s",
            f"{median:.2f} s (max {max(timing['runs']):.2f})",
            naive_text,
            _ratio(naive_s, median, bound),
            median <= goal_s,
        )

    return [
        timed("`dorsum evaluate` example, whole command, warm", warm, 0.5),
        *([timed("`dorsum evaluate --kb` first run after an ontology edit", edited, 3)] if edited else []),
        timed("`dorsum evaluate` first run after a knowledge change: empty cache folder", cold, 3),
    ]


def _mib(value: float | None) -> str:
    return f"{value:,.0f} MiB" if value else "n/a (no psutil)"


def _naive_rate(figures: dict[str, Any], jobs: int) -> tuple[float | None, str]:
    """The naive pipeline's estimated rate with ``jobs`` workers, and how to show it."""
    ref = figures.get("reference")
    if not ref:
        return None, "not run"
    rate = jobs / ref["median_s"]
    return rate, f"{'≤ ' if ref['lower_bound'] else ''}{rate:.4f} cases/s (est.: {jobs} / naive median)"


def batch_rows(figures: dict[str, Any]) -> list[Row]:
    naive = figures.get("naive_evaluate")
    bound = bool(figures.get("reference", {}).get("lower_bound"))
    rows = []
    for run in figures["batches"]:
        naive_rate, naive_text = _naive_rate(figures, run["jobs"])
        rows.append(
            Row(
                f"`dorsum batch` {run['size']:,} cases, `--jobs {run['jobs']}`: throughput",
                "≥ 500 cases/s",
                f"{run['cases_per_second']:,.0f} cases/s ({run['seconds']:,.0f} s, {run['lines']:,} lines, "
                f"exit {run['exit_code']})",
                naive_text,
                _ratio(run["cases_per_second"], naive_rate, bound),
                run["cases_per_second"] >= 500,
            )
        )
        peak = run["peak_tree_mib"]
        naive_peak = (
            f"{'≥ ' if naive['stopped'] else ''}{_mib(naive['peak_mib'])} (one naive `evaluate`)"
            if naive
            else "not run"
        )
        rows.append(
            Row(
                f"`dorsum batch` {run['size']:,} cases: peak memory, all processes",
                "< 512 MiB",
                f"{_mib(peak)} (largest process {_mib(run['largest_process_mib'])})",
                naive_peak,
                DASH,
                peak < 512 if peak else None,
            )
        )
        quarters = run["quarter_peaks_mib"]
        flat = max(quarters[2:]) <= 1.10 * quarters[1] if len(quarters) == 4 and quarters[1] else None
        rows.append(
            Row(
                f"`dorsum batch` {run['size']:,} cases: memory flat (peak per quarter of the run)",
                "2nd half ≤ 2nd quarter + 10%",
                " / ".join(f"{q:,.0f}" for q in quarters) + " MiB" if quarters else "n/a (no psutil)",
                DASH,
                DASH,
                flat,
            )
        )
    return rows


def store_rows(figures: dict[str, Any]) -> list[Row]:
    run = figures.get("store")
    if not run:
        return []
    naive_rate, naive_text = _naive_rate(figures, run["jobs"])
    return [
        Row(
            f"`dorsum store add` {run['cases']:,} cases, `--jobs {run['jobs']}`, new local store",
            "≥ 200 cases/s",
            f"{run['cases_per_second']:,.0f} cases/s ({run['seconds']:,.0f} s, {run['stored']:,} stored, "
            f"exit {run['exit_code']}, peak {_mib(run['peak_tree_mib'])})",
            naive_text.replace("(est.:", "(est., triage only:") if naive_rate else naive_text,
            _ratio(run["cases_per_second"], naive_rate, bool(figures.get("reference", {}).get("lower_bound"))),
            run["cases_per_second"] >= 200,
        )
    ]


def is_small(args: argparse.Namespace) -> bool:
    return (
        args.cases < FULL_CASES
        or args.reference_cases < FULL_REFERENCE_CASES
        or args.store_cases < FULL_STORE_CASES
        or not set(FULL_BATCH_SIZES) <= set(args.batch_sizes)
    )


def markdown(figures: dict[str, Any], rows: list[Row], small: bool) -> str:
    host = figures["machine"]
    before, after = figures["load_before"], figures["load_after"]

    def load(value: Sequence[float] | None) -> str:
        return " / ".join(f"{v:.2f}" for v in value) if value else "n/a"

    kind = (
        "**Small run** (flags below the full run's): it shows the script works; its sizes are below the "
        "targets', so these are not the figures of record."
        if small
        else "**Full run** (the default flags)."
    )
    lines = [
        kind,
        "",
        f"- date: {figures['date']}",
        f"- command: `{figures['command']}`",
        f"- dorsum {figures['code']['dorsum']}, commit `{figures['code']['commit']}`, Python {host['python']}",
        f"- machine: {host['cpu']}, {host['cores']} cores ({host['usable_cores']} usable), "
        f"{host['memory_gib']:.1f} GiB memory, {host['system']}"
        if host["memory_gib"]
        else f"- machine: {host['cpu']}, {host['cores']} cores, {host['system']}",
        f"- load average (1 / 5 / 15 min): before {load(before)}, after {load(after)}",
        "- generated cases for `triage()`: "
        + ", ".join(f"{count} {status}" for status, count in sorted(figures["production"]["statuses"].items())),
        "",
        "| target | goal | measured | naive reference | times faster than naive | met |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r.what} | {r.target} | {r.measured} | {r.naive} | {r.ratio} | {_met(r.met)} |" for r in rows]
    ref = figures.get("reference")
    if ref:
        phases = [
            f"{name}: {v['median_s']:,.1f} s (finished in {v['finished']}/{ref['cases']})"
            for name, v in ref["phases"].items()
        ]
        lines += [
            "",
            f"Naive pipeline, median per phase where it finished: {'; '.join(phases) or 'none finished'}. "
            f"Each naive run is a child process stopped at {figures['naive_limits'][0]:,.0f} s or "
            f"{figures['naive_limits'][1]:g} GiB of address space; a stopped run's time is a lower bound (≥).",
        ]
    return "\n".join(lines) + "\n"


def write_readme(table: str) -> None:
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    if BEGIN not in text or END not in text:
        raise SystemExit(f"bench: {README} has no {BEGIN!r} … {END!r} markers to write between")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    README.write_text(f"{head}{BEGIN}\n{table}{END}{tail}", encoding="utf-8")


# ---------------------------------------------------------------- main


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=FULL_CASES, help="generated cases timed in process")
    parser.add_argument(
        "--reference-cases", type=int, default=FULL_REFERENCE_CASES, help="cases for the naive pipeline (minutes each)"
    )
    parser.add_argument(
        "--batch-sizes",
        type=lambda text: [int(s) for s in text.split(",") if s.strip()],
        default=list(FULL_BATCH_SIZES),
        help="comma-separated dorsum batch sizes ('' to skip)",
    )
    parser.add_argument("--large", action="store_true", help=f"also dorsum batch on {LARGE_BATCH:,} cases (long)")
    parser.add_argument(
        "--store-cases", type=int, default=FULL_STORE_CASES, help="cases for dorsum store add (0 skips)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for batch and store add")
    parser.add_argument("--no-naive-command", action="store_true", help="skip the naive whole command (minutes)")
    parser.add_argument(
        "--naive-timeout", type=float, default=600, help="stop each naive run after this many seconds (a lower bound)"
    )
    parser.add_argument(
        "--naive-memory-gib", type=float, default=4, help="stop each naive run at this much address space"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write every figure as JSON here")
    parser.add_argument("--write-readme", action="store_true", help="rewrite the table in benchmarks/README.md")
    args = parser.parse_args(argv)
    if args.large and LARGE_BATCH not in args.batch_sizes:
        args.batch_sizes.append(LARGE_BATCH)
    return args


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure(args: argparse.Namespace, cache: Path, work: Path) -> dict[str, Any]:
    limits = (args.naive_timeout, args.naive_memory_gib)
    figures: dict[str, Any] = {"naive_limits": limits}
    forms = list(generate_forms(args.cases, seed=args.seed))
    step(f"in process: triage() on {len(forms)} generated cases ...")
    times, statuses, conclusions = bench_production(forms)
    figures["production"] = {
        "cases": len(times),
        "median_ms": median_ms(times),
        "p90_ms": percentile_ms(times, 0.9),
        "mean_ms": statistics.mean(times) * 1000,
        "statuses": statuses,
    }
    if args.reference_cases > 0:
        step(f"naive pipeline: {args.reference_cases} cases (minutes each) ...")
        reference = bench_reference(forms, args.reference_cases, conclusions, limits, child_env(cache))
        figures["reference"] = reference.figures()
    step("dorsum evaluate, warm ...")
    warm = bench_evaluate(cache)
    figures["evaluate_warm_s"] = {"median": statistics.median(warm), "runs": warm}
    step("dorsum evaluate, empty cache folder ...")
    cold = bench_evaluate_cold()
    figures["evaluate_cold_s"] = {"median": statistics.median(cold), "runs": cold}
    step("dorsum evaluate --kb, after editing an ontology file ...")
    edited = bench_evaluate_edited()
    figures["evaluate_edited_s"] = {"median": statistics.median(edited), "runs": edited}
    if not args.no_naive_command and args.reference_cases > 0:
        step("naive dorsum evaluate, whole command (minutes) ...")
        naive = bench_naive_command(cache, limits)
        figures["naive_evaluate"] = {"seconds": naive.seconds, "stopped": naive.stopped, "peak_mib": naive.peak_mib}
    figures["batches"] = []
    for size in args.batch_sizes:
        step(f"dorsum batch: {size:,} cases, --jobs {args.jobs} ...")
        figures["batches"].append(bench_batch(size, args.jobs, work, cache))
    if args.store_cases > 0:
        step(f"dorsum store add: {args.store_cases:,} cases, --jobs {args.jobs} ...")
        figures["store"] = bench_store(args.store_cases, args.jobs, work, cache)
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    figures: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/bench_triage.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "code": code_version(),
        "load_before": load_average(),
    }
    with tempfile.TemporaryDirectory(prefix="dorsum-bench-") as tmp:
        cache = Path(tmp) / "cache"  # the warm cache folder, of this run only
        figures.update(measure(args, cache, Path(tmp)))
    figures["load_after"] = load_average()
    rows: list[Row] = []
    for build in (in_process_rows, command_rows, batch_rows, store_rows):
        rows += build(figures)
    table = markdown(figures, rows, is_small(args))
    print(table)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    if args.write_readme:
        write_readme(table)
        step(f"wrote {README}")


if __name__ == "__main__":
    main()
