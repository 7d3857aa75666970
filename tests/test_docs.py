"""``dorsum docs``: the generated reference covers the knowledge, is escaped, deterministic, and loads
in a real browser."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SH, SKOS

from reasoner import Knowledge, load_knowledge
from reasoner.authoring.conflicts import KINDS
from reasoner.authoring.docs import COLUMN_HEADINGS, DOC_FILES, build_docs, render_class_expression
from reasoner.cli.main import main
from reasoner.knowledge import DX

from .conftest import ROOT, chromium_command

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def docs(knowledge: Knowledge, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    build_docs(knowledge, out)
    return out


class _Page(HTMLParser):
    """Collects element ids, external references and the rows of every table with an id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.external: list[str] = []
        self.fragments: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._depth = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        for name in ("src", "href"):
            value = attributes.get(name) or ""
            if value.startswith("#"):
                self.fragments.append(value[1:])
            if re.match(r"^[a-z][a-z0-9+.-]*:", value, re.I) or value.startswith("//"):
                self.external.append(value)
        if tag == "link":
            self.external.append(str(attributes))
        if tag == "table":
            if self._table is None and attributes.get("id"):
                self._table, self._depth = str(attributes["id"]), 0
                self.tables[self._table] = []
            elif self._table is not None:
                self._depth += 1
        if self._table is not None and self._depth == 0:
            if tag == "tr":
                self.tables[self._table].append([])
            elif tag == "td":
                self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self._table is None:
            return
        if tag == "table":
            if self._depth == 0:
                self._table = None
            else:
                self._depth -= 1
        elif tag == "td" and self._cell is not None and self._depth == 0:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table_id: str) -> list[list[str]]:
        """The body rows (header rows have no <td>)."""
        return [row for row in self.tables[table_id] if row]


def _page(docs: Path) -> _Page:
    page = _Page()
    page.feed((docs / "index.html").read_text(encoding="utf-8"))
    page.close()
    return page


def _locals(knowledge: Knowledge, kind: URIRef) -> set[str]:
    return {str(node).rsplit("#", 1)[-1] for node in knowledge.ontology.subjects(RDF.type, kind)}


def _subclasses(knowledge: Knowledge, root: URIRef) -> list[URIRef]:
    found = knowledge.ontology.transitive_subjects(RDFS.subClassOf, root)
    return sorted((node for node in found if isinstance(node, URIRef) and node != root), key=str)


def test_files_are_written(knowledge: Knowledge, tmp_path: Path) -> None:
    written = build_docs(knowledge, tmp_path / "new" / "docs")
    assert [path.name for path in written] == list(DOC_FILES)
    for path in written:
        assert path.is_file() and path.stat().st_size > 1000, path


def test_every_recommendation_is_a_row_of_the_recommendations_table(knowledge: Knowledge, docs: Path) -> None:
    rows = _page(docs).rows("recommendations")
    assert [row[0] for row in rows] == sorted(_locals(knowledge, DX.Recommendation))
    assert all(len(row) == 9 for row in rows)
    avoid_rows = _page(docs).rows("avoid-advice")
    assert {row[0] for row in avoid_rows} == _locals(knowledge, DX.AvoidAdvice)


def test_markdown_lists_the_same_recommendations(knowledge: Knowledge, docs: Path) -> None:
    markdown = (docs / "index.md").read_text(encoding="utf-8")
    table = markdown.split('<a id="recommendations"></a>', 1)[1].split("\n\n", 2)[1]
    ids = re.findall(r"^\| <a id=\"[^\"]+\"></a>`([^`]+)`", table, re.M)
    assert ids == sorted(_locals(knowledge, DX.Recommendation))


def test_every_red_flag_and_situation_is_described(knowledge: Knowledge, docs: Path) -> None:
    page = (docs / "index.html").read_text(encoding="utf-8")
    markdown = (docs / "index.md").read_text(encoding="utf-8")
    red_flags = _subclasses(knowledge, DX.RedFlag)
    assert len(red_flags) > 10
    for cls in red_flags + _subclasses(knowledge, DX.ClinicalSituation):
        label = knowledge.label(cls)
        anchor = "dx-" + str(cls).rsplit("#", 1)[-1]
        assert f'<h3 id="{anchor}">' in page, cls
        section = page.split(f'<h3 id="{anchor}">', 1)[1].split("<h3", 1)[0]
        assert section.startswith(_escaped(label)), cls
        assert f'### {_md(label)} <a id="{anchor}"></a>' in markdown, cls
        # every value the definition uses is named, by its label, in the "Triggered when" list
        for definition in knowledge.ontology.subjects(RDFS.subClassOf, cls):
            if isinstance(definition, BNode):
                for value in _has_values(knowledge.ontology, definition):
                    assert _escaped(knowledge.label(value)) in section, (cls, value)


def _has_values(graph: Graph, node: BNode) -> set[URIRef]:
    found: set[URIRef] = set()
    for prop, value in graph.predicate_objects(node):
        if isinstance(value, URIRef):
            if prop == OWL.hasValue:
                found.add(value)
        elif isinstance(value, BNode):
            found |= _has_values(graph, value)
    return found


def _escaped(text: str) -> str:
    return html.escape(text)


def _md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


def test_class_expressions_read_as_words() -> None:
    graph = Graph().parse(
        data="""
        @prefix dx: <https://w3id.org/dorsum/ontology#> .
        @prefix owl: <http://www.w3.org/2002/07/owl#> .
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        dx:hasFinding rdfs:label "finding present" . dx:Fever rdfs:label "fever" .
        dx:NightPain rdfs:label "night pain" . dx:hasLump rdfs:label "has lump" ; rdfs:range dx:Lump .
        dx:Lump rdfs:label "lump" . dx:exceedsThreshold rdfs:label "exceeds threshold" .
        dx:T3 rdfs:label "larger than 3 cm (Seed 001)" . dx:A rdfs:label "case A" .
        dx:union rdfs:seeAlso [ owl:unionOf (
            [ a owl:Restriction ; owl:onProperty dx:hasFinding ; owl:hasValue dx:Fever ]
            [ a owl:Restriction ; owl:onProperty dx:hasFinding ; owl:hasValue dx:NightPain ] ) ] .
        dx:some rdfs:seeAlso [ a owl:Restriction ; owl:onProperty dx:hasLump ;
            owl:someValuesFrom [ a owl:Restriction ; owl:onProperty dx:exceedsThreshold ; owl:hasValue dx:T3 ] ] .
        dx:mixed rdfs:seeAlso [ owl:intersectionOf ( dx:A [ owl:unionOf ( dx:A dx:A ) ] ) ] .
        """,
        format="turtle",
    )

    def words(name: str) -> str:
        node = graph.value(URIRef(f"https://w3id.org/dorsum/ontology#{name}"), RDFS.seeAlso)
        assert node is not None
        rich = render_class_expression(
            graph, node, lambda n: str(graph.value(n, RDFS.label)), lambda p: graph.value(p, RDFS.range)
        )
        return "".join(part if isinstance(part, str) else getattr(part, "label", "") for part in rich)

    assert words("union") == "finding present: fever OR finding present: night pain"
    assert words("some") == "lump exceeds threshold: larger than 3 cm (Seed 001)"
    assert words("mixed") == "case A AND (case A OR case A)"


def test_urgency_scale_is_ordered_by_rank(knowledge: Knowledge, docs: Path) -> None:
    rows = _page(docs).rows("urgency-tiers")
    ranks = [int(row[0]) for row in rows]
    assert ranks == sorted(ranks, reverse=True)
    assert len(rows) == len(set(knowledge.ontology.subjects(RDF.type, DX.UrgencyTier)))


def test_version_sources_conflicts_and_checklist_are_documented(knowledge: Knowledge, docs: Path) -> None:
    page = (docs / "index.html").read_text(encoding="utf-8")
    graph = knowledge.ontology
    assert knowledge.content_hash in page and knowledge.version_iri in page
    for source in graph.subjects(RDF.type, DX.SeedArticle):
        assert _escaped(str(graph.value(source, URIRef("https://w3id.org/dorsum/ontology#citation")))) in page
    conflicts = page.split('<section id="conflicts">', 1)[1].split("</section>", 1)[0]
    for topic in graph.subjects(RDF.type, DX.Topic):
        assert _escaped(knowledge.label(topic)) in conflicts
    for policy in graph.subjects(RDF.type, DX.ConflictPolicy):
        assert _escaped(knowledge.label(policy)) in conflicts
    checklist = page.split('<section id="checklist">', 1)[1].split("</section>", 1)[0]
    # every node shape's message and its property shapes' messages (property shapes nested inside
    # a condition, such as sh:not or sh:node, word parts of that condition, not checklist items)
    shapes = knowledge.shapes
    for node_shape in shapes.subjects(RDF.type, SH.NodeShape):
        for shape in [node_shape, *shapes.objects(node_shape, SH.property)]:
            name = shapes.value(shape, SH.name)
            message = shapes.value(shape, SH.message)
            if message is not None:
                assert _escaped(str(message)) in checklist, name
    # a node shape with sh:Warning severity is itself a checklist item, not a well-formedness rule
    items = checklist.split("Well-formedness rules", 1)[0]
    for node_shape in shapes.subjects(SH.severity, SH.Warning):
        if (node_shape, RDF.type, SH.NodeShape) in shapes:
            assert _escaped(str(shapes.value(node_shape, SH.message))) in items, node_shape


def _conflicts_json(knowledge: Knowledge) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["conflicts", "--format", "json", "--kb", str(knowledge.root)])
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = json.loads(result.output)
    return found


def _conflict_row(conflict: dict[str, object]) -> list[str]:
    """What the docs show of one disagreement: subject, each side (sources, answer, advice), policy."""
    cells = [str(conflict["subject"])]
    for name in ("first", "second"):
        side = conflict[name]
        assert isinstance(side, dict)
        cells += [", ".join(side["sources"]), side["answer"], side["label"]]
    return [*cells, str(conflict["policy"])]


def _md_table(markdown: str, table_id: str) -> list[list[str]]:
    """The body rows of a Markdown table, as plain text (links and escapes removed)."""
    lines = markdown.split(f'<a id="{table_id}"></a>', 1)[1].split("\n\n", 2)[1].splitlines()[2:]
    rows = []
    for line in lines:
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        plain = [re.sub(r"\[((?:\\.|[^\]])*)\]\(#[^)]*\)", r"\1", cell.strip()) for cell in cells]
        rows.append([re.sub(r"\\(.)", r"\1", cell) for cell in plain])
    return rows


def test_conflict_tables_are_what_dorsum_conflicts_lists(knowledge: Knowledge, docs: Path) -> None:
    """One source of truth: the docs tabulate exactly the disagreements `dorsum conflicts` prints."""
    listed = _conflicts_json(knowledge)
    assert {str(c["kind"]) for c in listed} <= set(KINDS)
    assert len([c for c in listed if c["kind"] == "do-avoid"]) >= 1
    page = _page(docs)
    text = (docs / "index.html").read_text(encoding="utf-8")
    markdown = (docs / "index.md").read_text(encoding="utf-8")
    for kind in KINDS:
        expected = [_conflict_row(c) for c in listed if c["kind"] == kind]
        table_id = f"conflicts-{kind}"
        if not expected:
            assert table_id not in page.tables
            continue
        assert page.rows(table_id) == expected, kind
        assert _md_table(markdown, table_id) == expected, kind
        # each side's advice links to its row in the recommendations or avoid-advice table
        table = text.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]
        rows = table.split("<tr")[2:]
        for row, conflict in zip(rows, (c for c in listed if c["kind"] == kind), strict=True):
            for name in ("first", "second"):
                side = conflict[name]
                assert isinstance(side, dict)
                assert f'href="#dx-{str(side["element"]).rsplit("#", 1)[-1]}"' in row
    shown = sum(len(page.rows(f"conflicts-{kind}")) for kind in KINDS if f"conflicts-{kind}" in page.tables)
    assert shown == len(listed)
    assert f"{len(listed)} pairs of sources disagree" in text


def test_there_is_one_conflict_query_of_each_kind(knowledge: Knowledge) -> None:
    """knowledge_conflicts runs one query of each kind (on Oxigraph; tests/test_conflict_engines.py
    checks that rdflib, the reference engine, agrees)."""
    from reasoner.authoring.conflicts import QUERY_PREFIX, _conflict_rows

    rows = _conflict_rows(knowledge)
    names = sorted(name for name in knowledge.queries if name.startswith(QUERY_PREFIX))
    assert sorted(rows) == names and len(names) == len(KINDS)
    assert sum(len(found) for found in rows.values()) > 5  # the comparison is not vacuous


def test_html_is_valid_self_contained_and_has_unique_ids(docs: Path) -> None:
    page = _page(docs)
    duplicates = sorted({i for i in page.ids if page.ids.count(i) > 1})
    assert duplicates == []
    assert sorted(set(page.fragments) - set(page.ids)) == []  # every in-page link has a target
    assert page.external == []
    text = (docs / "index.html").read_text(encoding="utf-8")
    assert text.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert 'document.body.dataset.loaded = "ok"' in text
    html5 = pytest.importorskip("html5rdf")
    html5.HTMLParser(strict=True).parse(text)  # raises on any HTML5 parse error


def test_diagram_is_svg_with_four_columns(knowledge: Knowledge, docs: Path) -> None:
    root = ET.parse(docs / "diagram.svg").getroot()
    assert root.tag == f"{SVG}svg"
    texts = [element.text for element in root.iter(f"{SVG}text")]
    for heading in COLUMN_HEADINGS:
        assert heading in texts
    tooltips = "\n".join(element.text or "" for element in root.iter(f"{SVG}title"))
    for rec in _locals(knowledge, DX.Recommendation):
        assert f"dx:{rec})" in tooltips, rec
    for tier in knowledge.ontology.subjects(RDF.type, DX.UrgencyTier):
        assert knowledge.label(tier) in texts
    assert len(list(root.iter(f"{SVG}path"))) > 100
    # the same diagram is embedded in the page, with links to the page's own anchors
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="dorsum-diagram"' in (docs / "index.html").read_text()


def test_output_is_deterministic(knowledge: Knowledge, docs: Path, tmp_path: Path) -> None:
    build_docs(knowledge, tmp_path)
    for name in DOC_FILES:
        assert (tmp_path / name).read_bytes() == (docs / name).read_bytes(), name


def test_a_new_recommendation_appears_without_code_and_is_escaped(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    for folder in ("ontology", "shapes", "queries"):
        shutil.copytree(ROOT / folder, kb / folder)
    with (kb / "ontology" / "recommendations.ttl").open("a", encoding="utf-8") as handle:
        handle.write(
            """
dx:Rec999_Escaping a dx:Recommendation ;
    rdfs:label "Seed 999: <script>alert('x')</script> & \\"quotes\\""@en ;
    dx:appliesTo dx:FeverFlag ; dx:action dx:MRIRegion ; dx:urgency dx:Within24h ;
    dx:source dx:Seed000 ; dx:evidence "a | pipe and *stars* <b>bold</b>"@en .
"""
        )
    knowledge = load_knowledge(kb)
    out = tmp_path / "docs"
    build_docs(knowledge, out)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<b>bold" not in page
    assert "Seed 999: &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert "Rec999_Escaping" in [row[0] for row in _page(out).rows("recommendations")]
    markdown = (out / "index.md").read_text(encoding="utf-8")
    row = next(line for line in markdown.splitlines() if line.startswith('| <a id="dx-Rec999_Escaping">'))
    assert "a \\| pipe and \\*stars\\* \\<b\\>bold\\</b\\>" in row
    ET.parse(out / "diagram.svg")


def test_page_loads_in_headless_chromium(docs: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        command = chromium_command(profile)
        if command is None:
            pytest.skip("no chromium binary")
        result = subprocess.run(
            [*command, "--dump-dom", (docs / "index.html").resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'data-loaded="ok"' in dom, "the page's script did not run to the end"
    assert 'id="recommendations"' in dom
    table = dom.split('id="recommendations"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr id=") >= 10


# ---------------------------------------------------------------- guideline packs


def _section(text: str, anchor: str) -> str:
    return text.split(f'<section id="{anchor}">', 1)[1].split("</section>", 1)[0]


def _pack_row(conflict: dict[str, object], with_pack: bool = True) -> list[str]:
    """What the docs show of a pack-versus-seeds disagreement: the seed article's side first, told
    apart by the "origin" field `dorsum conflicts --format json` gives each side."""
    sides = [conflict["first"], conflict["second"]]
    assert all(isinstance(side, dict) for side in sides)
    seed, pack = next(
        (a, b)
        for a, b in (sides, sides[::-1])
        if isinstance(a, dict) and isinstance(b, dict) and "seed" in a["origin"] and "pack" in b["origin"]
    )
    assert isinstance(seed, dict) and isinstance(pack, dict)
    cells = [str(conflict["subject"]), str(conflict["kind"])]
    cells += [", ".join(seed["sources"]), seed["answer"], seed["label"]]
    cells += [", ".join(pack["packs"])] if with_pack else []
    cells += [", ".join(pack["sources"]), pack["answer"], pack["label"], str(conflict["policy"])]
    return cells


def _packs_vs_seeds_json(root: Path) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["conflicts", "--packs-vs-seeds", "--format", "json", "--kb", str(root)])
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = json.loads(result.output)
    return found


def test_pack_section_lists_every_pack_file_with_authority_and_sources(knowledge: Knowledge, docs: Path) -> None:
    text = (docs / "index.html").read_text(encoding="utf-8")
    section = _section(text, "packs")
    page = _page(docs)
    graph = knowledge.ontology
    files = sorted(path.stem for path in (ROOT / "ontology" / "guidelines").glob("*.ttl"))
    assert files, "no pack files to document"
    for stem in files:
        pack = next(graph.subjects(DX.packFile, Literal(stem)), None)
        assert pack is not None, f"{stem}.ttl declares no dx:KnowledgePack"
        anchor = "dx-" + str(pack).rsplit("#", 1)[-1]
        assert f'<h3 id="{anchor}">{_escaped(knowledge.label(pack))}</h3>' in section
        block = section.split(f'<h3 id="{anchor}">', 1)[1].split("<h3", 1)[0]
        assert f"<code>ontology/guidelines/{stem}.ttl</code>" in block
        level = graph.value(pack, DX.authority)
        assert level is not None
        rank = graph.value(level, DX.authorityRank)
        assert (
            f'<a href="#dx-{str(level).rsplit("#", 1)[-1]}">{_escaped(knowledge.label(level))}</a> (rank {rank})'
            in block
        )
        # every source the pack names is a row, with its title, date read and address as text
        rows = page.rows(f"pack-sources-{stem}")
        declared = set(graph.objects(pack, DX.source))
        assert declared, stem
        shown = {row[0]: row for row in rows}
        for source in declared:
            short = str(graph.value(source, SKOS.altLabel))
            assert short in shown, (stem, short)
            row = shown[short]
            assert row[1] == str(graph.value(source, RDFS.label))
            assert row[3] == str(graph.value(source, DCTERMS.date)) and row[6] == str(graph.value(source, DX.readOn))
            citation = str(graph.value(source, DX.citation))
            assert citation in row[2]
            for url in re.findall(r"https?://\S+", citation)[:1]:
                assert url.rstrip(".,;)") in row[4], (short, url)
        # what it contributes: every recommendation and avoid item citing one of its sources
        elements = {row[1] for row in page.rows(f"pack-elements-{stem}")}
        for kind in (DX.Recommendation, DX.AvoidAdvice):
            for element in graph.subjects(RDF.type, kind):
                if set(graph.objects(element, DX.source)) & declared:
                    assert knowledge.label(element) in elements, (stem, element)
    assert "Pack files whose pack is not in this knowledge" not in section
    assert "<section" not in section and "http" not in "".join(re.findall(r'(?:href|src)="[^"]*"', section))


def test_pack_conflicts_are_dorsum_conflicts_packs_vs_seeds(knowledge: Knowledge, docs: Path) -> None:
    """One source of truth: the docs' pack disagreements are, row for row, what
    `dorsum conflicts --packs-vs-seeds --format json` lists."""
    listed = _packs_vs_seeds_json(knowledge.root)
    assert listed, "the shipped packs disagree with the seeds somewhere"
    expected = [_pack_row(c) for c in listed]
    page = _page(docs)
    assert page.rows("packs-vs-seeds") == expected
    assert _md_table((docs / "index.md").read_text(encoding="utf-8"), "packs-vs-seeds") == expected
    # each pack's own table: the rows whose pack side is that pack, in the same order
    for stem in sorted(path.stem for path in (ROOT / "ontology" / "guidelines").glob("*.ttl")):
        mine = [_pack_row(c, with_pack=False) for c in listed if stem in _pack_side(c)["packs"]]
        table = f"pack-conflicts-{stem}"
        assert (page.rows(table) if table in page.tables else []) == mine, stem
    text = (docs / "index.html").read_text(encoding="utf-8")
    assert f"{len(listed)} disagreements where one side cites a pack" in text


def _pack_side(conflict: dict[str, object]) -> dict[str, list[str]]:
    first, second = conflict["first"], conflict["second"]
    assert isinstance(first, dict) and isinstance(second, dict)
    return second if "pack" in second["origin"] and "seed" in first["origin"] else first


def test_pages_fetch_nothing_while_built_or_shown(
    knowledge: Knowledge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building the docs opens no connection, and the pages name addresses only as text."""
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access while building the docs: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    build_docs(knowledge, tmp_path)
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    section = _section(text, "packs")
    assert "<code>https://www.nice.org.uk/guidance/ng234/chapter/Recommendations</code>" in section
    attributes = re.findall(r'\b(?:href|src|action|srcset|data)\s*=\s*"([^"]*)"', text)
    assert len(attributes) > 100  # the in-page links were found
    assert not [value for value in attributes if "://" in value or value.startswith("//")]
    assert "@import" not in text and "url(http" not in text


def test_a_new_pack_is_documented_from_its_turtle_alone(tmp_path: Path) -> None:
    """A pack whose source links to the pack (not the reverse), and an element citing a second source
    nothing links: both sources are the pack's, its recommendation is listed, and its disagreement
    with a seed article appears in the docs and in `dorsum conflicts --packs-vs-seeds`."""
    kb = tmp_path / "kb"
    for folder in ("ontology", "shapes", "queries"):
        shutil.copytree(ROOT / folder, kb / folder)
    (kb / "ontology" / "guidelines" / "local-pathway.ttl").write_text(
        """
@prefix dx: <https://w3id.org/dorsum/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
dx:Pack_Local a dx:KnowledgePack ; rdfs:label "pack: a local pathway"@en ;
    dx:packFile "local-pathway" ; dx:authority dx:AppropriatenessCriteria .
dx:LocalPathway a dx:Source ; rdfs:label "Local pathway <2026>"@en ; skos:altLabel "Local pathway" ;
    dcterms:isPartOf dx:Pack_Local ; dcterms:publisher "St Elsewhere & Co" ;
    dx:citation "St Elsewhere. Lumps on the back. http://intranet.example/lumps" ; dcterms:date "2026" .
dx:LocalAudit a dx:Source ; rdfs:label "Local audit"@en ; skos:altLabel "Local audit" .
dx:RecLocal_CTFirst a dx:Recommendation ; rdfs:label "Local pathway: CT first for a growing lump"@en ;
    dx:appliesTo dx:GrowingLump ; dx:action dx:CTWithContrast ; dx:urgency dx:Urgent2Weeks ;
    dx:topic dx:FirstImagingTopic ; dx:source dx:LocalPathway, dx:LocalAudit ; dx:evidence "invented"@en .
""",
        encoding="utf-8",
    )
    (kb / "ontology" / "guidelines" / "orphan.ttl").write_text(  # a pack file that forgot its dx:KnowledgePack
        "@prefix dx: <https://w3id.org/dorsum/ontology#> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        'dx:OrphanNote rdfs:label "orphan"@en .\n',
        encoding="utf-8",
    )
    knowledge = load_knowledge(kb)
    out = tmp_path / "docs"
    build_docs(knowledge, out)
    page = _page(out)
    undeclared = _section((out / "index.html").read_text(encoding="utf-8"), "packs")
    assert "Pack files whose pack is not in this knowledge" in undeclared and "<code>orphan.ttl</code>" in undeclared
    assert "<code>local-pathway.ttl</code>" not in undeclared.split("</p>", 2)[1]
    sources = {row[0]: row for row in page.rows("pack-sources-local-pathway")}
    assert set(sources) == {"Local pathway", "Local audit"}
    assert sources["Local pathway"][2].startswith("St Elsewhere & Co. St Elsewhere.")
    assert sources["Local pathway"][4] == "http://intranet.example/lumps"
    assert [row[1] for row in page.rows("pack-elements-local-pathway")] == [
        "Local pathway: CT first for a growing lump"
    ]
    listed = _packs_vs_seeds_json(kb)
    ours = [c for c in listed if "RecLocal_CTFirst" in str(_pack_side(c).get("element"))]
    assert ours and all(_pack_side(c)["packs"] == ["local-pathway"] for c in ours)
    assert page.rows("pack-conflicts-local-pathway") == [_pack_row(c, with_pack=False) for c in ours]
    assert page.rows("packs-vs-seeds") == [_pack_row(c) for c in listed]
    text = (out / "index.html").read_text(encoding="utf-8")
    assert "Local pathway &lt;2026&gt;" in text and "<2026>" not in text
    assert '<tr id="dx-Pack_Local">' not in text and '<h3 id="dx-Pack_Local">' in text


def test_pack_sources_query_answers_the_same_with_rdflib_and_oxigraph(knowledge: Knowledge) -> None:
    """dorsum conflicts reads the pack sources with Oxigraph, the docs with rdflib: they agree."""
    from reasoner.authoring.conflicts import PACK_SOURCES_QUERY, _oxigraph_rows, source_origins

    def comparable(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        # the addresses are concatenated in whatever order each engine meets them
        return [(*row[:10], frozenset(str(row[10]).split()), *row[11:]) for row in rows]

    expected = [tuple(row) for row in knowledge.ontology.query(knowledge.queries[PACK_SOURCES_QUERY])]
    assert len(expected) >= 2
    assert comparable(_oxigraph_rows(knowledge)[PACK_SOURCES_QUERY]) == comparable(expected)
    origins = source_origins(knowledge)
    assert origins.packs[str(DX.NICE_NG234)] == ("nice-ng234",)
    assert str(DX.Seed000) in origins.seeds and str(DX.Seed000) not in origins.packs
