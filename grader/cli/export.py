"""`grader export NAME ASSIGNMENT`: one command per entry of grader.lms.exports.EXPORTS.

Every command reads the class's current reports (the store, else OUT's JSON; manual scores
merged) and writes the format's text to OUT/<assignment>/exports/ (or `-o FILE`, `-o -` for
stdout). A format that needs an assignment name gets `--title` and `--reference` (the key's
title by default), one that matches students through a roster gets `--roster`, and each of
its own options becomes a flag. `register(export_app)` adds them to the `export` group, which
the Gradescope zip (grader.cli.gradescope) joins.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape

from grader.cli.options import CourseOpt, DbOpt, OutOpt, ReferenceOpt, course_of
from grader.keys.build import key_path, read_key
from grader.lms.exports import EXPORTS
from grader.lms.format import Export, Option
from grader.lms.roster import read_roster, roster_mismatches

Assignment = Annotated[str, typer.Argument(help="Assignment id, e.g. csc321-hw4.")]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="File to write ('-' for stdout); default OUT/<assignment>/exports/.")]
RosterOpt = Annotated[Path | None, typer.Option("--roster", exists=True, dir_okay=False, help="CSV mapping student ids to LMS ids.")]
Title = Annotated[str | None, typer.Option("--title", help="Assignment name in the LMS (default: the answer key's title).")]


def assignment_title(reference: Path, assignment: str) -> str:
    try:
        return read_key(key_path(reference, assignment)).title
    except (OSError, ValueError):
        return assignment


def export(
    fmt: Export,
    assignment: str,
    out: Path | None,
    db: str | None,
    output: Path | None,
    *,
    roster: Path | None = None,
    title: str | None = None,
    reference: Path | None = None,
    course: Path | None = None,
    **options: Any,
) -> None:
    from grader.store.loading import class_reports
    from grader.store.repository import Store

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    the_course = course_of(course, reference=reference, out=out, db=db)
    out, db, reference = the_course.out, the_course.store, the_course.reference
    with Store.open(out, db) as store:
        reports = class_reports(store, out, assignment)
    if not reports:
        err.print(f"[red]No graded submissions for {escape(assignment)} in {escape(str(out))}; run `grader run` first.[/]")
        raise typer.Exit(2)
    try:
        lms_ids = read_roster(roster)
    except ValueError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2)
    text, warnings = fmt(reports, title=title or assignment_title(reference, assignment), roster=lms_ids, **options)
    mismatches = roster_mismatches(lms_ids, [r.student for r in reports])
    for w in warnings + mismatches:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    if output is not None and str(output) == "-":
        sys.stdout.write(text)
        return
    path = output or Path(out) / assignment / "exports" / f"{assignment}{fmt.suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")  # csv already wrote its own line endings
    err.print(f"Wrote {len(reports)} student(s) to {escape(str(path))}" + "".join(f"; {escape(m)}" for m in mismatches))


def _flag(option: Option) -> inspect.Parameter:
    if isinstance(option.default, bool):
        annotation: Any = Annotated[bool, typer.Option(option.flag, help=option.help)]
    elif option.choices:
        annotation = Annotated[Literal[option.choices], typer.Option(option.flag, help=option.help)]  # type: ignore[valid-type]
    else:
        annotation = Annotated[str | None, typer.Option(option.flag, help=option.help)]
    return inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=option.default, annotation=annotation)


def command(fmt: Export):  # type: ignore[no-untyped-def]
    """The `grader export NAME` command of one table entry: its signature is what typer reads."""

    def run(**kwargs: Any) -> None:
        export(fmt, **kwargs)

    kw = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter("assignment", kw, annotation=Assignment),
        inspect.Parameter("out", kw, default=None, annotation=OutOpt),
        inspect.Parameter("db", kw, default=None, annotation=DbOpt),
        inspect.Parameter("output", kw, default=None, annotation=Output),
    ]
    if fmt.roster:
        params.append(inspect.Parameter("roster", kw, default=None, annotation=RosterOpt))
    if fmt.title:
        params.append(inspect.Parameter("title", kw, default=None, annotation=Title))
    params += [_flag(o) for o in fmt.options]
    if fmt.title:
        params.append(inspect.Parameter("reference", kw, default=None, annotation=ReferenceOpt))
    params.append(inspect.Parameter("course", kw, default=None, annotation=CourseOpt))
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__doc__ = fmt.summary
    run.__name__ = f"export_{fmt.name}"
    return run


def register(export_app: typer.Typer) -> None:
    for name, fmt in EXPORTS.items():
        export_app.command(name)(command(fmt))
