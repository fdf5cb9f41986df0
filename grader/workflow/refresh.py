"""Bring the files of the last `grader run` up to date after manual scores or overrides change.

The run's OUT/run.json says which report file belongs to whom; each is rewritten from the
store's autograded result (or, failing that, the JSON on disk — merging is idempotent) with
the current manual scores and overrides, and so are the assignment's gradebook and summary
and the scores in run.json. Nothing is graded again.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from grader.course import Course
from grader.models import SubmissionReport
from grader.report.summary import PartInfo
from grader.run.output import lock_output
from grader.run.writer import feedback_levels, read_run_file, update_stats, write_class_files, write_report_files, write_run_file
from grader.store.merge import apply_adjustments
from grader.store.repository import Store


def refresh_reports(out: Path, db: str | None, assignment: str, course: Course | None = None) -> list[Path]:
    """Rewrite OUT/<assignment>/ reports with current manual scores; the files written. The
    students' reports show what the course's feedback policy allows now (as `grader run`).
    Holds OUT's lock while it writes (`UsageError` if a `grader run` or another refresh is
    writing there: the scores are in the store, and that run's reports will show them)."""
    out = Path(out)
    with lock_output(out):
        return _refresh(out, db, assignment, course)


def _refresh(out: Path, db: str | None, assignment: str, course: Course | None) -> list[Path]:
    summary = read_run_file(out)
    if summary is None:
        return []  # no run on disk to refresh (exports and the HTML report read the store)
    entries = [e for e in summary.reports if e.assignment == assignment]
    if not entries:
        return []
    with Store.open(out, db) as store:
        stored = {r.student: r for r in store.latest_reports(assignment)}
        manual, overrides = store.manual_scores(assignment), store.overrides(assignment)

    level = feedback_levels(course)(assignment)
    written: list[Path] = []
    reports: list[SubmissionReport] = []
    for entry in entries:
        path = out / entry.file
        raw = stored.get(entry.student)
        if raw is None or (entry.source and raw.source and raw.source != entry.source):
            try:
                raw = SubmissionReport.model_validate_json(path.read_bytes())
            except (OSError, ValidationError, ValueError):
                continue
        report = apply_adjustments(raw, manual, overrides)
        write_report_files(report, path.with_suffix(""), level)
        written += [path, path.with_suffix(".md")]
        entry.score = report.score
        reports.append(report)
    if not reports:
        return written

    parts = [PartInfo(id=p.id, max_score=p.max_score) for p in reports[0].parts]
    folder = out / assignment
    known = {a.assignment for a in summary.assignments}
    broken = [b for b in summary.broken if b.assignment == assignment or b.assignment not in known]
    for a in summary.assignments:
        if a.assignment == assignment:
            update_stats(a, reports)
            superseded = [s for s in summary.superseded if s.assignment == assignment]
            written += write_class_files(folder, assignment, a.title, parts, reports, broken, superseded)
    written.append(write_run_file(summary, out))
    return written
