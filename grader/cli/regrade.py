"""`grader regrade DIR`: grade again after a key edit, show who changes, then replace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.text import Text

from grader.cli.options import DbOpt, ProblemsOpt
from grader.run.batch import DEFAULT_BUDGET, UsageError
from grader.workflow.regrade import regrade


def regrade_command(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Class folder, as given to `grader run`.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder of the earlier run.")] = Path("out"),
    problems: ProblemsOpt = Path("problems"),
    reference: Annotated[Path, typer.Option("--reference", help="Folder of built answer keys.")] = Path("reference"),
    assignment: Annotated[Optional[str], typer.Option("--assignment", help="Assignment id for files that do not name one.")] = None,
    db: DbOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would change.")] = False,
    budget: Annotated[float, typer.Option("--budget", min=0, help="Seconds allowed per part, as for `grader run` (0: no limit).")] = DEFAULT_BUDGET,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Worker processes [default: the number of CPUs].")] = None,
) -> None:
    """Grade DIR again after a key edit: print who changes and by how much, then replace the
    reports and record the new run (not with --dry-run)."""
    console = Console(highlight=False, soft_wrap=True)
    try:
        outcome = regrade(
            directory, out, problems=problems, reference=reference, assignment=assignment, db=db, dry_run=dry_run,
            budget=budget or None, workers=workers, console=console,
        )
    except UsageError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(Text(f"error: {exc}"))
        raise typer.Exit(2) from None
    if outcome.summary is not None:
        raise typer.Exit(outcome.summary.exit_code)
