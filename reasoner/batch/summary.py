"""What a batch counts and writes per case: each record's counts, its rendered JSONL line, and
the summary over the batch (cases per urgency tier, incomplete, invalid, throughput)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reasoner.errors import EXIT_INVALID_CASE, EXIT_TRIAGED, worse_exit
from reasoner.render.json import json_line

NO_TIER = "no tier"


@dataclass(frozen=True)
class RecordCounts:
    """What :class:`BatchSummary` counts of one batch record."""

    ok: bool
    complete: bool
    exit_code: int
    tier_label: str
    tier_rank: int | None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> RecordCounts:
        tier = record.get("effective_urgency")
        return cls(
            ok=bool(record.get("ok")),
            complete=record.get("status") == "complete",
            exit_code=int(record.get("exit_code", EXIT_INVALID_CASE)),
            tier_label=str(tier["label"]) if isinstance(tier, Mapping) else NO_TIER,
            tier_rank=int(tier.get("rank", 0)) if isinstance(tier, Mapping) else None,
        )


@dataclass(frozen=True)
class BatchLine:
    """One case's JSONL line (without its newline), rendered by the worker that triaged the case,
    with what the summary counts of it. A string crosses the process boundary for the cost of a
    copy; the record's nested mapping costs more to pickle and unpickle than to render."""

    text: str
    counts: RecordCounts

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> BatchLine:
        """The line of a batch record (:func:`result_record` or :func:`error_record`)."""
        return cls(json_line(record), RecordCounts.of(record))


@dataclass
class BatchSummary:
    """Counts over a batch, filled in as records are yielded."""

    tiers: dict[str, int] = field(default_factory=dict)  # effective urgency label -> cases
    tier_ranks: dict[str, int] = field(default_factory=dict)
    complete: int = 0
    incomplete: int = 0
    invalid: int = 0
    total: int = 0
    elapsed: float = 0.0
    exit_code: int = EXIT_TRIAGED

    @property
    def cases_per_second(self) -> float:
        return self.total / self.elapsed if self.elapsed > 0 else 0.0

    def add(self, record: Mapping[str, Any] | BatchLine) -> None:
        """Count one record yielded by :func:`run_batch` (or line by :func:`run_batch_lines`)."""
        counts = record.counts if isinstance(record, BatchLine) else RecordCounts.of(record)
        self.total += 1
        self.exit_code = worse_exit(self.exit_code, counts.exit_code)
        if not counts.ok:
            self.invalid += 1
            return
        if counts.complete:
            self.complete += 1
        else:
            self.incomplete += 1
        self.tiers[counts.tier_label] = self.tiers.get(counts.tier_label, 0) + 1
        if counts.tier_rank is not None:
            self.tier_ranks[counts.tier_label] = counts.tier_rank

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "complete": self.complete,
            "incomplete": self.incomplete,
            "invalid": self.invalid,
            "tiers": dict(sorted(self.tiers.items(), key=lambda item: -self.tier_ranks.get(item[0], -1))),
            "elapsed_seconds": round(self.elapsed, 3),
            "cases_per_second": round(self.cases_per_second, 1),
            "exit_code": self.exit_code,
        }

    def to_text(self) -> str:
        lines = [
            f"{self.total} cases in {self.elapsed:.1f} s ({self.cases_per_second:.1f} cases/s): "
            f"{self.complete} complete, {self.incomplete} incomplete, {self.invalid} invalid"
        ]
        if self.tiers:
            lines.append("effective urgency (for incomplete cases: the worst case until recorded):")
            for label, count in self.as_dict()["tiers"].items():
                lines.append(f"  {count:>8}  {label}")
        return "\n".join(lines)


__all__ = ["NO_TIER", "BatchLine", "BatchSummary", "RecordCounts"]
