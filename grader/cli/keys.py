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
from grader.keys.check import check_key, total_findings
from grader.keys.build import PartBuildError, build_key, key_path, read_key, write_key
from grader.problemset import ProblemSet, load_problem_sets
from grader.keys.solution_sheet import solution_sheet

key_app = typer.Typer(help="Build and check answer keys (reference/<assignment>.json and .md).", no_args_is_help=True)

AssignmentsArg = Annotated[Optional[list[str]], typer.Argument(metavar="[ASSIGNMENT]...", help="Assignment ids [default: all].")]


DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error in a problem set.")]


def _selected(problems: Path, assignments: list[str] | None, debug: bool = False) -> list[ProblemSet]:
    err = Console(stderr=True, soft_wrap=True)
    if not problems.is_dir():
        err.print(Text(f"error: no problem-set folder {problems}"))
        raise typer.Exit(2)
    try:
        sets = load_problem_sets(problems)
    except Exception as exc:  # the instructor's module does not import: where and why, in one line
        if debug:
            raise
        err.print(Text(f"error: {_raised_at(exc, problems)}: {type(exc).__name__}: {exc} (--debug for the traceback)"))
        raise typer.Exit(1) from None
    if not sets:
        err.print(Text(f"error: no problem sets in {problems}"))
        raise typer.Exit(2)
    unknown = [a for a in assignments or [] if a not in sets]
    if unknown:
        err.print(Text(f"error: unknown assignment(s) {', '.join(unknown)}; known: {', '.join(sorted(sets))}"))
        raise typer.Exit(2)
    return [sets[a] for a in (assignments or sorted(sets))]


def _raised_at(exc: BaseException, problems: Path) -> str:
    """`problems/hw1.py:12`: the last line of the problem sets' own code the error passed through."""
    import traceback

    from grader.keys.build import where_file

    folder = problems.resolve()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve().is_relative_to(folder)]
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{where_file(Path(exc.filename))}:{exc.lineno}"
    return f"{where_file(Path(frames[-1].filename))}:{frames[-1].lineno}" if frames else str(problems)


@key_app.command("build")
def build(
    assignments: AssignmentsArg = None,
    problems: ProblemsOpt = None,
    reference: ReferenceOpt = None,
    course: CourseOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Compute every reference (with torch) and write the key (JSON) and a solution sheet (Markdown)."""
    console = Console()
    the_course = course_of(course, problems=problems, reference=reference)
    problems, reference = the_course.problems, the_course.reference
    for ps in _selected(problems, assignments, debug):
        try:
            key = build_key(ps)
        except PartBuildError as exc:
            if debug:
                raise
            Console(stderr=True, soft_wrap=True).print(Text(f"error: {exc} (--debug for the traceback)"))
            raise typer.Exit(1) from None
        path = write_key(key, reference)
        sheet = path.with_suffix(".md")
        sheet.write_text(solution_sheet(ps, key))
        console.print(Text(f"{ps.id}: {len(key.parts)} parts, {key.total:g} marks -> {path}, {sheet}"))
        for finding in total_findings(ps):  # built all the same; `grader key check` fails on it
            Console(stderr=True, soft_wrap=True).print(Text(f"warning: {finding.line(ps.id)}"))


@key_app.command("check")
def check(
    assignments: AssignmentsArg = None,
    problems: ProblemsOpt = None,
    reference: ReferenceOpt = None,
    course: CourseOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Fail (exit 1) when a key is stale or a part does not grade as its problem set declares.

    Stale: the problem source changed, or the stored values differ from a fresh computation.
    Self-test, every part of every kind: each model answer (solutions=) and the reference in
    each accepted syntax earn full marks; each named mistake differs from the reference and,
    typed, earns its declared marks and is named; each alternative differs from the reference
    and earns full marks, named; a declared size (Matrix(4, 2)) fits the computed reference;
    the parts' marks add up to the declared total; formula parts have enough valid sample
    points. Each problem is one line naming the assignment, the part and file:line.
    """
    console = Console(soft_wrap=True)  # one line per problem, however long
    the_course = course_of(course, problems=problems, reference=reference)
    problems, reference = the_course.problems, the_course.reference
    failed = False
    for ps in _selected(problems, assignments, debug):
        path = key_path(reference, ps.id)
        stored = read_key(path) if path.exists() else None
        report = check_key(ps, stored, debug=debug)
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
            console.print(Text(f"  {f.line(ps.id)}"))
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
