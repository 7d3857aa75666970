"""The compiled-rules cache is keyed by the schema's triples (blank-node labels included): a stale
cache is never used, and a knowledge whose schema is unchanged reuses the compiled rules."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF

from reasoner import load_knowledge
from reasoner.cache import CACHE_ENV
from reasoner.engines.owl_rl import CompiledRules
from reasoner.knowledge import DX
from reasoner.pipeline import engine as engine_module
from reasoner.pipeline.engine import CaseReasoner, engine_for

from .conftest import ROOT


def copy_kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    kb = tmp_path / "kb"
    for folder in ("ontology", "shapes", "queries"):
        shutil.copytree(ROOT / folder, kb / folder)
    return kb


def rule_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").glob("rules-*.pickle"))


def test_cache_is_rebuilt_when_the_schema_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = copy_kb(tmp_path, monkeypatch)
    first = load_knowledge(kb)
    assert engine_for(first).reasoner is not None  # compiles the rules, or reads them from the cache
    files = rule_files(tmp_path)
    assert len(files) == 1 and engine_module._schema_digest(first.schema)[:32] in files[0].name

    core = kb / "ontology" / "core.ttl"
    core.write_text(core.read_text() + "\ndx:RulesCacheProbe a owl:Class .\n")
    second = load_knowledge(kb)
    assert (URIRef(DX + "RulesCacheProbe"), RDF.type, OWL.Class) in second.schema
    assert engine_for(second).reasoner.compiled is not None
    assert len(rule_files(tmp_path)) == 2


def test_a_knowledge_with_the_same_schema_reuses_the_compiled_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compile_rules reads the schema alone: another knowledge (another content hash: an edited query or
    shape) with the same schema triples gets the cached rules; a schema with one more triple does not."""
    copy_kb(tmp_path, monkeypatch)
    first = load_knowledge(tmp_path / "kb")
    compiled = CaseReasoner.for_knowledge(first).compiled
    assert isinstance(compiled, CompiledRules)

    def no_compiling(_schema: Graph) -> CompiledRules:
        raise AssertionError("the rules were compiled again")

    monkeypatch.setattr(engine_module, "compile_rules", no_compiling)
    copy = Graph()
    copy += first.schema
    same_schema = replace(first, content_hash="0" * 64, schema=copy)
    cached = CaseReasoner.for_knowledge(same_schema).compiled
    assert cached is not None and cached.base_sp == compiled.base_sp
    assert len(rule_files(tmp_path)) == 1

    monkeypatch.undo()
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    copy.add((URIRef(DX + "RulesCacheProbe"), RDF.type, OWL.Class))
    assert CaseReasoner.for_knowledge(replace(first, schema=copy)).compiled is not None
    assert len(rule_files(tmp_path)) == 2


def test_a_damaged_cache_file_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    knowledge = load_knowledge(copy_kb(tmp_path, monkeypatch))
    assert engine_for(knowledge).reasoner is not None
    (cache_file,) = rule_files(tmp_path)
    cache_file.write_bytes(b"not a pickle")
    rebuilt = CaseReasoner.for_knowledge(knowledge)  # same key, damaged file: compiled again
    assert rebuilt.compiled is not None
    assert cache_file.read_bytes() != b"not a pickle"
