"""A FHIR R4 ``Questionnaire`` generated from the knowledge.

Nothing here names a clinical term. The items come from the knowledge:

* one item per case-form key (the property terms of ``ontology/case-form.context.jsonld``) that a
  well-formedness shape constrains; the keys of the shapes that target the lump (``sh:targetObjectsOf``)
  are nested in a group whose linkId is the form key of that property (``lump``);
* one item per finding (every individual with a ``dx:formKey`` whose class is a ``dx:Finding``),
  answered present / absent / unknown, coded with the IRIs of the form's set-valued properties;
* answer options: the individuals of the shape's ``sh:class``, coded with their IRIs;
* ``required`` where a completeness shape asks for the item unconditionally, help text from its
  ``sh:message``, and ``enableWhen`` where a completeness shape asks for it only in some situation
  (``sh:or ( [ sh:not CONDITION ] ... )``; a single value negated inside CONDITION, ``sh:not [
  sh:property [ sh:path P ; sh:hasValue V ] ]``, is the operator ``!=``).

Every code is in the dorsum code system, :data:`DORSUM_SYSTEM`, and is the ontology IRI itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rdflib import Graph, Literal, Node, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH

from reasoner.knowledge import DX, Knowledge

#: The dorsum code system: every code in it is an IRI of the ontology.
DORSUM_SYSTEM = "https://w3id.org/dorsum/ontology"
QUESTIONNAIRE_ID = "dorsum-back-lump"
QUESTIONNAIRE_URL = f"https://w3id.org/dorsum/fhir/Questionnaire/{QUESTIONNAIRE_ID}"
UCUM = "http://unitsofmeasure.org"
UNIT_EXTENSION = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
KNOWLEDGE_EXTENSION = "https://w3id.org/dorsum/fhir/StructureDefinition/knowledge"
XSD_DECIMAL = "http://www.w3.org/2001/XMLSchema#decimal"
XSD_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"

#: How a number is written on the form: the UCUM unit of each numeric form property. A matter of
#: representation (the form key says the same: size_cm, age_years), not a clinical fact.
UCUM_UNITS = {
    str(DX.sizeCm): ("cm", "centimetre"),
    str(DX.ageYears): ("a", "year"),
    str(DX.ageMonths): ("mo", "month"),
    str(DX.ageDays): ("d", "day"),
}

_OPERATORS = {SH.minExclusive: ">", SH.minInclusive: ">=", SH.maxExclusive: "<", SH.maxInclusive: "<="}


@dataclass(frozen=True)
class FormVocabulary:
    """The case form as the context defines it: term <-> IRI, which terms hold sets."""

    iri_of: Mapping[str, str]  # term -> IRI (property or value)
    term_of: Mapping[str, str]  # IRI -> term
    datatype: Mapping[str, str]  # property term -> its @type ("" for none, "@vocab" for a coded value)
    set_terms: frozenset[str]  # present, absent, unknown


def form_vocabulary(knowledge: Knowledge) -> FormVocabulary:
    """Read the JSON-LD context of the case form."""
    context = knowledge.context
    prefixes = {key: value for key, value in context.items() if isinstance(value, str) and value.endswith(("#", "/"))}

    def expand(curie: str) -> str:
        prefix, _, local = curie.partition(":")
        return prefixes[prefix] + local if prefix in prefixes and not local.startswith("//") else curie

    iri_of: dict[str, str] = {}
    datatype: dict[str, str] = {}
    sets: set[str] = set()
    for term, value in context.items():
        if term.startswith("@") or term in prefixes:
            continue
        if isinstance(value, Mapping):
            iri_of[term] = expand(str(value.get("@id", "")))
            kind = str(value.get("@type", ""))
            datatype[term] = expand(kind) if ":" in kind else kind
            if value.get("@container") == "@set":
                sets.add(term)
        elif isinstance(value, str) and not value.startswith("@"):
            iri_of[term] = expand(value)
    return FormVocabulary(
        iri_of=iri_of,
        term_of={iri: term for term, iri in iri_of.items()},
        datatype=datatype,
        set_terms=frozenset(sets),
    )


def coding(iri: str, knowledge: Knowledge) -> dict[str, str]:
    return {"system": DORSUM_SYSTEM, "code": iri, "display": knowledge.label(URIRef(iri))}


def build_questionnaire(knowledge: Knowledge) -> dict[str, Any]:
    """The Questionnaire (as FHIR JSON) for the case form of ``knowledge``."""
    builder = _Builder(knowledge)
    return {
        "resourceType": "Questionnaire",
        "id": QUESTIONNAIRE_ID,
        "url": QUESTIONNAIRE_URL,
        "version": knowledge.version,
        "name": "DorsumBackLump",
        "title": "Lump or mass on the back: what triage needs recorded",
        "status": "active",
        "subjectType": ["Patient"],
        "extension": [knowledge_extension(knowledge)],
        "item": builder.items(),
    }


def knowledge_extension(knowledge: Knowledge) -> dict[str, Any]:
    """The knowledge version and content hash, as a FHIR extension."""
    return {
        "url": KNOWLEDGE_EXTENSION,
        "extension": [
            {"url": "version", "valueString": knowledge.version},
            {"url": "versionIri", "valueUri": knowledge.version_iri},
            {"url": "contentHash", "valueString": knowledge.content_hash},
        ],
    }


class _Builder:
    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.shapes: Graph = knowledge.shapes
        self.vocabulary = form_vocabulary(knowledge)
        self.enable_when, self.enable_behavior = self._enable_when()
        self.required, self.help = self._completeness()

    # --- the items -------------------------------------------------------------------------

    def items(self) -> list[dict[str, Any]]:
        case_keys, lump_keys = self._form_keys()
        items: list[dict[str, Any]] = []
        for key in case_keys:
            if key == self._lump_term():
                group = self._item(key, "group")
                group["item"] = [self._value_item(child) for child in lump_keys]
                items.append(group)
            else:
                items.append(self._value_item(key))
        items.extend(self._finding_item(key, iri) for key, iri in self._findings())
        return items

    def _item(self, key: str, kind: str) -> dict[str, Any]:
        iri = self.vocabulary.iri_of[key]
        item: dict[str, Any] = {
            "linkId": key,
            "code": [coding(iri, self.knowledge)],
            "text": self.knowledge.label(URIRef(iri)),
            "type": kind,
        }
        if key in self.required and key not in self.enable_when:
            item["required"] = True
        if key in self.enable_when:
            item["required"] = True  # required only while enabled
            item["enableWhen"] = self.enable_when[key]
            if len(self.enable_when[key]) > 1:
                item["enableBehavior"] = self.enable_behavior[key]
        if key in self.help:
            item["item"] = [self._help(key)]
        return item

    def _help(self, key: str) -> dict[str, Any]:
        return {
            "linkId": f"{key}.help",
            "type": "display",
            "text": self.help[key],
            "extension": [
                {
                    "url": ITEM_CONTROL,
                    "valueCodeableConcept": {"coding": [{"system": ITEM_CONTROL_SYSTEM, "code": "help"}]},
                }
            ],
        }

    def _value_item(self, key: str) -> dict[str, Any]:
        iri = self.vocabulary.iri_of[key]
        kind = self.vocabulary.datatype.get(key, "")
        if kind == "@vocab":
            item = self._item(key, "choice")
            item["answerOption"] = [{"valueCoding": coding(value, self.knowledge)} for value in self._values_of(iri)]
            return item
        if kind == XSD_DECIMAL:
            item = self._item(key, "decimal")
            if iri in UCUM_UNITS:
                code, display = UCUM_UNITS[iri]
                item.setdefault("extension", []).append(
                    {"url": UNIT_EXTENSION, "valueCoding": {"system": UCUM, "code": code, "display": display}}
                )
            return item
        if kind == XSD_BOOLEAN:
            return self._item(key, "boolean")
        return self._item(key, "text")

    def _finding_item(self, key: str, iri: str) -> dict[str, Any]:
        item = self._item(key, "choice")
        item["code"] = [coding(iri, self.knowledge)]
        item["text"] = self.knowledge.label(URIRef(iri))
        item["answerOption"] = [
            {"valueCoding": {**coding(self.vocabulary.iri_of[term], self.knowledge), "display": term}}
            for term in sorted(self.vocabulary.set_terms, key=_disposition_order)
        ]
        return item

    # --- what the knowledge says -----------------------------------------------------------

    def _lump_term(self) -> str:
        return self.vocabulary.term_of[str(DX.hasLump)]

    def _form_keys(self) -> tuple[list[str], list[str]]:
        """Case-level and lump-level keys that a shape constrains, in the context's order."""
        lump_paths: set[str] = set()
        case_paths: set[str] = set()
        for shape in self.shapes.subjects(RDF.type, SH.NodeShape):
            on_lump = (shape, SH.targetObjectsOf, DX.hasLump) in self.shapes
            on_case = (shape, SH.targetClass, DX.Case) in self.shapes
            for prop in self.shapes.objects(shape, SH.property):
                path = self.shapes.value(prop, SH.path)
                if isinstance(path, URIRef):
                    (lump_paths if on_lump else case_paths if on_case else set()).add(str(path))
        vocabulary = self.vocabulary
        in_form = [term for term in vocabulary.datatype if term not in vocabulary.set_terms]
        lump = [term for term in in_form if vocabulary.iri_of[term] in lump_paths]
        case = [term for term in in_form if vocabulary.iri_of[term] in case_paths and term not in lump]
        return case, lump

    def _values_of(self, property_iri: str) -> list[str]:
        """The coded answers of a property: the individuals of its shapes' sh:class that have a form key."""
        classes = {
            cls
            for prop in self.shapes.subjects(SH.path, URIRef(property_iri))
            for cls in self.shapes.objects(prop, SH["class"])
        }
        ontology = self.knowledge.ontology
        values = {
            str(node)
            for cls in classes
            for node in ontology.subjects(RDF.type, cls)
            if str(node) in self.vocabulary.term_of
        }
        return sorted(values, key=lambda iri: self.vocabulary.term_of[iri])

    def _findings(self) -> list[tuple[str, str]]:
        ontology = self.knowledge.ontology
        found: dict[str, str] = {}
        for node, key in ontology.subject_objects(DX.formKey):
            if str(key) in self.vocabulary.iri_of and any(
                DX.Finding in set(ontology.transitive_objects(cls, RDFS.subClassOf))
                for cls in ontology.objects(node, RDF.type)
            ):
                found[str(key)] = str(node)
        return sorted(found.items(), key=lambda pair: self.knowledge.label(URIRef(pair[1])))

    def _completeness(self) -> tuple[set[str], dict[str, str]]:
        """Keys a completeness shape (sh:severity sh:Warning) asks for, and its message."""
        required: set[str] = set()
        help_text: dict[str, str] = {}
        for node in self.shapes.subjects(SH.severity, SH.Warning):
            name = self.shapes.value(node, SH.name)
            message = self.shapes.value(node, SH.message)
            if name is None or str(name) not in self.vocabulary.iri_of:
                continue
            key = str(name)
            if message is not None and str(message) not in help_text.get(key, "").split("\n"):
                # several shapes may ask one key, each in its own situation: one line each
                help_text[key] = f"{help_text[key]}\n{message}" if key in help_text else str(message)
            path = self.shapes.value(node, SH.path)
            minimum = self.shapes.value(node, SH.minCount)
            single = isinstance(path, URIRef) and isinstance(minimum, Literal) and int(minimum.toPython()) >= 1
            finding = (node, SH.hasValue, None) in self.shapes
            if single or finding:
                required.add(key)
        return required, help_text

    def _enable_when(self) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
        """``enableWhen`` per key, from the shapes that ask it only in some situation, and its
        ``enableBehavior``. Several shapes may ask one key (each in its own situation): the item is
        enabled when any of their conditions holds. FHIR can say "all of these" or "any of these";
        a key whose situations need both (or that some shape asks without a condition) is always
        enabled, never hidden where a shape asks it."""
        alternatives: dict[str, list[list[dict[str, Any]]]] = {}
        always: set[str] = set()
        for key, found in self._conditional_items():
            if found is None:
                always.add(key)
            else:
                alternatives.setdefault(key, []).extend(found)
        when: dict[str, list[dict[str, Any]]] = {}
        behavior: dict[str, str] = {}
        for key, options in alternatives.items():
            # an item is not enabled by its own answer: once answered it is recorded (back pain over 4
            # weeks is itself back pain, and the shape that asks it asks it of any back pain)
            options = [option for option in options if all(c.get("question") != key for c in option)]
            unique = {tuple(_frozen(condition) for condition in option): option for option in reversed(options)}
            conditions = list(reversed(unique.values()))  # each once, in the order first found
            if key in always or any(not option for option in conditions):
                continue
            if len(conditions) == 1:
                when[key], behavior[key] = conditions[0], "all"
            elif all(len(option) == 1 for option in conditions):
                when[key], behavior[key] = [option[0] for option in conditions], "any"
        return when, behavior

    def _conditional_items(self) -> Iterator[tuple[str, list[list[dict[str, Any]]] | None]]:
        """Shapes of the form ``sh:or ( [ sh:not CONDITION ] ASKED )``: ask KEY only when CONDITION
        holds (its alternatives, each a list of conditions that must all hold); None for a shape
        that asks KEY without such a condition (everywhere, or unless something is recorded)."""
        for shape in self.shapes.subjects(SH["or"], None):
            name = self.shapes.value(shape, SH.name)
            if name is None or str(name) not in self.vocabulary.iri_of:
                continue
            if (shape, SH.severity, SH.Warning) not in self.shapes:
                continue
            head = self.shapes.value(shape, SH["or"])
            conditions = [
                condition
                for branch in (Collection(self.shapes, head) if head is not None else ())
                if (condition := self.shapes.value(branch, SH["not"])) is not None
            ]
            if not conditions:
                yield str(name), None
                continue
            yield str(name), [option for condition in conditions for option in self._alternatives(condition)]

    def _alternatives(self, node: Node) -> list[list[dict[str, Any]]]:
        """A condition's alternatives: its own conditions, with each branch of its ``sh:or``."""
        own = list(self._conditions(node))
        head = self.shapes.value(node, SH["or"])
        if head is None:
            return [own]
        return [own + branch for member in Collection(self.shapes, head) for branch in self._alternatives(member)]

    def _conditions(self, node: Node) -> Iterator[dict[str, Any]]:
        for prop in self.shapes.objects(node, SH.property):
            path = self.shapes.value(prop, SH.path)
            if not isinstance(path, URIRef):
                continue
            term = self.vocabulary.term_of.get(str(path))
            if term is None:
                continue
            value = self.shapes.value(prop, SH.hasValue)
            if value is not None:
                yield self._equals(term, str(value))
            for bound, operator in _OPERATORS.items():
                limit = self.shapes.value(prop, bound)
                if isinstance(limit, Literal):
                    yield {"question": term, "operator": operator, "answerDecimal": float(limit.toPython())}
            nested = self.shapes.value(prop, SH.node)
            if nested is not None:
                yield from self._conditions(nested)
        # a negated value in the condition (``sh:not [ sh:property [ sh:path P ; sh:hasValue V ] ]``:
        # "back pain is not recorded absent") is FHIR's "!=", which holds while the question is
        # unanswered too (unknown is not absent). Only a single negated value: the negation of
        # several is an "any of" FHIR cannot nest here, so it is left out (the item is enabled more
        # widely, never hidden where a shape asks it)
        for negated in self.shapes.objects(node, SH["not"]):
            conditions = list(self._conditions(negated))
            single = len(conditions) == 1 and self.shapes.value(negated, SH["or"]) is None
            if single and conditions[0].get("operator") == "=":
                yield {**conditions[0], "operator": "!="}

    def _equals(self, term: str, value: str) -> dict[str, Any]:
        if term in self.vocabulary.set_terms:  # a finding recorded present (absent, unknown)
            question = self.vocabulary.term_of[value]
            return {
                "question": question,
                "operator": "=",
                "answerCoding": coding(self.vocabulary.iri_of[term], self.knowledge),
            }
        if self.vocabulary.datatype.get(term) == XSD_BOOLEAN:
            return {"question": term, "operator": "=", "answerBoolean": value.lower() == "true"}
        return {"question": term, "operator": "=", "answerCoding": coding(value, self.knowledge)}


def _frozen(condition: Mapping[str, Any]) -> str:
    return json.dumps(condition, sort_keys=True)


def _disposition_order(term: str) -> tuple[int, str]:
    order = ("present", "absent", "unknown")
    return (order.index(term) if term in order else len(order), term)


def questionnaire_items(questionnaire: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every item of a Questionnaire (or of a response), depth first."""
    stack = list(reversed(questionnaire.get("item", [])))
    while stack:
        item = stack.pop()
        yield item
        stack.extend(reversed(item.get("item", [])))
