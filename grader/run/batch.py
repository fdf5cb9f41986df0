"""Grading a class folder: `grade_class` reads and grades every submission and writes nothing.

Assignments come from `grader.keys.catalog`: committed answer keys whose problem source is
unchanged are used as they are (the problem set, and torch, are imported only if
follow-through or a hint needs them); other problem files are imported and keyed in memory,
with a note in the run's warnings. One bad file becomes a `BrokenSubmission` and the batch
goes on; a failure of the grader itself (a key that cannot be built, a crash outside a part)
is recorded in the run's errors and makes the exit code 1, as an `error` part does.

With a per-part `budget` (the CLI's default) submissions are graded by grader.run.pool's
killable worker processes, fed with the catalog's keys, so an answer that hangs a check or
eats memory costs that part, not the run. If the pool cannot start, the rest is graded in
this process and the run says so in its warnings.

`grade_directory` is `grader run`: `grade_class`, each report through an optional hook (the
grade store records it and merges manual scores), and grader.run.writer for the files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from grader.course import Course
from grader.keys.catalog import Catalog
from grader.keys.variants import CACHE_FOLDER, VariantGraders
from grader.models import BrokenSubmission, RunSummary, Submission, SubmissionReport, Superseded
from grader.report.files import write_atomic
from grader.report.json_report import write_json
from grader.run.matches import matches_markdown, staff_view
from grader.run.output import UsageError, check_out
from grader.run.writer import RunWriter, feedback_levels
from grader.scoring import AssignmentGrader, describe
from grader.submission import STUDENT_LINE_WARNING, discover, one_per_student, read_submission
from grader.variants.variant import Variant

if TYPE_CHECKING:
    from grader.run.pool import GradingPool

DEFAULT_BUDGET = 2.0  # seconds per part, as grader.run.pool's default
SUBMISSIONS_PER_WORKER = 20
EARLY_POOL_FILES = 100  # a class at least this large starts its pool before reading its files (early_pool)

ReportHook = Callable[[SubmissionReport], SubmissionReport]
OnProgress = Callable[[int, int], None]  # (submissions graded, submissions to grade)
Outcome = SubmissionReport | BrokenSubmission


def load_catalog(problems_dir: Path, reference_dir: Path | None, course: Course | None = None, cache_dir: Path | None = None) -> Catalog:
    """The catalog of a problems folder (and its keys, and the course's assignments), or a
    `UsageError` saying why there is none."""
    problems_dir = Path(problems_dir)
    if not problems_dir.is_dir():
        raise UsageError(f"problem-set folder {problems_dir} does not exist (use --problems DIR)")
    try:
        catalog = Catalog(problems_dir, Path(reference_dir) if reference_dir is not None else None, course, cache_dir)
    except Exception as exc:  # an instructor's file failed to import or to key: nothing can be graded
        raise UsageError(f"could not load the problem sets in {problems_dir}: {describe(exc)}") from exc
    if not catalog.assignments:
        raise UsageError(f"no problem sets found in {problems_dir} (a *.py file defining a ProblemSet)")
    return catalog


class ClassGrading:
    """A class's submissions, read and checked: iterate to grade them.

    `items` holds every file found, by position: a `Submission` to grade or a
    `BrokenSubmission` (unreadable, unknown assignment). Iterating yields `(position,
    outcome)` for every item, in position order, as each is graded; `warnings` and `errors`
    say what went wrong beside the submissions (they grow while grading).
    """

    def __init__(
        self,
        catalog: Catalog,
        items: list[Submission | BrokenSubmission],
        *,
        budget: float | None,
        workers: int | None,
        pool: GradingPool | None = None,
    ) -> None:
        self.catalog = catalog
        self.budget = budget
        self.workers = workers
        self._pool = pool  # started before the class was read (early_pool), else made when grading
        self.warnings: list[str] = list(dict.fromkeys(catalog.notes))
        self.errors: list[str] = list(catalog.errors)
        self._graders: dict[str, AssignmentGrader | VariantGraders | None] = {}
        #: Earlier submissions of students who handed in a later one (grader.submission.one_per_student).
        self.superseded: list[Superseded] = []
        self.items = [self.check(item) if isinstance(item, Submission) else item for item in items]

    @property
    def to_grade(self) -> list[tuple[int, Submission]]:
        return [(i, item) for i, item in enumerate(self.items) if isinstance(item, Submission)]

    def grader_for(self, assignment: str) -> AssignmentGrader | VariantGraders | None:
        if assignment not in self._graders:
            try:
                self._graders[assignment] = self.catalog.grader(assignment)
            except Exception as exc:
                self.errors.append(f"the grader for {assignment!r} could not be set up: {describe(exc)}")
                self._graders[assignment] = None
        return self._graders[assignment]

    def check(self, sub: Submission) -> Submission | BrokenSubmission:
        """The submission, or why it cannot be graded."""
        if sub.assignment not in self.catalog.keys:
            reason = f"unknown assignment {sub.assignment!r}; known: {', '.join(sorted(self.catalog.keys))}"
        elif self.grader_for(sub.assignment) is None:
            reason = "not graded: the grader for this assignment could not be set up (see errors)"
        else:
            return sub
        return BrokenSubmission(source=sub.source, reason=reason, assignment=sub.assignment)

    def keep_variants(self, stored: Mapping[tuple[str, str], Variant]) -> int:
        """Grade each submission whose (assignment, student) has stored numbers against those
        numbers, not freshly dealt ones: a regrade after an upgrade or a change of the draws
        grades against what the student was given. Returns how many submissions keep theirs."""
        kept = 0
        for position, item in enumerate(self.items):
            if isinstance(item, Submission) and (variant := stored.get((item.assignment, item.identity))) is not None:
                self.items[position] = item.model_copy(update={"variant": variant})
                kept += 1
        return kept

    def __iter__(self) -> Iterator[tuple[int, Outcome]]:
        todo = self.to_grade
        graded = self._grade([sub for _, sub in todo])
        pending = dict(todo)
        for position, item in enumerate(self.items):
            if position in pending:
                outcome = next(graded)
                # the course's late policy, from submitted_at: the score every output shows
                yield position, self.catalog.late_report(outcome) if isinstance(outcome, SubmissionReport) else outcome
            else:
                yield position, item  # type: ignore[misc]

    def _grade(self, subs: list[Submission]) -> Iterator[Outcome]:
        """Outcomes of `subs` in order: in the pool under the budget, else (or for what the pool
        could not take) in this process."""
        done = 0
        if self.budget and subs:
            from grader.run.pool import PoolError

            try:
                for outcome in self.grade_isolated(subs):
                    done += 1
                    yield outcome
            except PoolError as exc:
                self.warnings.append(f"isolated grading unavailable ({exc}); the rest was graded in this process, without time limits")
        for sub in subs[done:]:
            yield self.grade_here(sub)

    def grade_here(self, sub: Submission) -> Outcome:
        try:
            grader = self.catalog.grader_for(sub)
            assert grader is not None
            return grader.grade(sub)
        except Exception as exc:  # scoring contains per-part failures already: this is a bug
            return self.failed(sub, f"the grader failed: {describe(exc)}")

    def failed(self, sub: Submission, reason: str) -> BrokenSubmission:
        self.errors.append(f"{sub.source}: {reason}")
        return BrokenSubmission(source=sub.source, reason=reason, assignment=sub.assignment)

    def grade_isolated(self, subs: list[Submission]) -> Iterator[Outcome]:
        """Outcomes in order, each part under the budget in a worker process (grader.run.pool)."""
        from grader.run.pool import GradingPool

        pool, self._pool = self._pool, None
        if pool is None:
            loader = self.catalog.loader({s.assignment for s in subs})
            pool = GradingPool(loader, workers=self.workers or workers_for(len(subs)), budget=self.budget or DEFAULT_BUDGET)
        with pool:
            for outcome, sub in zip(pool.grade(subs), subs):  # the pool's generator first: it runs to its end
                if isinstance(outcome, BrokenSubmission):
                    outcome = outcome.model_copy(update={"assignment": sub.assignment})
                yield outcome


def grade_class(
    root: Path,
    catalog: Catalog,
    *,
    assignment: str | None = None,
    budget: float | None = DEFAULT_BUDGET,
    workers: int | None = None,
    exclude: Iterable[Path] = (),
) -> ClassGrading:
    """Every submission below `root`, read now and graded as the result is iterated; writes nothing.

    `assignment` (`--assignment`) names the assignment of files that do not say, and limits
    nothing else. With a `budget` (seconds per part) submissions are graded in `workers`
    killable processes; `budget=None` (or 0) grades in this process. Raises `UsageError` if
    `root` does not exist or `assignment` is unknown.
    """
    root = Path(root)
    if not root.exists():
        raise UsageError(f"submission folder {root} does not exist")
    if assignment is not None and assignment not in catalog.keys:
        raise UsageError(f"unknown assignment {assignment!r}; known: {', '.join(catalog.assignments)}")
    paths = discover(root, exclude=exclude)
    pool = early_pool(catalog, len(paths), budget, workers)
    try:
        items, superseded = one_per_student([read_submission(path, assignment_override=assignment, root=root) for path in paths], paths)
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    klass = ClassGrading(catalog, items, budget=budget, workers=workers, pool=pool)
    klass.superseded = superseded
    klass.warnings += [f"{sub.source}: {w}" for sub in items if isinstance(sub, Submission) for w in sub.warnings if w.startswith(STUDENT_LINE_WARNING)]
    return klass


def workers_for(submissions: int) -> int:
    """Each worker imports the problem files (and torch) once: a small class needs few."""
    return min(os.cpu_count() or 1, -(-submissions // SUBMISSIONS_PER_WORKER))


def early_pool(catalog: Catalog, files: int, budget: float | None, workers: int | None) -> GradingPool | None:
    """For a large class graded under a budget, the pool started before its files are read, its
    workers importing torch meanwhile when some part has follow-through (in a class this size
    some answer needs it: the first one would otherwise stop that worker for a second of the
    run). None for a class too small to gain from it, or when torch is already imported here
    (the workers then come from a fork server that has its own)."""
    if not budget or files < EARLY_POOL_FILES or "torch" in sys.modules:
        return None
    from grader.run.pool import GradingPool

    follow_through = any(pk.follow_through for key in catalog.keys.values() for pk in key.parts)
    pool = GradingPool(catalog.loader(), workers=workers or workers_for(files), budget=budget, warm=("torch",) if follow_through else ())
    return pool.start()


def grade_directory(
    root: Path,
    out: Path,
    *,
    problems_dir: Path,
    reference_dir: Path | None,
    assignment: str | None = None,
    budget: float | None = DEFAULT_BUDGET,
    workers: int | None = None,
    on_report: ReportHook | None = None,
    progress: OnProgress | None = None,
    course: Course | None = None,
) -> RunSummary:
    """`grader run`: grade every submission below `root` into `out`. Raises `UsageError` if the
    run cannot start. `course` (grader.toml) adds its assignments: other ids for a problem set,
    per-student numbers.

    `on_report` may replace each report before it is written (the grade store merges manual
    scores there); `progress(done, total)` is called as each submission is graded.
    """
    klass = class_folder(
        root, out, problems_dir=problems_dir, reference_dir=reference_dir, assignment=assignment, budget=budget, workers=workers, course=course
    )
    return write_class(klass, out, on_report=on_report, progress=progress, assignment=assignment)


def class_folder(
    root: Path,
    out: Path,
    *,
    problems_dir: Path,
    reference_dir: Path | None,
    assignment: str | None = None,
    budget: float | None = DEFAULT_BUDGET,
    workers: int | None = None,
    course: Course | None = None,
) -> ClassGrading:
    """`grade_class` as the commands call it: the catalog of `problems_dir` and its keys (and
    the course's assignments, variant keys cached in OUT), and every submission below `root`
    except in OUT and the course's own folders."""
    catalog = load_catalog(problems_dir, reference_dir, course, Path(out) / CACHE_FOLDER)
    if Path(root).exists():  # (grade_class says so if it does not)
        check_out(root, out, catalog.keys)
    excluded = [Path(out), Path(problems_dir)] + ([Path(reference_dir)] if reference_dir is not None else [])
    return grade_class(root, catalog, assignment=assignment, budget=budget, workers=workers, exclude=excluded)


def write_class(
    klass: ClassGrading,
    out: Path,
    *,
    outcomes: Iterable[tuple[int, Outcome]] | None = None,
    on_report: ReportHook | None = None,
    progress: OnProgress | None = None,
    assignment: str | None = None,
) -> RunSummary:
    """Write a class's outcomes into OUT (grader.run.writer), each report as soon as it can be:
    `outcomes` are those already graded from `klass`, else `klass` is graded now."""
    writer = RunWriter(out, klass.catalog.keys, assignment, feedback_levels(klass.catalog.course))
    todo = klass.to_grade
    writer.plan(todo)
    planned, done = {i for i, _ in todo}, 0
    for position, outcome in klass if outcomes is None else outcomes:
        if isinstance(outcome, SubmissionReport) and on_report is not None:
            outcome = on_report(outcome)
        writer.add(position, outcome)
        if progress is not None and position in planned:
            done += 1
            progress(done, len(todo))
    summary = writer.finish(RunSummary(warnings=klass.warnings, errors=klass.errors, superseded=klass.superseded))
    write_staff_views(klass, writer, out)
    return summary


def write_staff_views(klass: ClassGrading, writer: RunWriter, out: Path) -> None:
    """For assignments with per-student numbers: OUT/<assignment>/variants.md and .json, the
    students' variant codes and the answers that fit a classmate's numbers (staff only)."""
    for assignment, graders in sorted(klass.catalog.variant_graders().items()):
        graded = [(klass.items[p], o) for p, o in sorted(writer.outcomes.items())
                  if isinstance(o, SubmissionReport) and o.assignment == assignment and isinstance(klass.items[p], Submission)]
        if not graded:
            continue
        view = staff_view(assignment, graded, graders.keys.key_for)  # type: ignore[arg-type]
        folder = Path(out) / assignment
        write_json(view, folder / "variants.json")
        write_atomic(folder / "variants.md", matches_markdown(assignment, view.codes, view.matches), newline=None)


def run_schema() -> dict:
    """JSON schema of OUT/run.json."""
    return RunSummary.model_json_schema()
