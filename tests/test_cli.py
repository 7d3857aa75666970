"""The dorsum command line: help, exit codes, formats, and one clear line for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph

from reasoner import EXIT_INCOMPLETE, EXIT_INVALID_CASE, EXIT_TRIAGED, EXIT_USAGE, __version__
from reasoner.cli.main import main

from .conftest import EXAMPLES

COMPLETE = EXAMPLES / "growing-firm-lump.yaml"
INCOMPLETE = EXAMPLES / "incomplete-lump.json"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", ["evaluate", "validate", "query"])
def test_each_command_has_help_with_an_example(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    assert "Example:" in out and f"dorsum {command}" in out
    assert "Exit codes" in out


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out


def test_evaluate_complete_case_text() -> None:
    code, out, err = run("evaluate", str(COMPLETE))
    assert code == EXIT_TRIAGED, err
    assert "URGENCY: urgent: within 2 weeks" in out
    assert "Red flags" in out and "because lump growth: increasing in size" in out
    assert "source: Seed 001" in out
    assert "not a diagnosis" in out


def test_evaluate_incomplete_case_says_what_to_record() -> None:
    code, out, _ = run("evaluate", str(INCOMPLETE))
    assert code == EXIT_INCOMPLETE
    assert "INCOMPLETE: record" in out and "saddle_anaesthesia" in out
    assert "at least" in out
    assert "routine" not in out.split("\n")[1]


def test_evaluate_json_is_deterministic_and_complete() -> None:
    first = run("evaluate", str(COMPLETE), "--format", "json")
    second = run("evaluate", str(COMPLETE), "--format", "json")
    assert first == second
    data = json.loads(first[1])
    assert data["urgency"]["iri"].endswith("#Urgent2Weeks")
    assert data["knowledge"]["content_hash"] and data["knowledge"]["version"] == "0.1.0"
    assert data["status"] == "complete" and data["exit_code"] == 0
    assert all(step["sources"] for step in data["next_steps"])


def test_evaluate_several_cases_as_json_array_and_worst_exit_code() -> None:
    code, out, _ = run("evaluate", str(COMPLETE), str(INCOMPLETE), "--format", "json")
    assert code == EXIT_INCOMPLETE
    assert [item["status"] for item in json.loads(out)] == ["complete", "incomplete"]


def test_evaluate_turtle_parses_and_records_provenance() -> None:
    code, out, _ = run("evaluate", str(COMPLETE), "--format", "turtle")
    assert code == EXIT_TRIAGED
    graph = Graph().parse(data=out, format="turtle")
    text = graph.serialize(format="nt")
    assert "http://www.w3.org/ns/prov#wasGeneratedBy" in text
    assert "contentHash" in text


def test_validate_reports_missing_items() -> None:
    code, out, _ = run("validate", str(INCOMPLETE), str(COMPLETE))
    assert code == EXIT_INCOMPLETE
    assert "incomplete: record" in out and "valid and complete" in out


def test_query_by_name_and_file(tmp_path: Path) -> None:
    code, out, _ = run("query", "red-flags-by-case", str(COMPLETE), "--format", "csv")
    assert code == 0
    assert out.splitlines()[0] == "redFlag,label,source"
    assert "GrowingLump" in out
    query = tmp_path / "q.rq"
    query.write_text("PREFIX dx: <https://w3id.org/dorsum/ontology#> SELECT ?band WHERE { ?c dx:inAgeBand ?band }")
    code, out, _ = run("query", str(query), str(COMPLETE), "--format", "json")
    assert code == 0
    assert {row["band"].rsplit("#")[-1] for row in json.loads(out)} == {"Adult", "Over40"}


def test_unknown_query_is_a_usage_error() -> None:
    code, _, err = run("query", "no-such-query", str(COMPLETE))
    assert code == EXIT_USAGE and "no query file or named query" in err


BAD_INPUTS = {
    "broken.ttl": ("@prefix dx: <https://w3id.org/dorsum/ontology#> .\n<x> a dx:Case ;; dx:", "turtle syntax error"),
    "bad.json": ('{"lump": {"size_cm": 3,}', "JSON syntax error at line 1"),
    "bad.yaml": ("lump: [unclosed\n", "YAML syntax error"),
    "wrongtype.json": ('{"lump": {"size_cm": "big"}}', "size_cm must be one number"),
    "negative.json": ('{"lump": {"size_cm": -2}}', "size_cm must be more than 0"),
    "absurd-age.json": ('{"age_years": 300}', "age_years must be between 0 and 125"),
    "unknown-finding.json": ('{"present": ["nite_pain"]}', "unknown finding"),
    "unknown-value.json": ('{"lump": {"depth": "very"}}', "depth must be one of"),
    "unknown-field.json": ('{"lump": {"siz_cm": 3}}', "did you mean 'lump.size_cm'"),
    "empty.json": ("", "the file is empty"),
    "list.yaml": ("- a\n- b\n", "must be a JSON object or YAML mapping"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gives_one_clear_line_and_exit_3(tmp_path: Path, name: str) -> None:
    text, expected = BAD_INPUTS[name]
    path = tmp_path / name
    path.write_text(text)
    before = path.read_bytes()
    code, out, err = run("evaluate", str(path))
    assert code == EXIT_INVALID_CASE, (out, err)
    assert expected in err
    assert err.count("\n") == 1 and err.startswith("dorsum: error:")
    assert "Traceback" not in err + out
    assert path.read_bytes() == before


def test_missing_file_is_a_usage_error() -> None:
    code, _, err = run("evaluate", "no/such/case.json")
    assert code == EXIT_USAGE and "file not found" in err


def test_unsupported_extension_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "case.txt"
    path.write_text("hello")
    code, _, err = run("evaluate", str(path))
    assert code == EXIT_USAGE and "unsupported file type" in err


def test_broken_knowledge_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("evaluate", str(COMPLETE), "--kb", str(tmp_path))
    assert code == EXIT_USAGE and "not a dorsum knowledge base" in err


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("this is not turtle")
    proc = subprocess.run(
        [sys.executable, "-m", "reasoner", "evaluate", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == EXIT_INVALID_CASE
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("dorsum: error:")


def test_json_is_byte_identical_across_processes_with_different_hash_seeds() -> None:
    import os

    outputs = set()
    for seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-m", "reasoner", "evaluate", str(COMPLETE), str(INCOMPLETE), "-f", "json"],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.add(proc.stdout)
    assert len(outputs) == 1
