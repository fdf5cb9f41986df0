"""What staff do in the browser, over the workflow the command line uses: the manual-grading
queue and its scores (with the part's rubric items), overrides with a reason, a regrade of
the service's submissions after a key edit (the diff first), and every export."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path


from anyio import to_thread

from grader.keys.catalog import Catalog
from grader.lms.exports import EXPORTS
from grader.models import SubmissionReport
from grader.report.html import histogram_svg
from grader.run.grading import Grading
from grader.service.courseware import Courseware
from grader.store.loading import class_reports as stored_class_reports
from grader.store.models import RegradeRecord
from grader.store.service import ServiceSubmission
from grader.workflow import manual
from grader.workflow.regrade import StudentChange, compare

GRADESCOPE = "gradescope"


def class_reports(cw: Courseware, assignment: str) -> list[SubmissionReport]:
    """Each student's current report (service submissions and `grader run` alike), adjusted."""
    return stored_class_reports(cw.store, cw.course.out, assignment)


def total_histogram(reports: list[SubmissionReport], max_score: float) -> str:
    return histogram_svg([r.score for r in reports], max_score)


def queue(cw: Courseware, assignment: str) -> list[manual.QueueItem]:
    return manual.manual_queue(cw.store, cw.course.out, assignment)


# -- manual scores with rubric items -----------------------------------------------------------
def manual_part(cw: Courseware, assignment: str, part_id: str) -> manual.ManualPart:
    """A free-text part as the person grading it sees it: marks, prompt, rubric, comments."""
    key = {p.id: p for p in cw.part_keys(assignment)}.get(part_id)
    if key is None or not key.manual:
        raise LookupError(f"{assignment} has no free-text part {part_id!r}")
    return manual.ManualPart(key.id, key.marks, key.prompt, tuple(key.rubric), tuple(key.comments), key.model_answer)


def record_manual(
    cw: Courseware, assignment: str, *, student: str, part_id: str, items: list[int], score: float | None, comment: str, grader: str
) -> None:
    """Score one free-text answer by rubric items (numbers from 1) or a typed score, through
    the workflow `grader manual` uses (the items picked are stored with the score)."""
    part = manual_part(cw, assignment, part_id)
    if student not in {r.student for r in class_reports(cw, assignment)}:
        raise LookupError(f"no submission of {student!r} for {assignment}")
    manual.record_manual_score(cw.store, assignment, student, part, items=items, score=score, comment=comment, grader=grader)


def override(cw: Courseware, assignment: str, student: str, part_id: str, score: float | None, reason: str, grader: str) -> None:
    manual.set_override(cw.store, cw.course.out, assignment, student, part_id, score, reason=reason, grader=grader)


# -- regrade after a key edit ------------------------------------------------------------------
@dataclass
class ServiceRegrade:
    """Each student's latest service submission graded again with the keys as they are now."""

    changes: list[StudentChange]
    new: dict[str, SubmissionReport] = field(default_factory=dict)  # submission id -> new report
    subs: dict[str, ServiceSubmission] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


async def plan_regrade(cw: Courseware, assignment: str) -> ServiceRegrade:
    return await to_thread.run_sync(_plan, cw, assignment)


def _plan(cw: Courseware, assignment: str) -> ServiceRegrade:
    latest: dict[str, ServiceSubmission] = {}
    for s in cw.service.submissions(assignment):
        latest[s.student] = s
    catalog = Catalog(cw.course.problems, cw.course.reference, cw.course)  # the keys as edited
    new: dict[str, SubmissionReport] = {}
    with Grading(catalog, budget=None) as grading:
        for s in latest.values():
            sub = grading.submission(assignment, s.student, s.answers, source=s.report.source or f"web:{s.student}", submitted_at=s.report.submitted_at)
            sub = sub.model_copy(update={"handed_in_by": s.student})
            outcome = grading.grade(sub)
            if isinstance(outcome, SubmissionReport):
                new[s.id] = outcome
    old = [cw.adjusted(s.report) for s in latest.values()]
    changes = [c for c in compare(old, [cw.adjusted(r) for r in new.values()]) if c.changed]
    return ServiceRegrade(changes, new, {s.id: s for s in latest.values()}, catalog.notes)


async def apply_regrade(cw: Courseware, plan: ServiceRegrade) -> int | None:
    return await to_thread.run_sync(_apply, cw, plan)


def _apply(cw: Courseware, plan: ServiceRegrade) -> int | None:
    if not plan.new:
        return None
    store = cw.store
    previous = {a: store.latest_run_ids(a) for a in {r.assignment for r in plan.new.values()}}
    run_id = store.begin_run("serve: regrade", kind="regrade")
    store.record_reports(run_id, list(plan.new.values()))
    for sid, report in plan.new.items():
        cw.service.replace_report(sid, report)
    at = datetime.now(timezone.utc)
    store.record_regrade(
        RegradeRecord(
            run_id=run_id, previous_run_id=previous.get(c.assignment, {}).get(c.student), assignment=c.assignment, student=c.student,
            old_score=c.old, new_score=c.new, delta=c.delta, parts_changed=c.parts_changed, at=at,
        )
        for c in plan.changes
    )
    store.finish_run(run_id)
    return run_id


# -- downloads ---------------------------------------------------------------------------------
def export_names() -> list[str]:
    return [*EXPORTS, GRADESCOPE]


def export(cw: Courseware, assignment: str, name: str) -> tuple[str, bytes, str]:
    """(file name, content, media type) of one export of the class's current reports."""
    if name == GRADESCOPE:
        from grader.lms.gradescope.package import build_zip

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{assignment}-autograder.zip"
            build_zip(assignment, path, cw.course.problems, cw.course.reference, course=cw.course)
            return path.name, path.read_bytes(), "application/zip"
    fmt = EXPORTS.get(name)
    if fmt is None:
        raise LookupError(f"no export {name!r} (known: {', '.join(export_names())})")
    reports = class_reports(cw, assignment)
    text, _warnings = fmt(reports, title=cw.info(assignment).title, roster=cw.roster, now=datetime.now(timezone.utc))
    media = "application/json" if fmt.suffix.endswith(".json") else "text/csv"
    return f"{assignment}{fmt.suffix}", text.encode("utf-8"), media


