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
  a file; every write is validated against `GradescopeResults`, a model of Gradescope's format.

Marks: one Gradescope test per question part (`number` = part id). Free-text parts are listed
with score 0 and max_score = their marks, tagged `manual`, "Pending: graded by course staff".
The top-level score is the sum of the auto-graded parts only: set the assignment's autograder
points to the auto-graded total and grade the written parts as Gradescope manual questions.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Iterator, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from grader import __version__
from grader.models import PartResult, Status, Submission, SubmissionReport
from grader.models import AnswerKey

# -- Gradescope's results.json, as a model ---------------------------------------------------------

Visibility = Literal["hidden", "after_due_date", "after_published", "visible"]
TextFormat = Literal["text", "html", "simple_format", "md", "ansi"]

#: Longest text we put in one field: a report is for reading, not for storing a 1 MB answer.
TEXT_LIMIT = 20_000


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text every JSON reader accepts: lone surrogates (undecodable bytes) replaced, NULs shown, capped."""
    text = _SURROGATE.sub("\ufffd", text).replace("\x00", "\\0")
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT] + f"\n… (cut: {len(text)} characters)"
    return text


SafeText = Annotated[str, AfterValidator(clean_text)]
Points = Annotated[float, Field(allow_inf_nan=False)]


class GradescopeTest(BaseModel):
    """One entry of `tests`: here, one question part."""

    model_config = ConfigDict(extra="forbid")

    score: Points | None = None
    max_score: Points | None = None
    status: Literal["passed", "failed"] | None = None
    name: SafeText = ""
    name_format: TextFormat = "text"
    number: str | None = None
    output: SafeText = ""
    output_format: TextFormat = "text"
    tags: list[str] = Field(default_factory=list)
    visibility: Visibility = "visible"
    extra_data: dict[str, Any] = Field(default_factory=dict)


class GradescopeResults(BaseModel):
    """The whole results.json. Field names are Gradescope's; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    score: Points | None = None
    execution_time: int | None = Field(None, ge=0, description="Seconds.")
    output: SafeText = ""
    output_format: TextFormat = "text"
    test_output_format: TextFormat = "text"
    test_name_format: TextFormat = "text"
    visibility: Visibility = "visible"
    stdout_visibility: Visibility = "hidden"
    extra_data: dict[str, Any] = Field(default_factory=dict)
    tests: list[GradescopeTest] = Field(default_factory=list)


def write_results(results: GradescopeResults, path: Path) -> None:
    """Validate, then replace `path` atomically (temporary file in the same folder + rename)."""
    data = GradescopeResults.model_validate(results.model_dump()).model_dump(mode="json", exclude_none=True)
    # No indent: the C encoder is ~10x faster, which matters as the file is rewritten per part.
    text = json.dumps(data, ensure_ascii=False, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Written (raw, no model) only if even validating or serialising our own results failed.
LAST_RESORT = {"score": 0.0, "output": "The autograder failed before it could report. This is not your fault: please tell course staff.", "tests": []}


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


class AutograderProblem(Exception):
    """Something the student (or staff) must fix; the message becomes the top-level output."""


# -- finding and reading the upload ----------------------------------------------------------------

def _uploaded(folder: Path) -> list[str]:
    """Names of the uploaded files (for messages), hidden files and macOS zip debris left out."""
    names = []
    for here, dirs, files in os.walk(folder):  # symlinked folders are not followed
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        names += [(Path(here) / f).relative_to(folder).as_posix() for f in sorted(files) if not f.startswith(".")]
    return names


def find_answer_file(submission_dir: Path) -> Path:
    """The answer file in an upload: an `answers.*` (the shallowest), else the only *.toml|yaml|yml|json."""
    from grader.submission import ANSWER_NAMES, discover

    if not submission_dir.is_dir():
        raise AutograderProblem(f"No submission folder was found ({submission_dir}). Please resubmit.")
    found = [p for p in discover(submission_dir) if "__MACOSX" not in p.relative_to(submission_dir).parts]
    named = [p for p in found if p.name.lower() in ANSWER_NAMES]
    if named:
        return min(named, key=lambda p: (len(p.relative_to(submission_dir).parts), ANSWER_NAMES.index(p.name.lower())))
    if len(found) == 1:
        return found[0]
    if not found:
        shown = ", ".join(_uploaded(submission_dir)[:20]) or "nothing"
        raise AutograderProblem(
            "No answer file was found in your submission. Upload answers.toml "
            f"(answers.yaml and answers.json are also accepted). You uploaded: {shown}."
        )
    shown = ", ".join(p.relative_to(submission_dir).as_posix() for p in found[:20])
    raise AutograderProblem(f"Your submission has several possible answer files ({shown}). Upload one file, or name it answers.toml.")


def read_answers(path: Path, assignment: str, root: Path) -> Submission:
    """The submission in `path`, for `assignment`; an unreadable file or one written for another
    assignment is an `AutograderProblem` the student can act on."""
    from grader.models import BrokenSubmission
    from grader.submission import read_submission

    # First as written: a file that names another assignment must not be graded as this one.
    sub = read_submission(path, root=root)
    if isinstance(sub, BrokenSubmission) and sub.assignment is None:
        sub = read_submission(path, root=root, assignment_override=assignment)  # no assignment line is fine
    if isinstance(sub, BrokenSubmission):
        raise AutograderProblem(f"Your answer file {path.name} could not be read: {sub.reason}.")
    if sub.assignment.strip().lower() != assignment.lower():
        raise AutograderProblem(
            f"Your file {path.name} says assignment = {sub.assignment!r}, but this Gradescope assignment grades "
            f"{assignment!r}. Upload your answers for {assignment}, or correct the assignment line."
        )
    return sub.model_copy(update={"assignment": assignment})


# -- a per-part time budget ------------------------------------------------------------------------


class PartTimeout(BaseException):
    """Raised in the main thread when a part overruns its budget (a BaseException, so the
    per-part `except Exception` in scoring does not swallow it)."""


class Terminated(BaseException):
    """SIGTERM arrived (the container is being stopped): unwind so the final write happens."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after `seconds` (SIGALRM; main thread on POSIX only, else no limit).

    Python code is interrupted between bytecodes; a single long C call finishes first. The
    provisional results.json covers the rest (a kill still leaves the parts graded so far)."""
    usable = seconds and seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise PartTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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


# -- report -> results.json ------------------------------------------------------------------------

PENDING = "Pending: graded by course staff."
NOT_REACHED = "Not graded: the autograder stopped before it reached this part."
STATUS_WORDS = {
    Status.correct: "correct",
    Status.partial: "partly correct",
    Status.incorrect: "incorrect",
    Status.invalid: "unreadable",
    Status.missing: "missing",
    Status.manual: "awaiting staff",
    Status.error: "grader error",
}


def _answer_lines(result: PartResult) -> str:
    lines = []
    if result.answer is not None:
        sep = "\n" if "\n" in result.answer.strip() else " "
        lines.append(f"Your answer:{sep}{result.answer.strip()}")
    if result.canonical and result.canonical.strip() != (result.answer or "").strip():
        sep = "\n" if "\n" in result.canonical else " "
        lines.append(f"Read as:{sep}{result.canonical}")
    return "\n".join(lines)


def part_test(result: PartResult, manual: bool, visibility: Visibility) -> GradescopeTest:
    """One part's verdict as a Gradescope test."""
    name = f"{result.id} ({result.kind})" if result.kind else result.id
    tags = [result.kind] if result.kind else []
    if manual:
        tags.append("manual")
        if result.status is Status.manual:  # answered: nothing for the autograder to object to
            head, status, tags = PENDING, "passed", tags + ["pending"]
        else:
            head, status, tags = f"{result.feedback} This written part is graded by course staff.", "failed", tags + [result.status.value]
    else:
        head, status, tags = result.feedback, ("passed" if result.status is Status.correct else "failed"), tags + [result.status.value]
    output = "\n\n".join(t for t in (head.strip(), _answer_lines(result)) if t)
    return GradescopeTest(
        score=0.0 if manual else result.score,
        max_score=result.max_score,
        status=status,  # type: ignore[arg-type]
        name=name,
        number=result.id,
        output=output,
        tags=tags,
        visibility=visibility,
    )


def not_reached_test(part_id: str, kind: str, marks: float, visibility: Visibility) -> GradescopeTest:
    return GradescopeTest(
        score=0.0, max_score=marks, status="failed", name=f"{part_id} ({kind})", number=part_id,
        output=NOT_REACHED, tags=[kind, "not-graded"], visibility=visibility,
    )


def _marks(x: float) -> str:
    return f"{x:g}"


def marks_total(values: Iterable[float]) -> float:
    """A sum of marks without float dust (30 × 0.4 is 12, not 12.000000000000002)."""
    return round(math.fsum(values), 6)


def summary(key: AnswerKey, results: list[PartResult], warnings: list[str], source: str | None) -> str:
    """The top-level output: the score, what is left to course staff, and anything odd."""
    parts = {p.id: p for p in key.parts}
    manual_ids = [p.id for p in key.parts if p.manual]
    auto_max = marks_total(p.marks for p in key.parts if not p.manual)
    auto_score = marks_total(r.score for r in results if not parts[r.id].manual)
    lines = [f"{key.title} ({key.assignment})", f"Auto-graded: {_marks(round(auto_score, 4))} / {_marks(auto_max)} marks."]
    counts: dict[Status, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines.append("Parts: " + ", ".join(f"{n} {STATUS_WORDS[s]}" for s, n in counts.items()) + ".")
    if manual_ids:
        manual_max = marks_total(parts[i].marks for i in manual_ids)
        lines.append(
            f"Written parts ({', '.join(manual_ids)}; {_marks(manual_max)} marks) are graded by course staff "
            "and show 0 here until then."
        )
    errors = [r.id for r in results if r.status is Status.error]
    if errors:
        lines.append(f"The grader itself failed on {', '.join(errors)}: not your mistake; course staff will look at it.")
    if source:
        lines.append(f"Answers read from {Path(source).name}.")
    lines += [f"Warning: {w}" for w in warnings]
    return "\n".join(lines)


def results_from_report(report: SubmissionReport, key: AnswerKey, visibility: Visibility = "visible", notes: list[str] | None = None) -> GradescopeResults:
    """A finished report as results.json."""
    parts = {p.id: p for p in key.parts}
    tests = [part_test(r, parts[r.id].manual, visibility) for r in report.parts]
    auto = [r for r in report.parts if not parts[r.id].manual]
    return GradescopeResults(
        score=marks_total(r.score for r in auto),
        output=summary(key, report.parts, report.warnings, report.source),
        visibility=visibility,
        tests=tests,
        extra_data={
            "assignment": report.assignment,
            "student": report.student,
            "auto_max_score": marks_total(p.marks for p in key.parts if not p.manual),
            "manual_max_score": marks_total(p.marks for p in key.parts if p.manual),
            "statuses": {r.id: r.status.value for r in report.parts},
            "key_hash": report.key_hash,
            "grader_version": report.grader_version,
            "notes": notes or [],
        },
    )


def failure_results(message: str, visibility: Visibility = "visible", tests: list[GradescopeTest] | None = None) -> GradescopeResults:
    """A results.json for a run that could not finish: the auto-graded parts done so far (if
    any) still count, and the output says why the rest is missing."""
    tests = tests or []
    done = [t for t in tests if "manual" not in t.tags and "not-graded" not in t.tags]
    return GradescopeResults(
        score=marks_total(t.score or 0.0 for t in done),
        output=message,
        visibility=visibility,
        tests=tests,
        extra_data={"grader_version": __version__, "failed": True},
    )


# -- the run ---------------------------------------------------------------------------------------

STARTED = "The autograder started but did not finish (it was stopped, ran out of time or of memory). This is not your fault: please tell course staff."


def choose_assignment(known: list[str], assignment: str | None) -> str:
    if assignment:
        if assignment not in known:
            raise AutograderProblem(
                f"The autograder is misconfigured: it has no problem set {assignment!r} "
                f"(it has: {', '.join(known) or 'none'}). This is not your fault: please tell course staff."
            )
        return assignment
    if len(known) == 1:
        return known[0]
    raise AutograderProblem(
        f"The autograder is misconfigured: {len(known)} problem sets and no --assignment. "
        "This is not your fault: please tell course staff."
    )


def _timeout_result(grader: Any, index: int, raw: Any, budget: float) -> PartResult:
    # Worded and classed as `grader run` does (grader.isolation): an answer too costly to check.
    return grader.graders[index].result(
        Status.invalid, 0.0,
        f"Too complex to check within {budget:g} s: checking this answer was stopped. Write it in a simpler form.",
        raw,
    )


def grade_upload(cfg: AutograderConfig, progress: Callable[[GradescopeResults], None]) -> GradescopeResults:
    """Grade the upload in cfg.root/submission; `progress` receives provisional results before
    the first part and after each one."""
    from grader.keys.catalog import Catalog
    from grader.scoring import GradingContext

    # The committed key is graded from directly: the problem set (and torch, ~200 MB) is
    # imported only if follow-through needs it.
    catalog = Catalog(cfg.problems_dir, cfg.reference_dir)
    if catalog.errors and not catalog.assignments:
        raise AutograderProblem("The autograder is misconfigured: " + "; ".join(catalog.errors) + " This is not your fault: please tell course staff.")
    assignment = choose_assignment(catalog.assignments, cfg.assignment)
    key = catalog.keys[assignment]
    grader = catalog.grader(assignment)
    assert grader is not None
    notes = catalog.notes + catalog.errors
    path = find_answer_file(cfg.submission_dir)
    sub = read_answers(path, assignment, cfg.submission_dir)
    ctx = GradingContext()
    parts = key.parts
    results: list[PartResult] = []

    done: list[GradescopeTest] = []  # grown one part at a time: each snapshot is then cheap
    todo_all = [not_reached_test(p.id, p.kind, p.marks, cfg.visibility) for p in parts]

    def snapshot() -> None:  # what a kill from now on would leave behind
        done.extend(part_test(r, parts[j].manual, cfg.visibility) for j, r in enumerate(results[len(done):], len(done)))
        todo = todo_all[len(results):]
        progress(failure_results(STARTED, cfg.visibility, done + todo))

    snapshot()
    for i, part in enumerate(parts):
        try:
            with time_limit(cfg.part_budget):
                result = grader.grade_part(i, sub, ctx)
        except PartTimeout:
            ctx.parsed.pop(part.id, None)  # half-graded: never a basis for follow-through
            result = _timeout_result(grader, i, sub.answers.get(part.id), cfg.part_budget or 0)
        results.append(result)
        snapshot()
    report = grader.assemble(sub, results)
    return results_from_report(report, key, cfg.visibility, notes)


def explain(exc: BaseException) -> str:
    if isinstance(exc, AutograderProblem):
        return str(exc)
    if isinstance(exc, Terminated):
        return "The autograder was stopped before it finished. This is not your fault: please tell course staff."
    reason = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return f"The autograder itself failed ({reason[:500]}). This is not your fault: please tell course staff."


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
