"""A short plain-text summary of a report, for LMS comment and feedback fields."""

from __future__ import annotations

from grader.models import Status, SubmissionReport
from grader.store.merge import pending_manual


def format_score(x: float) -> str:
    """A score as an LMS reads it: plain decimal, at most 4 places, no trailing zeros."""
    text = f"{round(x, 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def summary_comment(report: SubmissionReport) -> str:
    lost = [p for p in report.parts if p.status not in (Status.correct, Status.manual) and p.score < p.max_score]
    text = f"Score {format_score(report.score)} of {format_score(report.max_score)}."
    if lost:
        text += " Marks lost on: " + ", ".join(f"{p.id} ({format_score(p.score)}/{format_score(p.max_score)})" for p in lost) + "."
    pending = pending_manual(report)
    if pending:
        text += " Awaiting a grader: " + ", ".join(p.id for p in pending) + "."
    return text
