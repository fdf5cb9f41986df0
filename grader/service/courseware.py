"""The course as the service sees it: assignments, sheets, live checks and submissions, over
the one engine.

Grading goes through `grader.run.grading.Grading` (the same limited pool of killable workers
as `grader run`), awaited with `asyncio.wrap_future`, so a submission never blocks the event
loop; a live check is `AssignmentGrader.read` (parsing only, never grading), run on a thread.
Every report a student sees passes `visible_report` at the level the course file sets for
that moment; staff see the whole report.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from anyio import to_thread

from grader import lti
from grader.code.notebook import _MARKER as MARKER
from grader.course import Assignment, Course
from grader.keys.catalog import Catalog
from grader.kinds.spec import kind_from_spec
from grader.keys.variants import VariantGraders, VariantKeys, student_prompts
from grader.lms.roster import Roster, read_roster
from grader.models import BrokenSubmission, PartKey, Submission, SubmissionReport
from grader.report.policy import visible_report
from grader.run.grading import Grading
from grader.scoring import Reading
from grader.store.merge import apply_adjustments
from grader.store.repository import Store
from grader.store.service import ServiceStore, ServiceSubmission


log = logging.getLogger(__name__)


class NoSuchThing(LookupError):
    """An assignment or part that does not exist (or that this person may not see): a 404."""


class Refused(Exception):
    """A submission the course's rules refuse (no attempts left): a 409 with this message."""


@dataclass(frozen=True)
class AssignmentInfo:
    id: str
    title: str
    max_score: float
    due: datetime | None
    attempts: int | None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Courseware:
    """One course served: its catalog of keys, the grading engine, and the store."""

    def __init__(self, course: Course, db_url: str | None = None, *, budget: float | None = 2.0, workers: int = 1) -> None:
        self.course = course
        self.catalog = Catalog(course.problems, course.reference, course)
        self.grading = Grading(self.catalog, budget=budget, workers=workers)
        self.store = Store.open(course.out, db_url or course.store)
        self.service = ServiceStore(self.store)
        self.roster: Roster = read_roster(course.roster) if course.roster is not None and course.roster.is_file() else {}
        self._sheets: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._on_recorded: list[Callable[[SubmissionReport], None]] = []
        self._passback: Any = None
        self._passback_lock = threading.Lock()
        if lti.installed():  # scores back to the LMS courses students launched from (LTI AGS)
            self.on_recorded(self._send_score)

    def close(self) -> None:
        if self._passback is not None:
            self._passback.close()
        self.grading.close()
        self.store.close()

    # -- after a grade is recorded or changed ---------------------------------------------------
    def on_recorded(self, hook: Callable[[SubmissionReport], None]) -> None:
        """Call `hook(report)` after each service submission is recorded (score passback)."""
        self._on_recorded.append(hook)

    def recorded(self, report: SubmissionReport) -> None:
        """Called once after each service submission is recorded, graded here or by a worker:
        every hook registered with `on_recorded` gets the report as recorded."""
        for hook in self._on_recorded:
            hook(report)

    def passback(self) -> Any:
        """The LTI score passback of this course's store (grader.lti.passback.Passback), made on
        first use; None when the LTI extra is not installed."""
        with self._passback_lock:
            if self._passback is None:
                if not lti.installed():
                    return None
                from grader.lti.keys import tool_key
                from grader.lti.passback import Passback
                from grader.store.lti import LtiStore

                self._passback = Passback(self.store, lambda: tool_key(LtiStore(self.store)), view=self.student_view, background=True)
            return self._passback

    def _send_score(self, report: SubmissionReport) -> None:
        """The submission's score to each LMS course the student launched the assignment from.
        A failure there is recorded for a retry and never fails the submission."""
        try:
            self.passback().recorded(report)
        except Exception:  # the store was reachable a moment ago; the submission stands regardless
            log.exception("LTI score passback for %s/%s could not be queued", report.assignment, report.student)

    def scores_changed(self, assignment: str, students: list[str] | None = None) -> None:
        """Staff changed scores (a manual score, an override, a regrade): the students' current
        scores go back to the LMS where they differ from the last ones sent."""
        passback = self.passback()
        if passback is None:
            return
        try:
            passback.changed(assignment, students)
        except Exception:
            log.exception("LTI score passback after a score change in %s could not be queued", assignment)

    # -- assignments -----------------------------------------------------------------------------
    def settings(self, assignment: str) -> Assignment:
        return self.course.assignment(assignment)

    def assignments(self) -> list[AssignmentInfo]:
        out = []
        for a in self.catalog.assignments:
            key, s = self.catalog.keys[a], self.settings(a)
            out.append(AssignmentInfo(a, s.title or key.title or a, key.total, s.due, s.attempts))
        return out

    def info(self, assignment: str) -> AssignmentInfo:
        for a in self.assignments():
            if a.id == assignment:
                return a
        raise NoSuchThing(f"no assignment {assignment!r}")

    def part_keys(self, assignment: str) -> list[PartKey]:
        """The parts (the printed key's: ids, marks, kinds and rubrics are the same for every variant)."""
        if assignment not in self.catalog.keys:
            raise NoSuchThing(f"no assignment {assignment!r}")
        return list(self.catalog.keys[assignment].parts)

    def sheet(self, assignment: str, student: str | None) -> dict[str, Any]:
        """The homework sheet a student works from: every part's prompt and, for an assignment
        with per-student numbers, the student's own numbers in them."""
        keys = self.part_keys(assignment)
        grader = self.catalog.grader(assignment)
        who = student if isinstance(grader, VariantGraders) else None
        cached = self._sheets.get((assignment, who))
        if cached is not None:
            return cached
        # the sheet comes from the problem set (imported once, on the first page): its inputs
        # (the given matrices and vectors) and prompts, with the student's numbers if they vary
        if isinstance(grader, VariantGraders):
            sheet = student_prompts(grader.keys, who)
        else:
            ps = grader.source.get() if grader is not None else None
            if ps is not None:
                sheet = student_prompts(VariantKeys(ps, self.catalog.keys[assignment], assignment=assignment), None)
            else:  # no problem set to read: the key's prompts
                sheet = {"assignment": assignment, "variant": None, "inputs": [], "parts": [
                    {"id": p.id, "marks": p.marks, "kind": p.kind, "prompt": p.prompt} for p in keys
                ]}
        self._sheets[(assignment, who)] = sheet
        return sheet

    # -- reading and grading ---------------------------------------------------------------------
    async def check(self, assignment: str, part_id: str, answer: Any) -> Reading:
        if assignment not in self.catalog.keys:
            raise NoSuchThing(f"no assignment {assignment!r}")
        if part_id in self.code_parts(assignment) and isinstance(answer, str) and answer.strip():
            # code is never run on a check (only a submission runs it, in the sandbox)
            lines = len(answer.strip("\n").split("\n"))
            return Reading("ok", f"Python code, {lines} line{'s' if lines != 1 else ''}", "(it runs in the sandbox when you submit)")
        try:
            return await to_thread.run_sync(self.grading.read, assignment, part_id, answer)
        except LookupError as exc:
            raise NoSuchThing(str(exc)) from None

    async def submit(self, assignment: str, student: str, answers: dict[str, Any], idempotency_key: str | None = None) -> tuple[ServiceSubmission, bool]:
        """Grade and record a submission; (the submission, whether it is new). A retry with an
        idempotency key already used returns the submission recorded then, graded once."""
        if idempotency_key is not None:
            found = await to_thread.run_sync(self.service.by_idempotency_key, student, idempotency_key)
            if found is not None:
                if found.assignment != assignment:
                    raise Refused("this Idempotency-Key was already used for another assignment")
                return found, False
        info = self.info(assignment)
        if info.attempts is not None:
            used = await to_thread.run_sync(self.service.count, assignment, student)
            if used >= info.attempts:
                raise Refused(f"no attempts left: {assignment} allows {info.attempts} submission(s) and you have made {used}")
        sub = Submission(
            assignment=assignment, student=student, answers=answers, submitted_at=utcnow(), source=f"web:{student}", handed_in_by=student,
            code=self.code_files(assignment, answers),
        )
        outcome = await asyncio.wrap_future(self.grading.submit(sub))
        if isinstance(outcome, BrokenSubmission):
            raise NoSuchThing(outcome.reason)
        recorded, new = await to_thread.run_sync(self.service.record_submission, outcome, answers, idempotency_key)
        if new:
            await to_thread.run_sync(self.recorded, recorded.report)
        return recorded, new

    def code_parts(self, assignment: str) -> set[str]:
        return {p.id for p in self.part_keys(assignment) if p.kind == "code"}

    def code_signatures(self, assignment: str) -> dict[str, str]:
        """What each code part asks for (from its kind): `an nn.Module, class RNN(nn.Module) with forward(x)`."""
        return {p.id: kind_from_spec(p.kind_spec).describe().removeprefix("code: ") for p in self.part_keys(assignment) if p.kind == "code"}

    def code_files(self, assignment: str, answers: dict[str, Any]) -> dict[str, str]:
        """A code part's answer is its source text: handed to the engine as one .py file per
        part whose first line tags it (`# grader: ID`), as a .py file handed in to `grader run`
        is read, so the one part loop runs it in the pool's sandbox (never in this process).
        A marker line inside the text is neutralised: a part's text area is that part's code."""
        files = {}
        for part in sorted(self.code_parts(assignment)):
            text = answers.get(part)
            if isinstance(text, str) and text.strip():
                body = "\n".join("# (marker not used here)" if MARKER.match(line) else line for line in text.split("\n"))
                files[f"{part}.py"] = f"# grader: {part}\n{body}"
        return files

    # -- what people see ---------------------------------------------------------------------------
    def adjusted(self, report: SubmissionReport) -> SubmissionReport:
        """The report with manual scores and overrides applied (staff's view)."""
        a, s = report.assignment, report.student
        return apply_adjustments(report, self.store.manual_scores(a, s), self.store.overrides(a, s))

    def student_view(self, report: SubmissionReport, now: datetime | None = None) -> SubmissionReport:
        """What the student may see: adjustments (the late rule, applied when it was graded,
        kept by them), then the feedback policy."""
        settings = self.settings(report.assignment)
        return visible_report(self.adjusted(report), settings.feedback_level(now or utcnow()))
