"""The documentation a fresh clone ships: every link resolves inside the repository, and every
grader command line of the deployment guide is one the grader has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "reference").glob("*.md")])


def test_docs_never_point_outside_the_repository() -> None:
    outside = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or an anchor
            path = (doc.parent / target.split("#")[0]).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                outside.append(f"{doc.relative_to(ROOT)}: {target}")
        for mention in re.findall(r"\.\./shared\S*|/work/\S+", text):
            outside.append(f"{doc.relative_to(ROOT)}: {mention}")
    assert outside == []


# -- docs/deploy.md: every grader command line it shows is one the grader has -------------------
DEPLOY = ROOT / "docs" / "deploy.md"
# Commands of the connectors built beside the deployment guide; checked as soon as they are
# registered on the app, reported as skipped until then.
CONNECTORS = {"worker", "lti", "xqueue"}
CONNECTOR_OPTIONS = {"serve": {"--broker", "--wait"}}


def deploy_command_lines() -> list[str]:
    """`grader ...` in the guide's shell blocks (one per line, comments cut) and code spans."""
    text = DEPLOY.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        lines += [line.split("#")[0].strip() for line in block.splitlines()]
    lines += re.findall(r"`(grader [^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return sorted({line for line in lines if line.startswith("grader ")})


def test_the_deployment_guide_shows_grader_commands() -> None:
    assert {"grader db upgrade", "grader db current --check"} <= set(deploy_command_lines())


@pytest.mark.parametrize("line", deploy_command_lines())
def test_every_command_line_in_the_deployment_guide_exists(line: str) -> None:
    import typer.main

    from grader.cli import app

    command = typer.main.get_command(app)  # the click command tree typer builds
    words = shlex.split(line)[1:]
    path: list[str] = []
    while getattr(command, "commands", None) is not None and words and not words[0].startswith("-"):
        found = command.commands.get(words[0])
        if found is None:
            if not path and words[0] in CONNECTORS:
                pytest.skip(f"`grader {words[0]}` is not on this branch yet")
            pytest.fail(f"{line!r}: `grader {' '.join(path + [words[0]])}` is no command")
        path.append(words.pop(0))
        command = found
    options = {name for param in command.params for name in getattr(param, "opts", [])}
    unknown = {w.split("=")[0] for w in words if w.startswith("--")} - options
    if unknown and unknown <= CONNECTOR_OPTIONS.get(" ".join(path), set()):
        pytest.skip(f"`grader {' '.join(path)} {' '.join(sorted(unknown))}` is not on this branch yet")
    assert not unknown, f"{line!r}: `grader {' '.join(path)}` has no {sorted(unknown)}"
