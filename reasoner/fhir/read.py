"""Read FHIR R4 resources as a case: a QuestionnaireResponse for the generated Questionnaire, or a
Bundle holding a Patient, QuestionnaireResponses, Observations and Conditions.

Each resource is first checked against the FHIR R4B models of ``fhir.resources``: one that is not
valid FHIR is a :class:`~reasoner.errors.CaseError` (exit code 3), and so is a value the models
accept but FHIR JSON writes otherwise (``"5"`` for a decimal, ``"false"`` for a boolean:
:data:`JSON_TYPES`). The values then go through the
mapping of :mod:`reasoner.fhir.mapping` into a case form, read by the ordinary form reader. What
could not be used is kept as notes, which :func:`triage_fhir` adds to the result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from reasoner.errors import CaseError, UsageError, one_line
from reasoner.fhir.mapping import Answer, FormBuilder, FormMap, Item, describe_coding, form_map
from reasoner.knowledge import DX, Knowledge
from reasoner.pipeline.form_syntax import InputLimits, parse_json_resource
from reasoner.pipeline.policy import Profile
from reasoner.pipeline.read import CASE_ID, CaseInput, case_from_form, read_case_text
from reasoner.pipeline.result import TriageResult
from reasoner.pipeline.triage import triage

ACCEPTED = ("QuestionnaireResponse", "Bundle")
#: A Condition with this verification status says the finding is absent.
REFUTED = "refuted"
IGNORED_STATUS = {"entered-in-error", "cancelled"}
_MAPS: dict[str, FormMap] = {}
#: The JSON type of each FHIR value element dorsum reads, as FHIR JSON writes it (a decimal or an
#: integer is a JSON number, a boolean is true or false, a string is a JSON string). A file's
#: numbers with a fraction are Decimal, as written (:func:`parse_json_resource`); a document
#: parsed by the caller may hold floats.
JSON_TYPES: dict[str, tuple[str, tuple[type, ...]]] = {
    "valueDecimal": ("a JSON number", (int, float, Decimal)),
    "valueInteger": ("a JSON whole number", (int,)),
    "value": ("a JSON number", (int, float, Decimal)),  # valueQuantity.value
    "valueBoolean": ("true or false", (bool,)),
    "valueString": ("a JSON string", (str,)),
}


@dataclass(frozen=True)
class FhirCase:
    """A case read from FHIR, the form it became, and what could not be used (as notes)."""

    case: CaseInput
    form: Mapping[str, Any]
    notes: tuple[str, ...]


def read_fhir(path: Path | str, knowledge: Knowledge, as_of: date | None = None) -> FhirCase:
    """Read one FHIR JSON file (a QuestionnaireResponse or a Bundle)."""
    file = Path(path)
    limits = InputLimits.from_environment()
    # as a case file is read: a regular file within the size limit (a FIFO, a device or 300 MB
    # were read whole, or reported as "file not found"), without duplicate keys or deep nesting
    document = parse_json_resource(read_case_text(file, limits), str(file), limits)
    return case_from_fhir(document, knowledge, as_of=as_of, name=file.stem, source=str(file))


def case_from_fhir(
    document: Any, knowledge: Knowledge, *, as_of: date | None = None, name: str = "fhir-case", source: str = "<fhir>"
) -> FhirCase:
    """Turn a FHIR resource (parsed JSON) into a case."""
    resource_type = document.get("resourceType") if isinstance(document, Mapping) else None
    if resource_type not in ACCEPTED:
        raise CaseError(source, [f"expected a FHIR {' or '.join(ACCEPTED)}, got {resource_type or 'no resourceType'}"])
    check_fhir(document, source)
    mapping = _map_for(knowledge)
    builder = FormBuilder(mapping)
    reader = _Reader(builder, source, as_of or date.today())
    reader.read(document)
    form = dict(builder.form)
    identifier = document.get("id")
    if isinstance(identifier, str) and CASE_ID.fullmatch(identifier):
        name = identifier
    form["id"] = name
    case = case_from_form(form, knowledge, name=name, source=source)
    return FhirCase(case=case, form=form, notes=tuple(builder.notes))


def check_fhir(document: Mapping[str, Any], source: str) -> None:
    """Raise CaseError unless ``document`` is a valid FHIR R4 (R4B models) resource."""
    try:
        from fhir.resources.R4B import get_fhir_model_class
        from pydantic import ValidationError
    except ImportError as exc:
        raise UsageError(f"reading FHIR needs its extra: pip install 'dorsum[fhir]' ({exc.name} missing)") from exc

    resource_type = str(document.get("resourceType"))
    try:
        get_fhir_model_class(resource_type).model_validate(dict(document))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise CaseError(source, [f"not valid FHIR R4 {resource_type}: {where}: {first.get('msg', '')}"]) from exc
    except ValueError as exc:
        raise CaseError(source, [f"not valid FHIR R4: {one_line(exc)}"]) from exc


def triage_fhir(
    fhir_case: FhirCase, knowledge: Knowledge, profile: Profile | None = None, *, explain_missing: bool = True
) -> TriageResult:
    """Triage a case read from FHIR; what could not be used is in the result's notes.

    ``explain_missing`` as in :func:`reasoner.pipeline.triage.triage` (one more reasoning run per
    missing item)."""
    result = triage(fhir_case.case, knowledge, profile, explain_missing=explain_missing)
    return replace(result, notes=result.notes + fhir_case.notes) if fhir_case.notes else result


def _map_for(knowledge: Knowledge) -> FormMap:
    mapping = _MAPS.get(knowledge.content_hash)
    if mapping is None:
        mapping = _MAPS[knowledge.content_hash] = form_map(knowledge)
    return mapping


class _Reader:
    def __init__(self, builder: FormBuilder, source: str, as_of: date) -> None:
        self.builder = builder
        self.source = source
        self.as_of = as_of
        vocabulary = builder.mapping.vocabulary
        self.present = vocabulary.iri_of[vocabulary.term_of[str(DX.hasFinding)]]
        self.absent = vocabulary.iri_of[vocabulary.term_of[str(DX.hasAbsentFinding)]]
        self.unknown = vocabulary.iri_of[vocabulary.term_of[str(DX.hasUnknownFinding)]]

    def read(self, document: Mapping[str, Any]) -> None:
        if document["resourceType"] == "QuestionnaireResponse":
            self.response(document)
            return
        resources = [entry["resource"] for entry in document.get("entry", []) if "resource" in entry]
        self._one_patient(document)
        for resource in _flatten(resources):
            kind = resource.get("resourceType")
            handler = {
                "QuestionnaireResponse": self.response,
                "Observation": self.observation,
                "Condition": self.condition,
            }.get(str(kind))
            if handler is not None:
                handler(resource)
            elif kind != "Patient":
                self.builder.notes.append(f"{_name(resource)}: a {kind} is not read by dorsum")
        patients = [resource for resource in _flatten(resources) if resource.get("resourceType") == "Patient"]
        for patient in patients[:1]:
            self.patient(patient)

    def _one_patient(self, bundle: Mapping[str, Any]) -> None:
        """Refuse a Bundle about more than one patient: its Patients, and the subjects of its
        responses, Observations and Conditions, must name one (a resource without a subject is
        taken to be about it). Read as one case, two patients' data were merged into one."""
        entries = list(_entries(bundle))
        aliases = {
            full_url: f"Patient/{resource['id']}"
            for full_url, resource in entries
            if resource.get("resourceType") == "Patient" and resource.get("id") and full_url
        }
        about: dict[str, str] = {}  # patient -> the first resource naming it
        for _full_url, resource in entries:
            if resource.get("resourceType") == "Patient":
                if resource.get("id"):
                    about.setdefault(f"Patient/{resource['id']}", _name(resource))
                continue
            subject = resource.get("subject")
            reference = subject.get("reference") if isinstance(subject, Mapping) else None
            if isinstance(reference, str) and reference:
                about.setdefault(_patient_reference(reference, aliases), _name(resource))
        if len(about) > 1:
            first, other = (key if by == key else f"{key} in {by}" for key, by in list(about.items())[:2])
            raise CaseError(
                self.source,
                [
                    f"the Bundle is about more than one patient ({first}; {other}): read as one case, "
                    "their data would be merged; send one patient's data"
                ],
            )

    def response(self, resource: Mapping[str, Any]) -> None:
        expected = self.builder.mapping.questionnaire_url
        named = str(resource.get("questionnaire", "")).split("|", 1)[0]
        if named and named != expected:
            raise CaseError(self.source, [f"{_name(resource)} answers {named}, not {expected}"])
        if resource.get("status") in IGNORED_STATUS:
            self.builder.notes.append(f"{_name(resource)} is {resource['status']}: not used")
            return
        for item in _answered_items(resource.get("item", [])):
            answers = item.get("answer", [])
            if len(answers) > 1:  # no item of the Questionnaire repeats: all but the first were dropped
                where = f"{_name(resource)} item {item['linkId']}"
                raise CaseError(self.source, [f"{where} has {len(answers)} answers; the Questionnaire asks for one"])
            for value in answers:
                self._answer(str(item["linkId"]), value, f"{_name(resource)} item {item['linkId']}")

    def _answer(self, link_id: str, value: Mapping[str, Any], origin: str) -> None:
        if "valueCoding" in value:
            self._coded(link_id, value["valueCoding"], origin)
        elif "valueCodeableConcept" in value:
            codings = value["valueCodeableConcept"].get("coding", [])
            self._concept(link_id, codings, origin)
        elif "valueDecimal" in value:
            self.builder.add(Answer(link_id, self._typed(value, "valueDecimal", origin), False, origin))
        elif "valueInteger" in value:
            self.builder.add(Answer(link_id, self._typed(value, "valueInteger", origin), False, origin))
        elif "valueQuantity" in value:
            self._quantity(link_id, value["valueQuantity"], origin)
        elif "valueBoolean" in value:
            self.builder.add(Answer(link_id, self._typed(value, "valueBoolean", origin), False, origin))
        elif "valueString" in value:
            self.builder.add(Answer(link_id, self._typed(value, "valueString", origin), False, origin))
        else:
            kinds = ", ".join(sorted(key for key in value if key.startswith("value"))) or "no value"
            self.builder.notes.append(f"{origin}: an answer of type {kinds} is not used")

    def _concept(self, link_id: str, codings: list[Mapping[str, Any]], origin: str) -> None:
        """A CodeableConcept's answer: the coding the mapping reads (only the first coding was
        read, so a SNOMED CT coding before the dorsum one lost the answer); codings that read as
        two different answers are refused."""
        read = {code for code in map(self.builder.mapping.dorsum_code, codings) if code is not None}
        if len(read) > 1:
            raise CaseError(self.source, [f"{origin}: one answer coded as {len(read)} different codes"])
        mapped = [coding for coding in codings if self.builder.mapping.dorsum_code(coding) is not None]
        self._coded(link_id, (mapped or codings or [{}])[0], origin)

    def _coded(self, link_id: str, coding: Mapping[str, Any], origin: str) -> None:
        iri = self.builder.mapping.dorsum_code(coding)
        if iri is None:
            self.builder.notes.append(f"unmapped code {describe_coding(coding)} in {origin}: not used")
            return
        self.builder.add(Answer(link_id, iri, True, origin))

    def _quantity(self, link_id: str, quantity: Mapping[str, Any], origin: str) -> None:
        item = self.builder.mapping.items.get(link_id)
        unit = str(quantity.get("code", quantity.get("unit", "")))
        if item is not None and item.unit and unit and unit != item.unit:
            self.builder.notes.append(f"{origin}: unit '{unit}' is not {item.unit}: not used")
            return
        if "comparator" in quantity:  # "> 5 cm" was read as 5 cm, under a "more than 5 cm" threshold
            self.builder.notes.append(
                f"{origin}: '{quantity['comparator']}' {quantity.get('value')} is no value: not used"
            )
            return
        if "value" not in quantity:  # a Quantity may have no value (FHIR: 0..1)
            self.builder.notes.append(f"{origin}: a valueQuantity without a value: not used")
            return
        self.builder.add(Answer(link_id, self._typed(quantity, "value", origin, "valueQuantity.value"), False, origin))

    def _typed(self, element: Mapping[str, Any], key: str, origin: str, name: str | None = None) -> Any:
        """``element[key]`` if it has the JSON type FHIR JSON gives that element (:data:`JSON_TYPES`);
        else CaseError. The FHIR models read ``"5"`` as 5 and ``"false"`` or ``0`` as false, and
        ``bool("false")`` then read true: a value is used only as it was written."""
        value = element.get(key)
        kind, accepted = JSON_TYPES[key]
        if isinstance(value, accepted) and not (isinstance(value, bool) and bool not in accepted):
            return value
        raise CaseError(self.source, [f"{origin}: {name or key} must be {kind}, not {_json_shown(value)}"])

    def observation(self, resource: Mapping[str, Any]) -> None:
        if resource.get("status") in IGNORED_STATUS:
            self.builder.notes.append(f"{_name(resource)} is {resource['status']}: not used")
            return
        origin = _name(resource)
        item, unmapped = self._item_for(resource, origin)
        if item is None:
            self.builder.notes.append(f"unmapped code {', '.join(unmapped) or '(none)'} in {origin}: not used")
            return
        if item.kind != "choice" or not self._is_finding(item.link_id):
            self._answer(item.link_id, resource, origin)
            return
        if "dataAbsentReason" in resource:
            disposition = self.unknown
        elif "valueBoolean" in resource:
            disposition = self.present if self._typed(resource, "valueBoolean", origin) else self.absent
        elif "valueCodeableConcept" in resource:
            self._concept(item.link_id, resource["valueCodeableConcept"].get("coding", []), origin)
            return
        elif any(key.startswith("value") for key in resource):  # valueString "no" was read as present
            kinds = ", ".join(sorted(key for key in resource if key.startswith("value")))
            self.builder.notes.append(f"{origin}: a finding with a value of type {kinds} is not used")
            return
        else:
            disposition = self.present
        self.builder.add(Answer(item.link_id, disposition, True, origin))

    def condition(self, resource: Mapping[str, Any]) -> None:
        status = _first_code(resource.get("verificationStatus"))
        origin = _name(resource)
        if status in IGNORED_STATUS:
            self.builder.notes.append(f"{origin} is {status}: not used")
            return
        item, unmapped = self._item_for(resource, origin)
        if item is None or not self._is_finding(item.link_id):
            self.builder.notes.append(f"unmapped code {', '.join(unmapped) or '(none)'} in {origin}: not used")
            return
        self.builder.add(Answer(item.link_id, self.absent if status == REFUTED else self.present, True, origin))

    def _item_for(self, resource: Mapping[str, Any], origin: str) -> tuple[Item | None, list[str]]:
        try:
            return self.builder.mapping.item_for(resource.get("code", {}).get("coding", []))
        except ValueError as exc:
            raise CaseError(self.source, [f"{origin} is {exc}: one resource records one item"]) from exc

    def patient(self, resource: Mapping[str, Any]) -> None:
        born = resource.get("birthDate")
        if not born:
            return
        ages = [key for key in ("age_years", "age_months", "age_days") if self.builder.has(key)]
        if ages:
            self.builder.notes.append(f"{_name(resource)}: birthDate not used, the age is recorded ({ages[0]})")
            return
        birth = _full_date(str(born))
        if birth is None:
            self.builder.notes.append(f"{_name(resource)}: birthDate {born} is not a full date: age not used")
            return
        if birth > self.as_of:
            raise CaseError(self.source, [f"{_name(resource)}: birthDate {born} is after {self.as_of.isoformat()}"])
        years = _completed_years(birth, self.as_of)
        origin = f"{_name(resource)} birthDate at {self.as_of.isoformat()}"
        if years >= 1:
            self.builder.add(Answer("age_years", years, False, origin))
        else:
            self.builder.add(Answer("age_days", (self.as_of - birth).days, False, origin))

    def _is_finding(self, link_id: str) -> bool:
        """A finding's item: a value term of the form, not a property term."""
        vocabulary = self.builder.mapping.vocabulary
        return link_id in vocabulary.iri_of and link_id not in vocabulary.datatype


def _answered_items(items: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for item in items:
        if item.get("answer"):
            yield item
            for answer in item["answer"]:
                yield from _answered_items(answer.get("item", []))
        yield from _answered_items(item.get("item", []))


def _flatten(resources: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Resources, with the entries of nested Bundles (search results in a prefetch) in their place."""
    for resource in resources:
        if resource.get("resourceType") == "Bundle":
            yield from _flatten([entry["resource"] for entry in resource.get("entry", []) if "resource" in entry])
        else:
            yield resource


def _entries(bundle: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every (fullUrl, resource) of a Bundle, nested Bundles' entries included."""
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            continue
        if resource.get("resourceType") == "Bundle":
            yield from _entries(resource)
        else:
            yield str(entry.get("fullUrl", "")), resource


def _patient_reference(reference: str, aliases: Mapping[str, str]) -> str:
    """A reference to a Patient as ``Patient/id``: relative, absolute (``https://ehr/fhir/Patient/1``,
    with or without ``_history``), or a Bundle entry's fullUrl; any other reference as written."""
    if reference in aliases:
        return aliases[reference]
    parts = reference.split("/_history/", 1)[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Patient":
        return f"Patient/{parts[-1]}"
    return reference


def _name(resource: Mapping[str, Any]) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '(no id)')}"


def _first_code(concept: Any) -> str:
    if isinstance(concept, Mapping):
        for coding in concept.get("coding", []):
            return str(coding.get("code", ""))
    return ""


def _full_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _completed_years(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _json_shown(value: Any) -> str:
    """A value as FHIR JSON carried it, with its JSON type: text "5", the number 0, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float | Decimal):
        return f"the number {value}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else f"{value[:40]}..."
        return f"the text {json.dumps(text, ensure_ascii=False)}"
    return f"a JSON {'array' if isinstance(value, list) else 'object'}"
