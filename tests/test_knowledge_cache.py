"""The parsed-knowledge cache: keyed by the content hash, never stale, damaged files ignored, and
SPARQL queries checked when the knowledge is parsed, parsed by rdflib only when used (syntax
errors still stop the loading)."""

from __future__ import annotations

import contextlib
import pickle
import shutil
import socket
import threading
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import RDFS

from reasoner import KnowledgeError, load_knowledge, render_json, triage
from reasoner import knowledge as knowledge_module
from reasoner.cache import CACHE_ENV
from reasoner.errors import QueryRefusedError
from reasoner.knowledge import DX, Knowledge, blank_labels
from reasoner.pipeline.engine import engine_for
from reasoner.pipeline.read import read_case

from .conftest import EXAMPLES, ROOT

PROBE = (URIRef(DX + "CacheProbe"), RDFS.label, Literal("cache probe", lang="en"))


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    folder = tmp_path / "kb"
    for name in ("ontology", "shapes", "queries"):
        shutil.copytree(ROOT / name, folder / name)
    return folder


def cache_files(kb: Path) -> list[Path]:
    return sorted((kb.parent / "cache").glob("knowledge-*.pickle"))


def load_from_disk(kb: Path) -> Knowledge:
    """Load as a new process would: nothing cached in memory."""
    knowledge_module._load_cached.cache_clear()
    return load_knowledge(kb)


def refuse_to_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object) -> object:
        raise AssertionError("the knowledge was parsed instead of read from the cache")

    monkeypatch.setattr(knowledge_module, "_parse_knowledge", fail)


def test_a_second_load_reads_the_cache_and_triages_the_same(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_knowledge(kb)
    (file,) = cache_files(kb)
    assert first.content_hash[:32] in file.name
    with monkeypatch.context() as patch:
        refuse_to_parse(patch)
        second = load_from_disk(kb)
    assert second is not first and second.content_hash == first.content_hash
    assert set(second.ontology) == set(first.ontology) and set(second.shapes) == set(first.shapes)
    assert set(second.schema) == set(first.schema)
    assert second.elements == first.elements and second.sources == first.sources
    assert second.validation_support == first.validation_support
    assert second.query_files == first.query_files and all(p.is_relative_to(kb) for p in second.query_files.values())
    case = EXAMPLES / "lumbar-mass-back-pain.yaml"
    before = render_json(triage(read_case(case, first), first))
    assert render_json(triage(read_case(case, second), second)) == before


def test_a_knowledge_read_from_the_cache_brings_its_blank_node_fingerprints(
    kb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_knowledge(kb)
    with monkeypatch.context() as patch:
        refuse_to_parse(patch)
        second = load_from_disk(kb)
    assert second.ontology is not first.ontology
    stored = (blank_labels(second.ontology), blank_labels(second.schema))
    assert stored == (blank_labels(first.ontology), blank_labels(first.schema))  # the same parse
    monkeypatch.setattr(knowledge_module, "_BLANK_LABELS", {})  # forget them: computed from the graphs
    assert (blank_labels(second.ontology), blank_labels(second.schema)) == stored
    assert blank_labels(second.ontology) != blank_labels(second.shapes)


def test_a_warm_triage_does_not_read_the_ontology_graph(kb: Path) -> None:
    """With the rules and queries cached, triage needs none of the ontology graph: a knowledge read
    from the disk cache unpickles it only when something asks for it (then the same triples)."""
    case = EXAMPLES / "lumbar-mass-back-pain.yaml"
    first = load_knowledge(kb)
    before = render_json(triage(read_case(case, first), first))
    engine_for(first).save()  # as the process would at exit
    second = load_from_disk(kb)
    assert render_json(triage(read_case(case, second), second)) == before
    assert "ontology" not in vars(second)  # never unpickled
    assert set(second.ontology) == set(first.ontology) and "ontology" in vars(second)


def test_a_changed_knowledge_file_is_parsed_again(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_knowledge(kb)
    assert PROBE not in first.ontology
    core = kb / "ontology" / "core.ttl"
    core.write_text(core.read_text() + '\ndx:CacheProbe rdfs:label "cache probe"@en .\n')
    second = load_from_disk(kb)
    assert second.content_hash != first.content_hash
    assert PROBE in second.ontology
    assert len(cache_files(kb)) == 2
    with monkeypatch.context() as patch:
        refuse_to_parse(patch)
        third = load_from_disk(kb)  # the edited knowledge is now cached too
    assert PROBE in third.ontology


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"not a cache file",
        lambda data: data[: len(data) // 2],  # the right stamp, a truncated pickle
        lambda data: pickle.dumps({"foreign": True}),  # a pickle without the stamp: never loaded
        lambda data: data.split(b"\n", 1)[0] + b"\n" + pickle.dumps({"foreign": True}),  # stamp, wrong type
    ],
)
def test_a_damaged_or_foreign_cache_file_is_ignored_and_rewritten(kb: Path, damage: object) -> None:
    first = load_knowledge(kb)
    (file,) = cache_files(kb)
    good = file.read_bytes()
    assert callable(damage)
    file.write_bytes(damage(good))
    again = load_from_disk(kb)
    assert len(again.ontology) == len(first.ontology) and again.elements == first.elements  # parsed anew
    assert load_from_disk(kb).elements == first.elements
    assert file.read_bytes().split(b"\n", 1)[0] == good.split(b"\n", 1)[0]  # rewritten with the stamp


def test_only_the_newest_knowledge_caches_are_kept(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knowledge_module, "CACHE_KEEP", 1)
    load_knowledge(kb)
    core = kb / "ontology" / "core.ttl"
    core.write_text(core.read_text() + '\ndx:CacheProbe rdfs:label "cache probe"@en .\n')
    edited = load_knowledge(kb)
    (file,) = cache_files(kb)
    assert edited.content_hash[:32] in file.name


def test_the_cache_can_be_turned_off(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    assert load_knowledge(kb).elements
    assert not (kb.parent / "cache").exists()


def test_an_unwritable_cache_folder_does_not_stop_loading(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = kb.parent / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    assert load_knowledge(kb).elements


def test_queries_are_parsed_on_first_use(kb: Path) -> None:
    load_knowledge(kb)
    knowledge = load_from_disk(kb)
    names = {path.stem for path in (kb / "queries").glob("*.rq")}
    assert set(knowledge.queries) == names and len(knowledge.queries) == len(names)
    assert knowledge.queries.text("report-urgency") == (kb / "queries" / "report-urgency.rq").read_text()
    assert "report-urgency" in knowledge.queries and "no-such-query" not in knowledge.queries
    assert knowledge.queries.get("no-such-query") is None
    query = knowledge.queries["report-urgency"]
    assert query is knowledge.queries["report-urgency"]  # parsed once
    assert hasattr(query, "algebra")


def test_a_sparql_syntax_error_still_stops_the_loading(kb: Path) -> None:
    (kb / "queries" / "derive-age-bands.rq").write_text("CONSTRUCT { ?x ?y ?z } WHERE { ?x ?y }")
    with pytest.raises(KnowledgeError, match=r"derive-age-bands\.rq: SPARQL syntax error"):
        load_from_disk(kb)
    assert not cache_files(kb)


def test_loading_parses_no_query_with_rdflib(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every query is checked, but rdflib's parser (slow) parses none while loading (the lookups run
    on Oxigraph), on the first load as after an edit of an ontology file and of a query."""
    parsed: list[str] = []
    prepare = knowledge_module._prepare_text

    def counted(text: str, path: Path) -> object:
        parsed.append(path.stem)
        return prepare(text, path)

    monkeypatch.setattr(knowledge_module, "_prepare_text", counted)
    assert load_knowledge(kb).elements
    assert parsed == []
    core = kb / "ontology" / "core.ttl"
    core.write_text(core.read_text() + '\ndx:CacheProbe rdfs:label "cache probe"@en .\n')
    advice = kb / "queries" / "report-advice.rq"
    advice.write_text(advice.read_text() + "# edited\n")
    parsed.clear()
    edited = load_from_disk(kb)
    assert PROBE in edited.ontology and edited.sources
    assert edited.label(PROBE[0]) == "cache probe"
    assert parsed == []
    assert hasattr(edited.queries["report-advice"], "algebra")  # parsed when first used
    assert parsed == ["report-advice"]


def test_a_query_only_rdflib_accepts_still_loads(kb: Path) -> None:
    """Oxigraph refuses a projected variable that is not grouped; rdflib accepts it, as it did."""
    text = "PREFIX dx: <https://w3id.org/dorsum/ontology#>\nSELECT ?s ?o (COUNT(?p) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?s\n"
    (kb / "queries" / "docs-avoid.rq").write_text(text)
    knowledge = load_from_disk(kb)
    assert hasattr(knowledge.queries["docs-avoid"], "algebra")


def test_a_query_only_oxigraph_accepts_fails_when_first_used(kb: Path) -> None:
    """RDF-star, which Oxigraph parses and rdflib does not: the loading's check lets it through,
    and its first use fails with the same error, naming the file (``dorsum check`` reports it)."""
    (kb / "queries" / "docs-avoid.rq").write_text("SELECT * WHERE { << ?s ?p ?o >> ?q ?r }\n")
    knowledge = load_from_disk(kb)
    with pytest.raises(KnowledgeError, match=r"docs-avoid\.rq: SPARQL syntax error"):
        knowledge.queries["docs-avoid"]


@pytest.mark.parametrize(
    "query",
    [
        "knowledge-labels",  # a lookup, run on Oxigraph while loading
        "derive-age-bands",  # a derive rule (compiled, or rdflib's engine)
        "report-advice",  # a report query (Oxigraph, for each case)
        "docs-avoid",  # a docs query (rdflib's engine)
    ],
)
def test_loading_refuses_a_query_that_would_fetch_and_calls_nothing(kb: Path, query: str) -> None:
    """Every query the knowledge loads passes the guard (check_text) before either engine sees
    it: SERVICE written with a codepoint escape (``\\u0053ERVICE``, which rdflib expands) is
    refused with the typed error naming the file, and the service is never called (Oxigraph
    would call it while checking the syntax, or running a lookup)."""
    calls: list[object] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]

    def answer() -> None:  # count each call and hang up, so that a caller fails fast
        with contextlib.suppress(OSError):
            while True:
                connection, _ = listener.accept()
                calls.append(connection)
                connection.close()

    threading.Thread(target=answer, daemon=True).start()
    (kb / "queries" / f"{query}.rq").write_text(
        f"SELECT * WHERE {{ \\u0053ERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}\n"
    )
    try:
        with pytest.raises(
            QueryRefusedError, match=rf"{query}\.rq: SERVICE http://127\.0\.0\.1:{port}/sparql is refused"
        ):
            load_from_disk(kb)
    finally:
        listener.close()
    assert not calls


def test_a_sparql_syntax_error_stops_the_loading_after_an_edit(kb: Path) -> None:
    load_knowledge(kb)
    (kb / "queries" / "docs-avoid.rq").write_text("SELECT ?x WHERE { ?x ")
    for _ in range(2):  # the text that does not parse is never taken as checked
        with pytest.raises(KnowledgeError, match=r"docs-avoid\.rq: SPARQL syntax error"):
            load_from_disk(kb)
