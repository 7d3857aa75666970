"""Read a case: an RDF file (Turtle, JSON-LD, N-Triples) or a JSON/YAML case form.

A case form maps to RDF through the JSON-LD context shipped with the knowledge
(``ontology/case-form.context.jsonld``): this module holds no per-field code. It only checks
that every key of the form is a term of that context, so that a misspelt key is reported
instead of being dropped silently by JSON-LD processing, and that each value has the JSON/YAML
type its term takes (:mod:`reasoner.pipeline.form_values`), so that ``"5"`` is not read as 5.
A checked form is read straight into
triples through the compiled context (:mod:`reasoner.pipeline.form_graph`); a form outside what
that reader covers goes through rdflib's JSON-LD parser (:func:`case_from_form_json_ld`), which
gives the same graph, only slower.

Reading is strict and bounded (see :mod:`reasoner.pipeline.form_syntax` and the README's
"Safety of inputs"): only the named file is read, and only if it is a regular file within the
size limit, as UTF-8 (a byte-order mark before the first character is dropped, whatever the
format); nothing is fetched (a JSON-LD ``@context`` other than the shipped one is refused,
and rdflib's context loader is replaced by one that refuses); a case graph is bounded in
triples, its numbers must be finite plain decimals, and its ages must agree.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import rdflib
import rdflib.plugins.parsers.jsonld as jsonld_parser
import rdflib.plugins.shared.jsonld.context as jsonld_context
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH, XSD
from rdflib.plugins.stores.memory import Memory
from rdflib.term import Node

from reasoner.errors import (
    CaseError,
    DependencyError,
    FetchRefused,
    InputTooDeep,
    InputTooLarge,
    KnowledgeError,
    NotRegularFile,
    TooManyNodes,
    UsageError,
    one_line,
)
from reasoner.knowledge import DX, Knowledge
from reasoner.pipeline.form_graph import CASE_TYPE, form_context
from reasoner.pipeline.form_syntax import (
    BYTES_ENV,
    NODES_ENV,
    InputLimits,
    keyword_problems,
    number_problems,
    parse_json,
    parse_yaml,
    resolve_contexts,
)
from reasoner.pipeline.form_values import value_problems
from reasoner.pipeline.json_ld import LostValue, UncheckedParser, parse_json_ld
from reasoner.terms import Triple

RDF_FORMATS = {".ttl": "turtle", ".turtle": "turtle", ".nt": "nt", ".jsonld": "json-ld"}
FORM_SUFFIXES = {".json", ".yaml", ".yml"}
SUPPORTED = sorted(set(RDF_FORMATS) | FORM_SUFFIXES)
CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: The age properties of a case and the days in one of their units: ages given in several units
#: must describe the same age (to the whole unit, give or take AGE_SLACK_DAYS).
AGE_UNITS = ((DX.ageYears, Decimal("365.25")), (DX.ageMonths, Decimal("30.4375")), (DX.ageDays, Decimal(1)))
AGE_SLACK_DAYS = Decimal(2)
_NUMERIC = {XSD.decimal, XSD.integer, XSD.int, XSD.long, XSD.nonNegativeInteger, XSD.positiveInteger}
_FLOATING = {XSD.double, XSD.float}
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})")
#: A UTF-8 byte-order mark: an encoding marker some editors write first, not content. One at the
#: start of a case file is dropped, whatever the format (YAML's reader did so, JSON and Turtle
#: refused it); anywhere else it is a character like any other.
BYTE_ORDER_MARK = "\ufeff"
_FLOATING_TEXT = re.compile(rf"{_DECIMAL_TEXT.pattern}(?:[eE][+-]?[0-9]{{1,3}})?")


@dataclass(frozen=True, eq=False)
class CaseInput:
    """One case as an RDF graph. ``graph`` is never modified by dorsum."""

    name: str
    source: str
    graph: Graph
    case: URIRef | BNode


_NORMALISATION_LOCK = threading.Lock()


class _ContextFetchAttempt(Exception):
    """rdflib was about to load a JSON-LD context from a URL or file."""


def _refuse_context_fetch(source: Any, *args: Any, **kwargs: Any) -> Any:
    raise _ContextFetchAttempt(str(source))


# dorsum never fetches: rdflib's JSON-LD context loader (the only place it would open a URL or a
# file while parsing a string) is replaced, process-wide, by one that refuses.
setattr(jsonld_context, "source_to_json", _refuse_context_fetch)  # noqa: B010
# The same input gives the same case whatever else is installed: rdflib's JSON-LD parser would
# read JSON text, and write rdf:JSON literals, with orjson when it is importable (orjson refuses a
# lone surrogate the json module reads, and writes numbers otherwise). dorsum hands the parser
# data decoded by the json module (:func:`case_from_rdf_text`) and has it write with json too.
setattr(jsonld_parser, "_HAS_ORJSON", False)  # noqa: B010


def read_case(path: Path | str, knowledge: Knowledge, *, limits: InputLimits | None = None) -> CaseInput:
    """Read one case file, choosing the parser by file extension.

    Only a regular file within ``limits`` (default: from the environment) is opened. A form's
    case is named by its ``id`` (the file name only when the form has none).
    """
    file = Path(path)
    limits = limits or InputLimits.from_environment()
    suffix = file.suffix.lower()
    text = _read_text(file, suffix, limits)
    source = str(file)
    if suffix in FORM_SUFFIXES:
        parse = parse_json if suffix == ".json" else parse_yaml
        return case_from_form(parse(text, source, limits), knowledge, name=file.stem, source=source, limits=limits)
    if suffix == ".jsonld":
        document = parse_json(text, source, limits)
        return case_from_jsonld(document, knowledge, name=file.stem, source=source, limits=limits)
    return case_from_rdf_text(text, RDF_FORMATS[suffix], knowledge, name=file.stem, source=source, limits=limits)


def read_case_text(path: Path | str, limits: InputLimits | None = None) -> str:
    """The text of a case file (a form, RDF or a FHIR resource), read as :func:`read_case` reads
    it: only a regular file within the size limit, as UTF-8 (whatever its suffix; a leading
    byte-order mark dropped)."""
    return _read_text(Path(path), None, limits or InputLimits.from_environment())


def _read_text(file: Path, suffix: str | None, limits: InputLimits) -> str:
    """The text of a case file: stat first (a FIFO or device is refused before it is opened, so
    nothing blocks), then read at most the size limit, as UTF-8 without a leading byte-order mark."""
    try:
        info = os.stat(file)
    except FileNotFoundError as exc:
        raise UsageError(f"{file}: file not found") from exc
    except OSError as exc:
        raise UsageError(f"{file}: cannot read: {exc.strerror}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{file}: is a directory, expected a case file")
    if suffix is not None and suffix not in RDF_FORMATS and suffix not in FORM_SUFFIXES:
        raise UsageError(f"{file}: unsupported file type '{suffix}' (use one of {', '.join(SUPPORTED)})")
    _check_regular(file, info, limits)
    try:
        descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UsageError(f"{file}: cannot read: {exc.strerror}") from exc
    try:
        _check_regular(file, os.fstat(descriptor), limits)  # the file may have been swapped since stat
        with os.fdopen(descriptor, "rb", closefd=False) as stream:
            data = stream.read(limits.max_bytes + 1)
    except OSError as exc:
        raise UsageError(f"{file}: cannot read: {exc.strerror}") from exc
    finally:
        os.close(descriptor)
    if len(data) > limits.max_bytes:
        raise InputTooLarge(str(file), [_too_large(limits)])
    try:
        text = data.decode("utf-8").removeprefix(BYTE_ORDER_MARK)
    except UnicodeDecodeError as exc:
        raise CaseError(str(file), ["not UTF-8 text"]) from exc
    if not text.strip():
        raise CaseError(str(file), ["the file is empty"])
    return text


def _check_regular(file: Path, info: os.stat_result, limits: InputLimits) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(info.st_mode)
            else "a device"
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket"
            if stat.S_ISSOCK(info.st_mode)
            else "not a regular file"
        )
        raise NotRegularFile(str(file), [f"refused: {kind}, not a regular file (nothing was read)"])
    if info.st_size > limits.max_bytes:
        raise InputTooLarge(str(file), [f"{info.st_size} bytes: {_too_large(limits)}"])


def _too_many_triples(limits: InputLimits) -> str:
    return f"more than {limits.max_nodes} triples (limit {NODES_ENV})"


def _too_large(limits: InputLimits) -> str:
    return f"larger than the limit of {limits.max_bytes} bytes ({BYTES_ENV})"


def case_from_rdf_text(
    text: str,
    rdf_format: str,
    knowledge: Knowledge,
    *,
    name: str,
    source: str = "<text>",
    limits: InputLimits | None = None,
) -> CaseInput:
    """Parse RDF text holding exactly one dx:Case (at most ``limits.max_nodes`` triples)."""
    limits = limits or InputLimits.from_environment()
    graph = Graph(store=_BoundedMemory(limits.max_nodes))
    base = _case_base(knowledge)  # relative IRIs resolve against it, never the working folder
    try:
        with _literals_as_written():
            if rdf_format == "json-ld":  # decoded here, by the json module, whatever rdflib would use
                parse_json_ld(graph, _json_ld_document(text), base)
            else:
                graph.parse(data=text, format=rdf_format, publicID=base)
    except _TooManyTriples as exc:
        raise TooManyNodes(source, [_too_many_triples(limits)]) from exc
    except LostValue as exc:
        raise CaseError(source, [exc.problem]) from exc
    except UncheckedParser as exc:
        raise DependencyError(f"{source}: {exc}") from exc
    except _ContextFetchAttempt as exc:
        raise FetchRefused(source, [f"refused to load the JSON-LD context '{exc}': dorsum never fetches"]) from exc
    except RecursionError as exc:
        raise InputTooDeep(source, [f"{rdf_format} nested too deeply"]) from exc
    except Exception as exc:  # rdflib's parsers raise many exception types
        raise CaseError(source, [f"{rdf_format} syntax error: {one_line(exc)}"]) from exc
    return _case_from_triples(graph, knowledge, name=name, source=source)


def _case_base(knowledge: Knowledge) -> str:
    """The base of case IRIs: the case-form context's ``@base``."""
    base = knowledge.context.get("@base")
    if not isinstance(base, str):
        raise KnowledgeError("the case-form context (ontology/case-form.context.jsonld) has no @base")
    return base


def _json_ld_document(text: str) -> dict[str, Any] | list[Any]:
    document = json.loads(text)
    if not isinstance(document, dict | list):
        raise ValueError(f"a JSON-LD document is a JSON object or array, not {type(document).__name__}")
    return document


def _case_from_triples(triples: Iterable[Triple], knowledge: Knowledge, *, name: str, source: str) -> CaseInput:
    """The case of triples as parsed, literals as written: their numbers checked as written,
    then their literals normalised into a new graph."""
    problems = _number_problems(triples, knowledge.context)  # on the numbers as written, before rdflib's rewriting
    if problems:
        raise CaseError(source, problems)
    case = case_from_graph(_normalised_graph(triples), name=name, source=source, context=knowledge.context)
    problems = _knowledge_term_problems(case, knowledge)
    if problems:
        raise CaseError(source, problems)
    return replace(case, name=_identity(case, knowledge.context, name))


@contextmanager
def _literals_as_written() -> Iterator[None]:
    """Parse with rdflib's literal normalisation off, so that a number is checked as written:
    normalising reads "1_5"^^xsd:decimal as 15 (Python's Decimal accepts '_'). rdflib reads the
    switch as each literal is made; the lock keeps two parses from interleaving it."""
    with _NORMALISATION_LOCK:
        before = rdflib.NORMALIZE_LITERALS
        rdflib.NORMALIZE_LITERALS = False
        try:
            yield
        finally:
            rdflib.NORMALIZE_LITERALS = before


def case_from_jsonld(
    document: Any, knowledge: Knowledge, *, name: str, source: str = "<json-ld>", limits: InputLimits | None = None
) -> CaseInput:
    """Read a parsed JSON-LD case document. Its ``@context`` may be inline or name the shipped
    case-form context; any other context (a URL, a file, an ``@import``) is refused, never loaded."""
    limits = limits or InputLimits.from_environment()
    problems = number_problems(document, source, limits)
    if problems:
        raise CaseError(source, problems)
    resolved = resolve_contexts(document, knowledge.context, source)
    return case_from_rdf_text(
        json.dumps(resolved, default=str), "json-ld", knowledge, name=name, source=source, limits=limits
    )


def case_from_form(
    form: Any, knowledge: Knowledge, *, name: str, source: str = "<form>", limits: InputLimits | None = None
) -> CaseInput:
    """Turn a case form (a mapping, as read from JSON or YAML) into a case graph.

    The case is named by the form's ``id``; ``name`` is the id of a form without one. The graph,
    and any error, are those of :func:`case_from_form_json_ld`: the form is read straight into
    triples (:mod:`reasoner.pipeline.form_graph`) when the direct reader covers it, else through
    the JSON-LD parser.
    """
    document, limits = _checked_form(form, knowledge, name=name, source=source, limits=limits)
    compiled = form_context(knowledge)
    triples = compiled.triples(document) if compiled is not None else None
    if triples is None:
        return _case_from_document(document, knowledge, source=source, limits=limits)
    if len(triples) > limits.max_nodes:  # what the bounded store refuses while the JSON-LD parser adds
        raise TooManyNodes(source, [_too_many_triples(limits)])
    return _case_from_triples(triples, knowledge, name=document["id"], source=source)


def case_from_form_json_ld(
    form: Any, knowledge: Knowledge, *, name: str, source: str = "<form>", limits: InputLimits | None = None
) -> CaseInput:
    """:func:`case_from_form` through rdflib's JSON-LD parser only: the form, with the shipped
    context and ``@type`` added, as JSON-LD text. The reference the direct reader must equal."""
    document, limits = _checked_form(form, knowledge, name=name, source=source, limits=limits)
    return _case_from_document(document, knowledge, source=source, limits=limits)


def _checked_form(
    form: Any, knowledge: Knowledge, *, name: str, source: str, limits: InputLimits | None
) -> tuple[dict[Any, Any], InputLimits]:
    """The form as a new dict with its ``id`` (``name`` if it has none), and the limits; or
    CaseError naming every problem found: numbers, JSON-LD keywords, unknown keys, values of the
    wrong kind (:mod:`reasoner.pipeline.form_values`), a bad id."""
    if not isinstance(form, Mapping):
        raise CaseError(source, ["a case form must be a JSON object or YAML mapping of fields"])
    limits = limits or InputLimits.from_environment()
    problems = number_problems(form, source, limits) + keyword_problems(form)
    problems += [p for p in _unknown_keys(form, knowledge.context, where="") if not p.startswith("unknown field '@")]
    problems += value_problems(form, knowledge.context)
    if problems:
        raise CaseError(source, problems)
    document = dict(form)
    document.setdefault("id", name)
    if not isinstance(document["id"], str) or not CASE_ID.fullmatch(document["id"]):
        raise CaseError(source, ["'id' must be text of letters, digits, '.', '_' or '-'"])
    return document, limits


def _case_from_document(
    document: Mapping[str, Any], knowledge: Knowledge, *, source: str, limits: InputLimits
) -> CaseInput:
    """A checked form (see :func:`_checked_form`) read as JSON-LD by rdflib's parser."""
    document = {**document, "@context": dict(knowledge.context), "@type": CASE_TYPE}
    try:
        text = json.dumps(document, default=str)
    except (TypeError, ValueError) as exc:
        raise CaseError(source, [f"cannot read the form: {one_line(exc)}"]) from exc
    return case_from_rdf_text(text, "json-ld", knowledge, name=document["id"], source=source, limits=limits)


def case_from_graph(
    graph: Graph, *, name: str, source: str = "<graph>", context: Mapping[str, Any] | None = None
) -> CaseInput:
    """Wrap an RDF graph holding exactly one dx:Case.

    Its numbers must be finite and written as plain decimals, and its ages (in years, months,
    days) must agree; ``context`` (the case-form context) names the fields in errors.
    """
    cases = sorted(set(graph.subjects(RDF.type, DX.Case)), key=str)
    if not cases:
        raise CaseError(source, ["no dx:Case found (a case graph needs a node typed dx:Case)"])
    if len(cases) > 1:
        raise CaseError(source, [f"{len(cases)} cases in one file; put one case in each file"])
    case = cases[0]
    if not isinstance(case, (URIRef, BNode)):
        raise CaseError(source, ["the dx:Case node must be an IRI or a blank node"])
    lumps = set(graph.objects(case, DX.hasLump))
    described = {case, *lumps}
    strangers = sorted({str(s) for s in graph.subjects() if s not in described})
    if strangers:
        raise CaseError(
            source,
            [f"statements about {', '.join(strangers[:3])}: a case file may only describe the case and its lump"],
        )
    problems = _naming_problems(case, lumps, context or {})
    if problems:
        raise CaseError(source, problems)
    problems = _number_problems(graph, context or {}) or _age_problems(graph, case, context or {})
    if problems:
        raise CaseError(source, problems)
    return CaseInput(name=name, source=source, graph=graph, case=case)


def _naming_problems(case: Node, lumps: Iterable[Node], context: Mapping[str, Any]) -> list[str]:
    """A case names only itself. Its lump is a blank node: a lump IRI could be another case's
    node (``https://w3id.org/dorsum/case/other``, or its lump), or the lump of another file, and
    the store, which keys cases by id and keeps IRIs as they are, would merge the two. A case IRI
    in the namespace of the case base (``https://w3id.org/dorsum/``: the store's graphs, results
    and blank-node IRIs) must be the case base and an id."""
    problems = [
        f"the lump is named {lump.n3()}: describe it inside its case, as a blank node ([ ... ] in "
        "Turtle, an object without @id or id); a named lump could be another case's, and the store "
        "would merge them"
        for lump in sorted(lumps, key=str)
        if isinstance(lump, URIRef)
    ]
    base = context.get("@base")
    if isinstance(case, URIRef) and isinstance(base, str):
        namespace = base.rstrip("/").rsplit("/", 1)[0] + "/"
        if str(case).startswith(namespace) and not (
            str(case).startswith(base) and CASE_ID.fullmatch(str(case)[len(base) :])
        ):
            problems.append(
                f"the case is named {case.n3()}, in dorsum's own namespace: name it {base}<id> "
                "(letters, digits, '.', '_', '-') or with another IRI"
            )
    return problems


def _knowledge_term_problems(case: CaseInput, knowledge: Knowledge) -> list[str]:
    """A case IRI that is a term of the knowledge (owl:Class, rdf:nil, a source's URL) or of the
    RDF, RDFS, OWL, XSD or SHACL vocabularies: the case's facts would be said of that term."""
    node = case.case
    if not isinstance(node, URIRef):
        return []
    if str(node) in knowledge.terms or str(node).startswith(_VOCABULARIES):
        return [f"the case is named {node.n3()}, a term of the knowledge or of RDF: give the case its own IRI"]
    return []


_VOCABULARIES = (str(RDF), str(RDFS), str(OWL), str(XSD), str(SH))


def _field(predicate: Any, context: Mapping[str, Any]) -> str:
    """The case-form key of a property (its local name if the context has none)."""
    local = str(predicate).rsplit("#", 1)[-1]
    for key, value in context.items():
        if isinstance(value, Mapping) and value.get("@id") in (f"dx:{local}", str(predicate)):
            return key
    return local


def _number_problems(triples: Iterable[Triple], context: Mapping[str, Any]) -> list[str]:
    """Numeric literals that are not finite numbers written plainly (NaN, INF, 1_5, 'big')."""
    problems = []
    for _s, predicate, value in triples:
        if not isinstance(value, Literal) or value.datatype not in _NUMERIC | _FLOATING:
            continue
        text = str(value).strip()
        pattern = _FLOATING_TEXT if value.datatype in _FLOATING else _DECIMAL_TEXT
        if not pattern.fullmatch(text) or not math.isfinite(float(text)):
            problems.append(
                f"{_field(predicate, context)} must be one number, written as a plain decimal (got '{value}')"
            )
    return sorted(set(problems))


def _age_problems(graph: Graph, case: URIRef | BNode, context: Mapping[str, Any]) -> list[str]:
    """Ages given in several units that cannot describe the same age."""
    spans = []
    for predicate, days in AGE_UNITS:
        for value in graph.objects(case, predicate):
            if not isinstance(value, Literal) or value.datatype not in _NUMERIC | _FLOATING:
                continue  # not a number: the shapes report it
            number = Decimal(str(value).strip())
            spans.append((predicate, value, number * days - AGE_SLACK_DAYS, (number + 1) * days + AGE_SLACK_DAYS))
    problems = []
    for index, (first, first_value, low, high) in enumerate(spans):
        for second, second_value, other_low, other_high in spans[index + 1 :]:
            if first != second and (other_low >= high or low >= other_high):
                problems.append(
                    f"contradictory ages: {_field(first, context)} {first_value} and "
                    f"{_field(second, context)} {second_value} do not describe the same age"
                )
    return problems


def _identity(case: CaseInput, context: Mapping[str, Any], fallback: str) -> str:
    """A case's name: its id (its IRI under the case-form base), else ``fallback``."""
    base = context.get("@base")
    node = str(case.case)
    if isinstance(case.case, URIRef) and isinstance(base, str) and node.startswith(base):
        local = node[len(base) :]
        if CASE_ID.fullmatch(local):
            return local
    return fallback


class _TooManyTriples(Exception):
    """A case graph grew past its triple limit while being parsed."""


class _BoundedMemory(Memory):
    """rdflib's memory store, refusing triples beyond a limit (so a huge case stops early)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.added = 0

    def add(self, triple: Any, context: Any, quoted: bool = False) -> None:
        self.added += 1
        if self.added > self.limit:
            raise _TooManyTriples()
        super().add(triple, context, quoted)


def _normalised_graph(triples: Iterable[Triple]) -> Graph:
    """A new graph of the triples, each literal rebuilt from its lexical form.

    rdflib's JSON-LD parser keeps a JSON number's Python type (63 stays an int even when the
    context types it xsd:decimal), which datatype checks then reject. A literal that is not of
    its datatype keeps its text as written (normalising made ``"yes"^^xsd:boolean`` read
    ``false``, and its error said "got false").
    """
    normalised = Graph()
    for s, p, o in triples:
        if isinstance(o, Literal) and o.datatype is not None:
            rebuilt = Literal(str(o), datatype=o.datatype)
            o = Literal(str(o), datatype=o.datatype, normalize=False) if rebuilt.ill_typed else rebuilt
        normalised.add((s, p, o))
    return normalised


def form_terms(context: Mapping[str, Any]) -> set[str]:
    """The keys a case form may use: the property terms of the context."""
    return {key for key, value in context.items() if not key.startswith("@") and isinstance(value, dict)} | {"id"}


def _unknown_keys(form: Mapping[Any, Any], context: Mapping[str, Any], where: str) -> list[str]:
    allowed = form_terms(context)
    problems: list[str] = []
    for key, value in form.items():
        label = f"{where}{key}"
        if not isinstance(key, str) or key not in allowed:
            hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            suggestion = f" (did you mean '{where}{hint[0]}'?)" if hint else ""
            problems.append(f"unknown field '{label}'{suggestion}")
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, Mapping):
                problems.extend(_unknown_keys(item, context, where=f"{label}."))
    return problems
