"""Batch evaluation and the case generator: order, error lines, identical answers, determinism."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reasoner import (
    EXIT_INCOMPLETE,
    EXIT_INVALID_CASE,
    EXIT_USAGE,
    CaseError,
    Knowledge,
    UsageError,
    read_case,
    render_json,
    triage,
)
from reasoner.batch.generate import form_vocabulary, generate_forms
from reasoner.batch.run import BatchSummary, iter_case_inputs, run_batch, run_batch_lines
from reasoner.cli.batch import batch, generate
from reasoner.render.json import json_line

from .conftest import EXAMPLES

EXAMPLE_FILES = sorted(
    p for p in EXAMPLES.iterdir() if p.suffix in {".json", ".yaml", ".yml", ".ttl", ".nt", ".jsonld"}
)


def direct(case: Any, knowledge: Knowledge, name: str) -> dict[str, Any]:
    """What a batch record must be: the result of triage() on the same case, plus its name."""
    try:
        result = triage(case, knowledge)
    except CaseError as error:
        return {"case": name, "ok": False, "error": " ".join(str(error).split()), "exit_code": EXIT_INVALID_CASE}
    record: dict[str, Any] = json.loads(render_json(result))
    record.update(case=name, ok=True)
    return record


@pytest.fixture(scope="module")
def jsonl_with_a_bad_line(tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> Path:
    forms = list(generate_forms(6, seed=11, knowledge=knowledge, invalid_share=0, incomplete_share=0.3))
    lines = [json.dumps(form) for form in forms[:3]]
    lines += ["{not json", ""]  # a syntax error, then a blank line (skipped)
    lines += [json.dumps({"lump": {"size_cm": -2}})]  # invalid value, and no id: named by file and line
    lines += [json.dumps(form) for form in forms[3:]]
    path = tmp_path_factory.mktemp("batch") / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def serial_records(jsonl_with_a_bad_line: Path) -> list[dict[str, Any]]:
    return list(run_batch([str(EXAMPLES), str(jsonl_with_a_bad_line)], jobs=1))


def test_batch_keeps_input_order_and_reports_bad_lines_in_place(
    serial_records: list[dict[str, Any]], jsonl_with_a_bad_line: Path
) -> None:
    names = [record["case"] for record in serial_records]
    assert names[: len(EXAMPLE_FILES)] == [p.stem for p in EXAMPLE_FILES]
    rest = names[len(EXAMPLE_FILES) :]
    assert rest[:3] == [f"generated-11-{i:07d}" for i in range(3)]
    assert rest[3:5] == [f"{jsonl_with_a_bad_line}:4", f"{jsonl_with_a_bad_line}:6"]
    assert rest[5:] == [f"generated-11-{i:07d}" for i in range(3, 6)]
    bad = [r for r in serial_records if not r["ok"]]
    assert [r["case"] for r in bad] == rest[3:5]
    assert all(r["exit_code"] == EXIT_INVALID_CASE and "invalid case" in r["error"] for r in bad)
    assert "JSON syntax error" in bad[0]["error"] and "size_cm" in bad[1]["error"]


def test_batch_records_equal_triage_of_the_same_cases(
    serial_records: list[dict[str, Any]], jsonl_with_a_bad_line: Path, knowledge: Knowledge
) -> None:
    by_name = {record["case"]: record for record in serial_records}
    for path in EXAMPLE_FILES:
        assert by_name[path.stem] == direct(read_case(path, knowledge), knowledge, path.stem)
    read = list(iter_case_inputs([str(EXAMPLES), str(jsonl_with_a_bad_line)], knowledge))
    assert [name for name, _ in read] == [record["case"] for record in serial_records]
    for (name, case), record in zip(read, serial_records, strict=True):
        if isinstance(case, CaseError):
            assert not record["ok"] and record["error"] == " ".join(str(case).split())
        else:
            assert record == direct(case, knowledge, name)


def test_two_jobs_give_the_same_records_as_one(
    serial_records: list[dict[str, Any]], jsonl_with_a_bad_line: Path
) -> None:
    summary = BatchSummary()
    parallel = list(run_batch([str(EXAMPLES), str(jsonl_with_a_bad_line)], jobs=2, summary=summary))
    assert parallel == serial_records
    assert summary.total == len(serial_records) and summary.invalid == 2
    assert summary.complete + summary.incomplete == summary.total - summary.invalid
    assert sum(summary.tiers.values()) == summary.total - summary.invalid
    assert summary.exit_code == EXIT_INVALID_CASE


@pytest.mark.parametrize("jobs", [1, 2])
def test_lines_are_the_records_rendered_and_counted_alike(
    serial_records: list[dict[str, Any]], jsonl_with_a_bad_line: Path, jobs: int
) -> None:
    """``dorsum batch`` writes lines rendered in the workers: each is json_line of the record, and
    the summary counts them as it counts the records."""
    inputs = [str(EXAMPLES), str(jsonl_with_a_bad_line)]
    by_lines, by_records = BatchSummary(), BatchSummary()
    lines = list(run_batch_lines(inputs, jobs=jobs, summary=by_lines))
    for record in serial_records:
        by_records.add(record)
    assert [line.text for line in lines] == [json_line(record) for record in serial_records]
    assert [json.loads(line.text) for line in lines] == serial_records
    assert [line.counts.ok for line in lines] == [record["ok"] for record in serial_records]
    by_lines.elapsed = by_records.elapsed = 1.0
    assert by_lines.as_dict() == by_records.as_dict()
    assert by_lines.invalid == 2 and by_lines.incomplete > 0 and len(by_lines.tiers) > 1


def test_cli_batch_reads_stdin_and_writes_jsonl(knowledge: Knowledge) -> None:
    forms = list(generate_forms(3, seed=5, knowledge=knowledge, invalid_share=0, incomplete_share=0))
    text = "".join(json.dumps(form) + "\n" for form in forms) + "[]\n"
    result = CliRunner().invoke(batch, ["-", "--jobs", "1"], input=text)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["case"] for line in lines] == [form["id"] for form in forms] + ["<stdin>:4"]
    assert [line["ok"] for line in lines] == [True, True, True, False]
    assert result.exit_code == EXIT_INVALID_CASE
    assert "4 cases" in result.stderr and "1 invalid" in result.stderr


def test_cli_batch_exit_codes_and_out_file(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    result = CliRunner().invoke(batch, [str(EXAMPLES / "incomplete-lump.json"), "--out", str(out), "-j", "1"])
    assert result.exit_code == EXIT_INCOMPLETE and result.stdout == ""
    assert [json.loads(line)["status"] for line in out.read_text().splitlines()] == ["incomplete"]
    missing = CliRunner().invoke(batch, [str(tmp_path / "nope.json")])
    assert missing.exit_code == EXIT_USAGE and missing.stderr.startswith("dorsum: error: ")
    assert len(missing.stderr.splitlines()) == 1


@pytest.mark.parametrize("command", [batch, generate])
def test_commands_have_help_with_an_example(command: Any) -> None:
    result = CliRunner().invoke(command, ["--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout and f"dorsum {command.name}" in result.stdout
    assert "Exit codes" in result.stdout


def test_generate_is_deterministic_and_covers_the_vocabulary(knowledge: Knowledge) -> None:
    first = list(generate_forms(300, seed=42, knowledge=knowledge))
    assert first == list(generate_forms(300, seed=42, knowledge=knowledge))
    assert first != list(generate_forms(300, seed=43, knowledge=knowledge))
    vocabulary = form_vocabulary(knowledge)
    present = {f for form in first for f in form.get("present", [])}
    absent = {f for form in first for f in form.get("absent", [])}
    assert set(vocabulary.findings) <= present and set(vocabulary.findings) <= absent
    assert any(form.get("unknown") for form in first)
    assert any(set(vocabulary.findings) - {*form["present"], *form["absent"]} for form in first)  # omitted
    for attribute, values in vocabulary.lump_values.items():
        seen = {form["lump"].get(attribute) for form in first if isinstance(form.get("lump"), dict)}
        assert set(values) <= seen, attribute
    for key in vocabulary.age_keys:
        assert any(key in form for form in first), key
    assert any(not any(key in form for key in vocabulary.age_keys) for form in first)  # age unknown


def test_generated_batch_has_complete_incomplete_and_invalid_cases(knowledge: Knowledge) -> None:
    runner = CliRunner()
    generated = runner.invoke(generate, ["--count", "200", "--seed", "4"])
    assert generated.exit_code == 0
    result = runner.invoke(batch, ["-", "--jobs", "2"], input=generated.stdout)
    statuses = [line.get("status", "invalid") for line in map(json.loads, result.stdout.splitlines())]
    assert len(statuses) == 200
    assert {"complete", "incomplete", "invalid"} <= set(statuses)


def test_dask_executor_gives_the_same_records_as_a_local_run(tmp_path: Path, knowledge: Knowledge) -> None:
    distributed = pytest.importorskip("distributed")
    cases = tmp_path / "cases.jsonl"
    with cases.open("w") as stream:
        for form in generate_forms(10, seed=9, knowledge=knowledge):
            stream.write(json.dumps(form) + "\n")
        stream.write("{broken\n")
    local = list(run_batch([str(cases)], jobs=1))
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        remote = list(run_batch([str(cases)], executor="dask", scheduler=cluster.scheduler_address, chunksize=2))
    assert remote == local
    assert [record["ok"] for record in remote].count(False) == 1


def test_records_do_not_depend_on_the_hash_seed(tmp_path: Path, knowledge: Knowledge) -> None:
    """Workers on another machine or started by spawn/forkserver have their own hash seed."""
    import os
    import subprocess
    import sys

    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(f) + "\n" for f in generate_forms(10, seed=9, knowledge=knowledge)))
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        command = [sys.executable, "-m", "reasoner.cli.batch", "batch", str(cases), "--jobs", "1"]
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=EXAMPLES.parent, check=False)
        outputs.append(done.stdout)
    assert outputs[0] and outputs[0] == outputs[1]


def test_workers_refuse_other_knowledge_than_the_batch_was_started_with() -> None:
    from reasoner.batch.run import BatchError, WorkItem, evaluate_chunk

    item = WorkItem(name="small-soft-lump", source="x", kind="file", path=str(EXAMPLES / "small-soft-lump.yaml"))
    assert evaluate_chunk(None, [item])[0]["ok"]
    with pytest.raises(BatchError, match="other knowledge"):
        evaluate_chunk(None, [item], None, "0" * 64)


def test_a_summary_cannot_count_finished_items() -> None:
    with pytest.raises(UsageError, match="summary"):
        run_batch([str(EXAMPLES)], jobs=1, summary=BatchSummary(), finish=repr)  # type: ignore[call-overload]
