"""Run a SPARQL query over a case's inferred graph (case facts, derived and inferred facts,
and the whole ontology), for informaticians."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from rdflib import Graph, Literal, Node
from rdflib.graph import ReadOnlyGraphAggregate

from reasoner.errors import QueryRefusedError, UsageError, one_line
from reasoner.knowledge import DX, Knowledge
from reasoner.pipeline.infer import infer_case
from reasoner.pipeline.query_budget import AnswerMeter, QueryBudget, check_query_text, run_bounded
from reasoner.pipeline.read import CaseInput
from reasoner.pipeline.validate import require_valid, validate_case


@dataclass(frozen=True)
class QueryResult:
    """Rows of a SELECT (or the single boolean of an ASK, or the triples of a CONSTRUCT)."""

    variables: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    graph: Graph | None = None

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.variables)
        writer.writerows(self.rows)
        return out.getvalue()

    def to_json(self) -> str:
        return json.dumps([dict(zip(self.variables, row, strict=True)) for row in self.rows], indent=2)

    def to_table(self) -> str:
        """An aligned text table; IRIs in the dorsum namespace are shortened to dx:name."""
        if not self.variables:
            return "(no columns)"
        rows = [tuple(cell.replace(str(DX), "dx:") for cell in row) for row in self.rows]
        widths = [len(v) for v in self.variables]
        for row in rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
        line = "  ".join(v.ljust(w) for v, w in zip(self.variables, widths, strict=True))
        rule = "  ".join("-" * w for w in widths)
        body = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
        return "\n".join([line, rule, *body, f"({len(self.rows)} rows)"])


def resolve_query(name_or_path: str, knowledge: Knowledge) -> Path:
    """A .rq file path, or the name of a query in the knowledge's queries/ (or queries/examples/)."""
    path = Path(name_or_path)
    if path.suffix == ".rq" and path.is_file():
        return path
    stem = path.stem if path.suffix == ".rq" else name_or_path
    for candidate in (
        knowledge.root / "queries" / f"{stem}.rq",
        knowledge.root / "queries" / "examples" / f"{stem}.rq",
    ):
        if candidate.is_file():
            return candidate
    names = sorted(p.stem for p in (knowledge.root / "queries").rglob("*.rq"))
    raise UsageError(f"no query file or named query '{name_or_path}' (named queries: {', '.join(names)})")


def inferred_case_graph(case: CaseInput, knowledge: Knowledge) -> Graph:
    """The case's facts plus everything derived and inferred about it (a new graph)."""
    require_valid(validate_case(case, knowledge))
    return infer_case(case.graph, knowledge)


def run_query(
    name_or_path: str, case: CaseInput, knowledge: Knowledge, budget: QueryBudget | None = None
) -> QueryResult:
    """Run a query over the inferred case graph joined with the ontology, within ``budget``.

    The query text is checked first (:func:`~reasoner.pipeline.query_budget.check_query_text`:
    no update, no SERVICE / FROM / LOAD unless the budget names the endpoint, bounded size and
    nesting); it is then parsed and run in a child process killed at the time limit, its answer
    capped in rows and bytes. Raises QueryRefusedError, QueryTimeoutError, AnswerTooLargeError.
    """
    chosen = budget if budget is not None else QueryBudget()
    path = resolve_query(name_or_path, knowledge)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read: {one_line(error)}") from error
    check_query_text(text, chosen)
    graph = inferred_case_graph(case, knowledge)

    def answer() -> QueryResult:
        try:
            query = _parsed(text, path)  # in the child: a parser can recurse deeply
            view = ReadOnlyGraphAggregate([graph, knowledge.ontology])
            return _answer(view.query(query), AnswerMeter(chosen))
        except RecursionError:
            raise QueryRefusedError(f"{path}: the query is nested too deeply for the engine") from None

    return run_bounded(answer, chosen, what=f"the query {path.name}")


def _parsed(text: str, path: Path) -> Any:
    """The checked text parsed (not the file read again, which may have changed since)."""
    from rdflib.plugins.sparql import prepareQuery

    try:
        return prepareQuery(text)
    except RecursionError:
        raise
    except Exception as error:  # pyparsing and rdflib raise several types
        raise UsageError(f"{path}: SPARQL syntax error: {one_line(error)}") from error


def _answer(result: Any, meter: AnswerMeter) -> QueryResult:
    if result.type == "ASK":
        return QueryResult(("ask",), ((str(bool(result.askAnswer)).lower(),),))
    if result.type in ("CONSTRUCT", "DESCRIBE"):
        graph = Graph()
        for triple in result:
            meter.add(*(str(term) for term in triple))
            graph.add(triple)
        rows = tuple(tuple(_cell(term) for term in triple) for triple in sorted(graph))
        return QueryResult(("subject", "predicate", "object"), rows, graph)
    names = list(result.vars or [])
    rows_read: list[tuple[str, ...]] = []
    for solution in result:
        row = tuple(_cell(cast(Any, solution)[v]) for v in names)
        meter.add(*row)
        rows_read.append(row)
    return QueryResult(tuple(str(v) for v in names), tuple(rows_read))


def _cell(term: Node | None) -> str:
    if term is None:
        return ""
    if isinstance(term, Literal):
        return str(term)
    return term.n3() if not str(term).startswith("http") else str(term)
