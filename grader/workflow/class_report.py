"""The HTML class report of an assignment from the class's current reports (manual scores merged)."""

from __future__ import annotations

from pathlib import Path

from grader.keys.build import key_path, read_key
from grader.report.html import write_class_report


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
    return write_class_report(reports, out, assignment, title)
