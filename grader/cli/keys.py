"""`grader key build|check`: answer keys and solution sheets in `reference/`; `grader template`:
the answer file students fill in."""

from __future__ import annotations

from pathlib import Path
from enum import Enum
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.text import Text

from grader.cli.options import CourseOpt, ProblemsOpt, ReferenceOpt, course_of
from grader.keys.check import check_key
from grader.keys.build import build_key, key_path, read_key, write_key
from grader.problemset import ProblemSet, load_problem_sets
from grader.keys.solution_sheet import solution_sheet

key_app = typer.Typer(help="Build and check answer keys (reference/<assignment>.json and .md).", no_args_is_help=True)

AssignmentsArg = Annotated[Optional[list[str]], typer.Argument(metavar="[ASSIGNMENT]...", help="Assignment ids [default: all].")]


def _selected(problems: Path, assignments: list[str] | None) -> list[ProblemSet]:
    err = Console(stderr=True)
    if not problems.is_dir():
        err.print(Text(f"error: no problem-set folder {problems}"))
        raise typer.Exit(2)
    sets = load_problem_sets(problems)
    if not sets:
        err.print(Text(f"error: no problem sets in {problems}"))
        raise typer.Exit(2)
    unknown = [a for a in assignments or [] if a not in sets]
    if unknown:
        err.print(Text(f"error: unknown assignment(s) {', '.join(unknown)}; known: {', '.join(sorted(sets))}"))
        raise typer.Exit(2)
    return [sets[a] for a in (assignments or sorted(sets))]


@key_app.command("build")
def build(
    assignments: AssignmentsArg = None,
    problems: ProblemsOpt = None,
    reference: ReferenceOpt = None,
    course: CourseOpt = None,
) -> None:
    """Compute every reference (with torch) and write the key (JSON) and a solution sheet (Markdown)."""
    console = Console()
    the_course = course_of(course, problems=problems, reference=reference)
    problems, reference = the_course.problems, the_course.reference
    for ps in _selected(problems, assignments):
        key = build_key(ps)
        path = write_key(key, reference)
        sheet = path.with_suffix(".md")
        sheet.write_text(solution_sheet(ps, key))
        console.print(Text(f"{ps.id}: {len(key.parts)} parts, {key.total:g} marks -> {path}, {sheet}"))


@key_app.command("check")
def check(
    assignments: AssignmentsArg = None,
    problems: ProblemsOpt = None,
    reference: ReferenceOpt = None,
    course: CourseOpt = None,
) -> None:
    """Fail (exit 1) when a key is stale or a part does not grade its own model answers.

    Stale: the problem source changed, or the stored values differ from a fresh computation.
    Self-test: the reference in each accepted syntax earns full marks, each named mistake
    differs from the reference, formula parts have enough valid sample points.
    """
    console = Console()
    the_course = course_of(course, problems=problems, reference=reference)
    problems, reference = the_course.problems, the_course.reference
    failed = False
    for ps in _selected(problems, assignments):
        path = key_path(reference, ps.id)
        stored = read_key(path) if path.exists() else None
        report = check_key(ps, stored)
        status = "ok" if report.ok else "FAILED"
        console.print(
            Text(
                f"{ps.id}: {status} — {report.forms_checked} model answers and {report.mistakes_checked} named mistakes checked"
                + (f", {report.variants_checked} per-student variants self-tested" if report.variants_checked else "")
            )
        )
        for line in report.stale:
            console.print(Text(f"  stale: {line}"))
        for f in report.findings:
            console.print(Text(f"  {f.part or ps.id}: {f.problem}"))
        sheet = path.with_suffix(".md")
        if stored is not None and (not sheet.exists() or sheet.read_text() != solution_sheet(ps, stored)):
            console.print(Text(f"  stale: the solution sheet {sheet} does not match the key"))
            failed = True
        failed |= not report.ok
    raise typer.Exit(1 if failed else 0)


# Choices as an enum: typer shows them in --help and rejects anything else.
FormatChoice = Enum("FormatChoice", {f: f for f in ("toml", "yaml", "json")}, type=str)  # type: ignore[misc]


def template_command(
    assignment: Annotated[str, typer.Argument(help="Assignment id, e.g. csc321-hw4 (or one the course file names).")],
    format: Annotated[FormatChoice, typer.Option("--format", "-f", help="Answer file format.")] = FormatChoice.toml,  # type: ignore[attr-defined]
    problems: ProblemsOpt = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    student: Annotated[
        Optional[str], typer.Option("--student", help="Show this student's own numbers (an assignment with variants on).")
    ] = None,
    course: CourseOpt = None,
) -> None:
    """Print an answer file for students: every part with its marks, kind and accepted forms
    (with --student, the prompts show that student's numbers and their variant code)."""
    from grader.keys.template import guidance, render
    from grader.keys.variants import student_variant

    the_course = course_of(course, problems=problems)
    problems = the_course.problems
    ps_id = the_course.assignment(assignment).problem_set
    sets = load_problem_sets(problems)
    if ps_id not in sets:
        raise typer.BadParameter(f"no problem set {ps_id!r} in {problems} (found: {', '.join(sorted(sets)) or 'none'})", param_hint="ASSIGNMENT")
    ps = sets[ps_id]
    variant = student_variant(the_course, assignment, ps, student) if student is not None else None
    if student is not None and variant is None:
        typer.echo(f"note: {assignment} has no per-student numbers (variants off): everyone's sheet is the printed one", err=True)
    text = render(ps, format.value, variant=variant, assignment=assignment)
    if format.value == "json":  # JSON cannot carry comments: the guidance goes beside it
        typer.echo(guidance(ps, variant, assignment), err=True, nl=False)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


def register(app: typer.Typer) -> None:
    app.command("template")(template_command)
