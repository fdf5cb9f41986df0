"""Options several commands share, spelled once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

OutOpt = Annotated[Path, typer.Option("--out", help="Output folder of `grader run` (holds grades.sqlite).")]
DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file (default OUT/grades.sqlite).")]
ProblemsOpt = Annotated[Path, typer.Option("--problems", help="Folder of problem sets (*.py).")]
ReferenceOpt = Annotated[Path, typer.Option("--reference", help="Folder of answer keys.")]
CourseOpt = Annotated[
    Path | None,
    typer.Option("--course", help="The course folder or its grader.toml [default: $GRADER_COURSE, else the nearest grader.toml at or above here]."),
]


def open_store(out: Path | None, db: str | None):
    """The grade store behind OUT (or `--db`); one line and exit code 2 if it cannot be opened
    (a bad URL, a database that is down, a folder that cannot be written)."""
    from grader.errors import StoreError
    from grader.store.repository import Store  # SQLAlchemy is imported only when a command runs

    try:
        return Store.open(out, db)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def course_of(named: Path | None):
    """The course in force (grader.course.load_course); a named course that does not exist is a
    usage error (exit code 2)."""
    from grader.course import CourseError, load_course

    try:
        return load_course(named)
    except CourseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
