"""Run a SPARQL query over a case's inferred graph (case facts, derived and inferred facts,
and the whole ontology), for informaticians."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from rdflib import Graph, Node
from rdflib.graph import ReadOnlyGraphAggregate

from reasoner.errors import QueryRefusedError, UsageError, one_line
from reasoner.knowledge import Knowledge
from reasoner.pipeline.infer import infer_case
from reasoner.pipeline.query_budget import AnswerMeter, QueryBudget, check_query_text, run_bounded
from reasoner.pipeline.read import CaseInput
from reasoner.pipeline.validate import require_valid, validate_case

QUERY_FOLDERS: Final = (("queries",), ("queries", "examples"))  # where named queries are looked up


@dataclass(frozen=True)
class QueryResult:
    """The answer of a query: the rows of a SELECT (rdflib terms, ``None`` when unbound), the
    triples of a CONSTRUCT or DESCRIBE (as subject, predicate, object rows and as ``graph``), or
    the ``boolean`` of an ASK (no variables, no rows). :mod:`reasoner.render.tables` writes it
    as a table or in the W3C results formats."""

    variables: tuple[str, ...]
    rows: tuple[tuple[Node | None, ...], ...]
    graph: Graph | None = None
    boolean: bool | None = None


def resolve_query(name_or_path: str, kb_root: Path) -> Path:
    """The query file QUERY names, for ``dorsum query`` and ``dorsum sparql`` alike: a path to an
    existing file, else the name of a query in the knowledge's queries/ or queries/examples/
    (``NAME``, ``NAME.rq`` or ``examples/NAME``; queries/ first). Raises UsageError listing the
    names there are."""
    path = Path(name_or_path)
    if _is_file(path):
        return path
    stem = name_or_path.removesuffix(".rq").removeprefix("examples/")
    if stem and "/" not in stem and "\\" not in stem:
        for folder in QUERY_FOLDERS:
            candidate = kb_root.joinpath(*folder, f"{stem}.rq")
            if _is_file(candidate):
                return candidate
    listed = "; ".join(
        f"{'/'.join(folder)}/: {', '.join(names) or '(none)'}"
        for folder in QUERY_FOLDERS
        for names in [sorted(p.stem for p in kb_root.joinpath(*folder).glob("*.rq"))]
    )
    raise UsageError(f"no query file or named query '{name_or_path}' (named queries in {listed})")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the system, or with a NUL
        return False


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
    path = resolve_query(name_or_path, knowledge.root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read: {one_line(error)}") from error
    check_query_text(text, chosen)
    graph = inferred_case_graph(case, knowledge)

    def answer() -> QueryResult:
        try:
            query = _parsed(text, path)  # in the child: a parser can recurse deeply
            refuse_fetches(query.algebra, chosen.allow_service)  # the text check's second line
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


def refuse_fetches(algebra: Any, allowed: Iterable[str] = ()) -> None:
    """Raise QueryRefusedError if rdflib's algebra of a query holds a ``SERVICE`` or a ``FROM``
    (``FROM NAMED``) that does not name an allowed endpoint: what the engine would fetch, as it
    parsed the query. :func:`check_query_text` reads the text alone, and text the two read apart
    (``\\u0053ERVICE``, ``true.SERVICE``) once reached the network; this checks what rdflib will run."""
    from rdflib.plugins.sparql.parserutils import CompValue

    permitted = set(allowed)
    stack = [algebra]
    while stack:
        node = stack.pop()
        if isinstance(node, CompValue):
            if node.name == "ServiceGraphPattern" and str(node.get("term")) not in permitted:
                raise QueryRefusedError(f"SERVICE {node.get('term')} is refused: {_FETCHES}")
            if node.name == "DatasetClause":
                for target in (node[key] for key in ("default", "named") if key in node):  # get() gives the key
                    if str(target) not in permitted:
                        raise QueryRefusedError(f"FROM {target} is refused: {_FETCHES}")
            stack.extend(node.values())
        elif isinstance(node, Mapping):
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)


_FETCHES = "it would make the engine fetch from the network or read a file"


def _answer(result: Any, meter: AnswerMeter) -> QueryResult:
    if result.type == "ASK":
        return QueryResult((), (), boolean=bool(result.askAnswer))
    if result.type in ("CONSTRUCT", "DESCRIBE"):
        graph = Graph()
        for triple in result:
            meter.add(*(str(term) for term in triple))
            graph.add(triple)
        return QueryResult(("subject", "predicate", "object"), tuple(sorted(graph)), graph)
    names = list(result.vars or [])
    rows_read: list[tuple[Node | None, ...]] = []
    for solution in result:
        row = tuple(cast(Any, solution)[v] for v in names)
        meter.add(*(str(term) if term is not None else None for term in row))
        rows_read.append(row)
    return QueryResult(tuple(str(v) for v in names), tuple(rows_read))
