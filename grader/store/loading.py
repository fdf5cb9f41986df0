"""The class's current reports for one assignment, wherever they are: the store, else OUT.

Exports, the HTML report and manual grading all read through here, so they agree on one
result model: the latest autograded `SubmissionReport` per student with manual scores and
overrides applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from grader.models import SubmissionReport
from grader.store.merge import apply_adjustments

if TYPE_CHECKING:  # only the caller opens a Store (and so imports SQLAlchemy)
    from grader.store.repository import Store


def reports_on_disk(out: Path, assignment: str) -> list[SubmissionReport]:
    """Per-student JSON reports in OUT/<assignment>/ (files that are not reports are skipped)."""
    found = []
    folder = Path(out) / assignment
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            report = SubmissionReport.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, ValueError, OSError):
            continue
        if report.assignment == assignment:
            found.append(report)
    return sorted(found, key=lambda r: r.student)


def raw_reports(store: Store, out: Path | None, assignment: str) -> list[SubmissionReport]:
    """Autograded reports: from the store when it has the assignment, else from OUT's JSON."""
    reports = store.latest_reports(assignment)
    if not reports and out is not None:
        reports = reports_on_disk(out, assignment)
    return reports


def class_reports(store: Store, out: Path | None, assignment: str) -> list[SubmissionReport]:
    """What students see: the latest reports with manual scores and overrides applied."""
    manual = store.manual_scores(assignment)
    overrides = store.overrides(assignment)
    return [apply_adjustments(r, manual, overrides) for r in raw_reports(store, out, assignment)]
