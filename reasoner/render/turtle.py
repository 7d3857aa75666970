"""A triage result as RDF (Turtle), linked to the knowledge elements, with PROV-O provenance."""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from reasoner.knowledge import DX
from reasoner.pipeline.triage import TriageResult

PROV = Namespace("http://www.w3.org/ns/prov#")
RESULT = Namespace("https://w3id.org/dorsum/result#")


def render_turtle(result: TriageResult) -> str:
    """The result as Turtle (see :func:`result_graph`)."""
    return result_graph(result).serialize(format="turtle")


def result_graph(result: TriageResult) -> Graph:
    """The result as an RDF graph, linked to the knowledge elements, with PROV-O provenance."""
    graph = Graph()
    graph.bind("dx", DX)
    graph.bind("prov", PROV)
    graph.bind("res", RESULT)
    node = URIRef(f"https://w3id.org/dorsum/result/{result.case_id}")
    activity = URIRef(f"https://w3id.org/dorsum/result/{result.case_id}/activity")
    knowledge = URIRef(result.knowledge.version_iri) if result.knowledge.version_iri else BNode()
    graph.add((node, RDF.type, RESULT.TriageResult))
    graph.add((node, RDF.type, PROV.Entity))
    graph.add((node, RESULT.forCase, URIRef(result.case_iri) if result.case_iri.startswith("http") else BNode()))
    graph.add((node, RESULT.status, Literal(result.status)))
    if result.urgency:
        graph.add((node, RESULT.urgencyAtLeast if not result.complete else RESULT.urgency, URIRef(result.urgency.iri)))
    if result.possible_urgency and not result.complete:
        graph.add((node, RESULT.possibleUrgency, URIRef(result.possible_urgency.iri)))
    for flag in result.red_flags:
        graph.add((node, RESULT.redFlag, URIRef(flag.iri)))
    for situation in result.situations:
        graph.add((node, RESULT.situation, URIRef(situation.iri)))
    for step in result.next_steps:
        graph.add((node, RESULT.recommendation, URIRef(step.iri)))
    for step in result.avoid:
        graph.add((node, RESULT.avoid, URIRef(step.iri)))
    for item in result.missing:
        graph.add((node, RESULT.missingItem, Literal(item.item)))
    for conflict in result.conflicts:
        c = BNode()
        graph.add((node, RESULT.conflict, c))
        graph.add((c, RDFS.label, Literal(conflict.subject)))
        graph.add((c, RESULT.resolution, Literal(f"{conflict.policy}: {conflict.resolution}")))
    _add_plan(graph, node, result)
    graph.add((node, PROV.wasGeneratedBy, activity))
    graph.add((activity, RDF.type, PROV.Activity))
    graph.add((activity, PROV.used, knowledge))
    graph.add((knowledge, RESULT.contentHash, Literal(result.knowledge.content_hash)))
    graph.add((knowledge, RESULT.versionInfo, Literal(result.knowledge.version)))
    graph.add((activity, RESULT.dorsumVersion, Literal(result.knowledge.dorsum_version)))
    graph.add((activity, RESULT.source, Literal(result.source)))
    graph.add((node, RESULT.exitCode, Literal(result.exit_code, datatype=XSD.integer)))
    return graph


def _add_plan(graph: Graph, node: URIRef, result: TriageResult) -> None:
    """The plan: per topic the primary step(s), how they were chosen, and the steps that lost."""
    for entry in result.plan.topics:
        topic = BNode()
        graph.add((node, RESULT.planTopic, topic))
        if entry.topic_iri:
            graph.add((topic, RESULT.topic, URIRef(entry.topic_iri)))
        graph.add((topic, RDFS.label, Literal(entry.topic)))
        graph.add((topic, RESULT.decidedBy, Literal(entry.reason)))
        for option in entry.chosen:
            graph.add((topic, RESULT.primaryAction, URIRef(option.action_iri)))
            for step in option.steps:
                graph.add((topic, RESULT.primaryStep, URIRef(step)))
        for alternative in entry.alternatives:
            for step in alternative.option.steps:
                graph.add((topic, RESULT.alternativeStep, URIRef(step)))
    for suppression in result.plan.suppressed:
        graph.add((node, RESULT.suppressedStep, URIRef(suppression.step)))
    for later in result.next_steps:
        if result.plan.shows_later(later):
            graph.add((node, RESULT.laterStep, URIRef(later.iri)))
    for dropped in result.plan.dropped:
        graph.add((node, RESULT.droppedStep, URIRef(dropped.step)))
