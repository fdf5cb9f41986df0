"""CLI commands for handing work out and in through an LMS.

`grader template ASSIGNMENT` prints the answer file students fill in; `grader gradescope` is
what Gradescope's run_autograder calls for one submission; `grader export gradescope
ASSIGNMENT` builds the zip to upload. `register(app)` adds them to the main typer app.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from grader.lms.gradescope import DEFAULT_PART_BUDGET

# Choices as enums: typer shows them in --help and rejects anything else.
VisibilityChoice = Enum("VisibilityChoice", {v: v for v in ("visible", "hidden", "after_due_date", "after_published")}, type=str)  # type: ignore[misc]
FormatChoice = Enum("FormatChoice", {f: f for f in ("toml", "yaml", "json")}, type=str)  # type: ignore[misc]

DEFAULT_PROBLEMS = Path("problems")
DEFAULT_REFERENCE = Path("reference")


def gradescope_command(
    root: Annotated[Path, typer.Option(help="Gradescope's autograder folder (source/, submission/, results/).")] = Path("/autograder"),
    problems: Annotated[Optional[Path], typer.Option(help="Problem sets [default: ROOT/source/problems].")] = None,
    reference: Annotated[Optional[Path], typer.Option(help="Answer keys [default: ROOT/source/reference].")] = None,
    assignment: Annotated[Optional[str], typer.Option(help="The assignment this autograder grades.")] = None,
    part_budget: Annotated[float, typer.Option(min=0, help="Seconds allowed per part (0: no limit).")] = DEFAULT_PART_BUDGET,
    visibility: Annotated[VisibilityChoice, typer.Option(help="When students see the results.")] = VisibilityChoice.visible,  # type: ignore[attr-defined]
) -> None:
    """Grade the submission in ROOT/submission and write ROOT/results/results.json (always)."""
    from grader.lms.gradescope import AutograderConfig, run

    cfg = AutograderConfig(
        root=root, problems=problems, reference=reference, assignment=assignment,
        part_budget=part_budget or None, visibility=visibility.value,  # type: ignore[arg-type]
    )
    results = run(cfg)
    # Gradescope keeps stdout for staff only (stdout_visibility is "hidden").
    typer.echo(f"score {results.score:g}, {len(results.tests)} tests, {results.execution_time} s -> {cfg.results_path}")
    typer.echo(results.output)


def export_gradescope_command(
    assignment: Annotated[str, typer.Argument(help="Problem set id, e.g. csc321-hw4.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Zip to write.")] = Path("autograder.zip"),
    problems: Annotated[Path, typer.Option(help="Folder of problem sets.")] = DEFAULT_PROBLEMS,
    reference: Annotated[Path, typer.Option(help="Folder of answer keys.")] = DEFAULT_REFERENCE,
    part_budget: Annotated[float, typer.Option(min=0, help="Seconds allowed per part on Gradescope.")] = DEFAULT_PART_BUDGET,
) -> None:
    """Build the Gradescope autograder zip for ASSIGNMENT (setup.sh, run_autograder, grader, key)."""
    from grader.lms.package import build_zip

    try:
        summary = build_zip(assignment, output, problems, reference, part_budget)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="ASSIGNMENT") from None
    for note in summary.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"wrote {summary.path} ({len(summary.files)} files) for {summary.assignment}")


def template_command(
    assignment: Annotated[str, typer.Argument(help="Problem set id, e.g. csc321-hw4.")],
    format: Annotated[FormatChoice, typer.Option("--format", "-f", help="Answer file format.")] = FormatChoice.toml,  # type: ignore[attr-defined]
    problems: Annotated[Path, typer.Option(help="Folder of problem sets.")] = DEFAULT_PROBLEMS,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Print an answer file for students: every part with its marks, kind and accepted forms."""
    from grader.problemset import load_problem_sets
    from grader.template import guidance, render

    sets = load_problem_sets(problems)
    if assignment not in sets:
        raise typer.BadParameter(f"no problem set {assignment!r} in {problems} (found: {', '.join(sorted(sets)) or 'none'})", param_hint="ASSIGNMENT")
    text = render(sets[assignment], format.value)
    if format.value == "json":  # JSON cannot carry comments: the guidance goes beside it
        typer.echo(guidance(sets[assignment]), err=True, nl=False)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


def register(app: typer.Typer, export_app: typer.Typer) -> None:
    """Add `template`, `gradescope` and `export gradescope`."""
    app.command("template")(template_command)
    app.command("gradescope")(gradescope_command)
    export_app.command("gradescope")(export_gradescope_command)
