"""The mapping from FHIR to the case form, read from the generated Questionnaire: nothing per field.

* an answer to item ``L`` (a QuestionnaireResponse), or an Observation or Condition whose code is
  the code of item ``L``, fills the form key ``L`` (inside the group of ``L``'s parent item);
* a coded answer whose code is the IRI of a set-valued form key (present, absent, unknown) puts ``L``
  in that set; any other coded answer sets ``L`` to the form term of that IRI.

Codes are the ontology IRIs in the dorsum code system. A code of another system is read only
through a mapping recorded in the ontology with its source (:func:`recorded_mappings`); any other
code, or a dorsum code that no item has, is *unmapped*: it is reported by name, never used silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rdflib.namespace import OWL, RDF, SKOS

from reasoner.fhir.questionnaire import (
    DORSUM_SYSTEM,
    UCUM,
    UNIT_EXTENSION,
    FormVocabulary,
    build_questionnaire,
    form_vocabulary,
)
from reasoner.knowledge import DX, Knowledge


@dataclass(frozen=True)
class Item:
    """One question: its form key, the group it sits in ("" for the case), its FHIR type and unit."""

    link_id: str
    group: str
    kind: str  # decimal, choice, text
    unit: str  # UCUM code, or ""


@dataclass(frozen=True)
class Answer:
    """One value for one item, from a QuestionnaireResponse answer or an Observation/Condition.

    ``value`` is a number, a text, or (``coded``) an ontology IRI."""

    link_id: str
    value: object
    coded: bool
    origin: str  # e.g. "QuestionnaireResponse/qr1 item size_cm", for messages


@dataclass(frozen=True)
class FormMap:
    """The items of the Questionnaire, by linkId and by code, and the form's vocabulary."""

    items: Mapping[str, Item]
    by_code: Mapping[str, str]  # item code (IRI) -> linkId
    vocabulary: FormVocabulary
    questionnaire_url: str
    external: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (system, code) -> ontology IRI

    def dorsum_code(self, entry: Mapping[str, Any]) -> str | None:
        """The ontology IRI a coding stands for: its code in the dorsum system, or a recorded mapping."""
        system, code = str(entry.get("system", "")), str(entry.get("code", ""))
        return code if system == DORSUM_SYSTEM else self.external.get((system, code))

    def item_for(self, codings: Iterable[Mapping[str, Any]]) -> tuple[Item | None, list[str]]:
        """The item coded by ``codings``, and the codings that map to nothing (as text). Codings
        of one concept name one item: two items raise ValueError (the second was dropped)."""
        found: Item | None = None
        unmapped: list[str] = []
        for entry in codings:
            iri = self.dorsum_code(entry)
            link_id = self.by_code.get(iri) if iri is not None else None
            if link_id is None:
                unmapped.append(describe_coding(entry))
            elif found is None:
                found = self.items[link_id]
            elif found.link_id != link_id:
                raise ValueError(f"coded as two items, {found.link_id} and {link_id}")
        return found, unmapped


def describe_coding(entry: Mapping[str, Any]) -> str:
    display = entry.get("display")
    text = f"{entry.get('system', '(no system)')}|{entry.get('code', '(no code)')}"
    return f"{text} ({display})" if display else text


def form_map(knowledge: Knowledge) -> FormMap:
    """The mapping for ``knowledge``, read from its generated Questionnaire, with the codes of other
    systems that the ontology maps, with a source, to its terms (:func:`recorded_mappings`)."""
    mapping = map_questionnaire(build_questionnaire(knowledge), form_vocabulary(knowledge))
    return replace(mapping, external=recorded_mappings(knowledge))


#: How a concept IRI of another terminology is written as a FHIR coding: IRI prefix -> FHIR system.
#: A matter of notation (each terminology's published IRI and FHIR system URIs), not a clinical fact.
TERMINOLOGY_IRIS = {
    "http://snomed.info/id/": "http://snomed.info/sct",
    "https://loinc.org/": "http://loinc.org",
    "http://loinc.org/": "http://loinc.org",
}


def recorded_mappings(knowledge: Knowledge) -> dict[tuple[str, str], str]:
    """Codes of other systems (SNOMED CT, LOINC) mapped to ontology terms in the ontology itself:
    ``term skos:exactMatch <http://snomed.info/id/CODE>``, accepted only when an ``owl:Axiom``
    annotating that statement names its ``dx:source``. Nothing is guessed."""
    ontology = knowledge.ontology
    found: dict[tuple[str, str], str] = {}
    for axiom in ontology.subjects(RDF.type, OWL.Axiom):
        if ontology.value(axiom, OWL.annotatedProperty) != SKOS.exactMatch or ontology.value(axiom, DX.source) is None:
            continue
        term, target = ontology.value(axiom, OWL.annotatedSource), ontology.value(axiom, OWL.annotatedTarget)
        if term is None or target is None or (term, SKOS.exactMatch, target) not in ontology:
            continue
        for prefix, system in TERMINOLOGY_IRIS.items():
            if str(target).startswith(prefix):
                found[(system, str(target)[len(prefix) :].strip("/"))] = str(term)
    return found


def map_questionnaire(questionnaire: Mapping[str, Any], vocabulary: FormVocabulary) -> FormMap:
    items: dict[str, Item] = {}
    by_code: dict[str, str] = {}

    def visit(entries: Iterable[Mapping[str, Any]], group: str) -> None:
        for entry in entries:
            link_id = str(entry["linkId"])
            kind = str(entry["type"])
            if kind == "group":
                visit(entry.get("item", []), link_id)
                continue
            if kind == "display":
                continue
            unit = next(
                (
                    str(ext["valueCoding"]["code"])
                    for ext in entry.get("extension", [])
                    if ext.get("url") == UNIT_EXTENSION and ext["valueCoding"].get("system") == UCUM
                ),
                "",
            )
            items[link_id] = Item(link_id=link_id, group=group, kind=kind, unit=unit)
            for code in entry.get("code", []):
                if code.get("system") == DORSUM_SYSTEM:
                    by_code[str(code["code"])] = link_id

    visit(questionnaire.get("item", []), "")
    return FormMap(items=items, by_code=by_code, vocabulary=vocabulary, questionnaire_url=str(questionnaire["url"]))


@dataclass
class FormBuilder:
    """Collects answers into a case form; whatever it cannot use becomes a note."""

    mapping: FormMap
    form: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, answer: Answer) -> None:
        item = self.mapping.items.get(answer.link_id)
        if item is None:
            self.notes.append(f"unmapped item '{answer.link_id}' in {answer.origin}: not used")
            return
        target = self.form.setdefault(item.group, {}) if item.group else self.form
        if not answer.coded:
            self._set(target, item.link_id, answer.value, answer.origin)
            return
        term = self.mapping.vocabulary.term_of.get(str(answer.value))
        if term is None:
            self.notes.append(f"unmapped code {DORSUM_SYSTEM}|{answer.value} in {answer.origin}: not used")
        elif term in self.mapping.vocabulary.set_terms:
            for other in self.mapping.vocabulary.set_terms - {term}:
                if item.link_id in self.form.get(other, []):
                    self.form[other].remove(item.link_id)
                    self.notes.append(f"{item.link_id}: {answer.origin} replaces an earlier '{other}'")
            members = self.form.setdefault(term, [])
            if item.link_id not in members:
                members.append(item.link_id)
        else:
            self._set(target, item.link_id, term, answer.origin)

    def _set(self, target: dict[str, Any], link_id: str, value: Any, origin: str) -> None:
        """Record a value; a later, different value of the same item replaces it with a note, as a
        later finding answer does (a second size once replaced the first without a word)."""
        if link_id in target and target[link_id] != value:
            self.notes.append(f"{link_id}: {origin} ({value}) replaces an earlier {target[link_id]}")
        target[link_id] = value

    def has(self, link_id: str) -> bool:
        item = self.mapping.items.get(link_id)
        if item is None:
            return False
        target = self.form.get(item.group, {}) if item.group else self.form
        return link_id in target
