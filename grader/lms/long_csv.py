"""One row per student and part: the shape for spreadsheets, pandas and item analysis."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from grader.lms.comment import format_score
from grader.lms.format import Export, ExportText
from grader.report.csv_cells import csv_text
from grader.models import SubmissionReport

HEADER = ["student", "assignment", "part", "score", "max", "status"]


def long_rows(reports: Iterable[SubmissionReport]) -> list[list[str]]:
    rows = [list(HEADER)]
    for report in reports:
        for part in report.parts:
            rows.append(
                [report.student, report.assignment, part.id, format_score(part.score), format_score(part.max_score), part.status.value]
            )
    return rows


def render(reports: Sequence[SubmissionReport], **_: object) -> ExportText:
    return ExportText(csv_text(long_rows(reports)), [])


EXPORT = Export("csv", "-parts.csv", "One row per student and part: student, assignment, part, score, max, status.", render)
