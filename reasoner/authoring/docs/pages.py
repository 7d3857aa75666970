"""The Jinja2 environments that turn the catalogue into pages.

One set of section templates (``templates/sections/``) serves both outputs: each imports its
building blocks (heading, paragraph, table, link...) from ``html.j2`` or ``md.j2``, whichever the
environment names as ``fmt``. Every value a template prints is escaped for the output format by the
environment's ``finalize`` (HTML or Markdown escapes), and autoescape keeps Jinja2 from escaping
twice, so knowledge text can never inject markup in either.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from rdflib import URIRef

from reasoner.authoring.docs.catalogue import Catalogue
from reasoner.authoring.docs.expressions import Ref
from reasoner.knowledge import DX, ElementInfo, Knowledge

__all__ = ["environment"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_text(value: object) -> Markup:
    """Plain text made safe for Markdown: whitespace collapsed, every special character escaped."""
    if isinstance(value, Markup):
        return value
    text = "" if value is None else str(value)
    return Markup(_MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text)))


def html_text(value: object) -> Markup:
    """Plain text made safe for HTML (the escapes of ``html.escape``, quotes included)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value)))


def md_code(value: object) -> Markup:
    """Text for a Markdown code span (no escapes work inside one; a pipe would end a table cell)."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    return Markup(f"`{text}`" if "`" not in text else f"`` {text} ``")


def md_em(value: object) -> Markup:
    """Emphasis that stays emphasis: Markdown needs the stars next to the words."""
    text = str(value)
    core = text.strip()
    if not core:
        return md_text(text)
    lead = " " if text[:1].isspace() else ""
    tail = " " if text[-1:].isspace() else ""
    return Markup(f"{lead}*{md_text(core)}*{tail}")


def one_line(value: str) -> Markup:
    """A Markdown table row's cells on one line (escaped text holds no line breaks)."""
    return Markup(re.sub(r"\s*\n\s*", " ", str(value)).strip())


def number(value: object) -> str:
    """A decimal without trailing zeros ("3.0" -> "3"); anything else unchanged."""
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return format(parsed.normalize(), "f") if parsed.is_finite() else str(value)


def local(iri: object) -> str:
    return str(iri).rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def curie(iri: object) -> str:
    text = str(iri)
    return "dx:" + text[len(str(DX)) :] if text.startswith(str(DX)) else text


class _Lookups:
    """Template filters that read the knowledge: labels, links, sources, definitions."""

    def __init__(self, knowledge: Knowledge, shape_labels: Mapping[str, str]) -> None:
        self.k = knowledge
        self.shape_labels = shape_labels

    def label(self, iri: str) -> str:
        if iri not in self.k.elements and iri in self.shape_labels:
            return self.shape_labels[iri]
        return self.k.label(URIRef(iri))

    def link(self, iri: str) -> Ref:
        return Ref(iri, self.label(iri))

    def links(self, iris: str | Iterable[str]) -> list[Ref]:
        """Links to the elements, by label; ``iris`` is a list or a space-separated string."""
        found = set(iris.split() if isinstance(iris, str) else iris)
        return [self.link(iri) for iri in sorted(found, key=lambda iri: (self.label(iri).lower(), iri))]

    def sources(self, iri: str, relation: str = "source") -> list[Ref]:
        found = {(ref.short, ref.iri) for ref in self.k.sources_of(URIRef(iri)) if ref.relation == relation}
        return [Ref(source, short) for short, source in sorted(found)]

    def info(self, iri: str) -> ElementInfo:
        return self.k.info(URIRef(iri))


def environment(fmt: str, knowledge: Knowledge, catalogue: Catalogue) -> Environment:
    """The environment for ``fmt`` ("html" or "md"), with the knowledge's lookups as filters."""
    markdown = fmt == "md"
    env = Environment(
        loader=PackageLoader("reasoner.authoring.docs", "templates"),
        autoescape=True,
        finalize=md_text if markdown else html_text,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    lookups = _Lookups(knowledge, catalogue.shape_labels)
    filters: dict[str, Any] = {
        "label": lookups.label,
        "link": lookups.link,
        "links": lookups.links,
        "sources": lookups.sources,
        "info": lookups.info,
        "number": number,
        "local": local,
        "curie": curie,
        "md_code": md_code,
        "md_em": md_em,
        "one_line": one_line,
    }
    env.filters.update(filters)
    env.globals.update({"fmt": f"{fmt}.j2", "anchors": catalogue.anchors})
    return env
