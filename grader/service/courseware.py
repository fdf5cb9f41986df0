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
import time
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

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
from grader.store.repository import Store, utcnow
from grader.store.jobs import Job, JobStore
from grader.store.service import ServiceStore, ServiceSubmission


log = logging.getLogger("grader.service")


class NoSuchThing(LookupError):
    """An assignment or part that does not exist (or that this person may not see): a 404."""


class Refused(Exception):
    """A submission the course's rules refuse (no attempts left): a 409 with this message."""


class QueueDown(Exception):
    """The grading queue's broker cannot be reached: the submission is not taken (a 503 with
    Retry-After; nothing is kept, so a retry makes it anew)."""


class Dispatcher(Protocol):
    """Hands a job's id to the workers (grader.queue.dispatch.CeleryDispatcher)."""

    def send(self, job_id: str, assignment: str) -> None:
        """Raises QueueDown when the broker cannot be reached."""

    def close(self) -> None: ...


#: How often a submission waiting for its worker looks at its job (seconds, growing to the last).
POLL = (0.02, 0.05, 0.1, 0.2)


@dataclass(frozen=True)
class AssignmentInfo:
    id: str
    title: str
    max_score: float
    due: datetime | None
    attempts: int | None


class Courseware:
    """One course served: its catalog of keys, the grading engine, and the store."""

    def __init__(
        self,
        course: Course,
        db_url: str | None = None,
        *,
        budget: float | None = 2.0,
        workers: int = 1,
        dispatcher: Dispatcher | None = None,
        wait: float = 3.0,
    ) -> None:
        self.course = course
        self.catalog = Catalog(course.problems, course.reference, course)
        self.budget, self.workers = budget, workers
        self.grading = Grading(self.catalog, budget=budget, workers=workers)
        self.store = Store.open(course.out, db_url or course.store)
        self.service = ServiceStore(self.store)
        self.jobs = JobStore(self.store.engine)
        # with a dispatcher a submission becomes a job graded by a worker (`grader worker`),
        # waited for up to `wait` seconds; without one it is graded here, as it always was
        self.dispatcher = dispatcher
        self.wait = wait
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
        if self.dispatcher is not None:
            self.dispatcher.close()
        self.store.close()

    def restart_grading(self) -> None:
        """A fresh engine (the old one's pool is ended with whatever it was grading)."""
        self.grading.close()
        self.grading = Grading(self.catalog, budget=self.budget, workers=self.workers)

    # -- after a grade is recorded or changed (the hooks: on_recorded and recorded, below) -------
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

    async def submit(
        self, assignment: str, student: str, answers: dict[str, Any], idempotency_key: str | None = None
    ) -> tuple[ServiceSubmission | Job, bool]:
        """Grade and record a submission; (the submission, whether it is new). A retry with an
        idempotency key already used returns the submission recorded then, graded once. On the
        queue, a submission not graded within `wait` seconds is returned as its job."""
        if idempotency_key is not None:
            found: ServiceSubmission | Job | None = await to_thread.run_sync(self.service.by_idempotency_key, student, idempotency_key)
            if found is None and self.dispatcher is not None:
                found = await to_thread.run_sync(self.jobs.by_idempotency_key, student, idempotency_key)
            if found is not None:
                if found.assignment != assignment:
                    raise Refused("this Idempotency-Key was already used for another assignment")
                if isinstance(found, Job):
                    return await self.wait_for(found.id, self.wait), False
                return found, False
        info = self.info(assignment)
        if info.attempts is not None:
            used = await to_thread.run_sync(self.used_attempts, assignment, student)
            if used >= info.attempts:
                raise Refused(f"no attempts left: {assignment} allows {info.attempts} submission(s) and you have made {used}")
        sub = Submission(
            assignment=assignment, student=student, answers=answers, submitted_at=utcnow(), source=f"web:{student}", handed_in_by=student,
            code=self.code_files(assignment, answers),
        )
        if self.dispatcher is not None:
            return await self._submit_to_queue(sub, answers, idempotency_key)
        outcome = await asyncio.wrap_future(self.grading.submit(sub))
        if isinstance(outcome, BrokenSubmission):
            raise NoSuchThing(outcome.reason)
        recorded, new = await to_thread.run_sync(self.service.record_submission, outcome, answers, idempotency_key)
        if new:
            await to_thread.run_sync(self.recorded, recorded.report)
        return recorded, new

    async def _submit_to_queue(self, sub: Submission, answers: dict[str, Any], idempotency_key: str | None) -> tuple[ServiceSubmission | Job, bool]:
        """The submission as a job, its id sent to the workers; the recorded submission if it
        is graded within `wait` seconds, else the job (still queued or running)."""
        assert self.dispatcher is not None
        key = self.catalog.keys[sub.assignment]
        job, new = await to_thread.run_sync(lambda: self.jobs.create(sub, answers, key_hash=key.source_hash, idempotency_key=idempotency_key))
        if new:
            try:
                await to_thread.run_sync(self.dispatcher.send, job.id, job.assignment)
            except QueueDown:
                await to_thread.run_sync(self.jobs.discard, job.id)  # not taken: a retry makes it anew
                raise
        return await self.wait_for(job.id, self.wait), new

    async def wait_for(self, job_id: str, seconds: float) -> ServiceSubmission | Job:
        """The job's recorded submission once graded, waiting up to `seconds`; else the job."""
        deadline = time.monotonic() + seconds
        for step in range(10**6):
            state = await to_thread.run_sync(self.jobs.state, job_id)
            if state == "graded":
                found = await to_thread.run_sync(self.service.submission, job_id)
                if found is not None:
                    return found
            left = deadline - time.monotonic()
            if state not in ("queued", "running") or left <= 0:
                break
            await asyncio.sleep(min(POLL[min(step, len(POLL) - 1)], left))
        job = await to_thread.run_sync(self.jobs.get, job_id)
        if job is None:
            raise NoSuchThing(f"no submission {job_id}")
        return job

    def pending(self, job_id: str) -> Job | None:
        """A submission not graded yet (queued, running, or failed), by its id."""
        job = self.jobs.get(job_id)
        return job if job is not None and job.state != "graded" else None

    def grade_job(self, job: Job) -> tuple[ServiceSubmission | None, bool]:
        """Grade a job a worker has claimed and record it (once: a job recorded before is
        returned as it was); (the submission, whether this call recorded it), or (None, False)
        for a submission that cannot be graded (the job is failed with the reason)."""
        outcome = self.grading.grade(job.submission)
        if isinstance(outcome, BrokenSubmission):
            self.jobs.fail(job.id, outcome.reason)
            return None, False
        recorded, new = self.jobs.record_graded(job, outcome)
        if new:
            self.recorded(recorded.report)
        return recorded, new

    def on_recorded(self, hook: Callable[[SubmissionReport], None]) -> None:
        """Call `hook(report)` after each service submission is recorded (score passback)."""
        self._on_recorded.append(hook)

    def recorded(self, report: SubmissionReport) -> None:
        """Called once after each service submission is recorded, graded here or by a worker:
        every hook registered with `on_recorded` gets the report as recorded. A hook that fails
        is logged; the submission stays recorded and the other hooks still run."""
        for hook in self._on_recorded:
            try:
                hook(report)
            except Exception:
                log.exception("after recording %s %s: %s failed", report.assignment, report.student, getattr(hook, "__qualname__", hook))

    def used_attempts(self, assignment: str, student: str) -> int:
        """Submissions made: those recorded and those still waiting for a worker."""
        return self.service.count(assignment, student) + (self.jobs.pending_count(assignment, student) if self.dispatcher is not None else 0)

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
