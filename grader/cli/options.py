"""Options several commands share, spelled once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

OutOpt = Annotated[Path, typer.Option("--out", help="Output folder of `grader run` (holds grades.sqlite).")]
DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file (default OUT/grades.sqlite).")]
ProblemsOpt = Annotated[Path, typer.Option("--problems", help="Folder of problem sets (*.py).")]
ReferenceOpt = Annotated[Path, typer.Option("--reference", help="Folder of answer keys.")]
