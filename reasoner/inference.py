"""Derive and infer: SPARQL CONSTRUCT rules for what OWL 2 RL cannot state, then the OWL 2 RL
closure, repeated until nothing new appears.

The OWL 2 RL step uses rules compiled once per knowledge base from the closed ontology
(``reasoner.compiled``), which give the same facts about the case as a full owlrl closure. If the
ontology uses a construct the compiled rules do not implement, dorsum falls back to owlrl.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rdflib import Graph
from rdflib.graph import ReadOnlyGraphAggregate

from .compiled import CompiledRules, UnsupportedConstruct, compile_rules, owlrl_reference_infer
from .errors import KnowledgeError

if TYPE_CHECKING:
    from .knowledge import Knowledge

MAX_ROUNDS = 10
CACHE_ENV = "DORSUM_CACHE_DIR"
DERIVE_PREFIX = "derive-"


@dataclass(frozen=True, eq=False)
class CaseReasoner:
    """OWL 2 RL reasoning over one case graph at a time against a fixed ontology."""

    schema: Graph
    compiled: CompiledRules | None
    fallback_reason: str = ""

    @classmethod
    def for_knowledge(cls, knowledge: Knowledge) -> CaseReasoner:
        cache = _cache_file(knowledge.content_hash)
        cached = _read_cache(cache)
        if cached is not None:
            return cls(schema=knowledge.schema, compiled=cached)
        try:
            compiled = compile_rules(knowledge.schema)
        except UnsupportedConstruct as exc:
            return cls(schema=knowledge.schema, compiled=None, fallback_reason=str(exc))
        _write_cache(cache, compiled)
        return cls(schema=knowledge.schema, compiled=compiled)

    def infer(self, case: Graph) -> Graph:
        """The case's triples plus every OWL 2 RL entailment about the case's nodes (new graph)."""
        if self.compiled is not None:
            try:
                return self.compiled.infer(case)
            except UnsupportedConstruct:
                pass  # the case makes schema-level statements: let owlrl handle them in full
        return owlrl_reference_infer(self.schema, case)


def infer_case(graph: Graph, knowledge: Knowledge) -> Graph:
    """Run derive rules and OWL 2 RL inference to a fixpoint. Returns a new graph."""
    reasoner = knowledge.reasoner
    if reasoner is None:
        raise KnowledgeError("the knowledge base was not loaded with load_knowledge()")
    derive_queries = [q for name, q in sorted(knowledge.queries.items()) if name.startswith(DERIVE_PREFIX)]
    current = Graph()
    current += graph
    for _ in range(MAX_ROUNDS):
        view = ReadOnlyGraphAggregate([current, knowledge.schema])
        derived = Graph()
        for query in derive_queries:
            for triple in view.query(query):
                derived.add(triple)  # type: ignore[arg-type]
        derived += current
        closed = reasoner.infer(derived)
        if len(closed) == len(current):
            return closed
        current = closed
    return current


def _cache_file(content_hash: str) -> Path | None:
    """Where the compiled rules for this knowledge are cached, or None if caching is off.

    The key is the knowledge's content hash plus a hash of the rule compiler's own source, so a
    changed knowledge file or a new dorsum never reuses stale rules.
    """
    setting = os.environ.get(CACHE_ENV)
    if setting is not None and setting.strip().lower() in ("", "off", "none", "0"):
        return None
    base = Path(setting) if setting else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dorsum"
    compiler = hashlib.sha256(Path(__file__).with_name("compiled.py").read_bytes()).hexdigest()[:16]
    return base / f"rules-{content_hash[:32]}-{compiler}.pickle"


def _read_cache(path: Path | None) -> CompiledRules | None:
    if path is None or not path.is_file():
        return None
    try:
        with path.open("rb") as stream:
            value = pickle.load(stream)
    except Exception:  # a damaged or foreign cache file is rebuilt, never trusted
        return None
    return value if isinstance(value, CompiledRules) else None


def _write_cache(path: Path | None, compiled: CompiledRules) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as stream:
            pickle.dump(compiled, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(stream.name, path)  # atomic: readers see the old file or the whole new one
    except OSError:
        return  # caching is an optimisation; a read-only home must not stop triage
