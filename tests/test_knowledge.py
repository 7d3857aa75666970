"""The knowledge base itself: completeness of the metadata, OWL 2 RL profile, form context."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS
from rdflib.plugins.sparql import prepareQuery

from reasoner import Knowledge
from reasoner import knowledge as knowledge_module
from reasoner.engines.owl_rl_profile import rl_profile_violations
from reasoner.errors import QueryRefusedError
from reasoner.knowledge import CONTEXT_FILE, DX, PreparedQueries

from .conftest import ESCAPE_TRICKS, hostile_query


def _individuals(knowledge: Knowledge, cls: URIRef) -> list[URIRef]:
    return sorted(s for s in knowledge.ontology.subjects(RDF.type, cls) if isinstance(s, URIRef))


def test_every_recommendation_has_action_urgency_source_and_evidence(knowledge: Knowledge) -> None:
    graph = knowledge.ontology
    recommendations = _individuals(knowledge, DX.Recommendation)
    assert len(recommendations) >= 30
    for rec in recommendations:
        for prop in (DX.action, DX.urgency, DX.source, DX.appliesTo, DX.evidence, RDFS.label):
            assert graph.value(rec, prop) is not None, f"{rec} has no {prop}"
        assert (graph.value(rec, DX.urgency), RDF.type, DX.UrgencyTier) in graph
        source = graph.value(rec, DX.source)
        assert _is_source(graph, source), f"{rec}: its source {source} is not a dx:Source"


def test_every_avoid_advice_has_action_source_and_evidence(knowledge: Knowledge) -> None:
    graph = knowledge.ontology
    advice = _individuals(knowledge, DX.AvoidAdvice)
    assert len(advice) >= 10
    for item in advice:
        for prop in (DX.action, DX.source, DX.appliesTo, DX.evidence, RDFS.label):
            assert graph.value(item, prop) is not None, f"{item} has no {prop}"


def test_advice_applies_to_declared_classes(knowledge: Knowledge) -> None:
    graph = knowledge.ontology
    for advice, cls in graph.subject_objects(DX.appliesTo):
        assert (cls, RDF.type, OWL.Class) in graph, f"{advice} applies to undeclared {cls}"


def test_every_named_class_has_a_label_and_a_definition(knowledge: Knowledge) -> None:
    graph = knowledge.ontology
    classes = [c for c in graph.subjects(RDF.type, OWL.Class) if isinstance(c, URIRef)]
    assert len(classes) > 40
    for cls in classes:
        assert graph.value(cls, RDFS.label) is not None, f"{cls} has no rdfs:label"
        assert graph.value(cls, SKOS.definition) is not None, f"{cls} has no skos:definition"


def test_every_red_flag_and_threshold_names_its_source(knowledge: Knowledge) -> None:
    graph = knowledge.ontology
    flags = [c for c in graph.subjects(RDFS.subClassOf, DX.RedFlag) if isinstance(c, URIRef)]
    assert len(flags) >= 25
    for flag in flags + _individuals(knowledge, DX.SizeThreshold):
        source = graph.value(flag, DX.source)
        assert source is not None and _is_source(graph, source), f"{flag} has no source"
    for threshold in _individuals(knowledge, DX.SizeThreshold):
        assert graph.value(threshold, DX.unit) is not None
        assert isinstance(graph.value(threshold, DX.minCm), Literal)


def test_every_red_flag_has_a_definition_the_reasoner_can_use(knowledge: Knowledge) -> None:
    graph = knowledge.ontology
    for flag in graph.subjects(RDFS.subClassOf, DX.RedFlag):
        definitions = [d for d in graph.subjects(RDFS.subClassOf, flag) if isinstance(d, BNode)]
        assert definitions, f"{flag} has no class expression rdfs:subClassOf it, so no case can reach it"


def test_every_source_has_a_citation_and_a_date(knowledge: Knowledge) -> None:
    graph = knowledge.ontology
    sources = _individuals(knowledge, DX.SeedArticle) + _individuals(knowledge, DX.CitedReference)
    assert len(_individuals(knowledge, DX.SeedArticle)) == 5
    for source in sources:
        assert graph.value(source, DX.citation) is not None, f"{source} has no citation"
        assert graph.value(source, URIRef("http://purl.org/dc/terms/date")) is not None, f"{source} has no date"


def test_urgency_tiers_form_a_strict_order(knowledge: Knowledge) -> None:
    graph = knowledge.ontology
    ranks = [int(graph.value(t, DX.rank)) for t in _individuals(knowledge, DX.UrgencyTier)]
    assert len(ranks) >= 5 and len(set(ranks)) == len(ranks)  # ranks are data: distinct, any number of tiers
    for tier in _individuals(knowledge, DX.UrgencyTier):
        assert str(graph.value(tier, DX.timeFrame)).startswith("P")


def test_ontology_is_in_the_owl2_rl_profile(knowledge: Knowledge) -> None:
    assert rl_profile_violations(knowledge.ontology) == []


@pytest.mark.parametrize(
    "axiom",
    [
        "dx:A rdfs:subClassOf [ a owl:Restriction ; owl:onProperty dx:p ; owl:someValuesFrom dx:B ] .",
        "dx:A owl:equivalentClass [ a owl:Restriction ; owl:onProperty dx:p ; owl:someValuesFrom dx:B ] .",
        "[ a owl:Restriction ; owl:onProperty dx:p ; owl:allValuesFrom dx:B ] rdfs:subClassOf dx:A .",
        "dx:A rdfs:subClassOf [ owl:unionOf ( dx:B dx:C ) ] .",
        "dx:A rdfs:subClassOf [ a owl:Restriction ; owl:onProperty dx:p ; owl:minCardinality 1 ] .",
    ],
)
def test_profile_checker_rejects_constructs_outside_owl2_rl(axiom: str) -> None:
    graph = Graph().parse(
        data="@prefix dx: <https://w3id.org/dorsum/ontology#> . @prefix owl: <http://www.w3.org/2002/07/owl#> . "
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . " + axiom,
        format="turtle",
    )
    assert rl_profile_violations(graph), f"accepted: {axiom}"


def test_case_form_context_matches_the_ontology(knowledge: Knowledge) -> None:
    """Every dx:formKey in the ontology is a context term for that individual, and back."""
    context = json.loads((knowledge.root / "ontology" / CONTEXT_FILE).read_text())["@context"]
    keys = {str(key): str(node) for node, key in knowledge.ontology.subject_objects(DX.formKey)}
    value_terms = {k: v for k, v in context.items() if isinstance(v, str) and v.startswith("dx:")}
    value_terms.pop("Case")
    expanded = {k: str(DX) + v[3:] for k, v in value_terms.items()}
    assert expanded == keys


def test_no_owl_nothing_and_no_unintended_same_as_in_example_closures(knowledge: Knowledge) -> None:
    from reasoner import infer_case, read_case
    from tests.conftest import EXAMPLES

    for path in sorted(EXAMPLES.glob("*.*")):
        if path.suffix not in (".json", ".yaml", ".ttl"):
            continue
        closure = infer_case(read_case(path, knowledge).graph, knowledge)
        assert not list(closure.subjects(RDF.type, OWL.Nothing)), path
        same = [(s, o) for s, o in closure.subject_objects(OWL.sameAs) if s != o]
        assert same == [], f"{path}: {same}"


def test_the_sources_lookup_reads_as_the_relations_filtered_from_every_triple(knowledge: Knowledge) -> None:
    """knowledge-sources.rq names its two relations with VALUES (rdflib's engine runs it in a tenth
    of the time); the sources are exactly, and in the same order, those of the straightforward form
    that filters every triple of the ontology by its predicate."""
    text = knowledge.queries.text("knowledge-sources")
    values = "VALUES ?relation { dx:source dx:reference }\n  ?element ?relation ?source ."
    assert values in text
    filtered = text.replace(values, "?element ?relation ?source .\n  FILTER (?relation IN (dx:source, dx:reference))")
    rows = [tuple(row) for row in knowledge.ontology.query(prepareQuery(filtered))]  # rdflib's engine
    expected = knowledge_module._sources(knowledge.ontology, rows)
    assert list(knowledge.sources.items()) == list(expected.items())
    assert sum(len(refs) for refs in expected.values()) > 400


def test_the_labels_lookup_gives_what_rdflib_engine_gives(knowledge: Knowledge) -> None:
    """The lookups run on Oxigraph: rdflib's engine (the reference) finds the same rows, and an
    element with several (dx:readOn, which each pack declares with its own definition) takes the
    first in sorted order, whatever order an engine gives them in."""
    rows = [tuple(row) for row in knowledge.ontology.query(knowledge.queries["knowledge-labels"])]
    assert len(rows) > 500
    assert knowledge.elements == knowledge_module._elements(sorted(rows, key=_row_text))
    definitions = {str(text) for text in knowledge.ontology.objects(DX.readOn, SKOS.definition)}
    assert len(definitions) > 1 and knowledge.elements[str(DX.readOn)].definition == min(definitions)


def _row_text(row: tuple[object, ...]) -> tuple[str, ...]:
    return tuple("" if term is None else str(term) for term in row)


def _is_source(graph: Graph, node: object) -> bool:
    """A seed article, a guideline pack's source, or any other dx:Source (a subclass of it too)."""
    kinds = {DX.Source, *graph.transitive_subjects(RDFS.subClassOf, DX.Source)}
    return any((node, RDF.type, kind) in graph for kind in kinds)


@pytest.mark.parametrize("trick", ESCAPE_TRICKS)
def test_a_knowledge_query_that_would_fetch_is_refused_before_either_engine(trick: str, tmp_path: Path) -> None:
    """The texts of a knowledge read from the disk cache pass the guard too, whichever way a
    query is used: its text (Oxigraph: report queries, lookups, conflicts), its rdflib parse
    (derive rules' fallback, docs), the loading's check of every query, and one file parsed."""
    path = tmp_path / "docs-avoid.rq"
    path.write_text(hostile_query(trick), encoding="utf-8")
    refused = r"docs-avoid\.rq: (SERVICE|FROM) \S+ is refused"
    for use in (
        lambda queries: queries.text("docs-avoid"),
        lambda queries: queries["docs-avoid"],
        lambda queries: queries.check_syntax(),
    ):
        queries = PreparedQueries({"docs-avoid": path}, {"docs-avoid": hostile_query(trick)})
        with pytest.raises(QueryRefusedError, match=refused):
            use(queries)
