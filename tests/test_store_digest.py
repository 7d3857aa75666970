"""The facts digest the store keeps (``dstore:factsDigest``) is the one it always wrote: rdflib's
canonicalisation of the whole case graph, then the SHA-256 of its sorted N-Triples lines.

:func:`reasoner.store.records.facts_digest` canonicalises only the triples that hold a blank
node (the others pass through rdflib's algorithm unchanged), and names a lone blank node as rdflib
would without running it (every generated case has one); these tests prove the digest equal
to the whole-graph one on generated cases, the examples, and graphs of blank nodes built to be
hard (symmetric, chained, blank predicates, relabelled), so stores already written stay valid.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import to_canonical_graph
from rdflib.term import Node

from reasoner import CaseError, Knowledge, case_from_form, read_case
from reasoner.batch.generate import generate_forms
from reasoner.store.records import facts_digest

from .conftest import EXAMPLES

Triple = tuple[Node, Node, Node]
EX = "https://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def whole_graph_digest(facts: Iterable[Triple]) -> str:
    """The digest as the store first wrote it (the reference)."""
    graph = Graph()
    for triple in facts:
        graph.add(triple)
    lines = sorted(f"{s.n3()} {p.n3()} {o.n3()}" for s, p, o in to_canonical_graph(graph))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def test_digest_equals_the_whole_graph_digest_on_generated_cases(knowledge: Knowledge) -> None:
    checked = blank = 0
    for form in generate_forms(150, seed=11, knowledge=knowledge):
        try:
            facts = frozenset(case_from_form(form, knowledge, name=str(form.get("id", "x"))).graph)
        except CaseError:
            continue
        assert facts_digest(facts) == whole_graph_digest(facts), form.get("id")
        checked += 1
        blank += any(isinstance(term, BNode) for triple in facts for term in triple)
    assert checked > 100 and blank > 100  # the lump is a blank node: the canonicalised route is taken


def test_digest_equals_the_whole_graph_digest_on_the_examples(knowledge: Knowledge) -> None:
    paths = sorted(EXAMPLES.glob("*.yaml")) + sorted(EXAMPLES.glob("*.ttl")) + sorted(EXAMPLES.glob("*.jsonld"))
    assert paths
    for path in paths:
        facts = frozenset(read_case(path, knowledge).graph)
        assert facts_digest(facts) == whole_graph_digest(facts), path.name


def test_a_stored_digest_is_unchanged() -> None:
    """A digest written by the first version of the store (whole-graph canonicalisation)."""
    case, lump = URIRef(f"{EX}case/a"), BNode()
    facts = [
        (case, URIRef(f"{EX}hasLump"), lump),
        (lump, URIRef(f"{EX}size"), Literal("2.5", datatype=URIRef(f"{XSD}decimal"))),
        (case, URIRef(f"{EX}age"), Literal(7, datatype=URIRef(f"{XSD}integer"))),
        (case, URIRef(f"{EX}note"), Literal('a "quoted"\nnote', lang="en")),
    ]
    assert facts_digest(facts) == "9e7274fa8933823e19d3e9bbf38a2dc8543bf7775581006cec6dd5a6dbdad946"


def _random_graph(rng: random.Random, *, odd: bool = True) -> list[Triple]:
    """A graph mixing IRIs, literals and blank nodes, often symmetric (blank nodes that only
    individuation can tell apart), sometimes with repeated triples; if ``odd``, with a blank
    predicate (generalised RDF) or "x"@EN beside "x"@en (equal to rdflib) now and then."""
    blanks = [BNode() for _ in range(rng.randint(0, 6))]
    iris = [URIRef(f"{EX}n{i}") for i in range(4)]
    predicates = [URIRef(f"{EX}p{i}") for i in range(3)]
    literals = [
        Literal("x"),
        Literal("x", lang="en"),
        *([Literal("x", lang="EN")] if odd else []),
        Literal("1", datatype=URIRef(f"{XSD}integer")),
        Literal('y\n"z"'),
    ]
    nodes: list[Node] = [*blanks, *iris]
    triples: list[Triple] = []
    for _ in range(rng.randint(0, 25)):
        s = rng.choice(nodes)
        p: Node = rng.choice(predicates)
        if odd and blanks and rng.random() < 0.03:
            p = rng.choice(blanks)
        o = rng.choice([*nodes, *literals])
        triples.append((s, p, o))
    if blanks and rng.random() < 0.4:  # a ring of blank nodes: every one alike until individuated
        for a, b in zip(blanks, [*blanks[1:], blanks[0]], strict=True):
            triples.append((a, predicates[0], b))
    if triples and rng.random() < 0.3:
        triples.append(rng.choice(triples))
    return triples


def test_digest_equals_the_whole_graph_digest_on_graphs_of_blank_nodes() -> None:
    rng = random.Random(5)
    blank_nodes: Counter[int] = Counter()
    for _ in range(300):
        facts = _random_graph(rng)
        assert facts_digest(facts) == whole_graph_digest(facts), facts
        blank_nodes[len({term for triple in facts for term in triple if isinstance(term, BNode)})] += 1
    assert min(blank_nodes[0], blank_nodes[1], sum(n for size, n in blank_nodes.items() if size > 2)) > 20


def test_digest_ignores_blank_node_labels_and_sees_every_fact() -> None:
    """Without the odd graphs: in those rdflib's labels can depend on the input's labels and
    order, whole graph or not (the equality test above covers them too)."""
    rng = random.Random(8)
    for _ in range(100):
        facts = _random_graph(rng, odd=False)
        relabel: dict[Node, Node] = {}

        def fresh(term: Node, relabel: dict[Node, Node] = relabel) -> Node:
            return relabel.setdefault(term, BNode()) if isinstance(term, BNode) else term

        assert facts_digest([(fresh(s), fresh(p), fresh(o)) for s, p, o in facts]) == facts_digest(facts)
    base = [(URIRef(f"{EX}a"), URIRef(f"{EX}p"), BNode()), (URIRef(f"{EX}a"), URIRef(f"{EX}q"), Literal("1"))]
    assert facts_digest(base) != facts_digest([*base, (URIRef(f"{EX}a"), URIRef(f"{EX}q"), Literal("2"))])
    assert facts_digest([]) == whole_graph_digest([])
