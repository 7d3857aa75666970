"""Renderers of triage results: text (:mod:`.text`), JSON (:mod:`.json`) and Turtle (:mod:`.turtle`)."""

from __future__ import annotations

from reasoner.errors import UsageError
from reasoner.pipeline.triage import TriageResult
from reasoner.render.json import render_json
from reasoner.render.text import render_text
from reasoner.render.turtle import render_turtle

FORMATS = ("text", "json", "turtle")

__all__ = ["FORMATS", "render", "render_json", "render_text", "render_turtle"]


def render(result: TriageResult, fmt: str, detail: str = "summary") -> str:
    """The result in ``fmt`` (one of FORMATS); ``detail`` (brief, summary, full) applies to text."""
    if fmt == "text":
        return render_text(result, detail)
    if fmt == "json":
        return render_json(result)
    if fmt == "turtle":
        return render_turtle(result)
    raise UsageError(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})")
