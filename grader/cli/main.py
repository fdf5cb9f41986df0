"""The `grader` app: every command group registered on one typer app (grader.cli explains the
layout and exit codes).

`grader COMMAND ...` (the console script and `python -m grader`) builds the app with only the
module that defines COMMAND: a one-file `grader run`, or Gradescope's `grader gradescope` once
per submission, then spends nothing on importing the service, the exports, the LTI tool and the
rest (a fifth of a one-file run). Anything else (`grader`, `grader --help`, a typo) gets the
whole app, which is also `grader.cli.app` (built on first use, for tests and embedding).
Either way a command has the same options, help and exit codes: it is registered by the same
function on the same kind of app.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

import typer

HELP = "Grade deep-learning homework: answers parsed safely, checked against keys computed with PyTorch."

# How each command module adds its commands, in the order `grader --help` lists them.
_REGISTER: dict[str, Callable[[ModuleType, typer.Typer, typer.Typer], None]] = {
    "run": lambda m, app, _: m.register(app),  # run, schema
    "keys": lambda m, app, _: (app.add_typer(m.key_app, name="key"), m.register(app)),  # key ..., template
    "manual": lambda m, app, _: app.add_typer(m.manual_app, name="manual"),
    "db": lambda m, app, _: app.add_typer(m.db_app, name="db"),
    "gradescope": lambda m, app, export_app: m.register(app, export_app),  # gradescope, export gradescope|constraints
    "export": lambda m, _, export_app: m.register(export_app),  # export canvas|moodle|csv|lti|json
    "regrade": lambda m, app, _: app.command("regrade")(m.regrade_command),
    "report": lambda m, app, _: app.command("report")(m.report_command),
    "variants": lambda m, app, _: m.register(app),  # sheets, course init
    "serve": lambda m, app, _: m.register(app),  # serve, token, check
    "worker": lambda m, app, _: app.command("worker")(m.worker_command),
    "lti": lambda m, app, _: m.register(app),  # lti register|config|platforms|push
    "xqueue": lambda m, app, _: m.register(app),  # xqueue
}

# The first word after `grader` -> the modules that define it.
COMMANDS: dict[str, tuple[str, ...]] = {
    "run": ("run",), "schema": ("run",),
    "key": ("keys",), "template": ("keys",),
    "manual": ("manual",), "db": ("db",),
    "gradescope": ("gradescope",), "export": ("gradescope", "export"),
    "regrade": ("regrade",), "report": ("report",),
    "sheets": ("variants",), "course": ("variants",),
    "serve": ("serve",), "token": ("serve",), "check": ("serve",),
    "worker": ("worker",), "lti": ("lti",), "xqueue": ("xqueue",),
}


def build_app(modules: Sequence[str] | None = None) -> typer.Typer:
    """The app with the commands of `modules` (grader.cli.<name>), or of every module."""
    wanted = set(_REGISTER if modules is None else modules)
    app = typer.Typer(name="grader", help=HELP, no_args_is_help=True, add_completion=False, rich_markup_mode=None)
    app.callback()(_main)
    # `export` is shared: LMS gradebooks (grader.cli.export) and the Gradescope zip (grader.cli.gradescope).
    export_app = typer.Typer(help="Export grades for an LMS or for analysis, or the Gradescope autograder.", no_args_is_help=True)
    if wanted & {"gradescope", "export"}:
        app.add_typer(export_app, name="export")
    for name, register in _REGISTER.items():
        if name in wanted:
            register(importlib.import_module(f"grader.cli.{name}"), app, export_app)
    return app


def _main() -> None:
    """Grade deep-learning homework: answers parsed safely, checked against keys computed with PyTorch."""


def app_for(argv: Sequence[str]) -> typer.Typer:
    """The app that runs `grader ARGV`: only the named command's modules when ARGV starts with a command."""
    return build_app(COMMANDS.get(argv[0]) if argv else None)


def main() -> None:
    """The console script `grader` and `python -m grader`."""
    # Importing a command makes ~90,000 container objects that live as long as the process:
    # the collector's passes over them while importing (~20 ms each for a full one), and again
    # at every later full pass, in each forked worker too, free nothing. Import with it off,
    # then freeze what exists (gc.freeze: later passes skip it).
    gc.disable()
    try:
        app = app_for(sys.argv[1:])
    finally:
        gc.enable()
    gc.freeze()
    app(prog_name="grader")
