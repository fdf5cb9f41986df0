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
from grader.run.batch import DEFAULT_BUDGET, OnProgress, UsageError, grade_directory, run_schema

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
            "--budget", min=0, help="Seconds allowed per part; each submission is graded in a killable worker process. 0: no limit, grade in this process."
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
    stderr); 1 if the grader itself failed on a part; 2 for a usage error.
    """
    err = _stderr()
    started = time.perf_counter()
    the_course = course_of(course, problems=problems, reference=reference, submissions=directory, out=out, db=db)
    out = the_course.out
    store = _StoreHook(out, the_course.store)
    try:
        with progress_bar(enabled=not quiet) as progress:
            summary = grade_directory(
                the_course.submissions,
                out,
                problems_dir=the_course.problems,
                reference_dir=the_course.reference,
                assignment=assignment,
                budget=budget or None,
                workers=workers,
                on_report=store,
                progress=progress,
                course=the_course,
            )
    except UsageError as exc:
        err.print(Text(f"error: {exc}"))
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        store.close()
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

    def __call__(self, report: SubmissionReport) -> SubmissionReport:
        if self.recorder is None:
            from grader.store.recorder import RunRecorder

            self.recorder = RunRecorder.open(self.out, self.db)
        return self.recorder.record(report)

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()


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
