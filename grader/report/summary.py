"""The class summary of one assignment (OUT/<assignment>/summary.md), for the instructor.

Per part: mean score, share correct, a count of every status, and the three most common
wrong answers (status `incorrect` or `partial`, in the grader's canonical form, else as
typed; ties broken alphabetically so the file is reproducible). Then the class mean, median,
min and max of the totals, late submissions (what the late policy did), earlier submissions of students who handed in a later one (not
graded), and the files that could not be graded.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from grader.models import BrokenSubmission, Status, SubmissionReport, Superseded
from grader.report.format import code_span, escape_text, fmt_percent, fmt_score

TOP_WRONG = 3
WRONG = (Status.incorrect, Status.partial)


class PartInfo(BaseModel):
    """What the summary needs of a problem-set part."""

    id: str
    max_score: float


class PartStats(BaseModel):
    id: str
    max_score: float
    mean: float
    correct_share: float
    statuses: dict[str, int]
    common_wrong: list[tuple[str, int]]


class ClassStats(BaseModel):
    count: int
    mean: float | None = None
    median: float | None = None
    min: float | None = None
    max: float | None = None


def class_stats(reports: Sequence[SubmissionReport]) -> ClassStats:
    scores = [r.score for r in reports]
    if not scores:
        return ClassStats(count=0)
    return ClassStats(
        count=len(scores),
        mean=statistics.fmean(scores),
        median=statistics.median(scores),
        min=min(scores),
        max=max(scores),
    )


def part_stats(part: PartInfo, reports: Sequence[SubmissionReport]) -> PartStats:
    results = [p for r in reports for p in r.parts if p.id == part.id]
    statuses = Counter(p.status.value for p in results)
    wrong = Counter(
        (p.canonical if p.canonical is not None else p.answer or "") for p in results if p.status in WRONG
    )
    n = len(reports)
    return PartStats(
        id=part.id,
        max_score=part.max_score,
        mean=sum(p.score for p in results) / n if n else 0.0,
        correct_share=statuses[Status.correct.value] / n if n else 0.0,
        statuses={s.value: statuses[s.value] for s in Status},
        common_wrong=sorted(wrong.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_WRONG],
    )


def render_summary(
    assignment: str,
    title: str,
    parts: Sequence[PartInfo],
    reports: Sequence[SubmissionReport],
    broken: Sequence[BrokenSubmission] = (),
    superseded: Sequence[Superseded] = (),
) -> str:
    total = sum(p.max_score for p in parts)
    stats = class_stats(reports)
    lines = [f"# Class summary: {escape_text(title)} ({escape_text(assignment)})", ""]
    lines += [f"- Submissions graded: {stats.count}", f"- Could not be graded: {len(broken)}"]
    if stats.count:
        lines += [
            f"- Mean: {fmt_score(stats.mean or 0.0)} / {fmt_score(total)}",
            f"- Median: {fmt_score(stats.median or 0.0)}",
            f"- Min: {fmt_score(stats.min or 0.0)}",
            f"- Max: {fmt_score(stats.max or 0.0)}",
        ]
    lines.append("")

    all_stats = [part_stats(p, reports) for p in parts]
    header = ["Part", "Max", "Mean", "% correct", *(s.value for s in Status)]
    lines += ["## Parts", "", "| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    for ps in all_stats:
        cells = [escape_text(ps.id), fmt_score(ps.max_score), fmt_score(ps.mean), fmt_percent(ps.correct_share)]
        cells += [str(ps.statuses[s.value]) for s in Status]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")

    # Student text stays out of tables (see format.code_span): wrong answers are a list.
    lines += ["## Most common wrong answers", ""]
    any_wrong = False
    for ps in all_stats:
        if not ps.common_wrong:
            continue
        any_wrong = True
        lines.append(f"- {escape_text(ps.id)}")
        for answer, count in ps.common_wrong:
            lines.append(f"  - {code_span(answer)} × {count}")
    if not any_wrong:
        lines.append("None.")
    lines.append("")

    dupes = sorted(s for s, n in Counter(r.student for r in reports).items() if n > 1)
    if dupes:
        lines += ["## Students with more than one submission", ""]
        lines += [f"- {code_span(s)}" for s in dupes] + [""]

    late = sorted((r for r in reports if r.late is not None), key=lambda r: r.student)
    if late:
        lines += ["## Late submissions (the course's late policy applied)", ""]
        lines += [f"- {code_span(r.student)}: {escape_text(r.late.note)}, {fmt_score(r.late.raw_score)} → {fmt_score(r.score)}" for r in late if r.late] + [""]

    if superseded:
        lines += ["## Earlier submissions not graded (the student handed in a later one)", ""]
        lines += [f"- {code_span(s.source)} by {code_span(s.student)}: {code_span(s.graded)} was graded instead" for s in superseded] + [""]

    lines += ["## Files that could not be graded", ""]
    lines += [f"- {code_span(b.source)}: {escape_text(b.reason)}" for b in broken] or ["None."]
    return "\n".join(lines) + "\n"


def write_summary(
    path: Path,
    assignment: str,
    title: str,
    parts: Sequence[PartInfo],
    reports: Sequence[SubmissionReport],
    broken: Sequence[BrokenSubmission] = (),
    superseded: Sequence[Superseded] = (),
) -> Path:
    """OUT/<assignment>/summary.md"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_summary(assignment, title, parts, reports, broken, superseded), encoding="utf-8", newline="\n")
    return path
