"""A regrade (say, after a key edit): grade the class once, show who changes, then replace.

`plan_regrade` grades the class with `grade_class`, as `grader run` does, and compares each
student's new total with the stored one, manual scores and overrides applied to both sides
(so they never show up as changes); nothing in OUT or the store is touched. `apply_regrade`
then writes those same outcomes into OUT with the run's writer and records them as a
`regrade` run, with one regrade-history row per student whose grade moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from grader.models import RunSummary, SubmissionReport
from grader.run.batch import DEFAULT_BUDGET, ClassGrading, Outcome, class_folder, write_class
from grader.store.merge import apply_adjustments
from grader.store.models import RegradeRecord

if TYPE_CHECKING:
    from grader.course import Course
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


def _merged(store: "Store", reports: list[SubmissionReport]) -> list[SubmissionReport]:
    manual = {a: store.manual_scores(a) for a in {r.assignment for r in reports}}
    over = {a: store.overrides(a) for a in manual}
    return [apply_adjustments(r, manual[r.assignment], over[r.assignment]) for r in reports]


@dataclass
class RegradePlan:
    """A class graded again, compared with what the store holds, not yet written anywhere."""

    klass: ClassGrading
    outcomes: list[tuple[int, Outcome]]
    assignment: str | None
    old: list[SubmissionReport]  # the stored reports, manual scores applied
    previous_runs: dict[str, dict[str, int]]  # assignment -> student -> the run that graded them
    changes: list[StudentChange]

    @property
    def graded(self) -> int:
        return sum(isinstance(o, SubmissionReport) for _, o in self.outcomes)


class RegradeOutcome(BaseModel):
    changes: list[StudentChange]
    run_id: int | None = None
    summary: RunSummary | None = None


def plan_regrade(
    root: Path,
    out: Path,
    *,
    problems: Path,
    reference: Path | None,
    assignment: str | None = None,
    db: str | None = None,
    budget: float | None = DEFAULT_BUDGET,
    workers: int | None = None,
    course: "Course | None" = None,
) -> RegradePlan:
    """Grade the class below `root` (once), with the course's assignments, and compare with the
    store behind OUT."""
    from grader.store.loading import class_reports
    from grader.store.repository import Store

    klass = class_folder(
        root, out, problems_dir=problems, reference_dir=reference, assignment=assignment, budget=budget, workers=workers, course=course
    )
    with Store.open(out, db) as store:
        assignments = sorted({sub.assignment for _, sub in klass.to_grade})
        old = [r for a in assignments for r in class_reports(store, out, a)]
        # Per-student numbers: grade against the numbers each student was graded with before.
        klass.keep_variants({(r.assignment, r.student): r.variant for r in old if r.variant is not None})
        outcomes = list(klass)
        reports = [o for _, o in outcomes if isinstance(o, SubmissionReport)]
        previous_runs = {a: store.latest_run_ids(a) for a in assignments}
        changes = [c for c in compare(old, _merged(store, reports)) if c.changed]
    return RegradePlan(klass, outcomes, assignment, old, previous_runs, changes)


def apply_regrade(plan: RegradePlan, out: Path, db: str | None = None) -> RegradeOutcome:
    """Write the plan's outcomes into OUT and record them as a `regrade` run with its history."""
    from grader.store.recorder import RunRecorder
    from grader.store.repository import utcnow

    with RunRecorder.open(out, db, kind="regrade") as recorder:
        written: list[SubmissionReport] = []

        def record(report: SubmissionReport) -> SubmissionReport:
            written.append(recorder.record(report))
            return written[-1]

        summary = write_class(plan.klass, out, outcomes=plan.outcomes, on_report=record, assignment=plan.assignment)
        recorder.flush()
        run_id = recorder.run_id
        changes = plan.changes
        if run_id is not None:
            changes = [c for c in compare(plan.old, written) if c.changed]
            at = utcnow()
            recorder.store.record_regrade(
                RegradeRecord(
                    run_id=run_id,
                    previous_run_id=plan.previous_runs.get(c.assignment, {}).get(c.student),
                    assignment=c.assignment,
                    student=c.student,
                    old_score=c.old,
                    new_score=c.new,
                    delta=c.delta,
                    parts_changed=c.parts_changed,
                    at=at,
                )
                for c in changes
            )
    return RegradeOutcome(changes=changes, run_id=run_id, summary=summary)
