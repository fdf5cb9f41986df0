"""`grader COMMAND` builds the app with only COMMAND's module (grader.cli.main): the same
commands, help and exit codes as the whole app, without importing the other commands."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
import typer
from typer.testing import CliRunner

from grader.cli import app
from grader.cli.main import _REGISTER, COMMANDS, app_for

runner = CliRunner()


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, cmd in group.commands.items():
        paths.append((*prefix, name))
        if isinstance(cmd, click.Group):
            paths += _command_paths(cmd, (*prefix, name))
    return paths


FULL = typer.main.get_command(app)
PATHS = _command_paths(FULL)


def test_every_command_of_the_app_is_in_the_dispatch_table() -> None:
    assert {p[0] for p in PATHS} == set(COMMANDS)
    assert {m for modules in COMMANDS.values() for m in modules} == set(_REGISTER)


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_a_command_built_alone_has_the_whole_apps_help(path: tuple[str, ...]) -> None:
    alone = app_for(path)
    whole = runner.invoke(app, [*path, "--help"], prog_name="grader")
    own = runner.invoke(alone, [*path, "--help"], prog_name="grader")
    assert whole.exit_code == own.exit_code == 0
    assert own.output == whole.output


def test_a_usage_error_exits_2_alone_as_in_the_whole_app() -> None:
    args = ["run", "--workers", "0"]
    whole = runner.invoke(app, args, prog_name="grader")
    own = runner.invoke(app_for(args), args, prog_name="grader")
    assert whole.exit_code == own.exit_code == 2
    assert own.output == whole.output


def test_no_command_or_an_unknown_one_gets_the_whole_app() -> None:
    assert set(typer.main.get_command(app_for([])).commands) == set(FULL.commands)
    assert set(typer.main.get_command(app_for(["--help"])).commands) == set(FULL.commands)
    result = runner.invoke(app_for(["nonsense"]), ["nonsense"], prog_name="grader")
    assert result.exit_code == 2 and "No such command 'nonsense'" in result.output


@pytest.mark.parametrize("command, module", [("run", "run"), ("gradescope", "gradescope")])
def test_python_m_grader_command_imports_no_other_command(command: str, module: str) -> None:
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['grader', {command!r}, '--help']\n"
        "try:\n    runpy.run_module('grader', run_name='__main__')\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('grader.cli.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    loaded = set(out.splitlines()[-1].split())
    commands = {f"grader.cli.{m}" for m in _REGISTER}
    assert loaded & commands == {f"grader.cli.{module}"}
    assert "grader.cli.main" in loaded
