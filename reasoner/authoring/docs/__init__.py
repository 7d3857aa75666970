"""``dorsum docs``: a browsable reference generated from the knowledge base alone.

``build_docs(knowledge, out)`` writes ``index.html`` (one page with sections and a table of
contents), ``index.md`` (the same content as Markdown) and ``diagram.svg`` (findings -> red flags
and situations -> recommendations -> urgency tiers).

How: the ``queries/docs-*.rq`` queries read the knowledge (``catalogue``); the conflict tables are
``reasoner.authoring.conflicts.knowledge_conflicts``, the list ``dorsum conflicts`` prints (the
"Guideline packs" section shows each pack's authority, sources, elements and the disagreements
``dorsum conflicts --packs-vs-seeds`` prints); Jinja2
templates shipped in ``templates/`` write the pages (``pages``) and the laid-out diagram
(``diagram``). Every clinical word comes from the Turtle files. The output is deterministic: the
same knowledge gives byte-identical files, and the pages fetch nothing from the network.
"""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup

from reasoner.authoring.docs.catalogue import Catalogue, read_catalogue
from reasoner.authoring.docs.diagram import COLUMN_HEADINGS, layout
from reasoner.authoring.docs.expressions import render_class_expression
from reasoner.authoring.docs.pages import environment
from reasoner.knowledge import DX, Knowledge

__all__ = ["COLUMN_HEADINGS", "DOC_FILES", "build_docs", "render_class_expression"]

DOC_FILES = ("index.html", "index.md", "diagram.svg")


def _page(env: Environment, fmt: str, knowledge: Knowledge, catalogue: Catalogue, svg: str) -> str:
    ontology = catalogue.ontology
    title = (ontology["label"] or ontology["ontology"]) if ontology else "dorsum knowledge"
    text = env.get_template(f"page.{fmt}.j2").render(
        c=catalogue,
        k=knowledge,
        dx=str(DX),
        headings=COLUMN_HEADINGS,
        diagram=Markup(svg),
        title=title,
        subtitle=f"Knowledge reference, version {knowledge.version} ({knowledge.version_iri})",
    )
    if fmt == "md":
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return re.sub(r"\n{2,}", "\n", text)


def build_docs(knowledge: Knowledge, out: Path) -> list[Path]:
    """Write index.html, index.md and diagram.svg for ``knowledge`` into ``out``; return their paths."""
    catalogue = read_catalogue(knowledge)
    html, markdown = environment("html", knowledge, catalogue), environment("md", knowledge, catalogue)
    svg = html.get_template("diagram.svg.j2")
    diagram = layout(knowledge, catalogue)
    texts = {
        "index.html": _page(html, "html", knowledge, catalogue, svg.render(d=diagram, link_prefix="#")),
        "index.md": _page(markdown, "md", knowledge, catalogue, ""),
        "diagram.svg": '<?xml version="1.0" encoding="UTF-8"?>\n' + svg.render(d=diagram, link_prefix="index.html#"),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in DOC_FILES:
        path = out / name
        path.write_bytes(texts[name].encode("utf-8"))
        written.append(path)
    return written
