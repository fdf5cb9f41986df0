"""`grader sheets ASSIGNMENT`: each student's problem sheet with their own numbers, and the answer
key of each variant for staff; `grader course init`: a course's secret (and a grader.toml); `grader course check`: the
course file validated, one line per mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import Progress

from grader.cli.options import CourseOpt, course_of

course_app = typer.Typer(help="The course: its grader.toml and the secret that deals per-student numbers.", no_args_is_help=True)

STARTER = """# The course file: every setting is described in docs/course.md.
[course]
title = ""
timezone = "UTC"
# secret = ".grader/secret"   # seeds per-student variants; keep it out of version control

[defaults]
feedback = { before_due = "mistakes", after_due = "reference" }
"""


@course_app.command("init")
def course_init(folder: Annotated[Path, typer.Argument(help="The course folder.")] = Path(".")) -> None:
    """Create the course secret that deals per-student numbers (and a grader.toml if there is
    none); the secret is listed in the folder's .gitignore, so it never enters the repository."""
    from grader.course import COURSE_FILE, read_course_file
    from grader.variants import ensure_secret

    folder.mkdir(parents=True, exist_ok=True)
    course_file = folder / COURSE_FILE
    if not course_file.exists():
        course_file.write_text(STARTER, encoding="utf-8")
        typer.echo(f"wrote {course_file}")
    course = read_course_file(course_file)
    existed = course.secret.exists()
    ensure_secret(course.secret)
    typer.echo(f"{'kept' if existed else 'created'} the course secret {course.secret} (never commit it)")
    try:
        relative = course.secret.relative_to(folder.resolve()).as_posix()
    except ValueError:
        return  # outside the course folder: nothing to ignore here
    ignore = folder / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    if relative not in lines and f"/{relative}" not in lines:
        ignore.write_text("\n".join([*lines, "# the course secret (grader course init)", f"/{relative}"]) + "\n", encoding="utf-8")
        typer.echo(f"added /{relative} to {ignore}")


@course_app.command("check")
def course_check(course: CourseOpt = None) -> None:
    """Validate the course file: one line per mistake (an unknown setting, a bad date or time
    zone, a feedback policy that does not exist, an assignment whose problem set does not exist,
    a roster that is missing or has no student column). Exit 1 on mistakes, 0 when fine, 2 when
    no course file is found."""
    from grader.course import CourseError, find_course_file, read_course_file

    try:
        path = find_course_file(course)
    except CourseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if path is None:
        typer.echo("error: no grader.toml here or in any folder above; give --course DIR or set GRADER_COURSE", err=True)
        raise typer.Exit(2)
    try:
        mistakes = _course_mistakes(read_course_file(path))
    except CourseError as exc:
        mistakes = exc.problems
    for line in mistakes:
        typer.echo(f"{path}: {line}")
    if mistakes:
        typer.echo(f"{path}: {len(mistakes)} mistake(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{path}: ok")


def _course_mistakes(course) -> list[str]:
    """What only the course's folders show: its problem sets (which assignments exist) and rosters."""
    from grader.lms.roster import read_roster
    from grader.problemset import load_problem_file, problem_files

    if not course.problems.is_dir():
        return [f"course.problems: no such folder {course.problems}"]
    sets: list[str] = []
    mistakes = []
    for file in problem_files(course.problems):
        try:
            sets += load_problem_file(file)
        except Exception as exc:  # the instructor's own module: say which and why, go on
            mistakes.append(f"course.problems: {file.name} cannot be loaded: {type(exc).__name__}: {exc}")
    mistakes += course.check(sets)
    rosters = {course.roster: "course.roster"} if course.roster is not None else {}
    for a in course.assignments.values():
        if a.roster is not None:
            rosters.setdefault(a.roster, f"assignments.{a.id}.roster")  # each file once, by who names it
    for roster, setting in rosters.items():
        if roster.is_file():
            try:
                read_roster(roster)
            except (ValueError, OSError, UnicodeDecodeError) as exc:
                mistakes.append(f"{setting}: {str(exc).removeprefix(f'{roster}: ')}")
    return mistakes


def sheets_command(
    assignment: Annotated[str, typer.Argument(help="Assignment id, e.g. csc321-hw4-variants.")],
    students: Annotated[
        Optional[list[str]], typer.Option("--student", help="A student to write a sheet for (repeat) [default: the roster, else the class folder].")
    ] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Where the sheets go [default: OUT/sheets/ASSIGNMENT].")] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also print each sheet to PDF (Chromium or LaTeX).")] = True,
    course: CourseOpt = None,
) -> None:
    """Write each student's problem sheet (their variant code, their numbers, every prompt with
    them) as Markdown and PDF, and for staff the answer key of each variant under keys/."""
    from grader.keys.build import load_or_build_key
    from grader.keys.sheets import NoPdfEngine, class_sheets, write_markdown, write_pdfs
    from grader.keys.variants import for_course
    from grader.lms.roster import read_roster
    from grader.problemset import load_problem_sets
    from grader.run.writer import safe_name

    the_course = course_of(course)
    settings = the_course.assignment(assignment)
    sets = load_problem_sets(the_course.problems)
    if settings.problem_set not in sets:
        typer.echo(f"error: no problem set {settings.problem_set!r} in {the_course.problems}", err=True)
        raise typer.Exit(2)
    ps = sets[settings.problem_set]
    who = list(dict.fromkeys(students or _class_list(the_course, assignment, settings.roster or the_course.roster, read_roster)))
    if not who:
        typer.echo(f"error: no students: give --student, a roster in {the_course.file or 'grader.toml'}, or a class folder {the_course.submissions / assignment}", err=True)
        raise typer.Exit(2)
    base, _ = load_or_build_key(ps, the_course.reference)
    keys = for_course(the_course, assignment, ps, base)
    folder = out or the_course.out / "sheets" / assignment
    sheets = class_sheets(keys, who, folder, settings.title, name=safe_name)
    write_markdown(sheets)
    variants = len({s.stem.name for s in sheets if s.stem.parent.name == "keys"})
    typer.echo(f"{len(who)} sheets and {variants} answer key(s) in {folder} (Markdown)")
    if not pdf:
        return
    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("PDF", total=len(sheets))
            engine = write_pdfs(sheets, on_done=lambda: bar.advance(task))
    except NoPdfEngine as exc:
        typer.echo(f"note: {exc}", err=True)
        return
    typer.echo(f"and as PDF ({engine})")


def _class_list(course, assignment: str, roster: Path | None, read_roster) -> list[str]:
    """The roster's students, else the folders of the class folder for this assignment."""
    if roster is not None and roster.is_file():
        return list(read_roster(roster))
    folder = course.submissions / assignment
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []


def register(app: typer.Typer) -> None:
    app.add_typer(course_app, name="course")
    app.command("sheets")(sheets_command)
