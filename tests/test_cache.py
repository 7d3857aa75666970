"""The compiled-rules cache is keyed by the knowledge's content hash: a stale cache is never used."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reasoner import load_knowledge
from reasoner.cache import CACHE_ENV
from reasoner.pipeline.engine import CaseReasoner, engine_for

from .conftest import ROOT


def test_cache_is_rebuilt_when_the_knowledge_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    kb = tmp_path / "kb"
    for folder in ("ontology", "shapes", "queries"):
        shutil.copytree(ROOT / folder, kb / folder)
    first = load_knowledge(kb)
    assert engine_for(first).reasoner is not None  # compiles the rules, or reads them from the cache
    files = sorted((tmp_path / "cache").glob("rules-*.pickle"))
    assert len(files) == 1 and first.content_hash[:32] in files[0].name

    (kb / "ontology" / "core.ttl").write_text((kb / "ontology" / "core.ttl").read_text() + "\n# edited\n")
    second = load_knowledge(kb)
    assert engine_for(second).reasoner.compiled is not None
    assert second.content_hash != first.content_hash
    assert len(sorted((tmp_path / "cache").glob("rules-*.pickle"))) == 2


def test_a_damaged_cache_file_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    kb = tmp_path / "kb"
    for folder in ("ontology", "shapes", "queries"):
        shutil.copytree(ROOT / folder, kb / folder)
    knowledge = load_knowledge(kb)
    assert engine_for(knowledge).reasoner is not None
    (cache_file,) = (tmp_path / "cache").glob("rules-*.pickle")
    cache_file.write_bytes(b"not a pickle")
    rebuilt = CaseReasoner.for_knowledge(knowledge)  # same key, damaged file: compiled again
    assert rebuilt.compiled is not None
    assert cache_file.read_bytes() != b"not a pickle"
