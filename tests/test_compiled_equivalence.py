"""The compiled OWL 2 RL rules give exactly the entailments a full owlrl closure gives, case by case.

Run from the repository root with ``PYTHONPATH=.``. owlrl takes about 1.5 s per case alone, so the
random cases are closed together, in one batched owlrl run (``owlrl_reference_infer_many``, which
gives exactly what closing each case alone gives; the hand-picked cases are closed both ways and
compared); the ontology is compiled once per module.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS
from rdflib.term import Node

from reasoner.engines.owl_rl import (
    CompiledRules,
    UnsupportedConstruct,
    compile_rules,
    owlrl_reference_infer,
    owlrl_reference_infer_many,
)

ONTOLOGY = Path(__file__).resolve().parent.parent / "ontology"
DX = Namespace("https://w3id.org/dorsum/ontology#")
CASE_NS = "https://w3id.org/dorsum/case/"
RANDOM_CASES = 40

Triple = tuple[Node, Node, Node]


def load_ontology() -> Graph:
    graph = Graph()
    for path in sorted(ONTOLOGY.glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def without_annotations(ontology: Graph) -> Graph:
    """The schema the caller passes: the ontology minus annotation triples."""
    dropped = set(ontology.subjects(RDF.type, OWL.AnnotationProperty)) | {RDFS.label, RDFS.comment, SKOS.definition}
    schema = Graph()
    for s, p, o in ontology:
        if p in dropped or str(p).startswith(str(DCTERMS)):
            continue
        schema.add((s, p, o))
    return schema


class Vocabulary:
    """What a case can mention, discovered from the ontology."""

    def __init__(self, ontology: Graph) -> None:
        def rows(query: str) -> list[tuple[URIRef, ...]]:
            result = []
            for row in ontology.query(query, initNs={"dx": DX, "rdfs": RDFS}):
                assert isinstance(row, tuple) and all(isinstance(term, URIRef) for term in row)
                result.append(tuple(term for term in row if isinstance(term, URIRef)))
            return result

        def column(query: str) -> list[URIRef]:
            return sorted({row[0] for row in rows(query)})

        self.findings = column("SELECT ?f WHERE { ?f dx:formKey ?k ; a ?c . ?c rdfs:subClassOf* dx:Finding . }")
        self.thresholds = column("SELECT ?t WHERE { ?t a dx:SizeThreshold . }")
        self.age_bands = column("SELECT ?b WHERE { ?b a dx:AgeBand . }")
        self.lump_values: dict[URIRef, list[URIRef]] = {}
        lump_rows = rows(
            """SELECT ?p ?v WHERE {
                 ?p rdfs:domain dx:Lump ; rdfs:range ?c .
                 ?c rdfs:subClassOf* dx:LumpAttributeValue .
                 ?v a ?c . }"""
        )
        for prop, value in lump_rows:
            self.lump_values.setdefault(prop, []).append(value)
        for values in self.lump_values.values():
            values.sort()


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return load_ontology()


@pytest.fixture(scope="module")
def schema(ontology: Graph) -> Graph:
    return without_annotations(ontology)


@pytest.fixture(scope="module")
def vocabulary(ontology: Graph) -> Vocabulary:
    vocab = Vocabulary(ontology)
    assert vocab.findings and vocab.thresholds and vocab.age_bands
    value_classes = {c for p in vocab.lump_values for c in ontology.objects(p, RDFS.range)}
    for name in ("DepthValue", "ConsistencyValue", "MobilityValue", "GrowthValue", "RegionValue", "PositionValue"):
        assert DX[name] in value_classes, name
    return vocab


@pytest.fixture(scope="module")
def compiled(schema: Graph) -> CompiledRules:
    before = set(schema)
    rules = compile_rules(schema)
    assert set(schema) == before, "compile_rules() modified its input"
    return rules


def _age_literal(rng: random.Random) -> Literal:
    kind = rng.randrange(3)
    if kind == 0:
        return Literal(Decimal(rng.randrange(0, 1000)) / 10)
    if kind == 1:
        return Literal(rng.randrange(0, 100))
    return Literal(rng.uniform(0, 100))


def random_case(seed: int, vocab: Vocabulary) -> Graph:
    rng = random.Random(seed)
    case = URIRef(f"{CASE_NS}r{seed:03d}")
    graph = Graph()
    graph.add((case, RDF.type, DX.Case))
    if rng.random() < 0.8:
        graph.add((case, DX.ageYears, _age_literal(rng)))
    for finding in vocab.findings:
        choice = rng.choices(["present", "absent", "unknown", "omitted"], weights=[3, 3, 1, 5])[0]
        if choice == "present":
            graph.add((case, DX.hasFinding, finding))
        elif choice == "absent":
            graph.add((case, DX.hasAbsentFinding, finding))
        elif choice == "unknown":
            graph.add((case, DX.hasUnknownFinding, finding))
    for band in vocab.age_bands:
        if rng.random() < 0.3:
            graph.add((case, DX.inAgeBand, band))
    if rng.random() < 0.15:
        return graph  # no lump at all
    lump = BNode()
    graph.add((case, DX.hasLump, lump))
    if rng.random() < 0.3:
        graph.add((lump, RDF.type, DX.Lump))
    if rng.random() < 0.8:
        graph.add((lump, DX.sizeCm, Literal(Decimal(rng.randrange(1, 120)) / 10)))
    for prop, values in sorted(vocab.lump_values.items()):
        roll = rng.random()
        if roll < 0.3:
            continue
        count = 2 if roll > 0.9 and len(values) > 1 else 1
        for value in rng.sample(values, count):
            graph.add((lump, prop, value))
    for threshold in vocab.thresholds:
        roll = rng.random()
        if roll < 0.4:
            graph.add((lump, DX.exceedsThreshold, threshold))
        elif roll < 0.8:
            graph.add((lump, DX.withinThreshold, threshold))
    return graph


def everything_present(vocab: Vocabulary) -> Graph:
    case, lump = URIRef(f"{CASE_NS}all-present"), BNode()
    graph = Graph()
    graph.add((case, RDF.type, DX.Case))
    graph.add((case, DX.ageYears, Literal(Decimal("45.5"))))
    graph.add((case, DX.hasLump, lump))
    graph.add((lump, DX.sizeCm, Literal(Decimal("9.0"))))
    for finding in vocab.findings:
        graph.add((case, DX.hasFinding, finding))
    for band in vocab.age_bands:
        graph.add((case, DX.inAgeBand, band))
    for prop, values in vocab.lump_values.items():
        for value in values:
            graph.add((lump, prop, value))
    for threshold in vocab.thresholds:
        graph.add((lump, DX.exceedsThreshold, threshold))
    return graph


def everything_absent(vocab: Vocabulary) -> Graph:
    case, lump = URIRef(f"{CASE_NS}all-absent"), BNode()
    graph = Graph()
    graph.add((case, RDF.type, DX.Case))
    graph.add((case, DX.ageYears, Literal(30)))
    graph.add((case, DX.hasLump, lump))
    graph.add((lump, DX.sizeCm, Literal(0.5)))
    for finding in vocab.findings:
        graph.add((case, DX.hasAbsentFinding, finding))
    for threshold in vocab.thresholds:
        graph.add((lump, DX.withinThreshold, threshold))
    return graph


def empty_case() -> Graph:
    graph = Graph()
    graph.add((URIRef(f"{CASE_NS}empty"), RDF.type, DX.Case))
    return graph


EXAMPLE_CASE = """
@prefix dx: <https://w3id.org/dorsum/ontology#> .
<https://w3id.org/dorsum/case/c1> a dx:Case ; dx:ageYears 52.0 ;
    dx:hasFinding dx:Fever, dx:BackPain ; dx:hasAbsentFinding dx:SaddleAnaesthesia ;
    dx:inAgeBand dx:Adult, dx:Over40 ;
    dx:hasLump _:l .
_:l dx:sizeCm 4.0 ; dx:depth dx:Deep ; dx:consistency dx:Firm ; dx:mobility dx:Fixed ; dx:growth dx:Increasing ;
    dx:region dx:LumbarRegion ; dx:exceedsThreshold dx:SizeOver1_5cm_Seed000, dx:SizeOver3cm_Seed001 ;
    dx:withinThreshold dx:SizeOver5cmLipomatous_Seed001 .
"""


def hand_picked(vocab: Vocabulary) -> Iterator[tuple[str, Graph]]:
    yield "everything-present", everything_present(vocab)
    yield "everything-absent", everything_absent(vocab)
    yield "empty", empty_case()
    yield "example", Graph().parse(data=EXAMPLE_CASE, format="turtle")


def assert_equivalent(compiled: CompiledRules, schema: Graph, case: Graph, slow: Graph | None = None) -> set[Triple]:
    """The compiled rules' answer for ``case`` is owlrl's: ``slow`` if given (owlrl's answer computed
    ahead), else a full owlrl closure of schema + case run here. Returns owlrl's answer."""
    before = set(case)
    fast = compiled.infer(case)
    assert set(case) == before and len(case) == len(before), "infer() modified its input"
    if slow is None:
        slow = owlrl_reference_infer(schema, case)
        assert set(case) == before and len(case) == len(before), "owlrl_reference_infer() modified its input"
    fast_set: set[Triple] = set(fast)
    slow_set: set[Triple] = set(slow)
    only_fast = sorted(fast_set - slow_set)
    only_slow = sorted(slow_set - fast_set)
    assert not only_fast and not only_slow, f"only compiled: {only_fast}\nonly owlrl: {only_slow}"
    assert before <= fast_set
    return slow_set


@pytest.fixture(scope="module")
def random_cases(vocabulary: Vocabulary) -> list[Graph]:
    return [random_case(seed, vocabulary) for seed in range(RANDOM_CASES)]


@pytest.fixture(scope="module")
def hand_picked_cases(vocabulary: Vocabulary) -> dict[str, Graph]:
    return dict(hand_picked(vocabulary))


@pytest.fixture(scope="module")
def owlrl_answers(schema: Graph, random_cases: list[Graph], hand_picked_cases: dict[str, Graph]) -> list[Graph]:
    """owlrl's answer for every random case, then every hand-picked case, from batched owlrl runs."""
    cases = [*random_cases, *hand_picked_cases.values()]
    before = [set(case) for case in cases]
    answers = owlrl_reference_infer_many(schema, cases)
    assert [set(case) for case in cases] == before, "owlrl_reference_infer_many() modified its input"
    assert len(answers) == len(cases)
    return answers


@pytest.mark.parametrize("seed", range(RANDOM_CASES))
def test_random_case_matches_owlrl(
    seed: int, compiled: CompiledRules, schema: Graph, random_cases: list[Graph], owlrl_answers: list[Graph]
) -> None:
    assert_equivalent(compiled, schema, random_cases[seed], owlrl_answers[seed])


HAND_PICKED = ["everything-present", "everything-absent", "empty", "example"]


@pytest.mark.parametrize("name", HAND_PICKED)
def test_hand_picked_case_matches_owlrl(
    name: str, compiled: CompiledRules, schema: Graph, hand_picked_cases: dict[str, Graph], owlrl_answers: list[Graph]
) -> None:
    """Checked against owlrl closing the case alone, which must also be the batched run's answer."""
    alone = assert_equivalent(compiled, schema, hand_picked_cases[name])
    assert list(hand_picked_cases) == HAND_PICKED
    assert set(owlrl_answers[RANDOM_CASES + HAND_PICKED.index(name)]) == alone


def test_entailments_reach_the_case_and_the_lump(compiled: CompiledRules, vocabulary: Vocabulary) -> None:
    case = everything_present(vocabulary)
    inferred = compiled.infer(case)
    case_node = URIRef(f"{CASE_NS}all-present")
    lump = next(iter(case.objects(case_node, DX.hasLump)))
    assert (lump, RDF.type, DX.Lump) in inferred  # prp-dom / prp-rng on a blank node
    assert (case_node, RDF.type, DX.RedFlag) in inferred  # restriction classes, then cax-sco
    assert not any(isinstance(s, Literal) for s in inferred.subjects())
    assert (case_node, RDF.type, OWL.Thing) not in inferred
    assert (case_node, OWL.sameAs, case_node) not in inferred


def test_functional_property_is_unsupported(schema: Graph) -> None:
    extended = Graph()
    extended += schema
    extended.add((DX.hasLump, RDF.type, OWL.FunctionalProperty))
    with pytest.raises(UnsupportedConstruct, match="FunctionalProperty"):
        compile_rules(extended)
    assert (DX.hasLump, RDF.type, OWL.FunctionalProperty) not in schema


def test_case_with_schema_statements_is_unsupported(compiled: CompiledRules) -> None:
    case = empty_case()
    case.add((URIRef(f"{CASE_NS}empty"), OWL.sameAs, URIRef(f"{CASE_NS}other")))
    with pytest.raises(UnsupportedConstruct, match="sameAs"):
        compiled.infer(case)


def test_ages_use_several_datatypes() -> None:
    # the random cases mix xsd:decimal, xsd:integer and xsd:double literals (owlrl types each one)
    from rdflib.namespace import XSD  # imported here: pytest warns when it inspects XSD at module level

    datatypes = {_age_literal(random.Random(seed)).datatype for seed in range(30)}
    assert {XSD.decimal, XSD.integer, XSD.double} <= datatypes


SYNTHETIC_SCHEMA = """
@prefix ex: <http://example.org/s#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:A a owl:Class . ex:B a owl:Class . ex:C a owl:Class ; owl:equivalentClass ex:D .
ex:p a owl:ObjectProperty ; rdfs:domain ex:A ; rdfs:range ex:B ; rdfs:subPropertyOf ex:q .
ex:q a owl:ObjectProperty ; owl:inverseOf ex:qInv .
ex:r a owl:ObjectProperty, owl:TransitiveProperty .
ex:s a owl:ObjectProperty, owl:SymmetricProperty ; owl:equivalentProperty ex:s2 .
ex:n a owl:DatatypeProperty .
ex:i1 a ex:C .
ex:i1 ex:r ex:i2 .
[ a owl:Restriction ; owl:onProperty ex:q ; owl:someValuesFrom ex:C ] rdfs:subClassOf ex:HasQC .
[ a owl:Restriction ; owl:onProperty ex:qInv ; owl:someValuesFrom owl:Thing ] rdfs:subClassOf ex:Pointed .
[ a owl:Restriction ; owl:onProperty ex:n ; owl:someValuesFrom xsd:decimal ] rdfs:subClassOf ex:Measured .
ex:AllR owl:equivalentClass [ a owl:Restriction ; owl:onProperty ex:r ; owl:allValuesFrom ex:RTarget ] .
ex:Tagged owl:equivalentClass [ a owl:Restriction ; owl:onProperty ex:s ; owl:hasValue ex:tag ] .
[ owl:intersectionOf ( ex:A ex:Tagged ) ] rdfs:subClassOf ex:Both .
ex:Either owl:unionOf ( ex:Both ex:Measured ) .
ex:Both rdfs:subClassOf [ a owl:Restriction ; owl:onProperty ex:s2 ; owl:hasValue ex:other ] .
"""

SYNTHETIC_CASES = [
    "ex:x ex:p ex:i1 ; ex:s ex:tag ; ex:n 3.5 .",
    "ex:x a ex:AllR ; ex:r ex:y . ex:y ex:r ex:i1 .",
    "ex:x a ex:Tagged, ex:A . _:b ex:s ex:x ; ex:r ex:x .",
    "ex:x ex:n 1 ; ex:s2 ex:tag . ex:y ex:q ex:x .",
    "ex:x a ex:D ; ex:r ex:i1 .",
]


@pytest.mark.parametrize("body", SYNTHETIC_CASES)
def test_synthetic_schema_exercises_every_rule(body: str) -> None:
    schema = Graph().parse(data=SYNTHETIC_SCHEMA, format="turtle")
    prefixes = "@prefix ex: <http://example.org/s#> .\n"
    case = Graph().parse(data=prefixes + body, format="turtle")
    assert_equivalent(compile_rules(schema), schema, case)
