"""Options several commands share, spelled once, and the course they resolve against.

Every command that reads the problem sets, keys, class folder, output folder or grade store
takes `--course` (else `GRADER_COURSE`, else the nearest grader.toml) and finds those folders
in the course file; a flag given explicitly wins over the file. So an installed `grader` works
from any directory once a course is found.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from grader.course import Course

_FROM_COURSE = "[default: the course file's, else ./{}]"

OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Output folder of `grader run` (holds grades.sqlite) " + _FROM_COURSE.format("out"), show_default=False)
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="GRADER_DB",
        help="Grade store: SQLAlchemy URL or SQLite file [default: $GRADER_DB, else the course file's store, else OUT/grades.sqlite].",
        show_default=False,
    ),
]
ProblemsOpt = Annotated[
    Path | None, typer.Option("--problems", help="Folder of problem sets (*.py) " + _FROM_COURSE.format("problems"), show_default=False)
]
ReferenceOpt = Annotated[
    Path | None, typer.Option("--reference", help="Folder of answer keys " + _FROM_COURSE.format("reference"), show_default=False)
]
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


def course_of(
    named: Path | None,
    *,
    problems: Path | None = None,
    reference: Path | None = None,
    submissions: Path | None = None,
    out: Path | None = None,
    db: str | None = None,
) -> Course:
    """The course in force (grader.course.load_course) with the folders given explicitly on the
    command line put in place of the file's. A named course that does not exist, or a course
    file with mistakes, is a usage error (exit code 2; `grader course check` lists them)."""
    from grader.course import CourseError, load_course

    try:
        course = load_course(named)
    except CourseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    given = {"problems": problems, "reference": reference, "submissions": submissions, "out": out, "store": db}
    explicit = {name: value for name, value in given.items() if value is not None}
    return course.model_copy(update=explicit) if explicit else course
