"""Fold people's decisions into an autograded report: manual scores, then overrides.

Pure and idempotent (a part's score is *set*, never added to), so a report already merged —
e.g. a JSON report read back from disk — can be merged again without counting twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from grader.models import PartResult, Status, SubmissionReport
from grader.store.models import ManualScore, Override


def status_for(score: float, max_score: float) -> Status:
    """The verdict a recorded score stands for."""
    if score >= max_score:
        return Status.correct
    return Status.partial if score > 0 else Status.incorrect


def _with_manual(part: PartResult, m: ManualScore) -> PartResult:
    manual: dict = {"grader": m.grader, "at": m.at.isoformat()}
    if m.items:  # the rubric items picked, as the student's report lists them
        manual["rubric"] = [i.model_dump() for i in m.items]
    picked = "Rubric items " + ", ".join(str(i.number) for i in m.items) + "." if m.items else "Scored by a grader."
    return part.model_copy(
        update={
            "score": m.score,
            "status": status_for(m.score, part.max_score),
            "feedback": m.comment.strip() or picked,
            "matched": "manual score",
            "details": {**part.details, "manual": manual},
        }
    )


def _with_override(part: PartResult, o: Override) -> PartResult:
    base = part.details.get("feedback_before_override", part.feedback)
    note = f"Score adjusted to {o.score:g} by {o.grader or 'the instructor'}" + (f": {o.reason.strip()}" if o.reason.strip() else ".")
    return part.model_copy(
        update={
            "score": o.score,
            "status": status_for(o.score, part.max_score),
            "feedback": f"{base} {note}".strip(),
            "details": {
                **part.details,
                "feedback_before_override": base,
                "override": {"grader": o.grader, "reason": o.reason, "at": o.at.isoformat(), "autograded_score": part.score},
            },
        }
    )


def apply_adjustments(
    report: SubmissionReport,
    manual: Iterable[ManualScore] = (),
    overrides: Iterable[Override] = (),
) -> SubmissionReport:
    """The report with manual scores and overrides applied and the total recomputed (times
    the late factor of a late submission, `report.late`).

    Entries for other students or for parts the report does not have are ignored.
    """
    by_part_manual = {m.part_id: m for m in manual if m.student == report.student and m.assignment == report.assignment}
    by_part_over = {o.part_id: o for o in overrides if o.student == report.student and o.assignment == report.assignment}
    if not by_part_manual and not by_part_over:
        return report
    parts = []
    for part in report.parts:
        if part.id in by_part_manual:
            part = _with_manual(part, by_part_manual[part.id])
        if part.id in by_part_over:
            part = _with_override(part, by_part_over[part.id])
        parts.append(part)
    raw = round(math.fsum(p.score for p in parts), 6)
    if report.late is None:
        return report.model_copy(update={"parts": parts, "score": raw})
    # a late submission keeps its late factor: a manual score counts as late as the rest
    late = report.late.model_copy(update={"raw_score": raw})
    return report.model_copy(update={"parts": parts, "score": late.applied(raw), "late": late})


def pending_manual(report: SubmissionReport) -> list[PartResult]:
    """Parts still waiting for a person's score."""
    return [p for p in report.parts if p.status is Status.manual]
