"""The dorsum command line: help, exit codes, formats, and one clear line for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from rdflib import Graph

from reasoner import EXIT_INCOMPLETE, EXIT_INVALID_CASE, EXIT_TRIAGED, EXIT_USAGE, __version__
from reasoner.cli import common
from reasoner.cli.main import LAZY_COMMANDS, main
from reasoner.errors import EXIT_INTERNAL, UsageError, worse_exit, worst_exit

from .conftest import CASES, EXAMPLES, ROOT

COMPLETE = EXAMPLES / "growing-firm-lump.yaml"
INCOMPLETE = EXAMPLES / "incomplete-lump.json"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


#: The exit codes each command can return (besides 70, an internal error), as its --help must list them.
OWN_EXIT_CODES = {
    "evaluate": {0, 1, 2, 3},
    "validate": {0, 1, 2, 3},
    "query": {0, 2, 3, 16, 124},
    "check": {0, 1, 2},
    "test": {0, 1, 2},
    "conflicts": {0, 2},
    "diff": {0, 1, 2},
    "docs": {0, 2},
    "batch": {0, 1, 2, 3},
    "generate": {0, 2},
}


def _listed_exit_codes(help_text: str) -> set[int]:
    section = help_text.split("Exit codes:", 1)[1]
    return {int(line.split()[0]) for line in section.splitlines() if line.strip()[:2].strip().isdigit()}


@pytest.mark.parametrize("command", sorted(OWN_EXIT_CODES))
def test_each_command_has_help_with_an_example_and_its_own_exit_codes(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    assert "Example:" in out and f"dorsum {command}" in out
    assert _listed_exit_codes(out) == OWN_EXIT_CODES[command] | {EXIT_INTERNAL}


def test_main_help_lists_every_command_with_its_own_summary() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for name, lazy in LAZY_COMMANDS.items():
        command = main.get_command(click.Context(main), name)
        assert command is not None and command.get_short_help_str(10_000) == lazy.summary, name
        assert f"  {name} " in out


def test_format_means_the_same_in_every_command() -> None:
    with_format = {}
    for name in OWN_EXIT_CODES:
        command = main.get_command(click.Context(main), name)
        assert command is not None
        for param in command.params:
            if param.name == "fmt":
                assert isinstance(param, click.Option) and isinstance(param.type, click.Choice)
                assert param.opts == ["--format", "-f"] and param.default == "text", name
                for choice in param.type.choices:
                    assert f"{choice} ({common.FORMAT_MEANINGS[str(choice)]})" in (param.help or ""), name
                with_format[name] = set(param.type.choices)
    assert {"text", "json"} <= with_format["validate"] and {"text", "json"} <= with_format["test"]
    assert {"evaluate", "query", "check", "conflicts", "diff"} <= set(with_format)


def test_the_command_line_names_the_knowledge_variable_as_the_library_does() -> None:
    from reasoner.knowledge import KB_ENV

    assert common.KB_ENV == KB_ENV


def test_exit_code_precedence() -> None:
    assert worse_exit(EXIT_TRIAGED, EXIT_INCOMPLETE) == EXIT_INCOMPLETE
    assert worse_exit(EXIT_INVALID_CASE, EXIT_INCOMPLETE) == EXIT_INVALID_CASE
    assert worse_exit(EXIT_INVALID_CASE, EXIT_USAGE) == EXIT_USAGE  # 2 beats 3 although it is smaller
    assert worst_exit([EXIT_INCOMPLETE, EXIT_INTERNAL, EXIT_USAGE]) == EXIT_INTERNAL
    assert worst_exit([]) == EXIT_TRIAGED


def test_an_internal_error_is_one_line_and_exit_70(monkeypatch: pytest.MonkeyPatch) -> None:
    import reasoner.cli.case

    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyError("a bug\nover two lines")

    monkeypatch.setattr(reasoner.cli.case, "triage", broken)
    code, out, err = run("evaluate", str(COMPLETE))
    assert code == EXIT_INTERNAL
    assert err.startswith("dorsum: internal error: KeyError:") and err.count("\n") == 1
    assert "Traceback" not in out + err


def test_an_os_error_is_one_line_and_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import reasoner.cli.case

    def unreadable(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", "case.yaml")

    monkeypatch.setattr(reasoner.cli.case, "read_case", unreadable)
    code, _, err = run("validate", str(COMPLETE))
    assert code == EXIT_USAGE and err == "dorsum: error: Permission denied: case.yaml\n"


def test_the_public_api_is_imported_on_first_use_and_render_stays_the_function() -> None:
    program = (
        "import sys, reasoner\n"
        "print('rdflib' in sys.modules)\n"
        "import reasoner.render\n"
        "from reasoner import render, triage\n"
        "print(callable(render), render.__module__, triage.__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "reasoner.render", "reasoner.pipeline.triage"]


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out


def test_evaluate_complete_case_text() -> None:
    code, out, err = run("evaluate", str(COMPLETE))
    assert code == EXIT_TRIAGED, err
    assert "URGENCY: urgent: within 2 weeks" in out
    assert out.splitlines()[2].startswith("DO NOW ")
    flat = " ".join(out.split())
    assert "Red flags" in out and "WHY" in out and "lump growth: increasing in size" in flat
    assert len(out.splitlines()) <= 45


def test_evaluate_brief_and_detail() -> None:
    _code, brief, _err = run("evaluate", str(COMPLETE), "--brief")
    _code, default, _err = run("evaluate", str(COMPLETE))
    _code, full, _err = run("evaluate", str(COMPLETE), "--detail")
    assert "DO NOW" in brief and "Plan by topic" not in brief
    assert len(brief.splitlines()) < len(default.splitlines()) < len(full.splitlines())
    assert "because lump growth: increasing in size" in full
    assert "source: Seed 001" in full
    assert "not a diagnosis" in full


def test_evaluate_incomplete_case_says_what_to_record() -> None:
    code, out, _ = run("evaluate", str(INCOMPLETE))
    assert code == EXIT_INCOMPLETE
    assert "INCOMPLETE: record" in out and "saddle_anaesthesia" in out
    assert "at least" in out
    assert "routine" not in out.split("\n")[1]


def test_brief_text_names_the_items_to_record() -> None:
    # the brief text has no list below it: the items that could change the answer are named inline
    code, brief, _ = run("evaluate", str(INCOMPLETE), "--brief")
    assert code == EXIT_INCOMPLETE
    line = next(line for line in brief.splitlines() if line.startswith("INCOMPLETE: record"))
    assert "(below)" not in brief and "bowel_bladder_dysfunction" in " ".join(brief.split())
    assert "change this answer: " in line


def test_no_step_lines_are_not_told_as_steps_to_do(tmp_path: Path) -> None:
    # a child's back pain with nothing else recorded: no step applies on any topic, and what that
    # means on each topic is a NO STEP line, not a DO NOW instruction
    case = tmp_path / "no-step.yaml"
    case.write_text("age_years: 11\nno_discrete_lump: true\npresent: [back_pain]\n", encoding="utf-8")
    _code, out, err = run("evaluate", str(case), "--brief")
    lines = out.splitlines()
    assert any(line.startswith("DO NOW   no step in the knowledge base applies") for line in lines), out + err
    topic_lines = [line for line in lines if "from what is recorded" in line]
    assert topic_lines and all(line.startswith("NO STEP ") for line in topic_lines)
    assert "no imaging step applies from what is recorded" in out


# An adult's sciatica with every other finding recorded absent: ACR's "no imaging now" applies and
# is suppressed beside Seed 002's radiating-pain red flag.
SCIATICA_ABSENT = [
    "abnormal_spinal_curvature",
    "bilateral_leg_weakness",
    "bowel_bladder_dysfunction",
    "cancer_history",
    "central_punctum",
    "chronic_steroid_use",
    "cutaneous_horn",
    "dermal_sinus_or_dimple",
    "dermoscopy_suggests_melanoma",
    "dimple_above_gluteal_cleft",
    "discharge",
    "erythema",
    "fever",
    "fluctuance",
    "gadolinium_contraindicated",
    "gait_change",
    "hairy_patch",
    "immunosuppression",
    "injecting_drug_use",
    "lesion_change_in_sensation",
    "lesion_change_in_size",
    "lesion_diameter_7mm_or_more",
    "lesion_inflammation",
    "lesion_irregular_colour",
    "lesion_irregular_shape",
    "lesion_oozing",
    "lipomatous",
    "localised_spinal_tenderness",
    "lump_pain_or_tenderness",
    "lymphadenopathy",
    "mechanical_spinal_pain",
    "mri_contraindicated",
    "multiple_skin_markers",
    "neonatal_onset",
    "neurological_deficit",
    "night_pain",
    "osteoporosis",
    "pain_aggravated_by_straining",
    "pigmented_or_changing_lesion",
    "pregnancy",
    "previous_excision_at_site",
    "progressive_neurological_deficit",
    "saddle_anaesthesia",
    "severe_or_worsening_back_pain",
    "sexual_dysfunction",
    "skin_discoloration_or_capillary_malformation",
    "skin_lesion_suggests_nodular_melanoma",
    "skin_lesion_suggests_scc",
    "subcutaneous_mass_with_skin_changes",
    "tachycardia",
    "trauma_with_bruising",
    "ulceration_or_bleeding",
    "ultrasound_suggests_sarcoma",
    "unexplained_bone_swelling_or_pain",
    "unexplained_weight_loss",
    "warmth",
    "xray_suggests_bone_sarcoma",
]


def test_a_negated_step_not_to_follow_is_quoted(tmp_path: Path) -> None:
    case = tmp_path / "sciatica.yaml"
    form = {"age_years": 42, "no_discrete_lump": True, "present": ["back_pain", "radiating_pain"]}
    case.write_text(json.dumps({**form, "absent": SCIATICA_ABSENT}), encoding="utf-8")
    _code, out, err = run("evaluate", str(case), "--brief")
    do_not = [line for line in out.splitlines() if line.startswith("DO NOT")]
    assert any(line.startswith('DO NOT   "no imaging now') for line in do_not), out + err
    assert not any(line.startswith("DO NOT   no ") for line in do_not)
    assert "DO NOT   reassurance or observation" in out  # a label that is not a negation is not quoted


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


def test_validate_json_one_object_per_case_and_an_array_for_several(tmp_path: Path) -> None:
    code, out, _ = run("validate", str(INCOMPLETE), "--format", "json")
    assert code == EXIT_INCOMPLETE
    record = json.loads(out)
    assert record["status"] == "incomplete" and record["exit_code"] == EXIT_INCOMPLETE
    assert "saddle_anaesthesia" in {item["item"] for item in record["missing"]} and record["problems"] == []
    bad = tmp_path / "bad.json"
    bad.write_text('{"lump": {"size_cm": -2}}')
    broken = tmp_path / "broken.json"
    broken.write_text('{"lump": ')
    code, out, err = run("validate", str(COMPLETE), str(INCOMPLETE), str(bad), str(broken), "-f", "json")
    assert code == EXIT_INVALID_CASE
    assert err.startswith(f"dorsum: error: {broken}: invalid case: JSON syntax error") and err.count("\n") == 1
    records = json.loads(out)  # the unreadable case is reported on stderr only, as by evaluate
    assert [item["status"] for item in records] == ["complete", "incomplete", "invalid"]
    assert records[2]["problems"][0]["field"] == "size_cm" and records[2]["exit_code"] == EXIT_INVALID_CASE


def test_test_json_reports_each_vignette_and_the_coverage() -> None:
    vignette = CASES / "001-growing-firm-deep-lump.yaml"
    code, out, _ = run("test", str(vignette), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["exit_code"] == 0
    assert data["vignettes"] == [{"path": str(vignette), "passed": True, "mismatches": []}]
    assert (data["passed"], data["failed"]) == (1, 0)
    assert {"recommendations", "red flags"} <= {item["kind"] for item in data["coverage"]}
    assert all(set(item) == {"kind", "covered", "uncovered"} for item in data["coverage"])


def test_the_scenarios_are_found_with_the_knowledge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reasoner.authoring.vignettes import default_vignette_folder

    monkeypatch.chdir(tmp_path)
    assert default_vignette_folder(ROOT) == CASES  # a checkout
    wheel_kb = tmp_path / "kb"
    (wheel_kb / "cases").mkdir(parents=True)
    assert default_vignette_folder(wheel_kb) == wheel_kb / "cases"  # the wheel's reasoner/kb
    working_copy = tmp_path / "working-copy"
    assert default_vignette_folder(working_copy) == CASES  # none of its own: the packaged ones
    (tmp_path / "tests" / "cases").mkdir(parents=True)
    assert default_vignette_folder(working_copy) == Path("tests", "cases")  # run from a checkout
    monkeypatch.chdir(wheel_kb)
    monkeypatch.setenv("DORSUM_KB", str(working_copy))
    with pytest.raises(UsageError, match="no scenarios"):
        default_vignette_folder(working_copy)


def test_query_by_name_and_file(tmp_path: Path) -> None:
    code, out, _ = run("query", "red-flags-by-case", str(COMPLETE), "--format", "csv")
    assert code == 0
    assert out.splitlines()[0] == "redFlag,label,source"
    assert "GrowingLump" in out
    query = tmp_path / "q.rq"
    query.write_text("PREFIX dx: <https://w3id.org/dorsum/ontology#> SELECT ?band WHERE { ?c dx:inAgeBand ?band }")
    code, out, _ = run("query", str(query), str(COMPLETE), "--format", "json")
    assert code == 0
    bindings = json.loads(out)["results"]["bindings"]  # the W3C SPARQL 1.1 results JSON
    assert {row["band"]["value"].rsplit("#")[-1] for row in bindings} == {"Adult", "AcrAdultUnder65", "Over40"}
    assert {row["band"]["type"] for row in bindings} == {"uri"}


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
    "both.json": ('{"present": ["fever"], "absent": ["fever"]}', "recorded as both present and absent (got fever)"),
    "contradiction.json": (
        '{"present": ["progressive_neurological_deficit"], "absent": ["neurological_deficit"]}',
        "so correct one of them\n",  # nothing after: the case's own IRI is not shown as what was "got"
    ),
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
