"""`grader run DIR` and `grader schema`: grade a class folder; print the report's JSON schema."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.models import SubmissionReport
from grader.report.format import fmt_score
from grader.report.json_report import export_schema
from grader.models import RunSummary
from grader.cli.options import CourseOpt, DbOpt, ProblemsOpt, ReferenceOpt, course_of
from grader.errors import StoreError
from grader.run.batch import DEFAULT_BUDGET, OnProgress, UsageError, class_folder, run_schema, write_class
from grader.run.lifetime import Terminated, sigterm_unwinds
from grader.run.output import lock_output

EXIT_USAGE = 2  # 0 and 1 come from RunSummary.exit_code


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def run(
    directory: Annotated[
        Optional[Path],
        typer.Argument(metavar="DIR", help="Class folder: every submission below it is graded [default: the course's submissions folder].", show_default=False),
    ] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Where reports are written [default: the course's out folder].", show_default=False)] = None,
    problems: ProblemsOpt = None,
    reference: ReferenceOpt = None,
    assignment: Annotated[
        Optional[str], typer.Option("--assignment", help="Assignment id for files that do not name one (overrides theirs).")
    ] = None,
    budget: Annotated[
        float,
        typer.Option(
            "--budget", min=0, help="CPU seconds allowed per part's check (a part stopped there is graded once more); each submission is graded in a killable worker process. 0: no limit, grade in this process."
        ),
    ] = DEFAULT_BUDGET,
    workers: Annotated[
        Optional[int], typer.Option("--workers", min=1, help="Worker processes [default: the number of CPUs].")
    ] = None,
    db: DbOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary table.")] = False,
    course: CourseOpt = None,
) -> None:
    """Grade every submission below DIR; write per-student JSON and Markdown reports, a gradebook
    CSV and a class summary per assignment, and OUT/run.json. Each report is recorded in the
    grade store, and manual scores and overrides recorded there are applied to what is written.
    The folders come from the course file (--course, $GRADER_COURSE or the nearest grader.toml);
    flags given here win.

    Exit code 0 even when answers are wrong or files are broken (listed in run.json and on
    stderr); 1 if the grader itself failed on a part; 2 for a usage error, an OUT that cannot
    be written (a full or read-only disk) or a grade store that cannot be used; 130 or 143
    when stopped by Ctrl-C or SIGTERM (what was graded is kept in the store).
    """
    err = _stderr()
    started = time.perf_counter()
    the_course = course_of(course, problems=problems, reference=reference, submissions=directory, out=out, db=db)
    out = the_course.out
    store = _StoreHook(out, the_course.store)
    with stopping_cleanly(err, store):
        klass = class_folder(
            the_course.submissions, out, problems_dir=the_course.problems, reference_dir=the_course.reference,
            assignment=assignment, budget=budget or None, workers=workers, course=the_course,
        )
        with lock_output(out), progress_bar(enabled=not quiet) as progress:
            store.open()  # a bad --db stops the run before anything is graded
            try:
                summary = write_class(klass, out, on_report=store, progress=progress, assignment=assignment)
            finally:
                store.close()  # commits what was graded, also when stopped
    elapsed = time.perf_counter() - started

    for warning in summary.warnings:
        err.print(Text(f"warning: {warning}"))
    for old in summary.superseded:
        err.print(Text(f"not graded: {old.source}: {old.student} handed in a later submission ({old.graded}), which was graded"))
    for broken in summary.broken:
        err.print(Text(f"broken: {broken.source}: {broken.reason}"))
    for error in summary.errors:
        err.print(Text(f"error: {error}"))
    if summary.error_parts:
        failed = sorted({r.file for r in summary.reports if r.error_parts})
        err.print(Text(f"error: the grader failed on {summary.error_parts} part(s) in: {', '.join(failed)}"))
    if not quiet:
        _print_table(summary, out, elapsed)
    raise typer.Exit(summary.exit_code)


@contextmanager
def stopping_cleanly(err: Console, store: "_StoreHook | None" = None) -> Iterator[None]:
    """How a command that writes OUT ends when something outside the class stops it: a usage
    error, an OUT that cannot be written or a store that cannot be used is one line and exit
    code 2; SIGTERM and Ctrl-C unwind (workers closed, the store committed) and exit 143 / 130."""
    try:
        with sigterm_unwinds():
            yield
    except (UsageError, StoreError) as exc:
        _fail(err, str(exc))
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        _fail(err, f"could not write{where}: {exc.strerror or exc}")
    except (Terminated, KeyboardInterrupt) as exc:
        kept = f"{store.recorded} report(s) were" if store is not None else "what was"
        err.print(Text(f"stopped: {kept} recorded in the grade store before the stop; run again to grade the rest"))
        raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None


def _fail(err: Console, message: str) -> None:
    err.print(Text(f"error: {message}"))
    raise typer.Exit(EXIT_USAGE) from None


@contextmanager
def progress_bar(enabled: bool) -> Iterator[OnProgress | None]:
    """A rich progress bar on a terminal; nothing at all otherwise (logs, pipes, tests)."""
    if not (enabled and sys.stdout.isatty()):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("grading", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


class _StoreHook:
    """Records each report in the grade store and returns it with manual scores applied.

    The store is opened at the first report, so a run that stops on a usage error (or grades
    nothing) leaves no empty run behind.
    """

    def __init__(self, out: Path, db: str | None) -> None:
        self.out, self.db = out, db
        self.recorder: Any = None
        self.recorded = 0  # reports committed to the store (for the message after a stop)

    def open(self) -> None:
        if self.recorder is None:
            from grader.store.recorder import RunRecorder

            self.recorder = RunRecorder.open(self.out, self.db)

    def __call__(self, report: SubmissionReport) -> SubmissionReport:
        self.open()
        return self.recorder.record(report)

    def close(self) -> None:
        if self.recorder is not None:
            recorder, self.recorder = self.recorder, None
            try:
                recorder.close()
            finally:
                self.recorded = recorder.recorded


def _print_table(summary: RunSummary, out: Path, elapsed: float) -> None:
    table = Table(title="grader run", title_justify="left")
    for column, justify in (("assignment", "left"), ("graded", "right"), ("broken", "right"), ("mean", "right"), ("max", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for a in summary.assignments:
        mean = "-" if a.mean is None else fmt_score(round(a.mean, 2))
        # Text() so ids are never read as rich markup.
        table.add_row(Text(a.assignment), str(a.graded), str(a.broken), mean, fmt_score(a.max_score))
    console = Console()
    console.print(table)
    unattributed = sum(1 for b in summary.broken if b.assignment not in {a.assignment for a in summary.assignments})
    console.print(
        Text(
            f"{summary.graded} submission(s) graded, {len(summary.broken)} broken"
            + (f" ({unattributed} for no known assignment)" if unattributed else "")
            + f", {summary.error_parts} grader error(s); reports in {out}; took {elapsed:.2f} s"
        )
    )


def schema(
    run_file: Annotated[bool, typer.Option("--run", help="The schema of OUT/run.json instead.")] = False,
) -> None:
    """Print the JSON schema of the per-submission report (the LMS contract)."""
    typer.echo(json.dumps(run_schema() if run_file else export_schema(), indent=2, sort_keys=True))


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("schema")(schema)
