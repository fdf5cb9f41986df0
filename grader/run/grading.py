"""The engine for drivers that grade one submission at a time: a web service, a queue worker,
an LMS connector. One object, three calls:

    grading = Grading(catalog)                       # keeps a worker pool warm
    report = grading.grade(grading.submission("csc321-hw4", student, answers, source="web"))
    future = grading.submit(sub, on_part=...)        # without blocking: asyncio.wrap_future(future)
    reading = grading.read("csc321-hw4", "q2a", "1 2; 3 4")   # how an answer is read, no grading

The identity (assignment, student, source) is the caller's, from where the submission was
handed in, never from the answers. With a budget, every submission goes through the same
limited pool of killable workers as `grader run` (grader.run.pool); without one it is graded
in this process, on a worker thread for `submit`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from grader.keys.catalog import Catalog
from grader.models import BrokenSubmission, PartResult, Submission, SubmissionReport
from grader.run.pool import DEFAULT_BUDGET, GradingPool
from grader.scoring import Reading

Outcome = SubmissionReport | BrokenSubmission


class Grading:
    def __init__(self, catalog: Catalog, *, budget: float | None = DEFAULT_BUDGET, workers: int = 1, cache: bool = True) -> None:
        self.catalog = catalog
        self.pool = GradingPool(catalog.loader(), workers=workers, budget=budget, cache=cache) if budget else None
        self._local: ThreadPoolExecutor | None = None

    def __enter__(self) -> "Grading":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        if self._local is not None:
            self._local.shutdown()

    @staticmethod
    def submission(
        assignment: str, student: str, answers: Mapping[str, Any], *, source: str, submitted_at: datetime | None = None
    ) -> Submission:
        """A submission from its answers (part id -> answer as typed) and the caller's identity."""
        return Submission(assignment=assignment, student=student, answers=dict(answers), source=source, submitted_at=submitted_at)

    def submit(self, sub: Submission, on_part: Callable[[int, PartResult], None] | None = None) -> Future[Outcome]:
        """Grade `sub` without waiting; `on_part(index, result)` reports progress (from another thread)."""
        if sub.assignment not in self.catalog.keys:
            done: Future[Outcome] = Future()
            done.set_result(self._unknown(sub))
            return done
        if self.pool is not None:
            return self._late(self.pool.submit(sub, on_part))
        if self._local is None:
            self._local = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grader-local")
        return self._late(self._local.submit(self._grade_here, sub, on_part))

    def _late(self, graded: Future[Outcome]) -> Future[Outcome]:
        """The outcome with the course's late policy applied (catalog.late_report), as `grader run` does."""
        if self.catalog.course is None:
            return graded
        out: Future[Outcome] = Future()

        def done(f: Future[Outcome]) -> None:
            if out.cancelled():
                return
            if f.cancelled():
                out.cancel()
                out.set_running_or_notify_cancel()
            elif f.exception() is not None:
                out.set_exception(f.exception())  # type: ignore[arg-type]
            else:
                result = f.result()
                out.set_result(self.catalog.late_report(result) if isinstance(result, SubmissionReport) else result)

        graded.add_done_callback(done)
        out.add_done_callback(lambda o: graded.cancel() if o.cancelled() else None)
        return out

    def grade(self, sub: Submission) -> Outcome:
        """Grade `sub` and wait for the outcome."""
        return self.submit(sub).result()

    def read(self, assignment: str, part_id: str, raw: Any) -> Reading:
        """How `raw` is read as an answer to `part_id`: "ok" with its canonical echo, or "invalid"
        / "missing" with a message; never graded. LookupError for an unknown assignment or part."""
        grader = self.catalog.grader(assignment)
        if grader is None:
            raise LookupError(f"no assignment {assignment!r}")
        return grader.read(part_id, raw)

    def _grade_here(self, sub: Submission, on_part: Callable[[int, PartResult], None] | None) -> Outcome:
        grader = self.catalog.grader_for(sub)
        assert grader is not None
        return grader.grade(sub, on_part=None if on_part is None else lambda i, result, ctx: on_part(i, result))

    def _unknown(self, sub: Submission) -> BrokenSubmission:
        known = ", ".join(self.catalog.assignments)
        return BrokenSubmission(source=sub.source, reason=f"unknown assignment {sub.assignment!r}; known: {known}", assignment=sub.assignment)
