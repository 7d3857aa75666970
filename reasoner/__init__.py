"""dorsum: triage of a lump or mass on the back from declarative knowledge.

Decision support for professionals. It does not diagnose.

Public API::

    from reasoner import load_knowledge, read_case, triage
    kb = load_knowledge()                 # packaged knowledge, or a folder / $DORSUM_KB
    result = triage(read_case("examples/growing-lump.yaml", kb), kb)
    print(render_text(result))

The names below are imported on first use (PEP 562), so ``import reasoner`` (and so
``dorsum --help``) loads no rdflib, owlrl, pyshacl or pyoxigraph until a name that needs them is used.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from reasoner.errors import (
    EXIT_INCOMPLETE,
    EXIT_INVALID_CASE,
    EXIT_TRIAGED,
    EXIT_USAGE,
    CaseError,
    DorsumError,
    KnowledgeError,
    UsageError,
)
from reasoner.version import __version__

if TYPE_CHECKING:
    from reasoner.knowledge import Knowledge, load_knowledge
    from reasoner.pipeline.infer import infer_case
    from reasoner.pipeline.policy import Profile, load_profile
    from reasoner.pipeline.query import QueryResult, inferred_case_graph, run_query
    from reasoner.pipeline.read import CaseInput, case_from_form, case_from_graph, case_from_rdf_text, read_case
    from reasoner.pipeline.triage import TriageResult, evaluate_file, triage
    from reasoner.pipeline.validate import ValidationReport, validate_case
    from reasoner.render import render, render_json, render_text, render_turtle
    from reasoner.render.tables import render_query

#: Where each lazily imported public name is defined.
_LAZY = {
    "Knowledge": "reasoner.knowledge",
    "load_knowledge": "reasoner.knowledge",
    "infer_case": "reasoner.pipeline.infer",
    "QueryResult": "reasoner.pipeline.query",
    "inferred_case_graph": "reasoner.pipeline.query",
    "run_query": "reasoner.pipeline.query",
    "CaseInput": "reasoner.pipeline.read",
    "case_from_form": "reasoner.pipeline.read",
    "case_from_graph": "reasoner.pipeline.read",
    "case_from_rdf_text": "reasoner.pipeline.read",
    "read_case": "reasoner.pipeline.read",
    "TriageResult": "reasoner.pipeline.triage",
    "evaluate_file": "reasoner.pipeline.triage",
    "triage": "reasoner.pipeline.triage",
    "ValidationReport": "reasoner.pipeline.validate",
    "validate_case": "reasoner.pipeline.validate",
    "render": "reasoner.render",
    "render_json": "reasoner.render",
    "render_text": "reasoner.render",
    "render_turtle": "reasoner.render",
    "render_query": "reasoner.render.tables",
    "Profile": "reasoner.pipeline.policy",
    "load_profile": "reasoner.pipeline.policy",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reasoner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """``reasoner.render`` is the function, as it was when this package imported it eagerly: importing
    the subpackage of the same name must not replace it (the subpackage stays in ``sys.modules``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "EXIT_INCOMPLETE",
    "EXIT_INVALID_CASE",
    "EXIT_TRIAGED",
    "EXIT_USAGE",
    "CaseError",
    "CaseInput",
    "DorsumError",
    "Knowledge",
    "KnowledgeError",
    "Profile",
    "QueryResult",
    "TriageResult",
    "UsageError",
    "ValidationReport",
    "__version__",
    "case_from_form",
    "case_from_graph",
    "case_from_rdf_text",
    "evaluate_file",
    "infer_case",
    "inferred_case_graph",
    "load_knowledge",
    "load_profile",
    "read_case",
    "render",
    "render_json",
    "render_query",
    "render_text",
    "render_turtle",
    "run_query",
    "triage",
    "validate_case",
]
