"""How the disk caches pickle: RDF terms by their parts (read back without rdflib's constructors,
yet equal in every respect), triple indexes with their indexes, and the garbage collector's state
left as it was found."""

from __future__ import annotations

import datetime
import gc
import pickle
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF, XSD
from rdflib.term import Genid, Node

from reasoner.cache import TERM_REDUCERS, _collector_paused, read_cached, write_cached
from reasoner.engines.sparql_match import TripleIndex

EX = "https://example.org/"

LITERALS = [
    Literal("plain"),
    Literal(""),
    Literal("lump", lang="en"),
    Literal("Knoten", lang="de-CH"),
    Literal("12", datatype=XSD.integer),
    Literal("-0.50", datatype=XSD.decimal),
    Literal("1.5E3", datatype=XSD.double),
    Literal("NaN", datatype=XSD.double),
    Literal("true", datatype=XSD.boolean),
    Literal("2024-02-29", datatype=XSD.date),
    Literal("2024-02-29T10:30:00+01:00", datatype=XSD.dateTime),
    Literal("10:30:00", datatype=XSD.time),
    Literal("P1Y2M", datatype=XSD.duration),  # an isodate Duration: rdflib's own pickling
    Literal("PT36H", datatype=XSD.dayTimeDuration),
    Literal("2024", datatype=XSD.gYear),
    Literal("text", datatype=XSD.string),
    Literal("  a  token ", datatype=XSD.token),
    Literal("aGVsbG8=", datatype=XSD.base64Binary),
    Literal("abc", datatype=XSD.integer),  # ill-typed
    Literal("1", datatype=XSD.boolean),  # well-typed, normalised to "true"
    Literal("01", datatype=XSD.integer, normalize=False),  # a lexical form rdflib's pickling would change
    Literal("<b>x</b>", datatype=RDF.HTML),  # its value is a document fragment: rdflib's own pickling
    Literal("x", datatype=URIRef(EX + "unknownDatatype")),
    Literal(7),
    Literal(Decimal("2.50")),
    Literal(datetime.date(2020, 1, 31)),
]
GENERATED_LABEL = "Nf3a9c2e1d0b84c6e9a7b5d3c1e0f2a4b"  # as rdflib labels a blank node it makes
TERMS: list[Node] = [URIRef(EX + "a"), URIRef("urn:uuid:1234"), BNode("b0"), BNode(GENERATED_LABEL), *LITERALS]


def round_trip(value: Any, tmp_path: Path) -> Any:
    path = tmp_path / "value.pickle"
    write_cached(path, "key", value)
    assert path.exists()
    return read_cached(path, "key", object)


def same_term(read: Node, written: Node) -> None:
    assert type(read) is type(written)
    assert str(read) == str(written)
    assert read == written and hash(read) == hash(written)
    if isinstance(written, Literal):
        assert isinstance(read, Literal)
        assert (read.language, read.datatype, read.ill_typed) == (written.language, written.datatype, written.ill_typed)
        assert type(read.value) is type(written.value)
        assert read.eq(written) == written.eq(written)  # value equality (NaN is not equal to itself)
        if hasattr(written.value, "childNodes"):  # an HTML or XML document: no equality of its own
            assert [n.toxml() for n in read.value.childNodes] == [n.toxml() for n in written.value.childNodes]
        elif written.value == written.value:
            assert read.value == written.value
        assert read.n3() == written.n3()


@pytest.mark.parametrize("term", TERMS, ids=lambda term: repr(term)[:60])
def test_every_kind_of_term_reads_back_identical(term: Node, tmp_path: Path) -> None:
    same_term(round_trip(term, tmp_path), term)


def test_terms_read_back_in_structures_keep_their_identity(tmp_path: Path) -> None:
    iri = URIRef(EX + "shared")
    literal = Literal("5", datatype=XSD.integer)
    value = {"pair": (iri, literal), "again": [iri, literal], "index": {iri: {literal}}}
    read = round_trip(value, tmp_path)
    assert read == value
    assert read["pair"][0] is read["again"][0] and read["pair"][1] is read["again"][1]  # one object each
    assert read["index"][read["pair"][0]] == {literal}
    assert literal in read["index"][iri]  # equal hashes: found with the original terms


def test_only_exact_term_types_are_pickled_by_parts(tmp_path: Path) -> None:
    assert set(TERM_REDUCERS) == {URIRef, BNode, Literal}
    genid = Genid("https://example.org/.well-known/genid/1")
    by_rdflib = pickle.loads(pickle.dumps(genid))
    read = round_trip(genid, tmp_path)
    assert type(read) is type(by_rdflib) and read == by_rdflib  # a subclass keeps rdflib's own pickling


def test_a_literal_with_an_unusual_value_is_rebuilt_by_rdflib(tmp_path: Path) -> None:
    (html,) = (literal for literal in LITERALS if literal.datatype == RDF.HTML)
    reduced = TERM_REDUCERS[Literal](html)
    assert reduced == html.__reduce__()  # the lexical form, language and datatype: value parsed again
    same_term(round_trip(html, tmp_path), html)


def test_a_triple_index_reads_back_with_its_indexes(tmp_path: Path) -> None:
    a, b, c, p, q = (URIRef(EX + name) for name in "abcpq")
    knowledge = TripleIndex([(a, p, b), (b, p, c), (a, q, Literal("x")), (Literal("no"), p, a)])
    case = TripleIndex([(a, p, b), (c, q, a), (BNode("n1"), RDF.type, a)], knowledge)
    read_knowledge, read_case = round_trip((knowledge, case), tmp_path)
    for read, written in ((read_knowledge, knowledge), (read_case, case)):
        assert read.triples == written.triples
        assert (read.spo, read.pos, read.osp) == (written.spo, written.pos, written.osp)
        assert read.canon == written.canon
        assert list(read.match(a, None, None)) == list(written.match(a, None, None))
    assert read_knowledge.canon and not read_case.canon  # only an index of the knowledge has one
    assert all(term is read_knowledge.canon[term] for term in read_knowledge.spo)


@pytest.mark.parametrize("enabled", [True, False])
def test_reading_leaves_the_garbage_collector_as_it_was(enabled: bool, tmp_path: Path) -> None:
    path = tmp_path / "value.pickle"
    write_cached(path, "key", [URIRef(EX + "a")] * 3)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        assert read_cached(path, "key", list) == [URIRef(EX + "a")] * 3
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_overlapping_reads_restore_the_collector_once() -> None:
    """Two reads at once (threads of a server) share one pause: the first to finish must not
    restart the collector under the other, nor the other leave it stopped."""
    was = gc.isenabled()
    gc.enable()
    try:
        with _collector_paused:
            with _collector_paused:
                assert not gc.isenabled()
            assert not gc.isenabled()  # the other read is still going
        assert gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()


def test_cached_iris_and_labels_are_the_process_pool_objects(tmp_path: Path) -> None:
    """Terms read from a cache are the objects reasoner.terms hands out (the engines' constants,
    a case form's vocabulary), so lookups between them succeed on identity."""
    from reasoner.terms import RDF_TYPE, blank_term, iri_term

    path = tmp_path / "pool.pickle"
    write_cached(path, "k", [URIRef(str(RDF.type)), BNode("b1"), URIRef("https://example.org/x")])
    loaded = read_cached(path, "k", list)
    assert loaded is not None
    assert loaded[0] is iri_term(RDF.type) is RDF_TYPE  # the engines' rdf:type
    assert loaded[1] is blank_term("b1") and isinstance(loaded[1], BNode)
    assert loaded[2] is iri_term("https://example.org/x") and loaded[2] == URIRef("https://example.org/x")
    assert read_cached(path, "k", list)[2] is loaded[2]  # type: ignore[index]
