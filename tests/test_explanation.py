"""What a red flag or situation says it rests on: the facts of a definition the case satisfies.

A class can have several definitions (one per ``rdfs:subClassOf`` axiom, and, through the closure,
those of its subclasses). The WHY line and each red flag's "because" list the case facts that
satisfy the definition the case is in, never facts that merely appear in a definition it does not
satisfy (``queries/report-triggers.rq``): a deep lumbar mass's "deep, paraspinal or flank mass"
rests on its depth, not on its stable size or its absent findings, which belong to the definition of
a lump without high-risk features, a subclass the lump is not in (until 2026-12-03 they were listed).
"""

from __future__ import annotations

from pathlib import Path

from reasoner import Knowledge, read_case, triage
from reasoner.knowledge import DX

EXAMPLES = Path(__file__).parent.parent / "examples"


def _facts(knowledge: Knowledge, example: str) -> dict[str, list[str]]:
    result = triage(read_case(EXAMPLES / example, knowledge), knowledge)
    return {item.iri: sorted(fact.text for fact in item.facts) for item in result.red_flags + result.situations}


def test_a_situation_names_only_the_facts_of_the_definition_the_case_satisfies(knowledge: Knowledge) -> None:
    facts = _facts(knowledge, "lumbar-mass-back-pain.yaml")
    assert facts[str(DX.AcrDeepOrParaspinalMass)] == ["lump depth: deep"]
    # reached through "a red flag and a lump" (named classes, given as because_of), no facts of its own
    assert facts[str(DX.LumpWithRedFlag)] == []


def test_the_why_line_gives_no_fact_from_an_unsatisfied_definition(knowledge: Knowledge) -> None:
    # the deep, fixed, firm lumbar mass is stable in size: stability supports no red flag here
    facts = _facts(knowledge, "lumbar-mass-back-pain.yaml")
    assert not any("stable in size" in text for texts in facts.values() for text in texts)
