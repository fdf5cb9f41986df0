"""`grader report ASSIGNMENT`: the self-contained HTML class report."""

from __future__ import annotations

from typing import Annotated

import typer

from grader.cli.options import CourseOpt, DbOpt, OutOpt, ReferenceOpt, course_of
from grader.errors import StoreError
from grader.workflow.class_report import build_report


def report_command(
    assignment: Annotated[str, typer.Argument(help="Assignment id, e.g. csc321-hw4.")],
    out: OutOpt = None,
    db: DbOpt = None,
    title: Annotated[str | None, typer.Option("--title", help="Heading (default: the answer key's title).")] = None,
    reference: ReferenceOpt = None,
    course: CourseOpt = None,
) -> None:
    """Write the HTML class report OUT/<assignment>/report.html (plots, common wrong answers, links)."""
    the_course = course_of(course, reference=reference, out=out, db=db)
    try:
        path = build_report(assignment, the_course.out, the_course.store, title, the_course.reference)
    except (LookupError, StoreError) as exc:
        typer.echo(f"error: {exc}" if isinstance(exc, StoreError) else str(exc), err=True)
        raise typer.Exit(2)
    typer.echo(f"Wrote {path}")
