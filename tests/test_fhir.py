"""FHIR R4: the Questionnaire generated from the knowledge, and FHIR resources read as cases."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rdflib import URIRef

from reasoner import Knowledge
from reasoner.errors import EXIT_INVALID_CASE, CaseError
from reasoner.fhir.questionnaire import DORSUM_SYSTEM, QUESTIONNAIRE_URL, build_questionnaire, questionnaire_items
from reasoner.fhir.read import case_from_fhir, read_fhir, triage_fhir
from reasoner.knowledge import DX
from reasoner.pipeline.read import read_case
from reasoner.pipeline.triage import as_mapping, triage

from .conftest import EXAMPLES, ROOT

FHIR_EXAMPLES = EXAMPLES / "fhir"
AS_OF = date(2026, 11, 30)  # the evaluation date the twins' birth dates are written for
EXAMPLE_CASES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in {".yaml", ".json"})


@pytest.fixture(scope="module")
def questionnaire(knowledge: Knowledge) -> dict[str, Any]:
    return build_questionnaire(knowledge)


def items_by_id(questionnaire: dict[str, Any]) -> dict[str, Any]:
    return {item["linkId"]: item for item in questionnaire_items(questionnaire)}


# --- the Questionnaire --------------------------------------------------------------------------


def test_questionnaire_is_valid_fhir_r4(questionnaire: dict[str, Any]) -> None:
    from fhir.resources.R4B.questionnaire import Questionnaire

    parsed = Questionnaire.model_validate(questionnaire)
    assert parsed.url == QUESTIONNAIRE_URL and parsed.status == "active"


def test_link_ids_are_unique_and_enable_when_targets_exist(questionnaire: dict[str, Any]) -> None:
    ids = Counter(item["linkId"] for item in questionnaire_items(questionnaire))
    assert ids and max(ids.values()) == 1, [key for key, n in ids.items() if n > 1]
    items = items_by_id(questionnaire)
    targets = [(item["linkId"], when["question"]) for item in items.values() for when in item.get("enableWhen", [])]
    assert targets, "some items are conditional"
    for item, question in targets:
        assert question in items and question != item, (item, question)
        assert items[question]["type"] in {"choice", "decimal", "boolean"}


def test_every_form_key_and_every_finding_is_a_question(knowledge: Knowledge, questionnaire: dict[str, Any]) -> None:
    items = items_by_id(questionnaire)
    for key in ("age_years", "age_months", "age_days", "lump", "size_cm", "depth", "region", "position"):
        assert key in items, key
    findings = [
        i
        for i in items.values()
        if i["type"] == "choice" and i.get("answerOption", [{}])[0]["valueCoding"]["code"] == str(DX.hasFinding)
    ]
    assert {f["linkId"] for f in findings} >= {"neurological_deficit", "hairy_patch", "lipomatous", "cancer_history"}
    for finding in findings:
        codes = [option["valueCoding"]["code"] for option in finding["answerOption"]]
        assert codes == [str(DX.hasFinding), str(DX.hasAbsentFinding), str(DX.hasUnknownFinding)]
        assert finding["code"][0]["code"] == str(knowledge.context[finding["linkId"]]).replace("dx:", str(DX))


def test_answer_options_are_ontology_iris_in_the_dorsum_system(
    knowledge: Knowledge, questionnaire: dict[str, Any]
) -> None:
    items = items_by_id(questionnaire)
    depth = [o["valueCoding"] for o in items["depth"]["answerOption"]]
    assert {c["code"] for c in depth} == {str(DX.Deep), str(DX.Superficial)}
    assert all(c["system"] == DORSUM_SYSTEM for c in depth)
    for item in items.values():
        for option in item.get("answerOption", []):
            assert (URIRef(option["valueCoding"]["code"]), None, None) in knowledge.ontology


def test_units_required_and_help_come_from_the_shapes(questionnaire: dict[str, Any]) -> None:
    items = items_by_id(questionnaire)

    def unit(key: str) -> str:
        (ext,) = [e for e in items[key].get("extension", []) if e["url"].endswith("questionnaire-unit")]
        return str(ext["valueCoding"]["code"])

    assert (unit("size_cm"), unit("age_years"), unit("age_months"), unit("age_days")) == ("cm", "a", "mo", "d")
    assert items["size_cm"]["required"] and items["night_pain"]["required"]
    assert items["lump"]["type"] == "group"  # asked unless 'no_discrete_lump' is answered true
    assert not items["age_months"].get("required") and not items["note"].get("required")
    assert "centimetres" in items["size_cm.help"]["text"]
    assert items["size_cm.help"]["type"] == "display"


def test_conditional_items_follow_their_shapes(questionnaire: dict[str, Any]) -> None:
    items = items_by_id(questionnaire)
    # two shapes ask it: a lump over 5 cm or deep (Seed 001), and a child's lump unless it records a
    # position off the midline (a pack; an unrecorded position may be the midline), which FHIR cannot
    # state as a condition: so it is never hidden (the seeds alone keep a condition, below)
    lipomatous = items["lipomatous"]
    assert "enableWhen" not in lipomatous and "enableBehavior" not in lipomatous
    assert len(items["lipomatous.help"]["text"].splitlines()) == 2  # one line per shape
    assert len(items["position.help"]["text"].splitlines()) == 2  # a lump since birth; a lump that may be fatty
    immunosuppression = items["immunosuppression"]  # asked wherever any kind of back pain is present
    assert immunosuppression["enableBehavior"] == "any"
    assert {w["question"] for w in immunosuppression["enableWhen"]} >= {"back_pain", "night_pain", "radiating_pain"}
    assert not any(w["question"] == "no_discrete_lump" for w in immunosuppression["enableWhen"])
    # a cancer history, and back pain not recorded absent (the item is back pain; "!=" holds while
    # back_pain is unanswered: unknown is not absent)
    for key in ("pain_aggravated_by_straining", "mechanical_spinal_pain"):
        assert items[key]["enableBehavior"] == "all"
        straining = items[key]["enableWhen"]
        assert straining == [
            {
                "question": "cancer_history",
                "operator": "=",
                "answerCoding": {
                    "system": DORSUM_SYSTEM,
                    "code": str(DX.hasFinding),
                    "display": straining[0]["answerCoding"]["display"],
                },
            },
            {
                "question": "back_pain",
                "operator": "!=",
                "answerCoding": {
                    "system": DORSUM_SYSTEM,
                    "code": str(DX.hasAbsentFinding),
                    "display": straining[1]["answerCoding"]["display"],
                },
            },
        ]


def test_a_profile_without_packs_asks_no_pack_question(tmp_path: Path) -> None:
    """Without packs, a pack's findings stay answerable (one case reads under every profile) but
    nothing requires them and no pack rule makes an item conditional."""
    out = tmp_path / "q.json"
    code = subprocess.run(
        [sys.executable, "-m", "reasoner", "questionnaire", "--profile", "seeds", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert code.returncode == 0, code.stderr
    seeds = items_by_id(json.loads(out.read_text()))
    assert seeds["neurological_deficit"].get("required")
    assert not seeds["pain_aggravated_by_straining"].get("required")
    assert not seeds["pain_aggravated_by_straining"].get("enableWhen")
    lipomatous = seeds["lipomatous"]  # without the pack, asked of a lump over 5 cm or deep only
    assert lipomatous["enableBehavior"] == "any"
    assert {(w["question"], w["operator"]) for w in lipomatous["enableWhen"]} == {("size_cm", ">"), ("depth", "=")}
    assert [w["answerDecimal"] for w in lipomatous["enableWhen"] if "answerDecimal" in w] == [5.0]
    assert [w["answerCoding"]["code"] for w in lipomatous["enableWhen"] if "answerCoding" in w] == [str(DX.Deep)]


def test_the_shipped_questionnaire_is_the_generated_one(questionnaire: dict[str, Any]) -> None:
    shipped = json.loads((FHIR_EXAMPLES / "questionnaire.json").read_text())
    shipped["extension"] = questionnaire["extension"]  # the content hash moves with every knowledge edit
    assert shipped["item"] == questionnaire["item"]


# --- FHIR in ------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLE_CASES, ids=lambda p: p.name)
def test_every_example_has_a_fhir_twin_with_the_same_result(knowledge: Knowledge, example: Path) -> None:
    twin = FHIR_EXAMPLES / f"{example.stem}.json"
    assert twin.exists(), f"no FHIR twin for {example.name}"
    expected = dict(as_mapping(triage(read_case(example, knowledge), knowledge, explain_missing=True)))
    fhir_case = read_fhir(twin, knowledge, AS_OF)
    got = dict(as_mapping(triage_fhir(fhir_case, knowledge)))
    assert fhir_case.notes == ()
    expected.pop("source")
    got.pop("source")
    assert got == expected


def test_age_comes_from_birth_date_and_the_evaluation_date(knowledge: Knowledge) -> None:
    bundle = json.loads((FHIR_EXAMPLES / "lumbar-mass-back-pain.json").read_text())
    assert case_from_fhir(bundle, knowledge, as_of=AS_OF).form["age_years"] == 63
    assert case_from_fhir(bundle, knowledge, as_of=date(2026, 5, 13)).form["age_years"] == 62
    bundle["entry"][0]["resource"]["birthDate"] = "2026-10-01"
    infant = case_from_fhir(bundle, knowledge, as_of=AS_OF)
    assert infant.form["age_days"] == 60 and "age_years" not in infant.form
    closure = triage(infant.case, knowledge, keep_trace=True).trace
    assert closure is not None
    bands = {o for s, p, o in closure.closure if p == DX.inAgeBand}
    assert DX.InfantUnder4Months in bands and DX.Adult not in bands


def test_unmapped_codes_are_reported_by_name_in_the_notes(knowledge: Knowledge) -> None:
    bundle = json.loads((FHIR_EXAMPLES / "growing-firm-lump.json").read_text())
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "Observation",
                "id": "snomed-1",
                "status": "final",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "161891005", "display": "Backache"}]},
                "valueBoolean": True,
            }
        }
    )
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "Condition",
                "id": "cond-x",
                "code": {"coding": [{"system": DORSUM_SYSTEM, "code": str(DX) + "NoSuchFinding"}]},
                "subject": {"reference": "Patient/growing-firm-lump-patient"},
            }
        }
    )
    fhir_case = case_from_fhir(bundle, knowledge, as_of=AS_OF)
    result = triage_fhir(fhir_case, knowledge)
    notes = "\n".join(result.notes)
    assert "http://snomed.info/sct|161891005 (Backache)" in notes and "Observation/snomed-1" in notes
    assert "NoSuchFinding" in notes and "Condition/cond-x" in notes
    assert "back_pain" not in fhir_case.form.get("present", [])


def test_conditions_and_observations_record_presence_and_absence(knowledge: Knowledge) -> None:
    bundle = json.loads((FHIR_EXAMPLES / "growing-firm-lump.json").read_text())
    bundle["entry"] += [
        {
            "resource": {
                "resourceType": "Condition",
                "id": "c1",
                "subject": {"reference": "Patient/growing-firm-lump-patient"},
                "code": {"coding": [{"system": DORSUM_SYSTEM, "code": str(DX.CancerHistory)}]},
            }
        },
        {
            "resource": {
                "resourceType": "Condition",
                "id": "c2",
                "subject": {"reference": "Patient/growing-firm-lump-patient"},
                "verificationStatus": {"coding": [{"code": "refuted"}]},
                "code": {"coding": [{"system": DORSUM_SYSTEM, "code": str(DX.Erythema)}]},
            }
        },
        {
            "resource": {
                "resourceType": "Observation",
                "id": "o1",
                "status": "final",
                "code": {"coding": [{"system": DORSUM_SYSTEM, "code": str(DX.Warmth)}]},
                "dataAbsentReason": {"text": "not examined"},
            }
        },
    ]
    form = case_from_fhir(bundle, knowledge, as_of=AS_OF).form
    assert "cancer_history" in form["present"] and "cancer_history" not in form["absent"]
    assert "erythema" in form["absent"] and "warmth" in form["unknown"]
    assert form["lump"]["size_cm"] == 4 and form["lump"]["position"] == "paraspinal"


@pytest.mark.parametrize(
    "extra",
    [
        {"resourceType": "Patient", "id": "someone-else"},
        {
            "resourceType": "Condition",
            "id": "theirs",
            "subject": {"reference": "https://ehr.example.org/fhir/Patient/someone-else"},
            "code": {"coding": [{"system": DORSUM_SYSTEM, "code": str(DX.SaddleAnaesthesia)}]},
        },
    ],
)
def test_a_bundle_about_two_patients_is_refused_not_merged(knowledge: Knowledge, extra: dict[str, Any]) -> None:
    """Another patient's saddle anaesthesia made this patient an emergency: one case per patient."""
    bundle = json.loads((FHIR_EXAMPLES / "growing-firm-lump.json").read_text())
    bundle["entry"].append({"resource": extra})
    with pytest.raises(CaseError, match=r"more than one patient .*Patient/someone-else"):
        case_from_fhir(bundle, knowledge, as_of=AS_OF)


def test_a_patient_named_by_an_absolute_reference_or_full_url_is_one_patient(knowledge: Knowledge) -> None:
    bundle = json.loads((FHIR_EXAMPLES / "growing-firm-lump.json").read_text())
    for number, entry in enumerate(bundle["entry"]):
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            entry["fullUrl"] = "urn:uuid:6f1b0e2a-0000-4000-8000-000000000001"
        elif number % 2:
            resource["subject"] = {"reference": "urn:uuid:6f1b0e2a-0000-4000-8000-000000000001"}
        else:
            resource["subject"] = {"reference": "https://ehr.example.org/fhir/Patient/growing-firm-lump-patient"}
    assert case_from_fhir(bundle, knowledge, as_of=AS_OF).form["lump"]["size_cm"] == 4


def _item(items: list[dict[str, Any]], link_id: str) -> dict[str, Any]:
    for item in items:
        if item["linkId"] == link_id:
            return item
        found = _item(item.get("item", []), link_id) if item.get("item") else None
        if found is not None:
            return found
    raise KeyError(link_id)


def test_an_item_with_two_answers_is_refused_not_read_as_its_first(knowledge: Knowledge) -> None:
    """No item of the Questionnaire repeats: a second size (9 cm) was dropped without a word."""
    response = json.loads((FHIR_EXAMPLES / "small-soft-lump.json").read_text())
    _item(response["item"], "size_cm")["answer"].append({"valueDecimal": 9})
    with pytest.raises(CaseError, match="item size_cm has 2 answers"):
        case_from_fhir(response, knowledge)


def test_a_later_value_of_an_item_replaces_an_earlier_one_with_a_note(knowledge: Knowledge) -> None:
    response = json.loads((FHIR_EXAMPLES / "small-soft-lump.json").read_text())
    _item(response["item"], "lump")["item"].append({"linkId": "size_cm", "answer": [{"valueDecimal": 9}]})
    fhir_case = case_from_fhir(response, knowledge)
    assert fhir_case.form["lump"]["size_cm"] == 9
    assert any(note.startswith("size_cm:") and "replaces an earlier 1.2" in note for note in fhir_case.notes)


def test_a_concept_is_read_by_its_mapped_coding_not_its_first(knowledge: Knowledge) -> None:
    """A SNOMED CT coding before the dorsum one: only the first coding was read, and the depth lost."""
    bundle = json.loads((FHIR_EXAMPLES / "growing-firm-lump.json").read_text())
    depth = next(
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"].get("code", {}).get("coding", [{}])[0].get("code") == str(DX.depth)
    )
    snomed = {"system": "http://snomed.info/sct", "code": "123", "display": "something"}
    depth["valueCodeableConcept"]["coding"].insert(0, snomed)
    assert case_from_fhir(bundle, knowledge, as_of=AS_OF).form["lump"]["depth"] == "deep"
    depth["valueCodeableConcept"]["coding"].append({"system": DORSUM_SYSTEM, "code": str(DX.Superficial)})
    with pytest.raises(CaseError, match="one answer coded as 2 different codes"):
        case_from_fhir(bundle, knowledge, as_of=AS_OF)


def test_a_quantity_with_a_comparator_is_not_read_as_its_value(knowledge: Knowledge) -> None:
    """ "> 5 cm" was read as 5 cm (not over a 5 cm threshold): it is no value, and the size is missing."""
    bundle = json.loads((FHIR_EXAMPLES / "growing-firm-lump.json").read_text())
    size = next(entry["resource"] for entry in bundle["entry"] if "valueQuantity" in entry["resource"])
    size["valueQuantity"] |= {"value": 5, "comparator": ">"}
    fhir_case = case_from_fhir(bundle, knowledge, as_of=AS_OF)
    assert "size_cm" not in fhir_case.form["lump"]
    assert any("'>' 5 is no value: not used" in note for note in fhir_case.notes)


def test_a_finding_observation_with_another_kind_of_value_is_not_read_as_present(knowledge: Knowledge) -> None:
    """Only "no value" means present: a valueString "no" was read as present."""
    bundle = json.loads((FHIR_EXAMPLES / "growing-firm-lump.json").read_text())
    code = {"coding": [{"system": DORSUM_SYSTEM, "code": str(DX.Fever)}]}
    said = {"resourceType": "Observation", "id": "said-no", "status": "final", "code": code, "valueString": "no"}
    bundle["entry"].append({"resource": said})
    fhir_case = case_from_fhir(bundle, knowledge, as_of=AS_OF)
    assert "fever" not in fhir_case.form.get("present", [])
    assert any("Observation/said-no: a finding with a value of type valueString" in note for note in fhir_case.notes)


def test_an_observation_coded_as_two_findings_is_refused(knowledge: Knowledge) -> None:
    """The second finding of [back pain, saddle anaesthesia] was dropped without a word."""
    bundle = json.loads((FHIR_EXAMPLES / "growing-firm-lump.json").read_text())
    codes = [{"system": DORSUM_SYSTEM, "code": str(finding)} for finding in (DX.BackPain, DX.SaddleAnaesthesia)]
    observation = {"resourceType": "Observation", "id": "two", "status": "final", "code": {"coding": codes}}
    bundle["entry"].append({"resource": observation | {"valueBoolean": True}})
    with pytest.raises(CaseError, match="Observation/two is coded as two items, back_pain and saddle_anaesthesia"):
        case_from_fhir(bundle, knowledge, as_of=AS_OF)


def test_a_response_to_another_questionnaire_is_refused(knowledge: Knowledge) -> None:
    response = json.loads((FHIR_EXAMPLES / "small-soft-lump.json").read_text())
    response["questionnaire"] = "https://example.org/Questionnaire/other"
    with pytest.raises(CaseError, match=r"answers https://example\.org/Questionnaire/other"):
        case_from_fhir(response, knowledge)


@pytest.mark.parametrize(
    "document",
    [
        {"resourceType": "Patient", "id": "p"},
        {"resourceType": "QuestionnaireResponse", "status": "completed", "item": [{"answer": []}]},
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": {"resourceType": "Patient", "birthDate": "soon"}}],
        },
        [1, 2],
    ],
    ids=["wrong-type", "no-linkId", "bad-date", "not-an-object"],
)
def test_invalid_fhir_is_one_line_and_exit_3(tmp_path: Path, document: Any) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    done = subprocess.run(
        [sys.executable, "-m", "reasoner", "evaluate-fhir", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == EXIT_INVALID_CASE
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_evaluate_fhir_cli_json_matches_the_form(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reasoner",
            "evaluate-fhir",
            str(FHIR_EXAMPLES / "suspected-cauda-equina.json"),
            "--format",
            "json",
            "--as-of",
            "2026-11-30",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    form = subprocess.run(
        [
            sys.executable,
            "-m",
            "reasoner",
            "evaluate",
            str(EXAMPLES / "suspected-cauda-equina.json"),
            "--format",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == form.returncode == 0, done.stderr
    got, expected = json.loads(done.stdout), json.loads(form.stdout)
    got.pop("source"), expected.pop("source")
    assert got == expected


def test_the_reader_does_not_change_the_document(knowledge: Knowledge) -> None:
    bundle = json.loads((FHIR_EXAMPLES / "growing-firm-lump.json").read_text())
    before = copy.deepcopy(bundle)
    case_from_fhir(bundle, knowledge, as_of=AS_OF)
    assert bundle == before


def test_evaluate_fhir_several_files_as_a_json_array_and_the_worst_exit_code(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "reasoner", "evaluate-fhir", "--format", "json", "--as-of", "2026-11-30",
            str(FHIR_EXAMPLES / "small-soft-lump.json"), str(FHIR_EXAMPLES / "incomplete-lump.json"),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the incomplete case
    assert [r["case_id"] for r in json.loads(done.stdout)] == ["small-soft-lump", "incomplete-lump"]


def test_a_finding_added_to_the_knowledge_is_a_new_question_and_is_read_from_fhir(tmp_path: Path) -> None:
    """No Python to touch: a finding in the ontology, its form key in the context, and a completeness
    shape asking for it give a required question with its help text, and FHIR answers to it are read."""
    import shutil

    from reasoner import load_knowledge

    for part in ("ontology", "shapes", "queries"):
        shutil.copytree(ROOT / part, tmp_path / part)
    (tmp_path / "ontology" / "test-finding.ttl").write_text(
        "@prefix dx: <https://w3id.org/dorsum/ontology#> .\n"
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        'dx:ItchyLump a dx:NeurologicalSymptom, owl:NamedIndividual ; rdfs:label "itchy lump"@en ;\n'
        '    dx:formKey "itchy_lump" ; dx:source dx:Seed000 .\n'
    )
    (tmp_path / "shapes" / "case-test-finding.ttl").write_text(
        "@prefix dx: <https://w3id.org/dorsum/ontology#> .\n"
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "dx:ItchyShape a sh:NodeShape ; sh:targetClass dx:Case ; sh:property [\n"
        "    sh:path [ sh:alternativePath ( dx:hasFinding dx:hasAbsentFinding ) ] ; sh:hasValue dx:ItchyLump ;\n"
        '    sh:name "itchy_lump" ; sh:severity sh:Warning ; sh:message "record whether the lump itches" ;\n'
        "    dx:assume [ dx:onProperty dx:hasFinding ; dx:value dx:ItchyLump ] ] .\n"
    )
    context_file = tmp_path / "ontology" / "case-form.context.jsonld"
    context = json.loads(context_file.read_text())
    context["@context"]["itchy_lump"] = "dx:ItchyLump"
    context_file.write_text(json.dumps(context))
    knowledge = load_knowledge(tmp_path)
    items = items_by_id(build_questionnaire(knowledge))
    assert items["itchy_lump"]["required"] and items["itchy_lump.help"]["text"] == "record whether the lump itches"
    response = json.loads((FHIR_EXAMPLES / "small-soft-lump.json").read_text())
    response["item"].append(
        {"linkId": "itchy_lump", "answer": [{"valueCoding": {"system": DORSUM_SYSTEM, "code": str(DX.hasFinding)}}]}
    )
    assert "itchy_lump" in case_from_fhir(response, knowledge).form["present"]


def test_codes_of_other_systems_are_read_only_through_mappings_recorded_with_a_source(tmp_path: Path) -> None:
    import shutil

    from reasoner import load_knowledge

    for part in ("ontology", "shapes", "queries"):
        shutil.copytree(ROOT / part, tmp_path / part)
    (tmp_path / "ontology" / "test-mappings.ttl").write_text(
        "@prefix dx: <https://w3id.org/dorsum/ontology#> .\n"
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
        "dx:BackPain skos:exactMatch <http://snomed.info/id/161891005> .\n"
        "[] a owl:Axiom ; owl:annotatedSource dx:BackPain ; owl:annotatedProperty skos:exactMatch ;\n"
        "   owl:annotatedTarget <http://snomed.info/id/161891005> ; dx:source dx:Seed000 .\n"
        "dx:Fever skos:exactMatch <https://loinc.org/8310-5/> .\n"  # no source: not used
    )
    knowledge = load_knowledge(tmp_path)
    bundle = json.loads((FHIR_EXAMPLES / "growing-firm-lump.json").read_text())
    for n, (system, code) in enumerate([("http://snomed.info/sct", "161891005"), ("http://loinc.org", "8310-5")]):
        bundle["entry"].append(
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": f"ext-{n}",
                    "status": "final",
                    "code": {"coding": [{"system": system, "code": code}]},
                    "valueBoolean": True,
                }
            }
        )
    fhir_case = case_from_fhir(bundle, knowledge, as_of=AS_OF)
    assert "back_pain" in fhir_case.form["present"] and "back_pain" not in fhir_case.form["absent"]
    assert "fever" not in fhir_case.form.get("present", [])
    assert any("http://loinc.org|8310-5" in note and "Observation/ext-1" in note for note in fhir_case.notes)
    assert not any("161891005" in note for note in fhir_case.notes if "unmapped" in note)
