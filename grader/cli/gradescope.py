"""Gradescope on the command line: `grader gradescope` is what run_autograder calls for one
submission; `grader export gradescope ASSIGNMENT` builds the zip to upload."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from grader.cli.options import CourseOpt, ProblemsOpt, ReferenceOpt, course_of

from grader.lms.gradescope.driver import DEFAULT_PART_BUDGET

# Choices as enums: typer shows them in --help and rejects anything else.
VisibilityChoice = Enum("VisibilityChoice", {v: v for v in ("visible", "hidden", "after_due_date", "after_published")}, type=str)  # type: ignore[misc]



def gradescope_command(
    root: Annotated[Path, typer.Option(help="Gradescope's autograder folder (source/, submission/, results/).")] = Path("/autograder"),
    problems: Annotated[Optional[Path], typer.Option(help="Problem sets [default: ROOT/source/problems].")] = None,
    reference: Annotated[Optional[Path], typer.Option(help="Answer keys [default: ROOT/source/reference].")] = None,
    assignment: Annotated[Optional[str], typer.Option(help="The assignment this autograder grades.")] = None,
    part_budget: Annotated[float, typer.Option(min=0, help="Seconds allowed per part (0: no limit).")] = DEFAULT_PART_BUDGET,
    visibility: Annotated[VisibilityChoice, typer.Option(help="When students see the results.")] = VisibilityChoice.visible,  # type: ignore[attr-defined]
) -> None:
    """Grade the submission in ROOT/submission and write ROOT/results/results.json (always)."""
    from grader.lms.gradescope.driver import AutograderConfig, run

    cfg = AutograderConfig(
        root=root, problems=problems, reference=reference, assignment=assignment,
        part_budget=part_budget or None, visibility=visibility.value,  # type: ignore[arg-type]
    )
    results = run(cfg)
    # Gradescope keeps stdout for staff only (stdout_visibility is "hidden").
    typer.echo(f"score {results.score:g}, {len(results.tests)} tests, {results.execution_time} s -> {cfg.results_path}")
    typer.echo(results.output)


def export_gradescope_command(
    assignment: Annotated[str, typer.Argument(help="Assignment id, e.g. csc321-hw4 (or one the course file names).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Zip to write.")] = Path("autograder.zip"),
    problems: ProblemsOpt = None,
    reference: ReferenceOpt = None,
    part_budget: Annotated[float, typer.Option(min=0, help="Seconds allowed per part on Gradescope.")] = DEFAULT_PART_BUDGET,
    course: CourseOpt = None,
) -> None:
    """Build the Gradescope autograder zip for ASSIGNMENT (setup.sh, run_autograder, grader, key)."""
    from grader.lms.gradescope.package import build_zip

    try:
        the_course = course_of(course, problems=problems, reference=reference)
        summary = build_zip(assignment, output, the_course.problems, the_course.reference, part_budget, course=the_course)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="ASSIGNMENT") from None
    for note in summary.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"wrote {summary.path} ({len(summary.files)} files) for {summary.assignment}")


def export_constraints_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write ('-' for stdout).")] = Path("constraints.txt"),
) -> None:
    """Write the exact installed versions of the grader's runtime dependencies (torch included)
    as a pip constraints file: the Dockerfile installs with it, as the Gradescope zip's setup.sh
    does with the copy inside the zip."""
    from grader.lms.gradescope.constraints import constraints_text, runtime_pins

    pins = runtime_pins()
    text = constraints_text(pins)
    if str(output) == "-":
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output} ({len(pins)} pinned distributions, torch {pins.get('torch', 'not installed')})")


def register(app: typer.Typer, export_app: typer.Typer) -> None:
    """Add `gradescope`, `export gradescope` and `export constraints`."""
    app.command("gradescope")(gradescope_command)
    export_app.command("gradescope")(export_gradescope_command)
    export_app.command("constraints")(export_constraints_command)
