"""A triage result as JSON: byte-stable (sorted keys) for machines and diffs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reasoner.pipeline.triage import TriageResult, as_mapping

__all__ = ["json_line", "render_json"]


def render_json(result: TriageResult) -> str:
    """Deterministic JSON: the same input and knowledge give byte-identical output."""
    return json.dumps(as_mapping(result), indent=2, sort_keys=True, ensure_ascii=False)


def json_line(record: Mapping[str, Any]) -> str:
    """One JSONL line of a batch (without its newline): keys sorted, non-ASCII text as is."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False)
