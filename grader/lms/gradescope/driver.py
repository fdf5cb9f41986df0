"""Grade one submission inside Gradescope's autograder container and write results.json.

Gradescope unpacks the autograder zip into ROOT/source, puts the student's upload in
ROOT/submission, runs run_autograder and then reads ROOT/results/results.json. A missing or
malformed file shows the student nothing but "the autograder failed", so writing it is
guaranteed by structure, not by care:

* a provisional results.json ("grading did not finish", score 0) is written before anything
  else and refreshed before every part, so even a kill (Gradescope's timeout, out of memory)
  leaves valid JSON holding the parts graded so far;
* grading runs inside try/finally: whatever escapes (a grader crash, a broken upload, a wrong
  assignment, SIGTERM) becomes a results.json with an explanatory top-level output;
* each write goes to a temporary file renamed over results.json, so no reader ever sees half
  a file (grader.lms.gradescope.results).

Grading is the engine's one part loop, with the container's alarm as the per-part guard and a
provisional results.json written after each part.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from pydantic import BaseModel, Field

from grader.course import read_course_file
from grader.keys.catalog import Catalog
from grader.lms.gradescope.results import (
    LAST_RESORT,
    NOT_YOUR_FAULT,
    GradescopeResults,
    GradescopeTest,
    Visibility,
    failure_results,
    not_reached_test,
    part_test,
    results_from_report,
    write_results,
)
from grader.models import BrokenSubmission, PartResult, Submission
from grader.run.guard import Alarm
from grader.scoring import describe
from grader.submission import STUDENT_LINE_WARNING, NoAnswerFile, find_answer_file, read_submission

# -- options ---------------------------------------------------------------------------------------


#: Generous next to `grader run`'s 2 s: Gradescope gives 1/2 vCPU, and the first formula part
#: of a run also pays for loading the parser.
DEFAULT_PART_BUDGET = 10.0


class AutograderConfig(BaseModel):
    """What `grader gradescope` was asked to do (paths default to Gradescope's layout under root)."""

    root: Path = Path("/autograder")
    problems: Path | None = None
    reference: Path | None = None
    assignment: str | None = None
    part_budget: float | None = Field(DEFAULT_PART_BUDGET, description="Seconds per part; None or 0 means no limit.")
    visibility: Visibility = "visible"
    course: Path | None = Field(None, description="The course file (per-student numbers); default source/grader.toml if present.")

    @property
    def course_file(self) -> Path | None:
        found = self.course or self.root / "source" / "grader.toml"
        return found if found.is_file() else None

    @property
    def metadata_path(self) -> Path:
        return self.root / "submission_metadata.json"

    @property
    def submission_dir(self) -> Path:
        return self.root / "submission"

    @property
    def results_path(self) -> Path:
        return self.root / "results" / "results.json"

    @property
    def problems_dir(self) -> Path:
        return self.problems or self.root / "source" / "problems"

    @property
    def reference_dir(self) -> Path:
        return self.reference or self.root / "source" / "reference"


#: The student of an upload whose submission_metadata.json names nobody (a local test run).
UNKNOWN_UPLOADER = "unknown uploader"


class AutograderProblem(Exception):
    """Something the student (or staff) must fix; the message becomes the top-level output."""


# -- reading the upload ------------------------------------------------------------------------

def read_answers(submission_dir: Path, assignment: str, handed_in_by: str | None = None) -> Submission:
    """The submission in the upload, for `assignment`, as handed in by `handed_in_by` (the
    uploader's account); an upload without one answer file, an unreadable file or one written
    for another assignment is an `AutograderProblem` the student can act on."""
    try:
        path = find_answer_file(submission_dir)
    except NoAnswerFile as exc:
        raise AutograderProblem(str(exc)) from None
    # A file without an assignment line is for this one; one naming another is not graded as this.
    sub = read_submission(path, root=submission_dir, assignment_default=assignment, handed_in_by=handed_in_by or UNKNOWN_UPLOADER)
    if isinstance(sub, BrokenSubmission):
        raise AutograderProblem(f"Your answer file {path.name} could not be read: {sub.reason}.")
    if handed_in_by is None:  # no metadata (a local test run): nobody to compare the student line with
        sub = sub.model_copy(update={"warnings": [w for w in sub.warnings if not w.startswith(STUDENT_LINE_WARNING)]})
    if sub.assignment.strip().lower() != assignment.lower():
        raise AutograderProblem(
            f"Your file {path.name} says assignment = {sub.assignment!r}, but this Gradescope assignment grades "
            f"{assignment!r}. Upload your answers for {assignment}, or correct the assignment line."
        )
    return sub.model_copy(update={"assignment": assignment})


# -- the container's signals -----------------------------------------------------------------------


class Terminated(BaseException):
    """SIGTERM arrived (the container is being stopped): unwind so the final write happens."""


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Turn SIGTERM into an exception for the duration, so try/finally still writes the results."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- the run ---------------------------------------------------------------------------------------

STARTED = f"The autograder started but did not finish (it was stopped, ran out of time or of memory). {NOT_YOUR_FAULT}"


def upload_identity(metadata: Path, roster: Path | None = None) -> str | None:
    """Who uploaded: Gradescope's submission_metadata.json names the account (`users`). With a
    roster, the roster's student id of the entry with that email or student id; else the
    account's student id (sid), else its email."""
    try:
        users = json.loads(metadata.read_text(encoding="utf-8")).get("users") or []
    except (OSError, ValueError, AttributeError):
        return None
    user = users[0] if users and isinstance(users[0], dict) else {}
    sid, email = str(user.get("sid") or "").strip(), str(user.get("email") or "").strip().lower()
    if roster is not None and roster.is_file():
        from grader.lms.roster import read_roster

        for student, entry in read_roster(roster).items():
            if (email and (entry.email or "").lower() == email) or (sid and student == sid):
                return student
    return sid or email or None


def upload_time(metadata: Path) -> datetime | None:
    """When the submission was handed in: submission_metadata.json's `created_at` (ISO 8601)."""
    try:
        created = json.loads(metadata.read_text(encoding="utf-8")).get("created_at")
        return datetime.fromisoformat(str(created).strip().replace("Z", "+00:00")) if created else None
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def choose_assignment(known: list[str], assignment: str | None) -> str:
    if assignment:
        if assignment not in known:
            raise AutograderProblem(
                f"The autograder is misconfigured: it has no problem set {assignment!r} "
                f"(it has: {', '.join(known) or 'none'}). {NOT_YOUR_FAULT}"
            )
        return assignment
    if len(known) == 1:
        return known[0]
    raise AutograderProblem(f"The autograder is misconfigured: {len(known)} problem sets and no --assignment. {NOT_YOUR_FAULT}")


def grade_upload(cfg: AutograderConfig, progress: Callable[[GradescopeResults], None]) -> GradescopeResults:
    """Grade the upload in cfg.root/submission; `progress` receives provisional results before
    the first part and after each one."""
    # The committed key is graded from directly: the problem set (and torch, ~200 MB) is
    # imported only if follow-through needs it.
    course = read_course_file(cfg.course_file) if cfg.course_file is not None else None
    catalog = Catalog(cfg.problems_dir, cfg.reference_dir, course, cfg.root / "cache")
    if catalog.errors and not catalog.assignments:
        raise AutograderProblem(f"The autograder is misconfigured: {'; '.join(catalog.errors)} {NOT_YOUR_FAULT}")
    assignment = choose_assignment(catalog.assignments, cfg.assignment)
    key = catalog.keys[assignment]
    notes = catalog.notes + catalog.errors
    # Who it is, and when it was handed in, are Gradescope's (the uploader's account, the
    # submission's created_at), never the file's student and submitted_at lines.
    who = upload_identity(cfg.metadata_path, course.assignment(assignment).roster if course else None)
    if who is None and assignment in catalog.variants:  # per-student numbers need the uploader
        raise AutograderProblem(f"The autograder could not tell who uploaded this submission, so it cannot pick your numbers. {NOT_YOUR_FAULT}")
    sub = read_answers(cfg.submission_dir, assignment, handed_in_by=who)
    created = upload_time(cfg.metadata_path)
    if created is not None:
        sub = sub.model_copy(update={"submitted_at": created})
    grader = catalog.grader_for(sub)
    assert grader is not None
    manual = [p.manual for p in key.parts]
    done: list[GradescopeTest] = []  # grown one part at a time: each snapshot is then cheap
    todo = [not_reached_test(p.id, p.kind, p.marks, cfg.visibility) for p in key.parts]

    def snapshot(index: int = -1, result: PartResult | None = None, ctx: Any = None) -> None:
        """What a kill from now on would leave behind."""
        if result is not None:
            done.append(part_test(result, manual[index], cfg.visibility))
        progress(failure_results(STARTED, cfg.visibility, done + todo[len(done):]))

    snapshot()
    alarm = Alarm(cfg.part_budget)
    grader.source.setup = alarm.setup  # importing the problem set and torch for follow-through is not the part's time
    report = catalog.late_report(grader.grade(sub, guard=alarm, on_part=snapshot))
    return results_from_report(report, key, cfg.visibility, notes)


def explain(exc: BaseException) -> str:
    if isinstance(exc, AutograderProblem):
        return str(exc)
    if isinstance(exc, Terminated):
        return f"The autograder was stopped before it finished. {NOT_YOUR_FAULT}"
    return f"The autograder itself failed ({describe(exc)[:500]}). {NOT_YOUR_FAULT}"


def run(cfg: AutograderConfig) -> GradescopeResults:
    """Grade and write cfg.root/results/results.json, whatever happens. Returns what was written."""
    started = time.monotonic()
    latest = failure_results(STARTED, cfg.visibility)

    def progress(results: GradescopeResults) -> None:
        nonlocal latest
        latest = results
        write_results(results, cfg.results_path)

    final = latest
    try:
        progress(latest)  # before anything can fail: a kill from here on leaves valid JSON
        with sigterm_unwinds():
            final = grade_upload(cfg, progress)
    except BaseException as exc:  # noqa: BLE001 - every failure must end in a results.json
        if not isinstance(exc, AutograderProblem):
            traceback.print_exc(file=sys.stderr)  # Gradescope keeps stdout/stderr for staff
        final = failure_results(explain(exc), cfg.visibility, latest.tests)
        if latest.tests:
            final.output += "\nParts graded before the failure keep their marks; the others show 'Not graded'."
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
    finally:
        final.execution_time = max(0, math.ceil(time.monotonic() - started))
        try:
            write_results(final, cfg.results_path)
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            cfg.results_path.parent.mkdir(parents=True, exist_ok=True)
            cfg.results_path.write_text(json.dumps(LAST_RESORT) + "\n", encoding="utf-8")
    return final
