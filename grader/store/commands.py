"""Commands over the grade store: `manual`, `regrade` and `report` (the HTML class report)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from grader.manual import manual_app
    from grader.regrade import regrade_command
    from grader.report.html import report_command

    app.add_typer(manual_app, name="manual")
    app.command("regrade")(regrade_command)
    app.command("report")(report_command)
