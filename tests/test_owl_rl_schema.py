"""The schema closure (reasoner/engines/owl_rl_schema.py) is owlrl's closure, triple for triple.

owlrl (``OWLRL_Semantics``, no axiomatic or datatype axiom triples, as :func:`compile_rules` runs it)
is the reference: on the real knowledge (every pack, and the seeds alone), on generated ontologies
that use every construct the closure implements, and on the ontologies of tests/test_engine_owl_rl.py
(checked there, in ``entailed``), :func:`close_schema` must give exactly owlrl's triples, and the
compiled rules built from it must equal, field by field, those built from owlrl's closure. Where it
would differ (a rule it lacks, an error owlrl records), it must refuse, so that owlrl is used.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

import pytest
from rdflib import BNode, Graph, Literal, Namespace
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, XSD
from rdflib.term import Node

from reasoner import load_knowledge
from reasoner.engines import owl_rl
from reasoner.engines.owl_rl import CompiledRules, UnsupportedConstruct, compile_rules
from reasoner.engines.owl_rl_schema import UnsupportedRule, close_schema

from .test_engine_owl_rl import REFUSED_IN_THE_SCHEMA, owlrl_closure, turtle

EX = Namespace("http://example.org/")
ERR = Namespace("http://www.daml.org/2002/03/agents/agent-ont#")  # owlrl's error records
GENERATED_ONTOLOGIES = 60  # owlrl takes about 70 ms on each

Triple = tuple[Node, Node, Node]


def unordered(value: object) -> object:
    """A field of :class:`CompiledRules` with its tuples as multisets: they list what the closed graph
    holds in the order it was read, which no rule depends on (a member list keeps its order)."""
    if isinstance(value, Mapping):
        return {key: unordered(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return Counter(value)
    return value


def assert_same_rules(rules: CompiledRules, reference: CompiledRules) -> None:
    for field in fields(CompiledRules):
        assert unordered(getattr(rules, field.name)) == unordered(getattr(reference, field.name)), field.name


@dataclass(frozen=True)
class Reference:
    """owlrl's closure of a schema, and the rules :func:`compile_rules` builds from it."""

    closure: set[Triple]
    rules: CompiledRules


def compiled_with_owlrl(schema: Graph) -> Reference:
    """:func:`compile_rules` made to close the schema with owlrl (its fallback), recording owlrl's closure."""
    recorded: list[set[Triple]] = []
    original = owl_rl.owlrl_expand

    def recording(graph: Graph) -> None:
        original(graph)
        recorded.append(set(graph))

    def refuse(_schema: Graph) -> set[Triple]:
        raise UnsupportedRule("owlrl wanted")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(owl_rl, "close_schema", refuse)
        patch.setattr(owl_rl, "owlrl_expand", recording)
        rules = compile_rules(schema)
    (closure,) = recorded
    return Reference(closure, rules)


# ---- the real knowledge ----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[None, ()], ids=["every-pack", "seeds-only"])
def schema(request: pytest.FixtureRequest) -> Graph:
    return load_knowledge(packs=request.param).schema


@pytest.fixture(scope="module")
def reference(schema: Graph) -> Reference:
    return compiled_with_owlrl(schema)


def test_the_closure_of_the_knowledge_is_owlrls(schema: Graph, reference: Reference) -> None:
    before = set(schema)
    assert close_schema(schema) == reference.closure
    assert set(schema) == before, "close_schema() modified its input"


def test_the_rules_compiled_from_the_knowledge_are_those_of_owlrls_closure(
    schema: Graph, reference: Reference, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_owlrl(_graph: Graph) -> None:
        raise AssertionError("compile_rules() used owlrl")

    monkeypatch.setattr(owl_rl, "owlrl_expand", no_owlrl)
    assert_same_rules(compile_rules(schema), reference.rules)


# ---- generated ontologies --------------------------------------------------------------------------

CLASSES = [EX[f"C{i}"] for i in range(6)]
PROPERTIES = [EX[f"p{i}"] for i in range(4)]
INDIVIDUALS = [EX[f"a{i}"] for i in range(4)]
LITERALS = [
    Literal(1),
    Literal("2.5", datatype=XSD.decimal),
    Literal("x"),
    Literal("x", lang="en"),
    Literal(True),
    Literal("7", datatype=XSD.short),
    Literal("tok", datatype=XSD.NCName),
]
PROPERTY_TYPES = [OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property, OWL.SymmetricProperty, OWL.TransitiveProperty]


def generated_ontology(seed: int) -> Graph:
    """A small random ontology with A-box triples, using every construct :func:`close_schema` implements."""
    rng = random.Random(seed)
    graph = Graph()
    restrictions: list[Node] = []

    def cls() -> Node:
        pool: list[Node] = [*CLASSES, *restrictions]
        return rng.choice(pool) if rng.random() < 0.9 else rng.choice([OWL.Thing, XSD.decimal, XSD.string])

    def value() -> Node:
        return rng.choice(INDIVIDUALS) if rng.random() < 0.6 else rng.choice(LITERALS)

    def members() -> Node:
        head = BNode()
        Collection(graph, head, rng.sample(CLASSES, rng.randint(1, 3)))
        return head

    def restriction() -> None:
        node = BNode() if rng.random() < 0.5 else EX[f"R{len(restrictions)}"]
        graph.add((node, RDF.type, OWL.Restriction))
        graph.add((node, OWL.onProperty, rng.choice(PROPERTIES)))
        kind = rng.choice([OWL.someValuesFrom, OWL.allValuesFrom, OWL.hasValue])
        graph.add((node, kind, value() if kind == OWL.hasValue else cls()))
        restrictions.append(node)
        graph.add(
            (node, RDFS.subClassOf, rng.choice(CLASSES))
            if rng.random() < 0.5
            else (rng.choice(CLASSES), RDFS.subClassOf, node)
        )

    statements: list[Callable[[], object]] = [
        lambda: graph.add((rng.choice(CLASSES), RDFS.subClassOf, cls())),
        lambda: graph.add((rng.choice(CLASSES), OWL.equivalentClass, cls())),
        lambda: graph.add((rng.choice(CLASSES), RDF.type, OWL.Class)),
        lambda: graph.add((rng.choice(PROPERTIES), RDFS.subPropertyOf, rng.choice(PROPERTIES))),
        lambda: graph.add((rng.choice(PROPERTIES), OWL.equivalentProperty, rng.choice(PROPERTIES))),
        lambda: graph.add((rng.choice(PROPERTIES), OWL.inverseOf, rng.choice(PROPERTIES))),
        lambda: graph.add((rng.choice(PROPERTIES), RDF.type, rng.choice(PROPERTY_TYPES))),
        lambda: graph.add((rng.choice(PROPERTIES), RDFS.domain, cls())),
        lambda: graph.add((rng.choice(PROPERTIES), RDFS.range, cls())),
        lambda: graph.add((rng.choice(CLASSES), OWL.intersectionOf, members())),
        lambda: graph.add((rng.choice(CLASSES), OWL.unionOf, members())),
        lambda: graph.add((rng.choice(INDIVIDUALS), RDF.type, cls())),
        lambda: graph.add((rng.choice(INDIVIDUALS), rng.choice(PROPERTIES), value())),
        restriction,
    ]

    for _ in range(rng.randint(8, 24)):
        rng.choice(statements)()
    if rng.random() < 0.3:  # cax-dw: refused where the two classes have a common instance
        first, second = rng.sample(CLASSES, 2)
        graph.add((first, OWL.disjointWith, second))
    return graph


def test_generated_ontologies_close_as_with_owlrl() -> None:
    compared = 0
    for seed in range(GENERATED_ONTOLOGIES):
        ontology = generated_ontology(seed)
        expected = owlrl_closure(ontology)
        try:
            closed = close_schema(ontology)
        except UnsupportedRule:
            continue
        assert closed == expected, f"seed {seed}"
        compared += 1
    assert compared >= GENERATED_ONTOLOGIES * 3 // 4  # refusals stay the exception


# ---- what the closure refuses ----------------------------------------------------------------------


@pytest.mark.parametrize("schema_text", REFUSED_IN_THE_SCHEMA.values(), ids=REFUSED_IN_THE_SCHEMA.keys())
def test_the_constructs_compile_rules_refuses_are_refused_or_closed_as_with_owlrl(schema_text: str) -> None:
    ontology = turtle(schema_text)
    try:
        closed = close_schema(ontology)
    except UnsupportedRule:
        return
    assert closed == owlrl_closure(ontology)


def error_records(closure: set[Triple]) -> set[Node]:
    return {s for s, p, o in closure if p == RDF.type and o == ERR.ErrorMessage}


RECORDED_AS_ERRORS = {
    "dt-not-type": 'ex:x ex:p "abc"^^xsd:integer .',
    "cls-nothing2": "ex:x a ex:A . ex:A rdfs:subClassOf owl:Nothing .",
    "cax-dw": "ex:x a ex:A, ex:B . ex:A owl:disjointWith ex:B .",
    "cax-dw on datatypes": 'ex:p rdfs:range xsd:string . ex:x ex:p 5 . ex:y ex:q "s"^^xsd:string .',
    "prp-irp": "ex:p a owl:IrreflexiveProperty . ex:x ex:p ex:x .",
    "eq-diff1": "ex:x owl:differentFrom ex:x . ex:x ex:p ex:y .",
}


@pytest.mark.parametrize("schema_text", RECORDED_AS_ERRORS.values(), ids=RECORDED_AS_ERRORS.keys())
def test_what_owlrl_records_as_an_error_is_refused(schema_text: str) -> None:
    ontology = turtle(schema_text)
    assert error_records(owlrl_closure(ontology))
    with pytest.raises(UnsupportedRule):
        close_schema(ontology)


OUTSIDE_THE_CLOSURE = {
    "owl:sameAs in the input": "ex:a owl:sameAs ex:a .",
    "a derived owl:sameAs": "ex:p rdfs:subPropertyOf owl:sameAs . ex:a ex:p ex:b .",
    "a derived list triple": "ex:p rdfs:subPropertyOf rdf:first . ex:a ex:p ex:b .",
    "a list with two heads": "ex:I owl:intersectionOf ex:l . ex:l rdf:first ex:A, ex:B ; rdf:rest rdf:nil .",
    "prp-fp": "ex:p a owl:FunctionalProperty . ex:x ex:p ex:a, ex:b .",
    "prp-spo2": "ex:r owl:propertyChainAxiom (ex:p ex:q) . ex:x ex:p ex:y . ex:y ex:q ex:z .",
    "cls-oo": "ex:A owl:oneOf (ex:a ex:b) .",
}


@pytest.mark.parametrize("schema_text", OUTSIDE_THE_CLOSURE.values(), ids=OUTSIDE_THE_CLOSURE.keys())
def test_a_rule_the_closure_lacks_is_refused(schema_text: str) -> None:
    with pytest.raises(UnsupportedRule):
        close_schema(turtle(schema_text))


def test_a_refused_schema_is_compiled_from_owlrls_closure() -> None:
    """owlrl's error record about a literal (not OWL vocabulary: check_supported lets it through)
    reaches the compiled rules, so owlrl closed the schema; the rules still work."""
    ontology = turtle('ex:A rdfs:subClassOf ex:B . ex:x ex:p "abc"^^xsd:integer .')
    rules = compile_rules(ontology)
    assert any(isinstance(node, BNode) for node in rules.base_po[(RDF.type, ERR.ErrorMessage)])
    assert EX.B in rules.superclasses[EX.A]


def test_a_refused_construct_still_raises_unsupported_construct() -> None:
    with pytest.raises(UnsupportedConstruct, match="not implemented by the compiled rules"):
        compile_rules(turtle("ex:p a owl:FunctionalProperty . ex:x ex:p ex:a, ex:b ."))
