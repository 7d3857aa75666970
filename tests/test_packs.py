"""Guideline packs never lower a tier: the default profile (the seeds and every pack) is at least as
urgent as the seeds alone, on every scenario and on 1,000 generated cases; and the packs are
loaded only where a profile asks for them."""

from __future__ import annotations

from pathlib import Path

from reasoner import Knowledge, case_from_form, triage
from reasoner.authoring.vignettes import load_vignette
from reasoner.batch.generate import generate_forms
from reasoner.pipeline.policy import knowledge_for, load_profile
from reasoner.pipeline.triage import TriageResult

from .conftest import Triaged

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
GENERATED = 1000


def _rank(result: TriageResult) -> tuple[int, int]:
    floor = result.urgency.rank if result.urgency else -1
    worst = result.effective_urgency.rank if result.effective_urgency else -1
    return floor, worst


def _forms(knowledge: Knowledge) -> list[tuple[str, object]]:
    forms: list[tuple[str, object]] = []
    for path in CASES:
        vignette = load_vignette(path)
        if vignette.expect.get("status") != "invalid" and isinstance(vignette.case, dict):
            forms.append((path.stem, vignette.case))
    forms.extend((str(form["id"]), form) for form in generate_forms(GENERATED, seed=23, knowledge=knowledge))
    return forms


def test_the_seeds_profile_loads_no_pack(knowledge: Knowledge) -> None:
    seeds = knowledge_for(knowledge, load_profile(knowledge, "seeds"))
    packs = {str(s) for s in knowledge.ontology.subjects(None, None) if "#Pack" in str(s)}
    assert seeds.content_hash != knowledge.content_hash
    assert len(seeds.ontology) < len(knowledge.ontology)
    assert not any((s, None, None) in seeds.ontology for s in packs)


def test_a_finding_only_a_left_out_pack_reads_is_named_not_dropped(knowledge: Knowledge) -> None:
    """Under the seeds profile a recorded MRI contraindication (read only by the ACR pack) and an
    ultrasound result (declared by the NICE pack) cannot change the answer: the result says so in a
    note; without the profile there is no such note."""
    form = {
        "age_years": 70,
        "lump": {"size_cm": 2, "depth": "deep", "consistency": "firm", "mobility": "fixed", "region": "lumbar"},
        "present": ["mri_contraindicated", "ultrasound_suggests_sarcoma", "back_pain"],
    }
    case = case_from_form(form, knowledge, name="left-out")
    seeds = triage(case, knowledge, load_profile(knowledge, "seeds"))
    notes = [note for note in seeds.notes if "not used under profile seeds" in note]
    assert len(notes) == 1, seeds.notes
    assert "MRI contraindicated" in notes[0] and "ultrasound suggests soft tissue sarcoma" in notes[0]
    assert "back pain" not in notes[0]  # the seeds read it
    assert not any("not used under profile" in note for note in triage(case, knowledge).notes)


def test_packs_never_lower_the_tier(knowledge: Knowledge, triaged_sample: list[Triaged]) -> None:
    """On every scenario and the 1,000 generated cases of the shared sample (triaged once under the
    default profile), the seeds alone are never more urgent."""
    seeds = load_profile(knowledge, "seeds")
    lower = []
    for t in triaged_sample:
        seeds_rank = _rank(triage(t.case, knowledge, seeds))
        if any(d < s for d, s in zip(_rank(t.result), seeds_rank, strict=True)):
            lower.append((t.name, _rank(t.result), seeds_rank))
    assert len(triaged_sample) > GENERATED // 2
    assert not lower, lower[:5]


def test_ng234_one_week_is_the_steps_tier_and_the_ct_replaces_an_mri_that_cannot_be_done(knowledge: Knowledge) -> None:
    """NG234's 1-week whole-spine MRI is printed at its own tier, not as a 1-week action inside the
    2-week tier; with MRI recorded contraindicated, the CT that replaces it keeps the 1 week."""
    from reasoner.authoring.vignettes import vignette_case
    from reasoner.render.text import render_text

    for stem, action in (
        ("242-nice-ng234-night-pain-cancer-1-week-vs-seed-002-2-weeks", "MRI of the whole spine"),
        ("381-nice-ng234-metastases-mri-contraindicated-ct-spine-first-1-week", "CT of the spine"),
    ):
        vignette = load_vignette(Path(__file__).parent / "cases" / f"{stem}.yaml")
        result = triage(vignette_case(vignette, knowledge), knowledge)
        entry = result.plan.topic("FirstImagingTopic")
        assert entry is not None and entry.primary is not None and entry.primary.tier is not None
        assert entry.primary.tier.iri.endswith("#Within1Week") and entry.primary.tier.time_frame == "P7D"
        text = " ".join(render_text(result).split())
        assert f"THEN urgent: within 1 week: {action} " in text
        assert "within 2 weeks: MRI of the whole spine within 1 week" not in text
