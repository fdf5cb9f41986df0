"""The class gradebook: RFC 4180 CSV, one row per submission.

Columns: `student`, every part id in problem-set order, `total`, `max`. A part that is
missing, invalid, incorrect or failed (`error`) scores 0. A `manual` part (free text waiting
for a person) is left **blank**, so "not graded yet" is not confused with "earned 0"; `total`
counts it as 0 until a score is recorded. Rows are sorted by student (then source file); a
student with two submission files gets two rows, and the class summary says so.

A student id that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) is
written with a leading `'` (the usual CSV-injection guard); ordinary ids are written as is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from grader.models import Status, SubmissionReport
from grader.report.files import write_atomic
from grader.report.format import fmt_score

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def gradebook_rows(part_ids: Sequence[str], reports: Sequence[SubmissionReport]) -> list[list[str]]:
    rows = [["student", *part_ids, "total", "max"]]
    for report in sorted(reports, key=lambda r: (r.student, r.source or "")):
        by_id = {p.id: p for p in report.parts}
        cells = []
        for pid in part_ids:
            part = by_id.get(pid)
            cells.append("" if part is not None and part.status is Status.manual else fmt_score(part.score if part else 0.0))
        rows.append([_safe_cell(report.student), *cells, fmt_score(report.score), fmt_score(report.max_score)])
    return rows


def gradebook_csv(part_ids: Sequence[str], reports: Sequence[SubmissionReport]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(gradebook_rows(part_ids, reports))
    return buf.getvalue()


def write_gradebook(path: Path, part_ids: Sequence[str], reports: Sequence[SubmissionReport]) -> Path:
    """OUT/<assignment>/gradebook.csv"""
    return write_atomic(Path(path), gradebook_csv(part_ids, reports), newline="")
