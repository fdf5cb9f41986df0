"""docs/authoring.md cannot rot: its Python examples run (in order, as one script), and the
tutorial's shell commands run in a copy of docs/tutorial/ and produce what the text says."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "authoring.md"
TUTORIAL = REPO / "docs" / "tutorial"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)


def blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def test_python_examples_run_in_order() -> None:
    text = DOC.read_text(encoding="utf-8").split("## Tutorial", 1)[0]
    examples = blocks(text, "python")
    assert len(examples) >= 10  # one per concept
    namespace: dict = {"__name__": "authoring_examples"}
    for n, example in enumerate(examples, 1):
        exec(compile(example, f"docs/authoring.md, example {n}", "exec"), namespace)  # the docs' own code


def tutorial_commands() -> list[str]:
    text = DOC.read_text(encoding="utf-8").split("## Tutorial", 1)[1]
    return [line for body in blocks(text, "sh") for line in body.splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory) -> dict:
    """A copy of docs/tutorial/ after every command of the tutorial, with each command's result."""
    work = tmp_path_factory.mktemp("tutorial") / "course"
    shutil.copytree(TUTORIAL, work, ignore=shutil.ignore_patterns("out", "reference", "mlp-hw1.toml", "autograder.zip"))
    env = {k: v for k, v in os.environ.items() if k != "GRADER_COURSE"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    results = {}
    for command in tutorial_commands():
        done = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=600)
        results[command] = done
    return {"dir": work, "results": results}


def test_the_tutorial_has_every_step() -> None:
    commands = tutorial_commands()
    for step in ("grader key build", "grader key check", "grader template", "grader run", "grader manual import", "grader export gradescope"):
        assert any(c.startswith(step) for c in commands), step


def test_every_command_succeeds(tutorial) -> None:
    failed = {c: (r.returncode, r.stdout[-2000:], r.stderr[-2000:]) for c, r in tutorial["results"].items() if r.returncode != 0}
    assert failed == {}


def test_key_build_and_check(tutorial) -> None:
    key = json.loads((tutorial["dir"] / "reference" / "mlp-hw1.json").read_text())
    refs = {p["id"]: p["reference"] for p in key["parts"]}
    assert refs["q1"] == 16 and refs["q2"] == [2.5, 4.0] and refs["q3"] == 6.5  # W·[3, -1, 1] + b by hand
    assert [(i["text"], i["marks"]) for i in key["parts"][-1]["rubric"]][0] == ("Linear layers compose to one linear map", 1.0)
    sheet = (tutorial["dir"] / "reference" / "mlp-hw1.md").read_text()
    assert "**Answer:** `1 - tanh(z)^2` (checked at 32 of a pool of 64 sampled points"  # 2 of 4 blocks of 16 in sheet
    assert "1. Linear layers compose to one linear map (+1)" in sheet and "Model answer:" in sheet  # for graders
    assert "ok" in tutorial["results"]["grader key check"].stdout


def test_template_shows_the_whole_prompt(tutorial) -> None:
    template = (tutorial["dir"] / "mlp-hw1.toml").read_text()
    assert "# W = [[1, 0, -1],\n#      [2, 1, 0]]   and   b = [0.5, -1]." in template
    assert '"q5" = ""' in template


def test_grades_are_as_the_tutorial_says(tutorial) -> None:
    out = tutorial["dir"] / "out" / "mlp-hw1"
    reports = {s: json.loads((out / f"{s}.json").read_text()) for s in ("alice", "bob", "carol")}
    part = lambda s, p: next(x for x in reports[s]["parts"] if x["id"] == p)  # noqa: E731
    assert [part("alice", p)["status"] for p in ("q1", "q2", "q3", "q4")] == ["correct"] * 4
    assert part("bob", "q1")["matched"] == "mistake: bias forgotten" and part("bob", "q1")["score"] == 0
    assert part("bob", "q2")["score"] == 1 and part("bob", "q3")["matched"] == "follow-through: q2"
    assert part("bob", "q4")["matched"] == "mistake: square forgotten" and part("bob", "q4")["score"] == 1
    assert part("carol", "q2")["status"] == "invalid" and "never closed" in part("carol", "q2")["feedback"]
    # after the import of scores.csv: q5 from the rubric items picked
    assert part("alice", "q5")["score"] == 2 and [i["number"] for i in part("alice", "q5")["details"]["manual"]["rubric"]] == [1, 2]
    assert part("bob", "q5")["score"] == 1
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert (rows["alice"]["total"], rows["bob"]["total"], rows["carol"]["total"]) == ("10", "4", "5")
    assert "- item 1: Linear layers compose to one linear map (+1)" in (out / "alice.md").read_text()


def test_gradescope_zip(tutorial) -> None:
    with zipfile.ZipFile(tutorial["dir"] / "autograder.zip") as z:
        names = set(z.namelist())
    assert {"problems/mlp_hw1.py", "reference/mlp-hw1.json"} <= names
