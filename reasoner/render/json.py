"""A triage result as JSON: byte-stable (sorted keys) for machines and diffs."""

from __future__ import annotations

import json

from reasoner.pipeline.triage import TriageResult, as_mapping


def render_json(result: TriageResult) -> str:
    """Deterministic JSON: the same input and knowledge give byte-identical output."""
    return json.dumps(as_mapping(result), indent=2, sort_keys=True, ensure_ascii=False)
