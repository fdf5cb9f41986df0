"""The `grader` command line (console script `grader = "grader.cli:app"`): every command lives
in this package, one module per group, and nothing below it imports typer.

Exit codes (answer-format.md): 0 for a normal run — even when answers are wrong, unreadable
or whole files are broken (those are listed in OUT/run.json and on stderr); 1 when the grader
itself failed somewhere (a part with status `error`, or a key that could not be built);
2 for a usage error (no such folder, no problem sets, unknown --assignment).

    run, schema          grader.cli.run          key build|check, template   grader.cli.keys
    manual ...           grader.cli.manual       regrade                     grader.cli.regrade
    report               grader.cli.report       export canvas|moodle|...    grader.cli.export
    gradescope, export gradescope                grader.cli.gradescope
    sheets, course init  grader.cli.variants
    serve, token, check  grader.cli.serve        db upgrade|current          grader.cli.db
    worker               grader.cli.worker
    lti ...              grader.cli.lti
    xqueue               grader.cli.xqueue
"""

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
