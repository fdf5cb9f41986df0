"""The `grader` app: every command group registered on one typer app (grader.cli explains the
layout and exit codes)."""

from __future__ import annotations

import typer

from grader.cli import db, export, gradescope, keys, lti, manual, regrade, report, run, serve, variants, worker, xqueue

app = typer.Typer(
    name="grader",
    help="Grade deep-learning homework: answers parsed safely, checked against keys computed with PyTorch.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def main() -> None:
    """Grade deep-learning homework: answers parsed safely, checked against keys computed with PyTorch."""


# `export` is shared: LMS gradebooks (grader.cli.export) and the Gradescope zip (grader.cli.gradescope).
export_app = typer.Typer(help="Export grades for an LMS or for analysis, or the Gradescope autograder.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(keys.key_app, name="key")
app.add_typer(manual.manual_app, name="manual")
app.add_typer(db.db_app, name="db")
run.register(app)  # run, schema
keys.register(app)  # template
gradescope.register(app, export_app)  # gradescope, export gradescope
export.register(export_app)  # export canvas|moodle|csv|lti|json
app.command("regrade")(regrade.regrade_command)
app.command("report")(report.report_command)
variants.register(app)  # sheets, course init
serve.register(app)  # serve, token, check
app.command("worker")(worker.worker_command)
lti.register(app)  # lti register|config|platforms|push
xqueue.register(app)  # xqueue
