"""The impact of a knowledge edit: ``dorsum diff``.

Every vignette and example is evaluated under the old and the new knowledge. Each case whose
urgency, status, next steps, red flags or "avoid" list changed is reported with the knowledge
elements that were added, removed or changed. A case that became less urgent is a downgrade: a
safety-relevant change that a reviewer must see.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode, Graph, Literal, Node, URIRef
from rdflib.namespace import RDFS

from reasoner.authoring.vignettes import is_vignette, load_vignette, vignette_case
from reasoner.errors import DorsumError, UsageError
from reasoner.knowledge import DX, KNOWLEDGE_FOLDERS, Knowledge
from reasoner.pipeline.read import CaseInput, read_case
from reasoner.pipeline.triage import TriageResult, triage

CASE_SUFFIXES = (".json", ".yaml", ".yml", ".ttl", ".nt", ".jsonld")


@dataclass(frozen=True)
class ElementChange:
    iri: str
    label: str
    change: str  # "added", "removed" or "changed"


@dataclass(frozen=True)
class CaseChange:
    case: str
    old: str  # "tier (status)" or the error
    new: str
    downgrade: bool
    added_steps: tuple[str, ...]
    removed_steps: tuple[str, ...]
    added_red_flags: tuple[str, ...]
    removed_red_flags: tuple[str, ...]
    added_avoid: tuple[str, ...]
    removed_avoid: tuple[str, ...]
    elements: tuple[ElementChange, ...]  # changed elements that appear in the old or new result


@dataclass(frozen=True)
class ImpactReport:
    old_root: str
    new_root: str
    cases_compared: int
    element_changes: tuple[ElementChange, ...]
    case_changes: tuple[CaseChange, ...]

    @property
    def downgrades(self) -> tuple[CaseChange, ...]:
        return tuple(change for change in self.case_changes if change.downgrade)


def case_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in CASE_SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{path}: file not found")
    return found


def compare_knowledge(old: Knowledge, new: Knowledge, files: Iterable[Path]) -> ImpactReport:
    elements = knowledge_changes(old, new)
    by_iri = {change.iri: change for change in elements}
    changes: list[CaseChange] = []
    files = list(files)
    for file in files:
        before = _evaluate(file, old)
        after = _evaluate(file, new)
        change = _case_change(file, before, after, by_iri)
        if change is not None:
            changes.append(change)
    return ImpactReport(str(old.root), str(new.root), len(files), elements, tuple(changes))


def knowledge_changes(old: Knowledge, new: Knowledge) -> tuple[ElementChange, ...]:
    """Named elements whose description (including anonymous definitions) differs."""
    before = _descriptions(old.ontology)
    after = _descriptions(new.ontology)
    changes = []
    for iri in sorted(set(before) | set(after)):
        if iri not in before:
            changes.append(ElementChange(iri, new.label(URIRef(iri)), "added"))
        elif iri not in after:
            changes.append(ElementChange(iri, old.label(URIRef(iri)), "removed"))
        elif before[iri] != after[iri]:
            changes.append(ElementChange(iri, new.label(URIRef(iri)), "changed"))
    return tuple(changes)


@contextmanager
def knowledge_at_git_ref(ref: str, repo: Path | None = None) -> Iterator[Path]:
    """Check out the knowledge folders as they were at a git ref into a temporary folder."""
    where = repo or Path.cwd()
    try:
        top = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
        ).stdout.strip()
        archive = subprocess.run(
            ["git", "-C", top, "archive", "--format=tar", ref, *KNOWLEDGE_FOLDERS], capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = str(exc)
        if isinstance(exc, subprocess.CalledProcessError) and exc.stderr:
            stderr = exc.stderr
            detail = (stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr).strip() or detail
        raise UsageError(f"cannot read the knowledge at git ref '{ref}': {detail}") from exc
    with tempfile.TemporaryDirectory(prefix="dorsum-base-") as folder:
        with tempfile.TemporaryFile() as stream:
            stream.write(archive)
            stream.seek(0)
            with tarfile.open(fileobj=stream) as tar:
                extract_archive(tar, Path(folder))
        yield Path(folder)


def extract_archive(tar: tarfile.TarFile, folder: Path) -> None:
    """Write a tar archive's regular files and folders under ``folder``, nothing else: with tarfile's
    "data" filter where this Python has it (3.11.4 and later), else by skipping every member that is
    not a regular file or folder or whose path leaves ``folder`` (what that filter refuses here)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(folder, filter="data")
        return
    root = folder.resolve()
    for member in tar.getmembers():
        if (member.isfile() or member.isdir()) and (root / member.name).resolve().is_relative_to(root):
            tar.extract(member, root, set_attrs=False)


def _evaluate(file: Path, knowledge: Knowledge) -> TriageResult | str:
    try:
        case: CaseInput = (
            vignette_case(load_vignette(file), knowledge) if is_vignette(file) else read_case(file, knowledge)
        )
        return triage(case, knowledge)
    except DorsumError as exc:
        return f"error: {exc}"


def _summary(result: TriageResult | str) -> str:
    if isinstance(result, str):
        return result
    tier = result.effective_urgency
    label = tier.label if tier else "no tier"
    return f"{label} ({result.status})"


def _rank(result: TriageResult | str) -> int | None:
    if isinstance(result, str):
        return None
    tier = result.effective_urgency
    return tier.rank if tier else 0


def _case_change(
    file: Path, before: TriageResult | str, after: TriageResult | str, elements: dict[str, ElementChange]
) -> CaseChange | None:
    def ids(result: TriageResult | str, attribute: str) -> set[str]:
        return set() if isinstance(result, str) else {item.iri for item in getattr(result, attribute)}

    old_rank, new_rank = _rank(before), _rank(after)
    diffs = {
        attribute: (ids(after, attribute) - ids(before, attribute), ids(before, attribute) - ids(after, attribute))
        for attribute in ("next_steps", "red_flags", "avoid")
    }
    status_changed = _summary(before) != _summary(after)
    if not status_changed and not any(added or removed for added, removed in diffs.values()):
        return None
    involved = set().union(*(added | removed for added, removed in diffs.values()))
    for result in (before, after):
        if not isinstance(result, str):
            involved |= {s.iri for s in result.next_steps + result.avoid}
            involved |= {f.iri for f in result.red_flags + result.situations}
            involved |= {fact.value_iri for f in result.red_flags + result.situations for fact in f.facts}
    downgrade = old_rank is not None and (new_rank is None or new_rank < old_rank)
    return CaseChange(
        case=str(file),
        old=_summary(before),
        new=_summary(after),
        downgrade=downgrade,
        added_steps=tuple(sorted(_local(i) for i in diffs["next_steps"][0])),
        removed_steps=tuple(sorted(_local(i) for i in diffs["next_steps"][1])),
        added_red_flags=tuple(sorted(_local(i) for i in diffs["red_flags"][0])),
        removed_red_flags=tuple(sorted(_local(i) for i in diffs["red_flags"][1])),
        added_avoid=tuple(sorted(_local(i) for i in diffs["avoid"][0])),
        removed_avoid=tuple(sorted(_local(i) for i in diffs["avoid"][1])),
        elements=tuple(elements[iri] for iri in sorted(involved) if iri in elements),
    )


def _local(iri: str) -> str:
    return iri[len(str(DX)) :] if iri.startswith(str(DX)) else iri


def _descriptions(graph: Graph) -> dict[str, str]:
    """A canonical text for each named element: its triples, with anonymous nodes expanded, plus
    the anonymous class expressions that define it (``[...] rdfs:subClassOf element``)."""
    found: dict[str, str] = {}
    for subject in set(graph.subjects()):
        if not isinstance(subject, URIRef):
            continue
        parts = sorted(f"{p.n3()} {_expand(graph, o, 0)}" for p, o in graph.predicate_objects(subject))
        parts += sorted(
            f"defined by {_expand(graph, d, 0)}"
            for d in graph.subjects(RDFS.subClassOf, subject)
            if isinstance(d, BNode)
        )
        found[str(subject)] = "\n".join(parts)
    return found


def _expand(graph: Graph, node: Node, depth: int) -> str:
    if isinstance(node, BNode) and depth < 12:
        inner = sorted(f"{p.n3()} {_expand(graph, o, depth + 1)}" for p, o in graph.predicate_objects(node))
        return "[" + " ; ".join(inner) + "]"
    if isinstance(node, (URIRef, Literal)):
        return node.n3()
    return "[]"
