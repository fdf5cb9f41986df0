"""The `grader` command line (console script `grader = "grader.cli.main:main"`): every command lives
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
    worker               grader.cli.worker       lti ...                     grader.cli.lti
    xqueue               grader.cli.xqueue

The app is assembled in grader.cli.main. `grader COMMAND` (the console script,
grader.cli.main:main, and `python -m grader`) imports only the module of COMMAND: a one-file
`grader run`, or Gradescope's `python -m grader gradescope` once per submission, imports no
other command. The whole app is `grader.cli.app`, built on first use.
"""
from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "app":
        global app
        from grader.cli.main import build_app

        app = build_app()  # later lookups find the module attribute, not this hook
        return app
    raise AttributeError(f"module 'grader.cli' has no attribute {name!r}")
