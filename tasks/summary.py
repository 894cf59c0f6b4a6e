"""What each stage of a pass returns: counted outcomes and the problems worth a line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class StageSummary:
    """Counted outcomes of a stage; summaries add up across tasks and workers."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def add(self, other: StageSummary) -> StageSummary:
        self.counts.update(other.counts)
        self.problems.extend(other.problems)
        return self

    def __getitem__(self, key: str) -> int:
        return self.counts[key]
