"""The hostile corpus (tests/hostile/, issue 10): every input ends with the exit code and the one
error line its manifest names, within a time and a memory limit, without a traceback and without
any attempt to reach the network.

Each input runs through the command line (``reasoner.cli.main``, what ``python -m reasoner``
runs) in a process of its own, forked by tests/hostile_driver.py after one start-up; two drivers
share the corpus. A socket guard (tests/socket_guard/sitecustomize.py) logs and refuses any
connection or name lookup, and where ``unshare -n`` works the drivers also run without a network.
A few inputs also run through a real ``python -m reasoner`` subprocess, and batch and multi-file
evaluation are checked to go on after a bad case.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "hostile"
GUARD = ROOT / "tests" / "socket_guard"
DRIVER = ROOT / "tests" / "hostile_driver.py"
MANIFEST: dict[str, dict[str, Any]] = yaml.safe_load((HOSTILE / "manifest.yaml").read_text(encoding="utf-8"))
TIME_LIMIT = 20  # seconds per input
MEMORY_LIMIT = 1 << 30  # bytes
DRIVERS = 2
EXAMPLE = ROOT / "examples" / "small-soft-lump.yaml"


@cache
def _network_jail() -> tuple[str, ...]:
    """``unshare -n`` (no network at all) where it is allowed, else nothing (the guard still logs)."""
    try:
        done = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return ("unshare", "-n") if done.returncode == 0 else ()


def _environment(socket_log: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DORSUM_")}
    env["PYTHONPATH"] = os.pathsep.join([str(GUARD), str(ROOT)])
    env["DORSUM_SOCKET_LOG"] = str(socket_log)
    return env


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _make(kind: str, path: Path) -> None:
    """Inputs not checked in: a FIFO, a sparse huge file, a padded file, a directory, symlinks."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind.startswith("symlink:"):
        os.symlink(kind.split(":", 1)[1], path)
    elif kind.startswith("sparse:"):
        with path.open("wb") as stream:
            stream.truncate(int(kind.split(":")[1]))
    elif kind.startswith("pad:"):
        text = '{"id": "padded", "note": "'
        path.write_text(text + "x" * (int(kind.split(":")[1]) - len(text) - 2) + '"}', encoding="utf-8")
    else:
        raise AssertionError(f"unknown make: {kind}")


def _input_path(name: str, made: Path) -> Path:
    entry = MANIFEST[name]
    if "make" in entry:
        path = made / name
        if not os.path.lexists(path):
            _make(entry["make"], path)
        return path
    return HOSTILE / name


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every manifest entry run through ``dorsum evaluate``: results by name, and the socket log."""
    work = tmp_path_factory.mktemp("hostile")
    socket_log = work / "sockets.log"
    socket_log.touch()
    jobs = [
        {
            "name": name,
            "args": [
                MANIFEST[name].get("command", "evaluate"),
                str(_input_path(name, work)),
                *MANIFEST[name].get("args", []),
            ],
            "env": MANIFEST[name].get("env", {}),
            "timeout": TIME_LIMIT,
        }
        for name in sorted(MANIFEST)
    ]
    started = time.monotonic()
    running = []
    for number in range(DRIVERS):
        share = work / f"jobs-{number}.json"
        share.write_text(json.dumps(jobs[number::DRIVERS]), encoding="utf-8")
        results = work / f"results-{number}.json"
        command = [*_network_jail(), sys.executable, str(DRIVER), str(share), str(results)]
        running.append((subprocess.Popen(command, env=_environment(socket_log), cwd=ROOT), results))
    found: dict[str, Any] = {}
    for process, results in running:
        assert process.wait(timeout=len(jobs) * TIME_LIMIT) == 0, "a hostile-corpus driver failed"
        found.update({result["name"]: result for result in json.loads(results.read_text(encoding="utf-8"))})
    return {"results": found, "socket_log": socket_log, "seconds": time.monotonic() - started}


def test_the_corpus_covers_enough_inputs() -> None:
    on_disk = {path.name for path in HOSTILE.iterdir() if path.name != "manifest.yaml" and not path.is_dir()}
    assert on_disk <= set(MANIFEST), f"files without a manifest entry: {sorted(on_disk - set(MANIFEST))}"
    assert set(MANIFEST) - on_disk == {name for name, entry in MANIFEST.items() if "make" in entry}
    assert len(MANIFEST) >= 70
    assert {entry["exit_code"] for entry in MANIFEST.values()} >= {0, 1, 2, 3, 10, 11, 12, 13, 14, 15}
    assert all(entry.get("why") for entry in MANIFEST.values())


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_hostile_input_ends_as_its_manifest_says(name: str, corpus: dict[str, Any]) -> None:
    entry, result = MANIFEST[name], corpus["results"][name]
    assert not result["timed_out"], f"{name}: still running after {TIME_LIMIT} s"
    assert "Traceback" not in result["stderr"] + result["stdout"]
    assert result["exit_code"] == entry["exit_code"], result["stderr"]
    assert result["max_rss_kib"] * 1024 < MEMORY_LIMIT
    if entry["exit_code"] in (0, 1):
        assert result["stderr"] == ""
        assert entry.get("stdout", "URGENCY") in result["stdout"]
    else:
        assert result["stdout"] == ""
        assert result["stderr"].startswith("dorsum: error: ") and result["stderr"].count("\n") == 1, result["stderr"]
        assert entry["error"] in result["stderr"]


def test_no_input_reached_for_the_network(corpus: dict[str, Any]) -> None:
    assert corpus["socket_log"].read_text(encoding="utf-8") == ""


def test_the_socket_guard_catches_a_connection(tmp_path: Path) -> None:
    """The guard is no placebo: a connection attempt under it is logged and refused."""
    log = tmp_path / "sockets.log"
    program = "import urllib.request\ntry:\n    urllib.request.urlopen('http://example.org/', timeout=2)\nexcept OSError:\n    pass\n"
    subprocess.run([sys.executable, "-c", program], env=_environment(log), timeout=60, check=True)
    assert "example.org" in log.read_text(encoding="utf-8")


def _dorsum(*args: str, log: Path, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
    """A real ``python -m reasoner`` subprocess, guarded, jailed and memory-limited; it must not
    have tried to reach the network."""
    command = [*_network_jail(), sys.executable, "-m", "reasoner", *args]
    preexec: Callable[[], None] = _limit_memory
    done = subprocess.run(
        command,
        env={**_environment(log), **(env or {})},
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=preexec,
    )
    assert not log.exists() or log.read_text(encoding="utf-8") == "", "a network attempt"
    return done


def test_the_real_entry_point_refuses_as_the_corpus_says(tmp_path: Path) -> None:
    log = tmp_path / "sockets.log"
    names = ["yaml-alias-bomb.yaml", "ctx-remote-http.jsonld", "symlink-dev-zero.json"]
    for name in names:
        done = _dorsum("evaluate", str(_input_path(name, tmp_path)), log=log)
        assert done.returncode == MANIFEST[name]["exit_code"] and MANIFEST[name]["error"] in done.stderr
        assert "Traceback" not in done.stderr


def test_evaluate_answers_every_good_file_and_one_line_per_bad_one(tmp_path: Path) -> None:
    log = tmp_path / "sockets.log"
    missing = tmp_path / "missing.json"
    bomb = HOSTILE / "yaml-alias-bomb.yaml"
    done = _dorsum("evaluate", str(EXAMPLE), str(missing), str(bomb), str(EXAMPLE), "--brief", log=log)
    assert done.stdout.count("Case small-soft-lump") == 2
    errors = done.stderr.splitlines()
    assert len(errors) == 2 and "file not found" in errors[0] and "YAML alias" in errors[1]
    assert done.returncode == 12  # the worst: a refused input (12) beats a usage error (2)


def test_two_files_with_one_id_are_reported(tmp_path: Path) -> None:
    copy = tmp_path / "another-name.yaml"
    copy.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    done = _dorsum("evaluate", str(EXAMPLE), str(copy), "--brief", log=tmp_path / "sockets.log")
    assert done.returncode == 0 and done.stdout.count("Case small-soft-lump") == 2
    assert "case id 'small-soft-lump' is also the id of" in done.stderr


def test_batch_records_a_bad_line_and_goes_on(tmp_path: Path) -> None:
    good = json.dumps(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    lines = [
        good.replace("small-soft-lump", "first"),
        "[" * 900 + "]" * 900,
        '{"id": "dup", "age_years": 47, "age_years": 4}',
        '{"id": "nan", "lump": {"size_cm": NaN}}',
        '{"@context": "http://example.org/c", "id": "ctx"}',
        '{"id": "long", "note": "' + "x" * 3000 + '"}',
        '{"id": "unclosed"',
        good.replace("small-soft-lump", "last"),
    ]
    cases = tmp_path / "cases.jsonl"
    cases.write_bytes("\n".join(lines).encode() + b"\n" + b'{"id": "caf\xe9"}\n' + good.encode() + b"\n")
    log = tmp_path / "sockets.log"
    done = _dorsum("batch", str(cases), "--jobs", "1", log=log, env={"DORSUM_MAX_CASE_BYTES": "2000"})
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [record["ok"] for record in records] == [True, False, False, False, False, False, False, True, False, True]
    assert [record["exit_code"] for record in records if not record["ok"]] == [11, 3, 3, 3, 10, 3, 3]
    assert "Traceback" not in done.stderr and done.returncode == 11
    assert "not UTF-8" in records[8]["error"] and "'@context' is not allowed" in records[4]["error"]


# ---------------------------------------------------------------- JSON and YAML read alike


class _FormDumper(yaml.SafeDumper):
    """Writes YAML that the strict form reader reads back as written: a string that the reader
    would take for a number, a boolean or null (``1e3``, ``.nan``, ``null``) is quoted."""


def _form_dumper() -> type[yaml.SafeDumper]:
    from reasoner.pipeline.form_syntax import _FormLoader

    _FormDumper.yaml_implicit_resolvers = _FormLoader.yaml_implicit_resolvers
    return _FormDumper


def _context_terms() -> tuple[list[str], dict[str, list[str]]]:
    """The finding keys and lump values the knowledge defines (as the case generator reads them)."""
    from reasoner.batch.generate import form_vocabulary
    from reasoner.knowledge import load_knowledge

    vocabulary = form_vocabulary(load_knowledge())
    return list(vocabulary.findings), {key: list(values) for key, values in vocabulary.lump_values.items()}


def _case_forms() -> Any:
    from hypothesis import strategies as st

    findings, lump_values = _context_terms()
    tenths = st.integers(min_value=1, max_value=300).map(lambda n: n / 10)
    ages = st.one_of(
        st.just({}),
        st.integers(0, 125).map(lambda n: {"age_years": n}),
        st.integers(0, 1250).map(lambda n: {"age_years": n / 10}),
        st.integers(0, 36).map(lambda n: {"age_months": n}),
        st.integers(0, 90).map(lambda n: {"age_days": n}),
    )

    @st.composite
    def forms(draw: st.DrawFn) -> dict[str, Any]:
        form: dict[str, Any] = {"id": f"case-{draw(st.integers(0, 999))}", **draw(ages)}
        lump = {key: draw(st.sampled_from(choices)) for key, choices in lump_values.items() if draw(st.booleans())}
        if draw(st.booleans()):
            lump["size_cm"] = draw(st.one_of(tenths, st.integers(1, 30)))
        if lump:
            form["lump"] = lump
        states = {f: draw(st.sampled_from(["present", "absent", "unknown", "omitted"])) for f in findings}
        for state in ("present", "absent", "unknown"):
            chosen = [f for f, s in states.items() if s == state]
            if chosen or draw(st.booleans()):
                form[state] = chosen
        if draw(st.booleans()):
            form["note"] = draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12))
        return form

    return forms()


def _triaged(text: str, suffix: str) -> Any:
    from reasoner.errors import CaseError
    from reasoner.knowledge import load_knowledge
    from reasoner.pipeline.form_syntax import InputLimits, parse_json, parse_yaml
    from reasoner.pipeline.read import case_from_form
    from reasoner.pipeline.triage import as_mapping, triage

    knowledge, limits = load_knowledge(), InputLimits()
    parse = parse_json if suffix == "json" else parse_yaml
    try:
        case = case_from_form(parse(text, "form", limits), knowledge, name="generated", source="form")
        return dict(as_mapping(triage(case, knowledge)))
    except CaseError as error:  # read, or rejected by the shapes (a contradiction, say)
        return ("invalid", error.problems)


def test_a_form_triages_the_same_from_json_and_from_yaml() -> None:
    from hypothesis import HealthCheck, given, settings

    dumper = _form_dumper()

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(form=_case_forms())
    def check(form: dict[str, Any]) -> None:
        as_json = json.dumps(form)
        as_yaml = yaml.dump(form, Dumper=dumper, sort_keys=False, allow_unicode=True)
        assert _triaged(as_json, "json") == _triaged(as_yaml, "yaml"), as_yaml

    check()


RELATIVE_CASES = {
    "rel.ttl": "@prefix dx: <https://w3id.org/dorsum/ontology#> .\n<rel> a dx:Case ; dx:ageYears 40 .\n",
    "rel.jsonld": json.dumps(
        {"@context": {"dx": "https://w3id.org/dorsum/ontology#"}, "@id": "rel", "@type": "dx:Case", "dx:ageYears": 40}
    ),
}


@pytest.mark.parametrize("name", sorted(RELATIVE_CASES))
def test_relative_iris_resolve_against_the_case_base_not_the_working_folder(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rdflib resolves a relative IRI against the working folder unless told a base: the same
    file would name another case (and show the folder) wherever dorsum ran."""
    from reasoner.knowledge import load_knowledge
    from reasoner.pipeline.read import read_case

    knowledge = load_knowledge()
    path = tmp_path / name
    path.write_text(RELATIVE_CASES[name], encoding="utf-8")
    seen = set()
    for folder in (tmp_path, ROOT):
        monkeypatch.chdir(folder)
        case = read_case(path, knowledge)
        seen.add((str(case.case), case.name))
    assert seen == {(knowledge.context["@base"] + "rel", "rel")}


def test_json_ld_reads_the_same_whatever_json_library_rdflib_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """rdflib's JSON-LD parser reads text with orjson when it is importable, and orjson reads
    some hostile text otherwise (a lone surrogate, 1e20). dorsum hands it data decoded by the
    json module, and has it write rdf:JSON literals with json too."""
    import rdflib.plugins.parsers.jsonld as jsonld_parser
    import rdflib.plugins.shared.jsonld.util as jsonld_util

    from reasoner.knowledge import load_knowledge
    from reasoner.pipeline.read import case_from_rdf_text

    class NoTextReading:
        @staticmethod
        def loads(text: object) -> object:
            raise AssertionError("rdflib was handed JSON text")

    knowledge = load_knowledge()
    text = (HOSTILE / "ctx-inline.jsonld").read_text(encoding="utf-8")
    before = sorted(case_from_rdf_text(text, "json-ld", knowledge, name="x").graph)
    monkeypatch.setattr(jsonld_util, "_HAS_ORJSON", True)
    monkeypatch.setattr(jsonld_util, "orjson", NoTextReading, raising=False)
    assert sorted(case_from_rdf_text(text, "json-ld", knowledge, name="x").graph) == before
    assert jsonld_parser._HAS_ORJSON is False


def test_json_ld_is_refused_when_rdflib_changes_the_methods_dorsum_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """dorsum refuses JSON-LD values rdflib's parser would drop by overriding three of its private
    methods. If an rdflib release renamed one or changed its parameters, the override would never
    run and values would vanish again: the case is refused with one line instead."""
    import rdflib.plugins.parsers.jsonld as jsonld_parser

    from reasoner.errors import DependencyError
    from reasoner.knowledge import load_knowledge
    from reasoner.pipeline import json_ld
    from reasoner.pipeline.read import case_from_rdf_text

    knowledge = load_knowledge()
    text = (HOSTILE / "ctx-inline.jsonld").read_text(encoding="utf-8")
    assert json_ld.unchecked_methods() == []
    assert case_from_rdf_text(text, "json-ld", knowledge, name="x").graph  # today's rdflib: read

    def renamed(self: object, dataset: object, graph: object, context: object, term: object, node: object) -> None:
        raise AssertionError("not called: the parser is refused first")

    monkeypatch.setattr(jsonld_parser.Parser, "_to_object", renamed)
    json_ld._require_checked_parser.cache_clear()
    try:
        assert json_ld.unchecked_methods() == ["_to_object"]
        with pytest.raises(DependencyError, match=r"_to_object.*JSON-LD is not read") as refused:
            case_from_rdf_text(text, "json-ld", knowledge, name="x", source="case.jsonld")
        assert str(refused.value).startswith("case.jsonld: ") and "\n" not in str(refused.value)
    finally:
        json_ld._require_checked_parser.cache_clear()
