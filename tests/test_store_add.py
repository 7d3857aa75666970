"""``store add`` triages once, through the batch runner, and the store writes what triage kept:
the derive/OWL RL closure runs once per case (twice for an incomplete one: its worst case),
never again in the store."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("pyoxigraph")

import yaml
from click.testing import CliRunner

import reasoner.pipeline.infer as infer_module
import reasoner.store.records as records_module
from reasoner import Knowledge, read_case, triage
from reasoner.batch.run import run_batch
from reasoner.cli.store import store
from reasoner.errors import EXIT_INVALID_CASE, EXIT_USAGE, UsageError
from reasoner.store import CaseFailure, CaseRecord, StoreError, case_record, open_store

from .conftest import EXAMPLES

Triple = tuple[object, object, object]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _forms(folder: Path, count: int) -> list[Path]:
    """``count`` complete cases: the growing firm lump at other ages."""
    base = yaml.safe_load((EXAMPLES / "growing-firm-lump.yaml").read_text(encoding="utf-8"))
    paths = []
    for index in range(count):
        path = folder / f"counted-{index}.yaml"
        path.write_text(yaml.safe_dump({**base, "id": f"counted-{index}", "age_years": 30 + index}), encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def closures(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every derive + OWL RL closure (``close_case``), however it is reached."""
    calls: list[int] = []
    real = infer_module.close_case

    def counted(graph: Iterable[Triple], knowledge: Knowledge) -> set[Triple]:
        calls.append(1)
        return real(graph, knowledge)  # type: ignore[arg-type]

    monkeypatch.setattr(infer_module, "close_case", counted)
    return calls


def test_store_add_of_n_cases_reasons_n_times_not_2n(closures: list[int], tmp_path: Path) -> None:
    paths = _forms(tmp_path, 4)
    result = CliRunner().invoke(store, ["add", *map(str, paths), "--jobs", "1", "--store", str(tmp_path / "db")])
    assert result.exit_code == 0, result.output
    assert result.output.count("stored counted-") == 4
    assert len(closures) == 4


def test_store_add_reasons_as_often_as_triage_alone(closures: list[int], knowledge: Knowledge, tmp_path: Path) -> None:
    """An incomplete case is closed twice by triage (as recorded, and at its worst case): no more."""
    paths = [*_forms(tmp_path, 2), EXAMPLES / "incomplete-lump.json"]
    for path in paths:
        triage(read_case(path, knowledge), knowledge)
    by_triage = len(closures)
    assert by_triage == 4
    closures.clear()
    with open_store(tmp_path / "db") as case_store:
        report = case_store.add(run_batch([str(p) for p in paths], jobs=1, finish=case_record), knowledge)
    assert [case.status for case in report.stored] == ["complete", "complete", "incomplete"]
    assert len(closures) == by_triage


def test_run_batch_with_finish_hands_records_and_error_records_in_order(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"lump": {"size_cm": -1}}', encoding="utf-8")
    inputs = [str(EXAMPLES / "small-soft-lump.yaml"), str(bad), str(EXAMPLES / "lumbar-mass.ttl")]
    serial = list(run_batch(inputs, jobs=1, finish=case_record))
    parallel = list(run_batch(inputs, jobs=2, finish=case_record))
    for items in (serial, parallel):
        assert isinstance(items[0], CaseRecord) and items[0].case_id == "small-soft-lump"
        assert isinstance(items[1], dict) and not items[1]["ok"] and items[1]["exit_code"] == EXIT_INVALID_CASE
        # the id is the case IRI's last part, not the file name
        assert isinstance(items[2], CaseRecord) and items[2].case_id == "lumbar-mass-rdf"
    for one, two in zip(serial[::2], parallel[::2], strict=True):
        assert isinstance(one, CaseRecord) and isinstance(two, CaseRecord)
        assert (one.asserted, one.status, one.effective_urgency) == (two.asserted, two.status, two.effective_urgency)
        assert len(one.inferred) == len(two.inferred) and len(one.result) == len(two.result)


def test_store_add_reads_directories_and_jsonl_like_batch(tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    _forms(folder, 2)
    lines = tmp_path / "more.jsonl"
    lines.write_text(json.dumps({"id": "from-jsonl", "age_years": 40, "lump": {"size_cm": 1}}) + "\n{broken\n")
    db = str(tmp_path / "db")
    result = CliRunner().invoke(store, ["add", str(folder), str(lines), str(tmp_path / "missing.yaml"), "--store", db])
    assert result.exit_code == EXIT_USAGE  # a missing file beats an invalid line; the others are stored
    assert [line.split()[1] for line in result.stdout.splitlines()] == ["counted-0", "counted-1", "from-jsonl"]
    errors = result.stderr.splitlines()
    assert len(errors) == 2 and all(line.startswith("dorsum: error: ") for line in errors)
    assert "missing.yaml: file not found" in errors[0] and "JSON syntax error" in errors[1]
    with open_store(db, read_only=True) as case_store:
        assert [case.case_id for case in case_store.list_cases()] == ["counted-0", "counted-1", "from-jsonl"]


def test_add_reports_failures_it_is_given(knowledge: Knowledge, tmp_path: Path) -> None:
    plain = next(run_batch([str(EXAMPLES / "small-soft-lump.yaml")], jobs=1))  # a JSON record: no trace
    with open_store(tmp_path / "db") as case_store:
        report = case_store.add([plain, CaseFailure("x.yaml", "x.yaml: unreadable", EXIT_USAGE)], knowledge)
    assert not report.stored
    assert [f.exit_code for f in report.failed] == [EXIT_INVALID_CASE, EXIT_USAGE]
    assert "keep_trace" in report.failed[0].error
    with open_store(tmp_path / "db") as case_store, pytest.raises(UsageError, match="run_batch"):
        case_store.add([EXAMPLES / "small-soft-lump.yaml"], knowledge)  # type: ignore[list-item]


def test_add_writes_groups_of_cases_and_reports_in_input_order(
    knowledge: Knowledge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cases are written several to a transaction; a same-id case with other facts waiting in the
    group is a collision like a stored one, and every case is reported in input order."""
    import reasoner.store.case_store as case_store_module

    monkeypatch.setattr(case_store_module, "WRITE_GROUP", 2)
    paths = _forms(tmp_path, 3)
    records = [case_record(triage(read_case(path, knowledge), knowledge, keep_trace=True)) for path in paths]
    (tmp_path / "other").mkdir()
    other = _forms(tmp_path / "other", 1)[0]  # the id counted-0 again, with other facts
    other.write_text(yaml.safe_dump(yaml.safe_load(other.read_text(encoding="utf-8")) | {"age_years": 80}))
    clash = case_record(triage(read_case(other, knowledge), knowledge, keep_trace=True))
    writes: list[int] = []
    heard: list[str] = []
    with open_store(tmp_path / "db") as case_store:
        real = case_store.put_many

        def counted(group: list[CaseRecord]) -> None:
            writes.append(len(group))
            real(group)

        monkeypatch.setattr(case_store, "put_many", counted)
        failure = CaseFailure("bad.yaml", "bad.yaml: unreadable", EXIT_USAGE)
        report = case_store.add(
            [records[0], clash, failure, records[1], records[2]],
            knowledge,
            on_case=lambda item: heard.append(getattr(item, "case_id", None) or item.source),
        )
        stored = [case.case_id for case in case_store.list_cases()]
    assert writes == [2, 1]  # counted-0 and counted-1, then counted-2
    assert stored == ["counted-0", "counted-1", "counted-2"]
    assert heard == ["counted-0", clash.source, "bad.yaml", "counted-1", "counted-2"]
    assert [f.source for f in report.failed] == [clash.source, "bad.yaml"]
    assert "already stored from" in report.failed[0].error and str(paths[0]) in report.failed[0].error


def test_a_group_that_cannot_be_written_leaves_nothing_of_it(knowledge: Knowledge, tmp_path: Path) -> None:
    """New cases are loaded as N-Quads in one transaction: one bad statement, none of the group."""
    records = [
        case_record(triage(read_case(path, knowledge), knowledge, keep_trace=True)) for path in _forms(tmp_path, 3)
    ]
    broken = dataclasses.replace(records[2], inferred=(*records[2].inferred, "<urn:s> <urn:p> not-a-term"))
    with open_store(tmp_path / "db") as case_store:
        case_store.put(records[0])
        with pytest.raises(StoreError, match="cannot write"):
            case_store.put_many([records[1], broken])
        assert [case.case_id for case in case_store.list_cases()] == ["counted-0"]
        assert not case_store.has_case("counted-1") and not case_store.has_case("counted-2")


def test_iris_written_once_per_process_stay_exact(knowledge: Knowledge) -> None:
    """The IRIs kept from earlier cases give the same statements as converting them anew."""
    result = triage(read_case(EXAMPLES / "growing-firm-lump.yaml", knowledge), knowledge, keep_trace=True)
    first = case_record(result, now=NOW)
    records_module._IRI_TEXT.clear()
    again = case_record(result, now=NOW)
    assert (first.asserted, first.inferred) == (again.asserted, again.inferred)

    def named(record: CaseRecord) -> list[str]:  # the result's blank nodes are numbered anew each time
        return [line for line in record.result if "/node/" not in line]

    assert named(first) == named(again) and len(named(first)) > 20
    assert first.asserted and all(line.startswith("<") for line in first.asserted)
