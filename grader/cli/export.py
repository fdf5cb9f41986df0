"""`grader export canvas|moodle|csv|lti|json ASSIGNMENT`: commands over `grader.export.render`.

`register(app)` adds them to the `export` group, joining it if another exporter (e.g.
Gradescope) created it first, so every LMS target sits under one command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from grader.cli.options import DbOpt
from grader.lms.exports import SUFFIX, Format, render
from grader.lms.moodle import IdField
from grader.lms.roster import read_roster
from grader.keys.build import key_path, read_key

Assignment = Annotated[str, typer.Argument(help="Assignment id, e.g. csc321-hw4.")]
Out = Annotated[Path, typer.Option("--out", help="Output folder of `grader run` (reports and grades.sqlite).")]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="File to write ('-' for stdout); default OUT/<assignment>/exports/.")]
RosterOpt = Annotated[Path | None, typer.Option("--roster", exists=True, dir_okay=False, help="CSV mapping student ids to LMS ids.")]
Title = Annotated[str | None, typer.Option("--title", help="Assignment name in the LMS (default: the answer key's title).")]
Reference = Annotated[Path, typer.Option("--reference", help="Answer keys folder (for the assignment's title).")]


def assignment_title(reference: Path, assignment: str) -> str:
    try:
        return read_key(key_path(reference, assignment)).title
    except (OSError, ValueError):
        return assignment


def _export(
    fmt: Format,
    assignment: str,
    out: Path,
    db: str | None,
    output: Path | None,
    *,
    roster: Path | None = None,
    title: str | None = None,
    reference: Path = Path("reference"),
    **options: object,
) -> None:
    from grader.store.loading import class_reports
    from grader.store.repository import Store

    err = Console(stderr=True, highlight=False, soft_wrap=True)
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
    text, warnings = render(fmt, reports, title=title or assignment_title(reference, assignment), roster=lms_ids, **options)  # type: ignore[arg-type]
    for w in warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    if output is not None and str(output) == "-":
        sys.stdout.write(text)
        return
    path = output or Path(out) / assignment / "exports" / f"{assignment}{SUFFIX[fmt]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")  # csv already wrote its own line endings
    err.print(f"Wrote {len(reports)} student(s) to {escape(str(path))}")


def canvas(
    assignment: Assignment,
    out: Out = Path("out"),
    db: DbOpt = None,
    output: Output = None,
    roster: RosterOpt = None,
    title: Title = None,
    canvas_id: Annotated[str | None, typer.Option("--canvas-id", help="Canvas assignment id: the column becomes 'Title (id)'.")] = None,
    reference: Reference = Path("reference"),
) -> None:
    """Canvas gradebook import CSV (Student, ID, SIS User ID, SIS Login ID, Section, assignment)."""
    _export("canvas", assignment, out, db, output, roster=roster, title=title, reference=reference, canvas_id=canvas_id)


def moodle(
    assignment: Assignment,
    out: Out = Path("out"),
    db: DbOpt = None,
    output: Output = None,
    roster: RosterOpt = None,
    title: Title = None,
    id_field: Annotated[str, typer.Option("--id-field", help="Identify students by idnumber, email or username.")] = "idnumber",
    feedback: Annotated[bool, typer.Option("--feedback", help="Add a Feedback column (a summary of lost marks).")] = False,
    reference: Reference = Path("reference"),
) -> None:
    """Moodle grade import CSV (identifier column + grade column)."""
    if id_field not in ("idnumber", "email", "username"):
        raise typer.BadParameter("choose idnumber, email or username", param_hint="--id-field")
    field: IdField = id_field  # type: ignore[assignment]
    _export("moodle", assignment, out, db, output, roster=roster, title=title, reference=reference, moodle_id=field, feedback=feedback)


def long_csv(assignment: Assignment, out: Out = Path("out"), db: DbOpt = None, output: Output = None) -> None:
    """One row per student and part: student, assignment, part, score, max, status."""
    _export("csv", assignment, out, db, output)


def lti(assignment: Assignment, out: Out = Path("out"), db: DbOpt = None, output: Output = None, roster: RosterOpt = None) -> None:
    """LTI 1.3 AGS score payloads (JSON list, one per student) to POST to a line item's /scores."""
    _export("lti", assignment, out, db, output, roster=roster)


def reports_json(assignment: Assignment, out: Out = Path("out"), db: DbOpt = None, output: Output = None) -> None:
    """Every student's report (manual scores merged) as one JSON list."""
    _export("json", assignment, out, db, output)


def register(export_app: typer.Typer) -> None:
    export_app.command("canvas")(canvas)
    export_app.command("moodle")(moodle)
    export_app.command("csv")(long_csv)
    export_app.command("lti")(lti)
    export_app.command("json")(reports_json)
