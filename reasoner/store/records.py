"""A stored case: the names of its graphs, its triples, and what the store says about it.

Layout (one RDF dataset; every triple is in a named graph):

* ``<https://w3id.org/dorsum/case/{id}/asserted>``: the case's facts as given (blank nodes are
  replaced by skolem IRIs ``<https://w3id.org/dorsum/case/{id}/node/{n}>`` so that the case's
  graphs join on the same nodes in any SPARQL store).
* ``<https://w3id.org/dorsum/case/{id}/inferred>``: what the derive rules and OWL 2 RL inference
  added (the closure minus the asserted facts), except the statements that the case or its lump is in one of
  the ontology's anonymous class expressions (a restriction, an intersection: a blank node of the
  knowledge). Such a blank node would become an IRI of this case that nothing else names, not the
  class in the knowledge graph; about a third of what inference adds, and no information.
* ``<https://w3id.org/dorsum/case/{id}/result>``: the triage result (``result_graph``) plus the
  store's record: PROV-O activity with ``prov:used`` the knowledge version IRI and the knowledge
  graph, ``prov:endedAtTime``, and ``dstore:caseId`` / ``dstore:knowledgeGraph`` /
  ``dstore:effectiveUrgency``.
* ``<https://w3id.org/dorsum/knowledge/{content_hash[:12]}>``: the ontology the cases were
  evaluated with, one graph per knowledge content hash.
* ``<https://w3id.org/dorsum/store>``: metadata: ``<https://w3id.org/dorsum/store>
  dstore:currentKnowledge <knowledge graph>`` and a description of each knowledge graph.

A :class:`CaseRecord` is built from a triage result and the trace triage kept
(``triage(case, knowledge, keep_trace=True)``): the store never reasons or triages itself.
Its triples are N-Triples statements: plain strings are what worker processes send to the
writer cheaply, and what Oxigraph reads in one call or a SPARQL Update carries to a server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

import pyoxigraph as ox
from rdflib import RDF, BNode, Graph, Literal, URIRef
from rdflib.term import Node

from reasoner.errors import UsageError
from reasoner.pipeline.read import CASE_ID
from reasoner.pipeline.triage import TriageResult
from reasoner.render.turtle import PROV, RESULT, result_triples
from reasoner.terms import Triple

CASE_BASE: Final = "https://w3id.org/dorsum/case/"
KNOWLEDGE_BASE: Final = "https://w3id.org/dorsum/knowledge/"
RESULT_BASE: Final = "https://w3id.org/dorsum/result/"
STORE_GRAPH: Final = "https://w3id.org/dorsum/store"
DSTORE: Final = "https://w3id.org/dorsum/store#"
XSD_DATETIME: Final = "http://www.w3.org/2001/XMLSchema#dateTime"
RDF_TYPE: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
GRAPH_KINDS: Final = ("asserted", "inferred", "result")


@dataclass(frozen=True)
class CaseRecord:
    """One evaluated case, ready to be written: N-Triples statements (no final dot) per graph."""

    case_id: str
    case_iri: str
    source: str
    status: str
    urgency: str  # tier IRI from the recorded facts ("at least" when incomplete), or ""
    effective_urgency: str  # the tier to act on, or ""
    content_hash: str
    knowledge_version: str
    evaluated_at: str
    asserted: tuple[str, ...]
    inferred: tuple[str, ...]
    result: tuple[str, ...]
    facts_digest: str = ""  # of the asserted facts, blank nodes canonicalised: same case, same digest

    @property
    def knowledge_graph(self) -> str:
        return knowledge_graph_iri(self.content_hash)

    def graph(self, kind: str) -> str:
        return case_graph_iri(self.case_id, kind)


@dataclass(frozen=True)
class StoredCase:
    """One case as the store holds it."""

    case_id: str
    case_iri: str
    status: str
    urgency: str
    effective_urgency: str
    knowledge_graph: str
    knowledge_version: str
    content_hash: str
    evaluated_at: str
    source: str = ""
    graphs: tuple[str, ...] = field(default=())

    @classmethod
    def from_record(cls, record: CaseRecord) -> StoredCase:
        return cls(
            case_id=record.case_id,
            case_iri=record.case_iri,
            status=record.status,
            urgency=record.urgency,
            effective_urgency=record.effective_urgency,
            knowledge_graph=record.knowledge_graph,
            knowledge_version=record.knowledge_version,
            content_hash=record.content_hash,
            evaluated_at=record.evaluated_at,
            source=record.source,
            graphs=tuple(record.graph(kind) for kind in GRAPH_KINDS),
        )


@dataclass(frozen=True)
class CaseFailure:
    """A case that could not be evaluated (invalid, or unreadable)."""

    source: str
    error: str
    exit_code: int


@dataclass(frozen=True)
class AddReport:
    stored: tuple[StoredCase, ...]
    failed: tuple[CaseFailure, ...]


# ---------------------------------------------------------------- names


def case_graph_iri(case_id: str, kind: str) -> str:
    if kind not in GRAPH_KINDS:
        raise UsageError(f"unknown case graph kind '{kind}' (use one of {', '.join(GRAPH_KINDS)})")
    return f"{CASE_BASE}{checked_id(case_id)}/{kind}"


def knowledge_graph_iri(content_hash: str) -> str:
    return f"{KNOWLEDGE_BASE}{content_hash[:12]}"


def checked_id(case_id: str) -> str:
    if not CASE_ID.fullmatch(case_id):
        raise UsageError(f"'{case_id}' is not a case id (letters, digits, '.', '_' or '-')")
    return case_id


def literal_text(text: str) -> str:
    """A plain string literal in N-Triples / SPARQL syntax."""
    return str(ox.Literal(text))


# ---------------------------------------------------------------- a case's triples


def case_record(result: TriageResult, *, now: datetime | None = None) -> CaseRecord:
    """The stored form of a triaged case: its facts, what reasoning added, and its result.

    ``result`` must carry its trace (``triage(case, knowledge, keep_trace=True)``); nothing is
    reasoned again here. Raises UsageError for a result without a trace or a case id that cannot
    name graphs.
    """
    trace = result.trace
    if trace is None:
        raise UsageError(f"case {result.case_id}: triage it with keep_trace=True to store it")
    case_id = case_identity(result)
    terms = CaseTerms(f"{CASE_BASE}{case_id}/node/")
    asserted = terms.statements(trace.facts)
    inferred = terms.statements(stored_inferred(trace.facts, trace.inferred))
    case_node = terms.names.get(BNode(result.case_iri), result.case_iri)
    when = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    digest = facts_digest(trace.facts)
    kg = knowledge_graph_iri(result.knowledge.content_hash)
    effective = result.effective_urgency
    return CaseRecord(
        case_id=case_id,
        case_iri=case_node,
        source=result.source,
        status=result.status,
        urgency=result.urgency.iri if result.urgency else "",
        effective_urgency=effective.iri if effective else "",
        content_hash=result.knowledge.content_hash,
        knowledge_version=result.knowledge.version,
        evaluated_at=when,
        asserted=tuple(sorted(asserted)),
        inferred=tuple(sorted(inferred)),
        result=tuple(sorted(_result_statements(result, case_id, case_node, kg, when, terms, digest))),
        facts_digest=digest,
    )


def stored_inferred(facts: Iterable[Triple], inferred: Iterable[Triple]) -> list[Triple]:
    """What the inferred graph holds: ``inferred`` without the types whose class is a blank node
    that is not a node of the case's ``facts`` (an anonymous class expression of the ontology)."""
    own = {term for triple in facts for term in triple if isinstance(term, BNode)}
    return [(s, p, o) for s, p, o in inferred if not (p == RDF.type and isinstance(o, BNode) and o not in own)]


def case_identity(result: TriageResult) -> str:
    """The id a case is stored under: its own identity, never its file name.

    That is the form's ``id`` or the case IRI's last part (``<https://w3id.org/dorsum/case/x>``
    is ``x``); only a blank case node, which has no identity, falls back to the reader's name.
    Two different cases that end up with one id collide loudly in the store (see CaseStore.add).
    """
    iri = result.case_iri
    if iri.startswith(CASE_BASE) and CASE_ID.fullmatch(iri[len(CASE_BASE) :]):
        return iri[len(CASE_BASE) :]
    if ":" in iri:  # another IRI: its last segment
        last = iri.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1]
        if CASE_ID.fullmatch(last):
            return last
    if not CASE_ID.fullmatch(result.case_id):  # a name from the file: say which file
        raise UsageError(
            f"{result.source}: the case is named '{result.case_id}', which is not a case id (letters, digits, "
            "'.', '_' or '-'): give the case an IRI ending in one, or rename the file"
        )
    return result.case_id


def facts_digest(facts: Iterable[Triple]) -> str:
    """A digest of a case's facts that blank-node labels do not change.

    It is the SHA-256 of the sorted N-Triples lines (rdflib ``n3()``) of the facts once rdflib's
    canonicalisation (:func:`rdflib.compare.to_canonical_graph`) has relabelled their blank
    nodes. That algorithm labels the blank nodes from the triples that hold one and passes every
    other triple through unchanged, so only those triples go through it here (a few of a case's
    facts, not all of them), and a lone blank node gets the label rdflib would give it without
    running it: the digest is the very one of canonicalising the whole graph, which stores already
    written hold (tests/test_store_digest.py proves it). Where a literal's language tag is not in
    lower case, rdflib holds it equal to other spellings of it, and which spelling the labels are
    made of depends on the whole graph: such a graph with blank nodes is canonicalised whole.
    """
    distinct = list(dict.fromkeys(facts))  # as rdflib's graph keeps them, in the same order
    blank: list[Triple] = []
    plain: list[Triple] = []
    for triple in distinct:
        (blank if any(isinstance(term, BNode) for term in triple) else plain).append(triple)
    if blank and _spelled_two_ways(distinct):
        blank, plain = distinct, []
    lines = _n3_lines(plain)
    blank_nodes = {term for triple in blank for term in triple if isinstance(term, BNode)}
    if len(blank_nodes) == 1:  # rdflib labels a lone blank node "cb0" (the hash of no colour)
        lines.extend(_n3_lines(blank, {blank_nodes.pop(): "_:cb0"}))
    elif blank:
        lines.extend(_n3_lines(_canonical(blank)))
    lines.sort()
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def _canonical(triples: Iterable[Triple]) -> Iterable[Triple]:
    """The triples with their blank nodes relabelled by rdflib's canonicalisation."""
    from rdflib.compare import to_canonical_graph

    graph = Graph()
    for triple in triples:
        graph.add(triple)
    return to_canonical_graph(graph)


def _spelled_two_ways(triples: Iterable[Triple]) -> bool:
    """Whether a literal could equal another written otherwise (``"a"@EN`` and ``"a"@en``)."""
    return any(
        isinstance(term, Literal) and term.language and not term.language.islower() for t in triples for term in t
    )


def _n3_lines(triples: Iterable[Triple], blank_names: dict[Node, str] | None = None) -> list[str]:
    """Each triple as rdflib writes it (``n3()``), blank nodes as ``blank_names`` say if given."""
    known: dict[Node, str] = dict(blank_names or {})  # an IRI's n3() checks it each time: once is enough

    def n3(term: Node) -> str:
        text = known.get(term)
        if text is None:
            text = term.n3()
            if type(term) is URIRef:
                known[term] = text
        return text

    return [f"{n3(s)} {n3(p)} {n3(o)}" for s, p, o in triples]


def _result_statements(
    result: TriageResult, case_id: str, case_node: str, kg: str, when: str, terms: CaseTerms, digest: str
) -> list[str]:
    # result_triples writes a fresh blank node for a blank case node: forCase is linked here instead
    named = replace(result, case_id=case_id)  # the result's IRIs follow the stored id
    lines = terms.statements(t for t in result_triples(named) if t[1] != RESULT.forCase)
    result_iri = f"<{RESULT_BASE}{case_id}>"
    activity_iri = f"<{RESULT_BASE}{case_id}/activity>"
    lines.append(f"{result_iri} <{RESULT.forCase}> <{case_node}>")
    lines.append(f"{result_iri} <{DSTORE}caseId> {literal_text(case_id)}")
    lines.append(f"{result_iri} <{DSTORE}factsDigest> {literal_text(digest)}")
    lines.append(f"{result_iri} <{DSTORE}knowledgeGraph> <{kg}>")
    for kind in GRAPH_KINDS:
        lines.append(f"{result_iri} <{DSTORE}{kind}Graph> <{case_graph_iri(case_id, kind)}>")
    effective = result.effective_urgency
    if effective is not None:
        lines.append(f"{result_iri} <{DSTORE}effectiveUrgency> <{effective.iri}>")
    lines.append(f"{activity_iri} <{PROV.used}> <{kg}>")
    lines.append(f'{activity_iri} <{PROV.endedAtTime}> "{when}"^^<{XSD_DATETIME}>')
    lines.append(f"{activity_iri} <{PROV.generated}> {result_iri}")
    return lines


class CaseTerms:
    """rdflib terms as N-Triples text, with blank nodes replaced by IRIs under one case's
    namespace, consistently across its graphs. Each term is converted once; an IRI once per
    process (the knowledge's IRIs recur in every case)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.names: dict[Node, str] = {}  # blank node -> skolem IRI
        self._text: dict[Node, str] = {}

    def node(self, term: Node) -> str:
        """The IRI of a node: its skolem IRI for a blank node."""
        if isinstance(term, BNode):
            name = self.names.get(term)
            if name is None:
                name = self.names[term] = f"{self.base}{len(self.names) + 1}"
            return name
        return str(term)

    def term(self, term: Node) -> str:
        text = _IRI_TEXT.get(term) if type(term) is URIRef else None
        if text is None:
            text = self._text.get(term)
        if text is None:
            text = self._convert(term)
            if type(term) is URIRef:
                if len(_IRI_TEXT) >= _IRI_TEXT_LIMIT:
                    _IRI_TEXT.clear()
                _IRI_TEXT[term] = text
            else:
                self._text[term] = text
        return text

    def _convert(self, term: Node) -> str:
        try:
            if isinstance(term, BNode):
                return f"<{self.node(term)}>"
            if isinstance(term, URIRef):
                return str(ox.NamedNode(str(term)))
            if isinstance(term, Literal):
                if term.language:
                    return str(ox.Literal(str(term), language=term.language))
                if term.datatype is not None:
                    return str(ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype))))
                return literal_text(str(term))
        except ValueError as error:
            raise UsageError(f"cannot store the RDF term {term.n3()}: {error}") from error
        raise UsageError(f"unsupported RDF term {term!r}")

    def statements(self, triples: Iterable[Triple]) -> list[str]:
        """Each triple as an N-Triples statement without its final dot; a triple with a literal
        subject (which OWL RL reasoners can produce, and RDF cannot hold) is left out."""
        term = self.term
        return [f"{term(s)} {term(p)} {term(o)}" for s, p, o in triples if not isinstance(s, Literal)]


#: IRIs already written as N-Triples, in this process (at most _IRI_TEXT_LIMIT, then anew).
_IRI_TEXT: dict[Node, str] = {}
_IRI_TEXT_LIMIT: Final = 100_000


__all__ = [
    "CASE_BASE",
    "DSTORE",
    "GRAPH_KINDS",
    "KNOWLEDGE_BASE",
    "RESULT_BASE",
    "STORE_GRAPH",
    "AddReport",
    "CaseFailure",
    "CaseRecord",
    "CaseTerms",
    "StoredCase",
    "case_graph_iri",
    "case_identity",
    "case_record",
    "checked_id",
    "facts_digest",
    "knowledge_graph_iri",
    "literal_text",
    "stored_inferred",
]
