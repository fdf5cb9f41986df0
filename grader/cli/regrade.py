"""`grader regrade DIR`: grade again after a key edit, show who changes, then replace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.text import Text

from rich.table import Table

from grader.cli.options import CourseOpt, DbOpt, OutOpt, ProblemsOpt, ReferenceOpt, course_of
from grader.run.batch import DEFAULT_BUDGET, UsageError
from grader.workflow.regrade import EPS, StudentChange, apply_regrade, plan_regrade


def regrade_command(
    directory: Annotated[
        Optional[Path],
        typer.Argument(metavar="DIR", help="Class folder, as given to `grader run` [default: the course's submissions folder].", show_default=False),
    ] = None,
    out: OutOpt = None,
    problems: ProblemsOpt = None,
    reference: ReferenceOpt = None,
    assignment: Annotated[Optional[str], typer.Option("--assignment", help="Assignment id for files that do not name one.")] = None,
    db: DbOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would change.")] = False,
    budget: Annotated[float, typer.Option("--budget", min=0, help="Seconds allowed per part, as for `grader run` (0: no limit).")] = DEFAULT_BUDGET,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Worker processes [default: the number of CPUs].")] = None,
    course: CourseOpt = None,
) -> None:
    """Grade DIR again after a key edit: print who changes and by how much, then replace the
    reports and record the new run (not with --dry-run)."""
    console = Console(highlight=False, soft_wrap=True)
    the_course = course_of(course, problems=problems, reference=reference, submissions=directory, out=out, db=db)
    out, db = the_course.out, the_course.store
    try:
        plan = plan_regrade(
            the_course.submissions,
            out,
            problems=the_course.problems,
            reference=the_course.reference,
            assignment=assignment,
            db=db,
            budget=budget or None,
            workers=workers,
            course=the_course,
        )
    except UsageError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(Text(f"error: {exc}"))
        raise typer.Exit(2) from None
    _print_changes(console, plan.changes, plan.graded)  # before anything in OUT or the store is touched
    if dry_run:
        console.print("Dry run: nothing was replaced.")
        return
    outcome = apply_regrade(plan, out, db)
    console.print(Text(f"Recorded regrade run {outcome.run_id}; reports in {out} replaced."))
    assert outcome.summary is not None
    raise typer.Exit(outcome.summary.exit_code)


def changes_table(changes: list[StudentChange]) -> Table:
    table = Table(title="Regrade: students whose grade changes", title_justify="left")
    for name, justify in (("assignment", "left"), ("student", "left"), ("old", "right"), ("new", "right"), ("delta", "right"), ("parts changed", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for c in changes:
        delta = "new" if c.old is None else f"{c.delta:+g}"
        style = "green" if c.old is not None and c.delta > EPS else "red" if c.old is not None and c.delta < -EPS else ""
        table.add_row(
            Text(c.assignment),
            Text(c.student),
            "—" if c.old is None else f"{c.old:g}",
            f"{c.new:g}",
            Text(delta, style=style),
            Text(", ".join(c.parts_changed) if c.old is not None else "(first result)"),
        )
    return table


def _print_changes(console: Console, changes: list[StudentChange], graded: int) -> None:
    if not changes:
        console.print(f"No grades change ({graded} submission(s) regraded).")
        return
    console.print(changes_table(changes))
    moved = [c for c in changes if c.old is not None]
    text = f"{len(changes)} of {graded} submission(s) change"
    if moved:
        text += f"; mean change {sum(c.delta for c in moved) / len(moved):+.3g}"
    console.print(text + ".")
