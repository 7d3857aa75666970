"""A triage result as JSON: byte-stable (sorted keys) for machines and diffs.

The text is written by orjson (a compiled JSON encoder, about ten times faster than the standard
library's on a result, which matters for batches and the CDS Hooks service); ``render_json`` gives
byte for byte what ``json.dumps(..., indent=2, sort_keys=True, ensure_ascii=False)`` gives, which
tests/test_batch.py checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from reasoner.pipeline.triage import TriageResult, as_mapping

__all__ = ["json_line", "render_json"]


def render_json(result: TriageResult) -> str:
    """Deterministic JSON: the same input and knowledge give byte-identical output."""
    return orjson.dumps(as_mapping(result), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def json_line(record: Mapping[str, Any]) -> str:
    """One JSONL line (without its newline): compact, keys sorted, UTF-8 text as is."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()
