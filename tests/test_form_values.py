"""A case form's values are read as written (safety rule 4): text is not a number or a boolean, a
boolean is not a number, a list is not one value; a UTF-8 byte-order mark starts any case file
alike; FHIR values have the JSON type FHIR JSON gives them. The README's "How values are read"
table lists each choice; tests/hostile/ holds the same inputs end to end."""

from __future__ import annotations

import copy
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rdflib.compare import isomorphic

from reasoner import Knowledge
from reasoner.batch.run import iter_work
from reasoner.errors import EXIT_INVALID_CASE, CaseError
from reasoner.fhir.read import case_from_fhir, read_fhir
from reasoner.pipeline.form_syntax import InputLimits, parse_json, parse_yaml
from reasoner.pipeline.form_values import value_problems
from reasoner.pipeline.read import case_from_form, read_case, read_case_text
from reasoner.pipeline.triage import triage

from .conftest import EXAMPLES

BASE: dict[str, Any] = {"id": "v", "age_years": 40, "lump": {"size_cm": 2, "depth": "deep"}, "present": ["fever"]}
AS_OF = date(2026, 11, 30)
DORSUM = "https://w3id.org/dorsum/ontology"

#: YAML text, and the one problem the form reader reports for it.
REFUSED_YAML = {
    'lump: {size_cm: "5"}': 'lump.size_cm must be one number, not the text "5" (write 5, without quotes)',
    "age_years: '17'": 'age_years must be one number, not the text "17" (write 17, without quotes)',
    'age_months: "1_5"': 'age_months must be one number, not the text "1_5" (write a plain decimal such as 40 or '
    "1.5, without quotes)",
    "age_years: 2020-01-01": 'age_years must be one number, not the text "2020-01-01" (write a plain decimal such '
    "as 40 or 1.5, without quotes)",
    "lump: {size_cm: yes}": 'lump.size_cm must be one number, not the text "yes" (write a plain decimal such as '
    "40 or 1.5, without quotes)",
    "lump: {size_cm: true}": "lump.size_cm must be one number, not the boolean true",
    "gestation_weeks: false": "gestation_weeks must be one number, not the boolean false",
    'no_discrete_lump: "true"': 'no_discrete_lump must be true or false, not the text "true" (write true or false, '
    "without quotes)",
    "no_discrete_lump: yes": 'no_discrete_lump must be true or false, not the text "yes" (write true or false, '
    "without quotes)",
    "no_discrete_lump: off": 'no_discrete_lump must be true or false, not the text "off" (write true or false, '
    "without quotes)",
    "no_discrete_lump: 1": "no_discrete_lump must be true or false, not the number 1",
    "no_discrete_lump: 0.0": "no_discrete_lump must be true or false, not the number 0.0",
    "age_years: [40]": "age_years must be one number, not a list ([40])",
    "lump: {size_cm: [2, 3]}": "lump.size_cm must be one number, not a list ([2, 3])",
    "no_discrete_lump: [true]": "no_discrete_lump must be true or false, not a list ([true])",
    "lump: [{size_cm: 2}]": 'lump must be one value, not a list ([{"size_cm": 2}])',
    "note: [a, b]": 'note must be one value, not a list (["a", "b"])',
    "present: [fever, null]": "present[1] is null: remove it or write a value (a list holds no nulls)",
    "absent: [[fever]]": 'absent[0] is a list inside a list (["fever"]): write one flat list',
}


def _form(yaml_text: str) -> Any:
    return parse_yaml(f"id: v\n{yaml_text}\n", "form.yaml", InputLimits())


@pytest.mark.parametrize("text", sorted(REFUSED_YAML))
def test_a_value_of_the_wrong_kind_is_refused_in_one_line_naming_it(knowledge: Knowledge, text: str) -> None:
    with pytest.raises(CaseError) as caught:
        case_from_form(_form(text), knowledge, name="v", source="form.yaml")
    assert caught.value.problems == (REFUSED_YAML[text],)
    assert caught.value.exit_code == EXIT_INVALID_CASE
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"id": "v", "lump": {"size_cm": "5"}}', 'lump.size_cm must be one number, not the text "5"'),
        ('{"id": "v", "age_years": true}', "age_years must be one number, not the boolean true"),
        ('{"id": "v", "no_discrete_lump": "false"}', 'no_discrete_lump must be true or false, not the text "false"'),
        ('{"id": "v", "no_discrete_lump": 1.0}', "no_discrete_lump must be true or false, not the number 1.0"),
        ('{"id": "v", "age_days": [3]}', "age_days must be one number, not a list ([3])"),
    ],
)
def test_json_forms_are_checked_alike(knowledge: Knowledge, text: str, expected: str) -> None:
    with pytest.raises(CaseError) as caught:
        case_from_form(parse_json(text, "form.json", InputLimits()), knowledge, name="v", source="form.json")
    assert caught.value.problems[0].startswith(expected)


@pytest.mark.parametrize(
    "change",
    [
        {"age_years": 40},
        {"age_years": Decimal("40.5")},
        {"age_years": 40.5},  # a float from a Python caller (the generator, FHIR)
        {"age_years": None},  # no value: as if the field were left out
        {"no_discrete_lump": True, "lump": None},
        {"no_discrete_lump": False},
        {"present": "fever"},  # one finding for a set: JSON-LD's single value, unambiguous
        {"present": ["fever", "fever"]},
        {"note": "yes"},  # text for a text field
        {"note": "2020-01-01"},
    ],
    ids=repr,
)
def test_values_of_the_right_kind_are_read(knowledge: Knowledge, change: dict[str, Any]) -> None:
    case = case_from_form({**BASE, **change}, knowledge, name="v")
    assert case.name == "v"


def test_yaml_reads_its_core_schema_booleans_and_nothing_else_as_booleans() -> None:
    read = _form("no_discrete_lump: True\nnote: yes\nabsent: [on, 'off', n]\nage_years: ~")
    assert read == {"id": "v", "no_discrete_lump": True, "note": "yes", "absent": ["on", "off", "n"], "age_years": None}


def test_a_form_with_the_same_values_reads_as_the_same_case_whatever_it_was_written_in(knowledge: Knowledge) -> None:
    yaml_form = _form("age_years: 40.5\nno_discrete_lump: true\npresent: fever")
    json_form = parse_json(
        '{"id": "v", "age_years": 40.5, "no_discrete_lump": true, "present": ["fever"]}', "f", InputLimits()
    )
    yaml_case, json_case = (case_from_form(form, knowledge, name="v") for form in (yaml_form, json_form))
    assert isomorphic(yaml_case.graph, json_case.graph)


def test_the_kinds_are_read_from_the_context_not_from_field_names() -> None:
    context = {
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "count": {"@id": "http://example.org/count", "@type": "xsd:integer"},
        "flag": {"@id": "http://example.org/flag", "@type": "http://www.w3.org/2001/XMLSchema#boolean"},
        "tags": {"@id": "http://example.org/tags", "@container": "@set"},
        "label": {"@id": "http://example.org/label"},
    }
    form = {"count": "3", "flag": "no", "tags": ["a", None], "label": 5, "size_cm": "5"}
    assert value_problems(form, context) == [
        'count must be one number, not the text "3" (write 3, without quotes)',
        'flag must be true or false, not the text "no" (write true or false, without quotes)',
        "tags[1] is null: remove it or write a value (a list holds no nulls)",
    ]
    assert value_problems({"count": 3, "flag": False, "tags": "a", "label": "x"}, context) == []


# ---------------------------------------------------------------- the byte-order mark

BOM = b"\xef\xbb\xbf"
CASES = {
    "c.yaml": b"id: c\nage_years: 40\n",
    "c.json": b'{"id": "c", "age_years": 40}',
    "c.jsonld": b'{"@context": "case-form.context.jsonld", "id": "c", "@type": "Case", "age_years": 40}',
    "c.ttl": b"@prefix dx: <https://w3id.org/dorsum/ontology#> .\n<c> a dx:Case ; dx:ageYears 40 .\n",
    "c.nt": b"<https://w3id.org/dorsum/case/c> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
    b"<https://w3id.org/dorsum/ontology#Case> .\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_byte_order_mark_starts_any_case_file_alike(knowledge: Knowledge, tmp_path: Path, name: str) -> None:
    plain, marked = tmp_path / "plain", tmp_path / "marked"
    plain.mkdir(), marked.mkdir()
    (plain / name).write_bytes(CASES[name])
    (marked / name).write_bytes(BOM + CASES[name])
    first, second = read_case(plain / name, knowledge), read_case(marked / name, knowledge)
    assert (first.name, first.case) == (second.name, second.case)
    assert isomorphic(first.graph, second.graph)
    assert read_case_text(marked / name) == CASES[name].decode()


def test_a_byte_order_mark_is_content_anywhere_but_the_start(knowledge: Knowledge, tmp_path: Path) -> None:
    twice = tmp_path / "twice.json"
    twice.write_bytes(BOM + BOM + CASES["c.json"])
    with pytest.raises(CaseError, match=r"a byte-order mark \(U\+FEFF\) is not allowed here"):
        read_case(twice, knowledge)
    inside = tmp_path / "inside.yaml"
    inside.write_bytes(b"id: c\nnote: a" + BOM + b"b\n")
    assert "a\ufeffb" in {str(o) for o in read_case(inside, knowledge).graph.objects()}


def test_a_byte_order_mark_starts_a_jsonl_stream_not_a_later_line() -> None:
    stream = io.BytesIO(BOM + b'{"id": "one"}\n' + BOM + b'{"id": "two"}\n')
    first, second = iter_work(["-"], stdin=stream)  # type: ignore[arg-type]
    assert first.kind == "form" and first.form == {"id": "one"}
    assert second.kind == "error" and "byte-order mark (U+FEFF) is not allowed here" in second.error


# ---------------------------------------------------------------- FHIR


def _bundle() -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads((EXAMPLES / "fhir" / "growing-firm-lump.json").read_text(encoding="utf-8"))
    return bundle


def _quantity(bundle: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = next(e["resource"] for e in bundle["entry"] if "valueQuantity" in e["resource"])
    return resource


def _fever(value: Any) -> dict[str, Any]:
    code = {"coding": [{"system": DORSUM, "code": f"{DORSUM}#Fever"}]}
    bundle = _bundle()
    observation = {"resourceType": "Observation", "id": "f", "status": "final", "code": code, "valueBoolean": value}
    bundle["entry"].append({"resource": observation})
    return bundle


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("false", 'Observation/f: valueBoolean must be true or false, not the text "false"'),
        ("true", 'Observation/f: valueBoolean must be true or false, not the text "true"'),
        (0, "Observation/f: valueBoolean must be true or false, not the number 0"),
    ],
)
def test_a_fhir_boolean_written_otherwise_is_refused(knowledge: Knowledge, value: Any, expected: str) -> None:
    """The FHIR models read "false" and 0 as false, and bool("false") then read true: fever present."""
    with pytest.raises(CaseError) as caught:
        case_from_fhir(_fever(value), knowledge, as_of=AS_OF)
    assert caught.value.problems == (expected,)


def test_a_fhir_boolean_is_read_as_written(knowledge: Knowledge) -> None:
    assert "fever" in case_from_fhir(_fever(True), knowledge, as_of=AS_OF).form["present"]
    assert "fever" in case_from_fhir(_fever(False), knowledge, as_of=AS_OF).form["absent"]


def test_a_fhir_quantity_as_text_is_refused_and_one_without_a_value_is_a_note(knowledge: Knowledge) -> None:
    bundle = _bundle()
    _quantity(bundle)["valueQuantity"]["value"] = "5"
    with pytest.raises(CaseError) as caught:
        case_from_fhir(bundle, knowledge, as_of=AS_OF)
    assert caught.value.problems == ('Observation/obs-1: valueQuantity.value must be a JSON number, not the text "5"',)
    del _quantity(bundle)["valueQuantity"]["value"]
    fhir_case = case_from_fhir(bundle, knowledge, as_of=AS_OF)
    assert "size_cm" not in fhir_case.form["lump"]
    assert "Observation/obs-1: a valueQuantity without a value: not used" in fhir_case.notes


def test_a_fhir_answer_of_the_wrong_json_type_is_refused(knowledge: Knowledge) -> None:
    response = json.loads((EXAMPLES / "fhir" / "small-soft-lump.json").read_text(encoding="utf-8"))
    answered = copy.deepcopy(response)
    text = json.dumps(answered).replace('"valueDecimal": 34', '"valueDecimal": "34"', 1)
    with pytest.raises(CaseError) as caught:
        case_from_fhir(json.loads(text), knowledge, as_of=AS_OF)
    assert caught.value.problems[0].endswith('item age_years: valueDecimal must be a JSON number, not the text "34"')
    for written, shown in (("34.0", "the number 34.0"), ('"34"', 'the text "34"')):  # the models accept both
        text = json.dumps(answered).replace('"valueDecimal": 34', f'"valueInteger": {written}', 1)
        with pytest.raises(CaseError) as caught:
            case_from_fhir(json.loads(text), knowledge, as_of=AS_OF)
        assert caught.value.problems == (
            f"QuestionnaireResponse/small-soft-lump item age_years: valueInteger must be a JSON whole number, not {shown}",
        )


def test_a_fhir_file_decimal_is_read_exactly_as_written(knowledge: Knowledge, tmp_path: Path) -> None:
    """FHIR JSON was parsed with Python floats: a size of 1.50000000000000000001 cm became 1.5, not
    larger than NG12's 1.5 cm threshold, and the red flag and the urgent tier were lost (the same
    size in a case form is a red flag). A FHIR decimal is read as the decimal written."""
    text = (EXAMPLES / "fhir" / "small-soft-lump.json").read_text(encoding="utf-8")
    written = "1.50000000000000000001"
    assert '"valueDecimal": 1.2' in text
    file = tmp_path / "response.json"
    file.write_text(text.replace('"valueDecimal": 1.2', f'"valueDecimal": {written}', 1), encoding="utf-8")
    fhir_case = read_fhir(file, knowledge, as_of=AS_OF)
    assert fhir_case.form["lump"]["size_cm"] == Decimal(written)
    assert "lump larger than 1.5 cm" in {flag.label for flag in triage(fhir_case.case, knowledge).red_flags}
