"""`grader regrade DIR`: grade again (say, after a key edit), show who changes, then replace.

The preview grades into a scratch folder with the same pipeline as `grader run` and compares
each student's new total with the stored one, manual scores and overrides applied to both
sides (so they never show up as changes). The table is printed before anything in OUT or
the store is touched; then, unless `--dry-run`, the run is repeated into OUT and recorded as
a `regrade` run, with one regrade-history row per student whose grade moved.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.models import SubmissionReport
from grader.run.batch import DEFAULT_BUDGET, RunSummary, UsageError, grade_directory
from grader.store.merge import apply_adjustments
from grader.store.models import RegradeRecord

if TYPE_CHECKING:
    from grader.store.repository import Store

EPS = 1e-9


class StudentChange(BaseModel):
    assignment: str
    student: str
    old: float | None  # None: no earlier result for this student
    new: float
    max_score: float
    parts_changed: list[str]

    @property
    def delta(self) -> float:
        return self.new - (self.old or 0.0)

    @property
    def changed(self) -> bool:
        return self.old is None or abs(self.delta) > EPS or bool(self.parts_changed)


def compare(old: Iterable[SubmissionReport], new: Iterable[SubmissionReport]) -> list[StudentChange]:
    """Every student of `new` against their `old` report: total and which parts moved."""
    before = {(r.assignment, r.student): r for r in old}
    out = []
    for report in new:
        prev = before.get((report.assignment, report.student))
        changed: list[str] = []
        if prev is not None:
            prev_parts = {p.id: p for p in prev.parts}
            for p in report.parts:
                q = prev_parts.get(p.id)
                if q is None or abs(q.score - p.score) > EPS or q.status is not p.status:
                    changed.append(p.id)
        out.append(
            StudentChange(
                assignment=report.assignment,
                student=report.student,
                old=prev.score if prev is not None else None,
                new=report.score,
                max_score=report.max_score,
                parts_changed=changed if prev is not None else [p.id for p in report.parts],
            )
        )
    return sorted(out, key=lambda c: (c.assignment, -abs(c.delta), c.student))


def changes_table(changes: list[StudentChange]) -> Table:
    table = Table(title="Regrade: students whose grade changes", title_justify="left")
    for name, justify in (("assignment", "left"), ("student", "left"), ("old", "right"), ("new", "right"), ("delta", "right"), ("parts changed", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for c in changes:
        delta = "new" if c.old is None else f"{c.delta:+g}"
        style = "green" if c.old is not None and c.delta > EPS else "red" if c.old is not None and c.delta < -EPS else ""
        table.add_row(
            Text(c.assignment),
            Text(c.student),
            "—" if c.old is None else f"{c.old:g}",
            f"{c.new:g}",
            Text(delta, style=style),
            Text(", ".join(c.parts_changed) if c.old is not None else "(first result)"),
        )
    return table


class _Collect:
    """An `on_report` hook that keeps every report (optionally after another hook)."""

    def __init__(self, then=None) -> None:  # type: ignore[no-untyped-def]
        self.reports: list[SubmissionReport] = []
        self.then = then

    def __call__(self, report: SubmissionReport) -> SubmissionReport:
        if self.then is not None:
            report = self.then(report)
        self.reports.append(report)
        return report


def _merged(store: "Store", reports: list[SubmissionReport]) -> list[SubmissionReport]:
    manual = {a: store.manual_scores(a) for a in {r.assignment for r in reports}}
    over = {a: store.overrides(a) for a in manual}
    return [apply_adjustments(r, manual[r.assignment], over[r.assignment]) for r in reports]


class RegradeOutcome(BaseModel):
    changes: list[StudentChange]
    run_id: int | None = None
    summary: RunSummary | None = None


def regrade(
    root: Path,
    out: Path,
    *,
    problems: Path,
    reference: Path | None,
    assignment: str | None = None,
    db: str | None = None,
    dry_run: bool = False,
    budget: float | None = DEFAULT_BUDGET,
    workers: int | None = None,
    console: Console | None = None,
) -> RegradeOutcome:
    from grader.store.loading import class_reports
    from grader.store.recorder import RunRecorder
    from grader.store.repository import Store, utcnow

    console = console or Console(highlight=False, soft_wrap=True)
    grading = {"problems_dir": problems, "reference_dir": reference, "assignment": assignment, "progress": False, "budget": budget, "workers": workers}
    with tempfile.TemporaryDirectory(prefix="grader-regrade-") as scratch:
        preview = _Collect()
        grade_directory(root, Path(scratch), on_report=preview, **grading)  # type: ignore[arg-type]
    with Store.open(out, db) as store:
        assignments = sorted({r.assignment for r in preview.reports})
        old = [r for a in assignments for r in class_reports(store, out, a)]
        previous_runs = {a: store.latest_run_ids(a) for a in assignments}
        changes = [c for c in compare(old, _merged(store, preview.reports)) if c.changed]
    _print_changes(console, changes, len(preview.reports))
    if dry_run:
        console.print("Dry run: nothing was replaced.")
        return RegradeOutcome(changes=changes)

    with RunRecorder.open(out, db, kind="regrade") as recorder:
        written = _Collect(recorder.record)
        summary = grade_directory(root, out, on_report=written, **grading)  # type: ignore[arg-type]
        recorder.flush()
        run_id = recorder.run_id
        if run_id is not None:
            final = [c for c in compare(old, written.reports) if c.changed]
            at = utcnow()
            recorder.store.record_regrade(
                RegradeRecord(
                    run_id=run_id,
                    previous_run_id=previous_runs.get(c.assignment, {}).get(c.student),
                    assignment=c.assignment,
                    student=c.student,
                    old_score=c.old,
                    new_score=c.new,
                    delta=c.delta,
                    parts_changed=c.parts_changed,
                    at=at,
                )
                for c in final
            )
            changes = final
    console.print(Text(f"Recorded regrade run {run_id}; reports in {out} replaced."))
    return RegradeOutcome(changes=changes, run_id=run_id, summary=summary)


def _print_changes(console: Console, changes: list[StudentChange], graded: int) -> None:
    if not changes:
        console.print(f"No grades change ({graded} submission(s) regraded).")
        return
    console.print(changes_table(changes))
    moved = [c for c in changes if c.old is not None]
    text = f"{len(changes)} of {graded} submission(s) change"
    if moved:
        text += f"; mean change {sum(c.delta for c in moved) / len(moved):+.3g}"
    console.print(text + ".")
