"""The logic is declarative: editing Turtle alone changes what dorsum concludes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from reasoner import load_knowledge
from reasoner.cli.main import main

from .conftest import EXAMPLES, ROOT

NEW_KNOWLEDGE = """
@prefix dx: <https://w3id.org/dorsum/ontology#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .

dx:DeepThoracicLump a owl:Class ; rdfs:subClassOf dx:RedFlag ;
    rdfs:label "deep lump on the upper back (test rule)"@en ;
    skos:definition "A test red flag added by an author in Turtle only."@en ;
    dx:source dx:Seed001 .
[ a owl:Restriction ; owl:onProperty dx:hasLump ;
  owl:someValuesFrom [ owl:intersectionOf (
      [ a owl:Restriction ; owl:onProperty dx:depth ; owl:hasValue dx:Deep ]
      [ a owl:Restriction ; owl:onProperty dx:region ; owl:hasValue dx:ThoracicRegion ] ) ] ]
    rdfs:subClassOf dx:DeepThoracicLump .

dx:RecTest_DeepThoracicEmergency a dx:Recommendation ;
    rdfs:label "Test rule: emergency assessment of a deep upper-back lump"@en ;
    dx:appliesTo dx:DeepThoracicLump ; dx:action dx:EmergencyAssessment ; dx:urgency dx:Emergency12h ;
    dx:source dx:Seed001 ; dx:evidence "Invented for a test of declarative knowledge."@en .
"""


def test_a_red_flag_and_recommendation_added_in_turtle_change_the_answer(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    for folder in ("ontology", "shapes", "queries"):
        shutil.copytree(ROOT / folder, kb / folder)
    case = str(EXAMPLES / "growing-firm-lump.yaml")
    runner = CliRunner()

    # 0 (complete) or 1 (incomplete: the example predates the findings added for issue 11).
    before = runner.invoke(main, ["evaluate", case, "--kb", str(kb)])
    assert before.exit_code in (0, 1), before.stderr
    assert "deep lump on the upper back (test rule)" not in before.stdout
    assert re.search(r"URGENCY: (at least )?urgent: within 2 weeks", before.stdout)

    (kb / "ontology" / "local-rules.ttl").write_text(NEW_KNOWLEDGE)
    after = runner.invoke(main, ["evaluate", case, "--kb", str(kb), "--detail"])
    assert after.exit_code in (0, 1), after.stderr
    assert "deep lump on the upper back (test rule)" in after.stdout
    assert "because lump depth: deep" in after.stdout
    assert re.search(r"URGENCY: (at least )?emergency: ED now, imaging in 12 h", after.stdout)
    assert "Test rule: emergency assessment of a deep upper-back lump" in after.stdout

    # The packaged knowledge is untouched, and the edited copy has a different content hash.
    assert load_knowledge(kb).content_hash != load_knowledge().content_hash


def test_changing_a_threshold_in_turtle_changes_the_red_flags(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    for folder in ("ontology", "shapes", "queries"):
        shutil.copytree(ROOT / folder, kb / folder)
    thresholds = kb / "ontology" / "thresholds.ttl"
    text = thresholds.read_text()
    assert 'dx:minCm "3"^^xsd:decimal' in text
    thresholds.write_text(text.replace('dx:minCm "3"^^xsd:decimal', 'dx:minCm "5"^^xsd:decimal'))
    out = CliRunner().invoke(main, ["evaluate", str(EXAMPLES / "growing-firm-lump.yaml"), "--kb", str(kb)])
    assert "lump larger than 3 cm" not in out.stdout.split("Next steps")[0]
