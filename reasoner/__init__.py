"""dorsum: triage of a lump or mass on the back from declarative knowledge.

Decision support for professionals. It does not diagnose.

Public API::

    from reasoner import load_knowledge, read_case, triage
    kb = load_knowledge()                 # packaged knowledge, or a folder / $DORSUM_KB
    result = triage(read_case("examples/growing-lump.yaml", kb), kb)
    print(render_text(result))
"""

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
from reasoner.knowledge import Knowledge, load_knowledge
from reasoner.pipeline.infer import infer_case
from reasoner.pipeline.query import QueryResult, inferred_case_graph, run_query
from reasoner.pipeline.read import CaseInput, case_from_form, case_from_graph, case_from_rdf_text, read_case
from reasoner.pipeline.triage import TriageResult, evaluate_file, triage
from reasoner.pipeline.validate import ValidationReport, validate_case
from reasoner.render import render, render_json, render_text, render_turtle
from reasoner.version import __version__

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
    "read_case",
    "render",
    "render_json",
    "render_text",
    "render_turtle",
    "run_query",
    "triage",
    "validate_case",
]
