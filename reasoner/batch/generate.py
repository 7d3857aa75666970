"""Generate realistic synthetic case forms (invented patients) for batches, benchmarks and tests.

The vocabulary comes from the knowledge, never from this module: the case-form keys from the
JSON-LD context, the findings and lump values from the ontology's individuals (with their
``dx:formKey``), the size thresholds and age-band bounds from the ontology's data. A generator
run is reproducible: the same knowledge, count and seed give the same forms.

Most forms are complete; some leave items out or mark them unknown (incomplete); about 2% are
deliberately invalid (an impossible value, an unknown term, a contradiction) so that a batch
exercises its error records.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from rdflib import Graph, Literal, Node, URIRef
from rdflib.namespace import RDF, RDFS, SH, XSD

from reasoner.errors import KnowledgeError
from reasoner.knowledge import DX, Knowledge, load_knowledge

INVALID_SHARE = 0.02
#: The SHACL target predicates: a shape with one of them is a top-level shape, not a condition.
TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
INCOMPLETE_SHARE = 0.15
QUIET_SHARE = 0.35
#: Age units a case form may use, by the suffix of its key; a unit conversion, not clinical knowledge.
AGE_UNITS_PER_YEAR = {"years": 1.0, "months": 12.0, "days": 365.25}
OLDEST_YEARS = 95.0
LARGEST_CM = 15.0
SMALLEST_CM = 0.3
INVALID_KINDS = (
    "negative-size",
    "unknown-finding",
    "present-and-absent",
    "unknown-field",
    "age-out-of-range",
    "age-not-a-number",
)


@dataclass(frozen=True)
class FormVocabulary:
    """The case-form keys and values a knowledge base defines."""

    findings: tuple[str, ...]  # finding keys, in the order of the context
    present_key: str
    absent_key: str
    unknown_key: str | None
    lump_key: str
    lump_values: Mapping[str, tuple[str, ...]]  # lump attribute key -> value keys
    optional_lump_keys: frozenset[str]  # attributes the completeness shapes do not require
    size_keys: tuple[str, ...]  # numeric lump attributes
    size_points: tuple[float, ...]  # thresholds from the ontology (boundary values to hit)
    age_keys: Mapping[str, float]  # age key -> units per year
    age_bounds: tuple[float, ...]  # age-band bounds in years, sorted
    note_key: str | None
    implies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # finding -> findings it implies


def form_vocabulary(knowledge: Knowledge) -> FormVocabulary:
    """Read the case-form vocabulary from the knowledge's context, ontology and shapes."""
    context = knowledge.context
    ontology = knowledge.ontology
    terms = {
        key: _expand(value if isinstance(value, str) else value.get("@id", ""), context)
        for key, value in context.items()
        if not key.startswith("@") and isinstance(value, (str, dict))
    }
    key_of = {iri: key for key, iri in terms.items() if isinstance(context[key], str)}
    lists: dict[URIRef, str] = {}
    lump_values: dict[str, tuple[str, ...]] = {}
    size_keys: list[str] = []
    age_keys: dict[str, float] = {}
    lump_key = note_key = None
    finding_range: URIRef | None = None
    for key, value in context.items():
        if key.startswith("@") or not isinstance(value, dict):
            continue
        prop = terms[key]
        domain = ontology.value(prop, RDFS.domain)
        kind = value.get("@type")
        numeric = kind is not None and _expand(str(kind), context) in (XSD.decimal, XSD.integer, XSD.double)
        if value.get("@container") == "@set" and kind == "@vocab":
            lists[prop] = key
            rng = ontology.value(prop, RDFS.range)
            finding_range = rng if isinstance(rng, URIRef) else finding_range
        elif prop == DX.hasLump:
            lump_key = key
        elif kind == "@vocab" and domain == DX.Lump:
            rng = ontology.value(prop, RDFS.range)
            lump_values[key] = tuple(_keys_of_members(ontology, rng, key_of)) if isinstance(rng, URIRef) else ()
        elif numeric and domain == DX.Lump:
            size_keys.append(key)
        elif numeric and domain == DX.Case:
            unit = key.rsplit("_", 1)[-1]
            if unit in AGE_UNITS_PER_YEAR:
                age_keys[key] = AGE_UNITS_PER_YEAR[unit]
        elif kind is None and prop == DX.note:
            note_key = key
    if finding_range is None or lump_key is None or DX.hasFinding not in lists or DX.hasAbsentFinding not in lists:
        raise KnowledgeError("the case-form context lacks the lump or the present/absent finding lists")
    shapes = knowledge.shapes
    # asked unconditionally: a property with sh:minCount of a shape that has its own target (one
    # nested in a condition, sh:or or sh:not, asks only in some situation)
    targeted = {shape for target in TARGETS for shape in shapes.subjects(target, None)}
    required = {
        str(shapes.value(prop, SH.path))
        for shape in targeted
        for prop in shapes.objects(shape, SH.property)
        if (prop, SH.minCount, None) in shapes
    }
    optional = frozenset(key for key in lump_values if str(terms[key]) not in required)
    sizes = sorted({float(o.toPython()) for o in ontology.objects(None, DX.minCm) if isinstance(o, Literal)})
    bounds = {
        float(o.toPython())
        for p in (DX.minAgeYears, DX.maxAgeYears)
        for o in ontology.objects(None, p)
        if isinstance(o, Literal)
    }
    return FormVocabulary(
        findings=tuple(_keys_of_members(ontology, finding_range, key_of)),
        present_key=lists[DX.hasFinding],
        absent_key=lists[DX.hasAbsentFinding],
        unknown_key=lists.get(DX.hasUnknownFinding),
        lump_key=lump_key,
        lump_values=lump_values,
        optional_lump_keys=optional,
        size_keys=tuple(size_keys),
        size_points=tuple(sizes),
        age_keys=age_keys,
        age_bounds=tuple(sorted(bounds | {0.0})),
        note_key=note_key,
        implies=_implications(ontology, key_of),
    )


def _implications(ontology: Graph, key_of: Mapping[URIRef, str]) -> dict[str, tuple[str, ...]]:
    """dx:impliesFinding as form keys: a finding recorded present needs these present too."""
    found: dict[str, list[str]] = {}
    for finding, implied in ontology.subject_objects(DX.impliesFinding):
        if finding in key_of and implied in key_of:
            found.setdefault(key_of[finding], []).append(key_of[implied])  # type: ignore[index]
    return {key: tuple(sorted(values)) for key, values in found.items()}


def _expand(value: str, context: Mapping[str, Any]) -> URIRef:
    prefix, sep, local = value.partition(":")
    base = context.get(prefix)
    if sep and isinstance(base, str) and not local.startswith("//"):
        return URIRef(base + local)
    return URIRef(value)


def _keys_of_members(ontology: Graph, cls: Node, key_of: Mapping[URIRef, str]) -> list[str]:
    """The form keys of the individuals of ``cls`` or its subclasses, in a stable order."""
    classes = set(ontology.transitive_subjects(RDFS.subClassOf, cls))
    keys = set()
    for member_class in classes:
        for member in ontology.subjects(RDF.type, member_class):
            form_key = ontology.value(member, DX.formKey)
            if isinstance(member, URIRef) and form_key is not None and key_of.get(member) == str(form_key):
                keys.add(str(form_key))
    return sorted(keys)


def generate_forms(
    count: int,
    seed: int,
    knowledge: Knowledge | None = None,
    *,
    invalid_share: float = INVALID_SHARE,
    incomplete_share: float = INCOMPLETE_SHARE,
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` invented case forms, reproducibly for a given ``seed``.

    The first forms walk through every finding (present and absent), every lump value and
    every age band, so even a small batch covers the whole vocabulary; the rest are random.
    """
    vocabulary = form_vocabulary(knowledge if knowledge is not None else load_knowledge())
    rng = random.Random(seed)
    cover = max(
        [len(vocabulary.findings), len(vocabulary.age_bounds) + 1]
        + [len(values) for values in vocabulary.lump_values.values()]
    )
    for index in range(count):
        covering = index < cover
        form = _complete_form(vocabulary, rng, index if covering else None)
        form = {"id": f"generated-{seed}-{index:07d}", **form}
        roll = rng.random()
        if not covering and roll < invalid_share:
            _make_invalid(form, vocabulary, rng)
        elif not covering and roll < invalid_share + incomplete_share:
            _make_incomplete(form, vocabulary, rng)
        yield form


def _complete_form(vocabulary: FormVocabulary, rng: random.Random, walk: int | None) -> dict[str, Any]:
    form: dict[str, Any] = {}
    if vocabulary.note_key:
        form[vocabulary.note_key] = "Invented patient (generated)."
    key, value = _age(vocabulary, rng, walk)
    form[key] = value
    quiet = walk is None and rng.random() < QUIET_SHARE  # nothing present, smaller than every threshold
    lump: dict[str, Any] = {}
    for size_key in vocabulary.size_keys:
        lump[size_key] = _size(vocabulary, rng, walk)
        if quiet and vocabulary.size_points:
            lump[size_key] = round(rng.uniform(SMALLEST_CM, vocabulary.size_points[0]), 1)
    for attribute, values in vocabulary.lump_values.items():
        if not values:
            continue
        if attribute in vocabulary.optional_lump_keys and walk is None and rng.random() < 0.2:
            continue
        lump[attribute] = values[walk % len(values)] if walk is not None else rng.choice(values)
    form[vocabulary.lump_key] = lump
    likelihood = 0.0 if quiet else rng.choice((0.02, 0.04, 0.08, 0.15))
    present = [f for f in vocabulary.findings if rng.random() < likelihood]
    if walk is not None:
        findings = vocabulary.findings
        present = sorted({*present, findings[walk % len(findings)]} - {findings[(walk + 1) % len(findings)]})
    present = sorted({*present, *(implied for f in present for implied in vocabulary.implies.get(f, ()))})
    form[vocabulary.present_key] = present
    form[vocabulary.absent_key] = [f for f in vocabulary.findings if f not in present]
    return form


def _age(vocabulary: FormVocabulary, rng: random.Random, walk: int | None) -> tuple[str, float | int]:
    """An age in one of the age bands (sometimes exactly on a bound), in a unit fitting the age."""
    bounds = [*vocabulary.age_bounds, OLDEST_YEARS]
    band = walk % (len(bounds) - 1) if walk is not None else rng.randrange(len(bounds) - 1)
    low, high = bounds[band], bounds[band + 1]
    years = low if (walk is None and rng.random() < 0.1) else rng.uniform(low, high)
    units = [key for key in vocabulary.age_keys if _fits(vocabulary.age_keys[key], years)]
    key = rng.choice(units or sorted(vocabulary.age_keys))
    value = years * vocabulary.age_keys[key]
    rounded = round(value) if rng.random() < 0.85 else round(value, 1)
    return key, rounded if rounded != 0 or value == 0 else round(value, 2)


def _fits(per_year: float, years: float) -> bool:
    """A unit fits an age if the age is a handful to a few hundred of that unit (days for neonates ...)."""
    amount = years * per_year
    return 1 <= amount <= 400 or (per_year == 1.0 and years >= 1)


def _size(vocabulary: FormVocabulary, rng: random.Random, walk: int | None) -> float:
    points = vocabulary.size_points
    if points and (walk is not None or rng.random() < 0.25):
        point = points[walk % len(points)] if walk is not None else rng.choice(points)
        return round(point + rng.choice((-0.5, 0.0, 0.0, 0.5)), 1) or point
    spread: float = (LARGEST_CM / SMALLEST_CM) ** rng.random()
    return round(SMALLEST_CM * spread, 1)


def _make_incomplete(form: dict[str, Any], vocabulary: FormVocabulary, rng: random.Random) -> None:
    """Leave items out (unknown), or say they are unknown, so the completeness shapes fire."""
    choice = rng.randrange(4)
    if choice == 0:
        for key in vocabulary.age_keys:
            form.pop(key, None)
    elif choice == 1:
        lump = form[vocabulary.lump_key]
        for attribute in rng.sample(sorted(lump), k=rng.randint(1, len(lump))):
            del lump[attribute]
        if not lump and rng.random() < 0.5:
            del form[vocabulary.lump_key]
    else:
        absent = form[vocabulary.absent_key]
        dropped = rng.sample(absent, k=rng.randint(1, max(1, len(absent) // 2))) if absent else []
        form[vocabulary.absent_key] = [f for f in absent if f not in dropped]
        if choice == 3 and vocabulary.unknown_key:
            form[vocabulary.unknown_key] = dropped


def _make_invalid(form: dict[str, Any], vocabulary: FormVocabulary, rng: random.Random) -> None:
    kind = rng.choice(INVALID_KINDS)
    if kind == "present-and-absent" and not form[vocabulary.absent_key]:
        kind = "unknown-finding"
    if kind == "negative-size" and not vocabulary.size_keys:
        kind = "unknown-field"
    lump = form[vocabulary.lump_key]
    age_key = next((key for key in vocabulary.age_keys if key in form), next(iter(vocabulary.age_keys)))
    if kind == "negative-size":
        lump[vocabulary.size_keys[0]] = -round(rng.uniform(0.5, 5), 1)
    elif kind == "unknown-finding":
        form[vocabulary.present_key] = [*form[vocabulary.present_key], "no_such_finding"]
    elif kind == "present-and-absent":
        form[vocabulary.present_key] = [*form[vocabulary.present_key], form[vocabulary.absent_key][0]]
    elif kind == "unknown-field":
        form["lump_size"] = 3
    elif kind == "age-out-of-range":
        form[age_key] = -1
    else:
        form[age_key] = "unknown"


def write_jsonl(forms: Iterator[dict[str, Any]], stream: IO[str]) -> int:
    """Write forms as JSON Lines; returns how many were written."""
    written = 0
    for form in forms:
        stream.write(json.dumps(form, ensure_ascii=False, separators=(",", ":")) + "\n")
        written += 1
    return written


__all__ = ["FormVocabulary", "form_vocabulary", "generate_forms", "write_jsonl"]
