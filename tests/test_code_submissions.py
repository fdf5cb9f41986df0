"""Code in submissions: typed answers and code side by side, a folder of code only (a notebook),
an unreadable notebook, the key of a code part, and Gradescope grading code in the container.

A tiny problem set of our own: q1 an integer, q2 a function `affine(x) = 2x + 1` with a named
mistake worth partial marks, in the order `ProblemSet.code` declares them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.keys.catalog import Catalog
from grader.keys.code_check import code_findings
from grader.models import Status, Submission
from grader.problemset import load_problem_file
from grader.run.batch import grade_class
from grader.submission import discover, find_answer_file, read_submission

MIXED = '''
from grader.kinds import Int
from grader.problemset import ProblemSet
from grader.sandbox import Limits

mixed = ProblemSet("mixed-hw", title="Typed answers and code")


@mixed.part("q1", 1, Int(), solutions=("42",))
def q1():
    return 6 * 7


@mixed.code("q2", 2, entry="affine", inputs={"x": (3, 4)}, grad_inputs=("x",), limits=Limits(seconds=5))
def q2(x):
    """Write affine(x) = 2x + 1."""
    return 2 * x + 1


@q2.mistake("offset missing", marks=0.5, note="The + 1 is part of it.")
def _(x):
    return 2 * x
'''
RIGHT = "# grader: q2\ndef affine(x):\n    return 2 * x + 1\n"
OFFSET_MISSING = "# grader: q2\ndef affine(x):\n    return x + x\n"


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mixed")
    (root / "problems").mkdir()
    (root / "problems" / "mixed.py").write_text(MIXED)
    return root


@pytest.fixture(scope="module")
def catalog(course: Path) -> Catalog:
    return Catalog(course / "problems", None)


def _folder(base: Path, name: str, files: dict[str, str]) -> Path:
    folder = base / name
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder


def _notebook(cells: list[tuple[list[str], str]]) -> str:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    return nbformat.writes(new_notebook(cells=[new_code_cell(code, metadata={"tags": tags}) for tags, code in cells]))


def test_typed_answers_and_code_side_by_side(tmp_path, catalog):
    folder = _folder(tmp_path, "s1", {"answers.toml": 'assignment = "mixed-hw"\n[answers]\nq1 = "42"\n', "solution.py": RIGHT})
    sub = read_submission(folder / "answers.toml", root=tmp_path)
    assert isinstance(sub, Submission) and sub.answers == {"q1": "42"} and list(sub.code) == ["solution.py"]
    report = catalog.grader("mixed-hw").grade(sub)
    assert [(p.id, p.status, p.score) for p in report.parts] == [("q1", Status.correct, 1), ("q2", Status.correct, 2)]
    assert report.parts[1].kind == "code" and report.parts[1].answer == "solution.py (line 1)"


def test_a_named_code_mistake_earns_its_marks(tmp_path, catalog):
    folder = _folder(tmp_path, "s2", {"answers.toml": 'assignment = "mixed-hw"\n', "solution.py": OFFSET_MISSING})
    report = catalog.grader("mixed-hw").grade(read_submission(folder / "answers.toml", root=tmp_path))
    q1, q2 = report.parts
    assert q1.status is Status.missing
    assert q2.status is Status.partial and q2.score == 0.5 and q2.matched == "mistake: offset missing"
    assert "The + 1 is part of it." in q2.feedback and "Earns 0.5 of 2" in q2.feedback


def test_a_folder_of_code_only_is_a_submission_for_the_assignment_given(tmp_path, catalog):
    notebook = _notebook([(["grader:q2"], "def affine(x):\n    return 2 * x + 1\n"), ([], "raise SystemExit('untagged')")])
    _folder(tmp_path / "class", "s3", {"hw.ipynb": notebook})
    _folder(tmp_path / "class", "s4", {"answers.toml": 'assignment = "mixed-hw"\n[answers]\nq1 = 41\n'})
    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path / "class")] == ["class/s3/hw.ipynb", "class/s4/answers.toml"]
    graded = dict(grade_class(tmp_path / "class", catalog, assignment="mixed-hw", budget=None))
    code_only = graded[0]
    assert code_only.student == "s3" and [p.status for p in code_only.parts] == [Status.missing, Status.correct]
    # without --assignment a code-only folder says what it lacks
    broken = read_submission(tmp_path / "class" / "s3" / "hw.ipynb", root=tmp_path / "class")
    assert not isinstance(broken, Submission) and "assignment" in broken.reason


def test_an_unreadable_notebook_is_invalid_and_the_rest_is_graded(tmp_path, catalog):
    folder = _folder(tmp_path, "s5", {"answers.toml": 'assignment = "mixed-hw"\n[answers]\nq1 = "42"\n', "hw.ipynb": '{"cells": [tru'})
    report = catalog.grader("mixed-hw").grade(read_submission(folder / "answers.toml", root=tmp_path))
    assert report.parts[0].status is Status.correct
    assert report.parts[1].status is Status.invalid and "not a readable Jupyter notebook" in report.parts[1].feedback


def test_code_of_another_part_only_is_missing(tmp_path, catalog):
    folder = _folder(tmp_path, "s6", {"answers.toml": 'assignment = "mixed-hw"\n', "hw.py": "# grader: q9\ndef affine(x):\n    return 2 * x + 1\n"})
    part = catalog.grader("mixed-hw").grade(read_submission(folder / "answers.toml", root=tmp_path)).parts[1]
    assert part.status is Status.missing and "# grader: q2" in part.feedback


def test_the_key_of_a_code_part_holds_probes_computed_by_the_reference(catalog, course):
    part = catalog.keys["mixed-hw"].part("q2")
    assert part.kind == "code" and part.kind_spec["type"] == "Code"
    data = part.reference
    assert [m.name for m in part.mistakes] == ["offset missing"] and part.mistakes[0].marks == 0.5
    for probe in data["probes"]:  # the reference's outputs are 2x + 1 of the stored inputs, the mistake's 2x
        x = probe["inputs"]["x"]["values"]
        assert probe["reference"][0]["values"] == [2 * v + 1 for v in x]
        assert probe["variants"]["offset missing"][0]["values"] == [2 * v for v in x]
        assert probe["reference_grads"]["input0"]["values"] == pytest.approx([2 * c for c in probe["cotangents"][0]["values"]])
    ps = load_problem_file(course / "problems" / "mixed.py")["mixed-hw"]
    assert code_findings(ps, catalog.keys["mixed-hw"]) == ([], 1)


def test_key_check_finds_a_mistake_that_cannot_be_told_from_the_reference(tmp_path):
    (tmp_path / "problems").mkdir()
    (tmp_path / "problems" / "twin.py").write_text(MIXED.replace('"mixed-hw"', '"twin-hw"').replace("    return 2 * x\n", "    return x + x + 1\n"))
    result = CliRunner().invoke(app, ["key", "check", "--problems", str(tmp_path / "problems"), "--reference", str(tmp_path / "reference")])
    assert result.exit_code == 1
    assert "'offset missing' and 'reference' agree" in result.output.replace("\n", " ") or "'reference' and 'offset missing' agree" in result.output.replace("\n", " ")


def test_gradescope_grades_a_notebook_upload(tmp_path, course):
    import shutil

    root = tmp_path / "autograder"
    shutil.copytree(course / "problems", root / "source" / "problems")
    (root / "source" / "reference").mkdir()
    upload = root / "submission"
    _folder(root, "submission", {"hw2.ipynb": _notebook([(["grader:q2"], "def affine(x):\n    return 2 * x + 1\n")])})
    assert find_answer_file(upload) == upload / "hw2.ipynb"
    result = CliRunner().invoke(app, ["gradescope", "--root", str(root), "--assignment", "mixed-hw"])
    assert result.exit_code == 0, result.output
    results = json.loads((root / "results" / "results.json").read_text())
    tests = {t["name"].split(" ")[0]: t for t in results["tests"]}
    assert tests["q2"]["score"] == 2 and tests["q2"]["status"] == "passed", tests["q2"]
    assert tests["q1"]["score"] == 0
    assert results["score"] == 2


def test_a_key_folder_the_sandbox_could_read_stops_code_parts_only(tmp_path, monkeypatch):
    """Keys inside what sandboxed code may read (here: a folder the test declares readable)
    make the sandbox refuse to start: the code part is an error saying so, the typed part is
    graded."""
    import grader.code.part as code_part
    import grader.code.protected as protected
    import grader.sandbox.client as client

    readable = tmp_path / "readable"
    (readable / "reference").mkdir(parents=True)
    monkeypatch.setattr(client, "python_read_paths", lambda: [str(readable)])
    monkeypatch.setattr(protected, "_paths", [])
    monkeypatch.setattr(code_part, "_shared", None)
    (tmp_path / "problems").mkdir()
    (tmp_path / "problems" / "mixed.py").write_text(MIXED)
    catalog = Catalog(tmp_path / "problems", readable / "reference")
    folder = _folder(tmp_path, "s7", {"answers.toml": 'assignment = "mixed-hw"\n[answers]\nq1 = "42"\n', "solution.py": RIGHT})
    report = catalog.grader("mixed-hw").grade(read_submission(folder / "answers.toml", root=tmp_path))
    assert report.parts[0].status is Status.correct
    assert report.parts[1].status is Status.error and "which sandboxed code may read" in report.parts[1].feedback


def test_gradescope_alarm_does_not_stop_code_within_its_own_limits(tmp_path, course):
    """A part budget of 1 s, a code part whose tests may take 5 s each: code that spends 0.6 s
    on every one of its 8 calls (about 5 s in all) is graded, not stopped at the budget (each
    sandboxed test runs through the driver's setup hook, which pauses the alarm)."""
    import shutil

    root = tmp_path / "autograder"
    shutil.copytree(course / "problems", root / "source" / "problems")
    (root / "source" / "reference").mkdir()
    slow = "import time\n\ndef affine(x):\n    deadline = time.monotonic() + 0.6\n    while time.monotonic() < deadline:\n        pass\n    return 2 * x + 1\n"
    _folder(root, "submission", {"hw2.ipynb": _notebook([(["grader:q2"], slow)])})
    result = CliRunner().invoke(app, ["gradescope", "--root", str(root), "--assignment", "mixed-hw", "--part-budget", "1"])
    assert result.exit_code == 0, result.output
    tests = {t["name"].split(" ")[0]: t for t in json.loads((root / "results" / "results.json").read_text())["tests"]}
    assert tests["q2"]["score"] == 2, tests["q2"]["output"]


def test_the_template_sends_code_parts_to_the_code_files(course):
    from grader.keys.template import render

    ps = load_problem_file(course / "problems" / "mixed.py")["mixed-hw"]
    toml = render(ps, "toml")
    assert '"q1" = ""' in toml and '"q2" =' not in toml
    assert "# grader: q2" in toml and "code: a function, affine(x)" in toml
    assert "q2" not in json.loads(render(ps, "json"))["answers"]
