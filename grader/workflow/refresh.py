"""Bring the files of the last `grader run` up to date after manual scores or overrides change.

The run's OUT/run.json says which report file belongs to whom; each is rewritten from the
store's autograded result (or, failing that, the JSON on disk — merging is idempotent) with
the current manual scores and overrides, and so are the assignment's gradebook and summary
and the scores in run.json. Nothing is graded again.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from grader.models import RunSummary, SubmissionReport
from grader.report.gradebook import write_gradebook
from grader.report.json_report import write_json, write_report
from grader.report.markdown import write_markdown
from grader.report.summary import PartInfo, class_stats, write_summary
from grader.store.merge import apply_adjustments
from grader.store.repository import Store

RUN_FILE = "run.json"


def refresh_reports(out: Path, db: str | None, assignment: str) -> list[Path]:
    """Rewrite OUT/<assignment>/ reports with current manual scores; the files written."""
    out = Path(out)
    try:
        summary = RunSummary.model_validate_json((out / RUN_FILE).read_bytes())
    except (OSError, ValidationError, ValueError):
        return []  # no run on disk to refresh (exports and the HTML report read the store)
    entries = [e for e in summary.reports if e.assignment == assignment]
    if not entries:
        return []
    with Store.open(out, db) as store:
        stored = {r.student: r for r in store.latest_reports(assignment)}
        manual, overrides = store.manual_scores(assignment), store.overrides(assignment)

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
        written += [write_report(report, path), write_markdown(report, path.with_suffix(".md"))]
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
            stats = class_stats(reports)
            a.mean, a.median, a.min, a.max = stats.mean, stats.median, stats.min, stats.max
            written.append(write_gradebook(folder / "gradebook.csv", [p.id for p in parts], reports))
            written.append(write_summary(folder / "summary.md", assignment, a.title, parts, reports, broken))
    written.append(write_json(summary, out / RUN_FILE))
    return written
