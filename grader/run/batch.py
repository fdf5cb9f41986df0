"""`grader run`: grade every submission below a class folder and write the reports.

Assignments come from `grader.catalog`: committed answer keys whose problem source is
unchanged are used as they are (the problem set, and torch, are imported only if
follow-through or a hint needs them); other problem files are imported and keyed in memory,
with a note in the run's warnings. One bad file becomes a `BrokenSubmission` and the batch goes on;
a failure of the grader itself (a key that cannot be built, a crash outside a part) is
recorded in `RunSummary.errors` and makes the exit code 1, as an `error` part does.

With a per-part `budget` (the CLI's default) submissions are graded by `grader.isolation`'s
pool of killable worker processes, fed with the keys built here, so an answer that hangs a
check or eats memory costs that part, not the run. If the pool cannot start, the rest is
graded in this process and the run says so in its warnings.

Outputs are a pure function of the inputs: sorted submissions, no timestamps or durations,
paths relative to the class folder and OUT, stable number formatting. Two runs over the same
files are byte-identical; timings are printed by the CLI, never written.

    OUT/run.json                        counts, broken files with reasons, warnings, errors
    OUT/<assignment>/<student>.json     per-submission report (the LMS contract)
    OUT/<assignment>/<student>.md       the same for the student to read
    OUT/<assignment>/gradebook.csv      one row per submission
    OUT/<assignment>/summary.md         class statistics and common wrong answers
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from grader.models import AnswerKey
from grader.models import AssignmentSummary, BrokenSubmission, ReportEntry, RunSummary, Status, Submission, SubmissionReport
from grader.keys.catalog import Catalog
from grader.report.gradebook import write_gradebook
from grader.report.json_report import write_json, write_report
from grader.report.markdown import write_markdown
from grader.report.summary import PartInfo, class_stats, write_summary
from grader.scoring import AssignmentGrader
from grader.submission import discover, read_submission

RUN_FILE = "run.json"
# Names the per-assignment folder already uses; a student called "summary" must not clobber them.
RESERVED_NAMES = frozenset({"gradebook", "summary", "run"})
MAX_NAME = 80
MAX_RUN_FILE_BYTES = 16 * 1024 * 1024

DEFAULT_BUDGET = 2.0  # seconds per part, as grader.isolation's default
SUBMISSIONS_PER_WORKER = 20

ReportHook = Callable[[SubmissionReport], SubmissionReport]
Outcome = SubmissionReport | BrokenSubmission


class UsageError(Exception):
    """The run cannot start (no such folder, no problem sets...): exit code 2."""


def safe_name(student: str) -> str:
    """A file name for a student id: no separators, no leading dot, bounded length."""
    name = re.sub(r"[^\w.-]", "_", student).lstrip(".")[:MAX_NAME]
    return name or "student"


def assign_file_names(reports: Sequence[SubmissionReport | Submission]) -> list[str]:
    """One distinct file stem per report, in the given (sorted) order.

    The first of several submissions by one student (or of ids equal after sanitising, or
    equal but for case, for case-insensitive disks) keeps the plain name; later ones get
    `~2`, `~3`... `~` never survives `safe_name`, so these cannot collide with a real id.
    """
    taken = set(RESERVED_NAMES)
    names = []
    for report in reports:
        base = safe_name(report.student)
        name, k = base, 1
        while name.lower() in taken:
            k += 1
            name = f"{base}~{k}"
        taken.add(name.lower())
        names.append(name)
    return names


def _load_catalog(problems_dir: Path, reference_dir: Path | None) -> Catalog:
    problems_dir = Path(problems_dir)
    if not problems_dir.is_dir():
        raise UsageError(f"problem-set folder {problems_dir} does not exist (use --problems DIR)")
    try:
        catalog = Catalog(problems_dir, reference_dir)
    except Exception as exc:  # an instructor's file failed to import or to key: nothing can be graded
        raise UsageError(f"could not load the problem sets in {problems_dir}: {_reason(exc)}") from exc
    if not catalog.assignments:
        raise UsageError(f"no problem sets found in {problems_dir} (a *.py file defining a ProblemSet)")
    return catalog


class _Run:
    """State of one run: the catalog of assignments, graders built on demand, what went wrong."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.keys = catalog.keys
        self.graders: dict[str, AssignmentGrader | None] = {}
        self.summary = RunSummary(warnings=list(dict.fromkeys(catalog.notes)), errors=list(catalog.errors))

    def grader_for(self, assignment: str) -> AssignmentGrader | None:
        if assignment not in self.graders:
            try:
                self.graders[assignment] = self.catalog.grader(assignment)
            except Exception as exc:
                self.summary.errors.append(f"the grader for {assignment!r} could not be set up: {_reason(exc)}")
                self.graders[assignment] = None
        return self.graders[assignment]

    def check(self, sub: Submission) -> BrokenSubmission | None:
        """Why this submission cannot be graded, if it cannot."""
        if sub.assignment not in self.keys:
            reason = f"unknown assignment {sub.assignment!r}; known: {', '.join(sorted(self.keys))}"
        elif self.grader_for(sub.assignment) is None:
            reason = "not graded: the grader for this assignment could not be set up (see errors)"
        else:
            return None
        return BrokenSubmission(source=sub.source, reason=reason, assignment=sub.assignment)

    def grade_here(self, sub: Submission) -> Outcome:
        grader = self.graders[sub.assignment]
        assert grader is not None
        try:
            return grader.grade(sub)
        except Exception as exc:  # scoring contains per-part failures already: this is a bug
            return self.failed(sub, f"the grader failed: {_reason(exc)}")

    def failed(self, sub: Submission, reason: str) -> BrokenSubmission:
        self.summary.errors.append(f"{sub.source}: {reason}")
        return BrokenSubmission(source=sub.source, reason=reason, assignment=sub.assignment)

    def grade_isolated(self, subs: list[Submission], budget: float, workers: int | None) -> Iterator[Outcome]:
        """Outcomes in order, each part under `budget` seconds in a worker process (grader.isolation)."""
        from grader.run.pool import GradingPool

        loader = self.catalog.loader({s.assignment for s in subs})
        # Each worker imports the problem files (and torch) once: a small class needs few.
        n = workers or min(os.cpu_count() or 1, -(-len(subs) // SUBMISSIONS_PER_WORKER))
        with GradingPool(loader, workers=n, budget=budget) as pool:
            for outcome, sub in zip(pool.grade(subs), subs):  # the pool's generator first: it runs to its end
                if isinstance(outcome, BrokenSubmission):
                    outcome = outcome.model_copy(update={"assignment": sub.assignment})
                yield outcome


def _reason(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


@contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar on a terminal; nothing at all otherwise (logs, pipes, tests)."""
    if not (enabled and total and sys.stdout.isatty()):
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("grading", total=total)
        yield lambda: bar.advance(task)


def _previous_files(out: Path) -> set[str]:
    """Report files the previous run in OUT wrote (from its run.json), to clear stale ones."""
    path = out / RUN_FILE
    try:
        if not path.is_file() or path.stat().st_size > MAX_RUN_FILE_BYTES:
            return set()
        old = RunSummary.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return set()
    files = set()
    for entry in old.reports:
        rel = Path(entry.file)
        if rel.is_absolute() or ".." in rel.parts or rel.suffix != ".json":
            continue  # only ever delete what a run of ours wrote inside OUT
        files |= {rel.as_posix(), rel.with_suffix(".md").as_posix()}
    return files


def grade_directory(
    root: Path,
    out: Path,
    *,
    problems_dir: Path,
    reference_dir: Path | None,
    assignment: str | None = None,
    progress: bool = True,
    budget: float | None = DEFAULT_BUDGET,
    workers: int | None = None,
    on_report: ReportHook | None = None,
) -> RunSummary:
    """Grade every submission below `root` into `out`. Raises `UsageError` if the run cannot start.

    `assignment` (`--assignment`) names the assignment of files that do not say, and limits
    nothing else. With a `budget` (seconds per part) submissions are graded in `workers`
    killable processes (grader.isolation), so an answer that hangs a check or eats memory
    costs that part, not the run; `budget=None` (or 0) grades in this process. `on_report`
    may replace each report before it is written (the grade store merges manual scores there).
    """
    root, out = Path(root), Path(out)
    if not root.exists():
        raise UsageError(f"submission folder {root} does not exist")
    catalog = _load_catalog(problems_dir, Path(reference_dir) if reference_dir is not None else None)
    if assignment is not None and assignment not in catalog.keys:
        raise UsageError(f"unknown assignment {assignment!r}; known: {', '.join(catalog.assignments)}")
    run = _Run(catalog)
    summary = run.summary

    excluded = [out, Path(problems_dir)] + ([Path(reference_dir)] if reference_dir is not None else [])
    outcomes: list[Outcome] = []
    todo: list[tuple[int, Submission]] = []
    for path in discover(root, exclude=excluded):
        item = read_submission(path, assignment_override=assignment, root=root)
        outcome = run.check(item) if isinstance(item, Submission) else item
        if outcome is None:
            todo.append((len(outcomes), item))  # type: ignore[arg-type]
        outcomes.append(outcome or item)  # a placeholder until graded

    # Each report is finished (store hook) and written as soon as it is graded, so this
    # process works while the pool grades; file names are fixed up front from the submissions.
    names = _file_names(todo)
    prewritten: set[str] = set()

    def finish(i: int, outcome: Outcome) -> None:
        if isinstance(outcome, SubmissionReport):
            outcome = on_report(outcome) if on_report is not None else outcome
            rel = f"{outcome.assignment}/{names[i]}"
            _write_report_files(outcome, out / rel)
            prewritten.add(rel)
        outcomes[i] = outcome

    with _progress_bar(progress, len(todo)) as advance:
        remaining = list(todo)
        if budget and remaining:
            from grader.run.pool import PoolError

            try:
                isolated = run.grade_isolated([s for _, s in todo], budget, workers)
                for outcome, (i, _sub) in zip(isolated, todo):
                    finish(i, outcome)
                    remaining.pop(0)
                    advance()
            except PoolError as exc:
                summary.warnings.append(f"isolated grading unavailable ({exc}); the rest was graded in this process, without time limits")
        for i, sub in remaining:
            finish(i, run.grade_here(sub))
            advance()

    graded: dict[str, list[SubmissionReport]] = {}
    for outcome in outcomes:
        if isinstance(outcome, BrokenSubmission):
            summary.broken.append(outcome)
        elif isinstance(outcome, SubmissionReport):
            graded.setdefault(outcome.assignment, []).append(outcome)
    _write_outputs(out, catalog.keys, graded, summary, assignment, prewritten)
    return summary


def _file_names(todo: list[tuple[int, Submission]]) -> dict[int, str]:
    """Report file stems by position, derived as `_write_outputs` derives them (a report has
    its submission's student and source)."""
    names: dict[int, str] = {}
    by_assignment: dict[str, list[tuple[int, Submission]]] = {}
    for i, sub in todo:
        by_assignment.setdefault(sub.assignment, []).append((i, sub))
    for group in by_assignment.values():
        group.sort(key=lambda item: (item[1].student, item[1].source or ""))
        names.update((i, name) for (i, _), name in zip(group, assign_file_names([s for _, s in group])))
    return names


def _write_report_files(report: SubmissionReport, stem: Path) -> None:
    write_report(report, Path(f"{stem}.json"))
    write_markdown(report, Path(f"{stem}.md"))


def _write_outputs(
    out: Path,
    keys: dict[str, AnswerKey],
    graded: dict[str, list[SubmissionReport]],
    summary: RunSummary,
    assignment: str | None,
    prewritten: set[str] = frozenset(),  # type: ignore[assignment]
) -> None:
    stale = _previous_files(out)
    written: set[str] = set()
    touched = sorted(set(graded) | {b.assignment for b in summary.broken if b.assignment in keys} | ({assignment} if assignment else set()))
    summary.broken.sort(key=lambda b: b.source)
    for a in touched:
        key = keys[a]
        reports = sorted(graded.get(a, []), key=lambda r: (r.student, r.source or ""))
        folder = out / a
        for report, name in zip(reports, assign_file_names(reports)):
            if f"{a}/{name}" not in prewritten:
                _write_report_files(report, folder / name)
            written |= {f"{a}/{name}.json", f"{a}/{name}.md"}
            summary.reports.append(
                ReportEntry(
                    assignment=a,
                    student=report.student,
                    file=f"{a}/{name}.json",
                    source=report.source,
                    score=report.score,
                    max_score=report.max_score,
                    error_parts=sum(p.status is Status.error for p in report.parts),
                )
            )
        # Broken files of this assignment, and those no known assignment can claim.
        broken = [b for b in summary.broken if b.assignment == a or b.assignment not in keys]
        write_gradebook(folder / "gradebook.csv", [p.id for p in key.parts], reports)
        write_summary(folder / "summary.md", a, key.title, [PartInfo(id=p.id, max_score=p.marks) for p in key.parts], reports, broken)
        stats = class_stats(reports)
        summary.assignments.append(
            AssignmentSummary(
                assignment=a,
                title=key.title,
                max_score=key.total,
                graded=len(reports),
                broken=sum(b.assignment == a for b in summary.broken),
                mean=stats.mean,
                median=stats.median,
                min=stats.min,
                max=stats.max,
                error_parts=sum(r.error_parts for r in summary.reports if r.assignment == a),
            )
        )
    for rel in sorted(stale - written):
        if rel.split("/", 1)[0] in touched:
            (out / rel).unlink(missing_ok=True)
    # A report written early under a name that changed (a namesake's submission turned out
    # broken) is removed; the final name was written above.
    for stem in sorted(prewritten):
        for rel in (f"{stem}.json", f"{stem}.md"):
            if rel not in written:
                (out / rel).unlink(missing_ok=True)
    summary.graded = len(summary.reports)
    write_json(summary, out / RUN_FILE)


def run_schema() -> dict:
    """JSON schema of OUT/run.json."""
    return RunSummary.model_json_schema()


__all__ = ["RunSummary", "UsageError", "grade_directory", "run_schema", "safe_name", "assign_file_names"]
