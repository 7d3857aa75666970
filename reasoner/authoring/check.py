"""Quality control of a knowledge base: ``dorsum check``.

Every check reads the knowledge files; none holds clinical facts. Findings are ERROR (the
knowledge is broken or unsafe to use), WARN (probably a mistake) or INFO.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pyshacl import validate as shacl_validate
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH
from rdflib.plugins.sparql import prepareQuery
from rdflib.term import Node

from reasoner.authoring import pack_population
from reasoner.authoring.completeness_gaps import completeness_gaps, describe
from reasoner.engines.owl_rl import owlrl_expand
from reasoner.engines.owl_rl_profile import rl_profile_violations
from reasoner.engines.owl_rl_schema import UnsupportedRule, close_schema
from reasoner.engines.sparql_store import GraphStore
from reasoner.errors import QueryRefusedError
from reasoner.knowledge import CONTEXT_FILE, DX, Knowledge, load_knowledge
from reasoner.pipeline.engine import engine_for
from reasoner.pipeline.query_budget import QueryBudget, check_query_text
from reasoner.pipeline.validate import compiled_shapes
from reasoner.terms import Triple

ERROR, WARN, INFO = "ERROR", "WARN", "INFO"
LEVELS = (ERROR, WARN, INFO)
OWLRL_ERRORS = Namespace("http://www.daml.org/2002/03/agents/agent-ont#")
QA_SHAPES = "knowledge-qa.ttl"


@dataclass(frozen=True)
class CheckFinding:
    level: str
    code: str
    message: str
    file: str = ""
    line: int = 0

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.line else (f"{self.file}: " if self.file else "")
        return f"{self.level} {self.code} {where}{self.message}"


@dataclass(frozen=True)
class CheckReport:
    root: str
    findings: tuple[CheckFinding, ...]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.level == WARN)

    def to_json(self) -> str:
        return json.dumps(
            {
                "root": self.root,
                "errors": self.errors,
                "warnings": self.warnings,
                "findings": [asdict(f) for f in self.findings],
            },
            indent=2,
            sort_keys=True,
        )


def check_knowledge(root: Path | str) -> CheckReport:
    """Run every check on the knowledge at ``root``. Parse errors stop the later checks."""
    folder = Path(root).expanduser().resolve()
    findings = _parse_each_file(folder)
    if any(f.level == ERROR for f in findings):
        return CheckReport(str(folder), tuple(findings))
    knowledge = load_knowledge(folder)
    findings += _profile(knowledge)
    findings += _consistency(knowledge)
    findings += _qa_shapes(knowledge)
    findings += _qc_queries(knowledge)
    findings += _completeness(knowledge)
    findings += _population(knowledge)
    reasoner = engine_for(knowledge).reasoner
    if reasoner.compiled is None:
        findings.append(CheckFinding(INFO, "slow-reasoner", f"owlrl fallback in use: {reasoner.fallback_reason}"))
    validator = compiled_shapes(knowledge)
    if isinstance(validator, str):
        findings.append(
            CheckFinding(INFO, "slow-validator", f"pyshacl fallback in use for the case shapes: {validator}", "shapes/")
        )
    order = {level: index for index, level in enumerate(LEVELS)}
    return CheckReport(str(folder), tuple(sorted(findings, key=lambda f: (order[f.level], f.code, f.file, f.message))))


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _line(text: str) -> int:
    match = re.search(r"line (\d+)", text)
    return int(match.group(1)) if match else 0


def _parse_each_file(root: Path) -> list[CheckFinding]:
    findings: list[CheckFinding] = []
    for folder in ("ontology", "shapes", "queries"):
        if not (root / folder).is_dir():
            findings.append(CheckFinding(ERROR, "missing-folder", f"{folder}/ is missing", str(root)))
    if findings:
        return findings
    for path in sorted((root / "ontology").glob("*.ttl")) + sorted((root / "shapes").glob("*.ttl")):
        try:
            Graph().parse(path, format="turtle")
        except Exception as exc:  # rdflib raises many parser exception types
            text = " ".join(str(exc).split())
            findings.append(CheckFinding(ERROR, "turtle-syntax", text[:300], _rel(path, root), _line(text)))
    for path in sorted((root / "queries").glob("**/*.rq")):
        query = path.read_text(encoding="utf-8")
        error = _sparql_syntax_error(query)
        if error is not None:
            text, lineno = error
            findings.append(CheckFinding(ERROR, "sparql-syntax", text[:300], _rel(path, root), lineno))
            continue
        if path.parent == root / "queries":  # what the knowledge loads (qc/ queries: see _qc_queries)
            try:
                check_query_text(query, QueryBudget(), fetch_hint="")
            except QueryRefusedError as error:
                findings.append(CheckFinding(ERROR, "query-refused", str(error), _rel(path, root)))
    context = root / "ontology" / CONTEXT_FILE
    try:
        json.loads(context.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        findings.append(CheckFinding(ERROR, "context-syntax", str(exc), _rel(context, root), getattr(exc, "lineno", 0)))
    return findings


@functools.lru_cache(maxsize=512)
def _sparql_syntax_error(query: str) -> tuple[str, int] | None:
    """rdflib's parse error for a query text (its message and line), or None. Remembered per text:
    a knowledge copy checked again (as an author edits one file) parses only what changed."""
    try:
        prepareQuery(query)
    except Exception as exc:  # pyparsing raises ParseException, rdflib others
        lineno = getattr(exc, "lineno", 0) or _line(str(exc))
        return " ".join(str(exc).split()), int(lineno)
    return None


def _profile(knowledge: Knowledge) -> list[CheckFinding]:
    return [
        CheckFinding(ERROR, "owl2-rl-profile", message, "ontology/")
        for message in rl_profile_violations(knowledge.ontology)
    ]


def _consistency(knowledge: Knowledge) -> list[CheckFinding]:
    """The errors of owlrl's OWL 2 RL closure of the schema. :func:`close_schema` computes that
    closure (a fraction of owlrl's time) unless owlrl would record an error or needs a rule it lacks;
    then owlrl itself runs, and its error records are the findings."""
    errors: list[str] = []  # close_schema raises where owlrl records an error
    try:
        closed: Iterable[Triple] = close_schema(knowledge.schema)
    except UnsupportedRule:
        graph = Graph()
        graph += knowledge.schema
        owlrl_expand(graph)
        closed, errors = graph, sorted(str(m) for m in graph.objects(None, OWLRL_ERRORS.error))
    members: set[Node] = set()
    empty: set[Node] = set()
    for s, p, o in closed:
        if o == OWL.Nothing and p in (RDF.type, RDFS.subClassOf):
            (members if p == RDF.type else empty).add(s)
    findings = [CheckFinding(ERROR, "inconsistent", f"owlrl reports: {message}", "ontology/") for message in errors]
    for member in sorted(members, key=str):
        findings.append(
            CheckFinding(ERROR, "inconsistent", f"{knowledge.label(member)} is a member of owl:Nothing", "ontology/")
        )
    for cls in sorted(empty, key=str):
        if isinstance(cls, URIRef) and cls != OWL.Nothing:
            findings.append(
                CheckFinding(ERROR, "unsatisfiable", f"class {knowledge.label(cls)} can have no members", "ontology/")
            )
    return findings


def _qa_shapes(knowledge: Knowledge) -> list[CheckFinding]:
    path = knowledge.root / "shapes" / QA_SHAPES
    if not path.is_file():
        return [CheckFinding(WARN, "no-qa-shapes", f"shapes/{QA_SHAPES} is missing: metadata is not checked")]
    shapes = Graph().parse(path, format="turtle")
    _conforms, results, _text = shacl_validate(
        knowledge.ontology, shacl_graph=shapes, inference="none", allow_warnings=True
    )
    assert isinstance(results, Graph)
    findings = []
    for result in results.objects(None, SH.result):  # not the sh:detail results nested in them
        severity = results.value(result, SH.resultSeverity)
        focus = results.value(result, SH.focusNode)
        message = results.value(result, SH.resultMessage)
        level = ERROR if severity == SH.Violation else WARN
        findings.append(
            CheckFinding(level, "knowledge-qa", f"{knowledge.label(focus)}: {message}", f"shapes/{QA_SHAPES}")
        )
    return findings


def _qc_queries(knowledge: Knowledge) -> list[CheckFinding]:
    findings = []
    run = _QcEngine(knowledge.ontology)
    for path in sorted((knowledge.root / "queries" / "qc").glob("*-violation.rq")):
        text = path.read_text(encoding="utf-8")
        level = _header(text, "level", WARN).upper()
        message = _header(text, "message", path.stem)
        code = path.stem.removesuffix("-violation")
        try:
            rows = run(text)
        except QueryRefusedError as error:  # SERVICE, FROM, LOAD: nothing is fetched, even for a check
            findings.append(CheckFinding(ERROR, code, f"query refused: {error}", _rel(path, knowledge.root)))
            continue
        for row in rows:
            values = [_show(value) for value in row if value is not None]
            findings.append(
                CheckFinding(
                    level if level in LEVELS else WARN,
                    code,
                    f"{', '.join(values)}: {message}",
                    _rel(path, knowledge.root),
                )
            )
    return findings


class _QcEngine:
    """Runs the quality-control queries over the ontology on Oxigraph (the tie query took rdflib
    24 s, Oxigraph a fraction of one); a text Oxigraph refuses runs on rdflib instead. Both give
    the same rows (tests/test_authoring.py)."""

    def __init__(self, ontology: Graph) -> None:
        self.ontology = ontology
        self.store = GraphStore.of(ontology)

    def __call__(self, text: str) -> Sequence[tuple[object, ...]]:
        """The rows of one query; QueryRefusedError for a text that would fetch (check_query_text),
        before either engine sees it."""
        check_query_text(text, QueryBudget(), fetch_hint="")
        rows = self.store.select(text)
        if rows is None:
            return [tuple(row) for row in self.ontology.query(prepareQuery(text))]  # type: ignore[arg-type]
        return rows


def _completeness(knowledge: Knowledge) -> list[CheckFinding]:
    """Findings an advice's condition uses that the completeness shapes do not ask wherever the
    advice can apply (see :mod:`reasoner.authoring.completeness_gaps`)."""
    findings = []
    for gap in completeness_gaps(knowledge):
        text = describe(gap, _show)
        if gap.shapes:
            findings.append(CheckFinding(WARN, "completeness-narrower-than-advice", text, "shapes/"))
        else:
            findings.append(CheckFinding(INFO, "finding-never-asked", text, "shapes/"))
    return findings


def _population(knowledge: Knowledge) -> list[CheckFinding]:
    """Advice citing a guideline pack's source where a case outside the pack's stated population can
    be (see :mod:`reasoner.authoring.pack_population`)."""
    return [
        CheckFinding(WARN, "advice-outside-population", pack_population.describe(gap, _show), "ontology/")
        for gap in pack_population.population_gaps(knowledge)
    ]


def _header(text: str, key: str, default: str) -> str:
    match = re.search(rf"^#\s*{key}:\s*(.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else default


def _show(value: object) -> str:
    text = str(value)
    return "dx:" + text.split("#", 1)[1] if text.startswith(str(DX)) else text
