"""The HTML class report of an assignment from the class's current reports (manual scores merged)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from grader.keys.build import key_path, read_key
from grader.report.html import write_class_report
from grader.run.writer import read_run_file, safe_name


def build_report(
    assignment: str, out: Path, db: str | None = None, title: str | None = None, reference: Path | None = None
) -> Path:
    """OUT/<assignment>/report.html from the class's current reports (manual scores merged)."""
    from grader.store.loading import class_reports
    from grader.store.repository import Store

    with Store.open(out, db) as store:
        reports = class_reports(store, out, assignment)
    if not reports:
        raise LookupError(f"no graded submissions for {assignment} in {out}; run `grader run` first")
    if title is None and reference is not None:
        try:
            title = read_key(key_path(reference, assignment)).title
        except (OSError, ValueError):
            pass
    return write_class_report(reports, out, assignment, title, report_files(out, assignment, [r.student for r in reports]))


def report_files(out: Path, assignment: str, students: list[str]) -> dict[str, str]:
    """Each student's report file stem in OUT/<assignment>/, as the last run named it (its
    run.json), else as the run's writer names a student's report."""
    summary = read_run_file(out)
    named = {e.student: PurePosixPath(e.file) for e in (summary.reports if summary else []) if e.assignment == assignment}
    files = {s: named[s].stem for s in students if s in named and named[s].parent.as_posix() == assignment}
    return {s: files.get(s, safe_name(s)) for s in students}
