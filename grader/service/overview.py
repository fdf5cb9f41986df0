"""The staff's class overview of one assignment: what `grader report` shows, as data for a page.

Per part: the score histogram, the share correct, the most common wrong answers, how often
each named mistake was made, and a discrimination index (the upper-minus-lower-group
difference in mean part score, groups the top and bottom 27 % of the class by total: near 1 a
part separates strong from weak students, near 0 or below it does not).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from grader.models import Status, SubmissionReport
from grader.report.html import histogram_svg, part_stats

GROUP = 0.27


@dataclass
class PartOverview:
    id: str
    kind: str
    max_score: float
    correct_share: float
    mean_fraction: float | None
    histogram: str  # inline SVG
    common_wrong: list[tuple[str, int]]
    mistakes: list[tuple[str, int]]
    discrimination: float | None
    statuses: dict[str, int] = field(default_factory=dict)


def discrimination(reports: Sequence[SubmissionReport], part_id: str) -> float | None:
    """Upper-lower index of one part (None with fewer than 4 students or no marks)."""
    ranked = sorted(reports, key=lambda r: r.score)
    n = max(1, round(len(ranked) * GROUP))
    if len(ranked) < 4:
        return None

    def mean(group: Sequence[SubmissionReport]) -> float | None:
        fractions = [p.score / p.max_score for r in group for p in r.parts if p.id == part_id and p.max_score > 0]
        return sum(fractions) / len(fractions) if fractions else None

    low, high = mean(ranked[:n]), mean(ranked[-n:])
    return None if low is None or high is None else round(high - low, 3)


def overview(reports: Sequence[SubmissionReport]) -> list[PartOverview]:
    out = []
    for stats in part_stats(reports):
        results = [p for r in reports for p in r.parts if p.id == stats.id]
        mistakes = Counter(p.matched.removeprefix("mistake: ") for p in results if p.matched and p.matched.startswith("mistake: "))
        correct = sum(p.status is Status.correct for p in results)
        out.append(
            PartOverview(
                id=stats.id,
                kind=stats.kind,
                max_score=stats.max_score,
                correct_share=correct / len(results) if results else 0.0,
                mean_fraction=stats.mean_fraction,
                histogram=histogram_svg([p.score for p in results], stats.max_score, bins=min(10, max(2, int(stats.max_score * 2) or 2))),
                common_wrong=[(answer, count) for answer, count, _ in stats.wrong],
                mistakes=sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0])),
                discrimination=discrimination(reports, stats.id),
                statuses=dict(Counter(p.status.value for p in results)),
            )
        )
    return out
