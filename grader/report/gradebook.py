"""The class gradebook: RFC 4180 CSV, one row per submission.

Columns: `student`, every part id in problem-set order, `total`, `max`. A part that is
missing, invalid, incorrect or failed (`error`) scores 0. A `manual` part (free text waiting
for a person) is left **blank**, so "not graded yet" is not confused with "earned 0"; `total`
counts it as 0 until a score is recorded, and is the report's score: for a late submission
the late-adjusted one, so it can be less than the sum of the parts. Rows are sorted by student (then source file): a
run grades one submission per student (the latest; grader.submission.one_per_student), so a
student has one row.

Cells go through grader.report.csv_cells (the one CSV writer): a student id a spreadsheet
would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'`, NUL and bidi
overrides are removed; numbers stay numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from grader.models import Status, SubmissionReport
from grader.report.csv_cells import csv_text
from grader.report.format import fmt_score


def gradebook_rows(part_ids: Sequence[str], reports: Sequence[SubmissionReport]) -> list[list[str]]:
    rows = [["student", *part_ids, "total", "max"]]
    for report in sorted(reports, key=lambda r: (r.student, r.source or "")):
        by_id = {p.id: p for p in report.parts}
        cells = []
        for pid in part_ids:
            part = by_id.get(pid)
            cells.append("" if part is not None and part.status is Status.manual else fmt_score(part.score if part else 0.0))
        rows.append([report.student, *cells, fmt_score(report.score), fmt_score(report.max_score)])
    return rows


def gradebook_csv(part_ids: Sequence[str], reports: Sequence[SubmissionReport]) -> str:
    return csv_text(gradebook_rows(part_ids, reports))


def write_gradebook(path: Path, part_ids: Sequence[str], reports: Sequence[SubmissionReport]) -> Path:
    """OUT/<assignment>/gradebook.csv"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(gradebook_csv(part_ids, reports))
    return path
