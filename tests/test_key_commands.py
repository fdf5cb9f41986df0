"""`grader key build|check`: keys are current on a clean clone, and drift or bad parts are caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.keys.check import check_key
from grader.keys.build import build_key, read_key
from grader.problemset import load_problem_file

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

TINY = '''
import torch
from grader.problemset import ProblemSet
from grader.kinds import Int, Matrix

hw = ProblemSet("tiny-keys", total=3)
A = torch.tensor([[1.0, 2.0], [3.0, 4.0]])

@hw.part("q1", marks=1, kind=Int())
def q1():
    return int(A.sum())

@hw.part("q2", marks=2, kind=Matrix(2, 2, per_entry=True))
def q2():
    return A @ A

@q2.mistake("multiplied element-wise")
def _():
    return A * A
'''


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "problems").mkdir()
    (tmp_path / "problems" / "tiny.py").write_text(TINY)
    return tmp_path


def test_committed_keys_are_current_and_self_test_passes():
    result = invoke("key", "check", "--problems", str(ROOT / "problems"), "--reference", str(ROOT / "reference"))
    assert result.exit_code == 0, result.output
    for assignment in ("csc321-hw4", "nyu-intro-ml-hw8", "ai6126-hw1", "nyu-dl-hw2", "assignment4"):
        assert f"{assignment}: ok" in result.output


def test_build_writes_key_and_solution_sheet(tiny: Path):
    result = invoke("key", "build", "--problems", str(tiny / "problems"), "--reference", str(tiny / "reference"))
    assert result.exit_code == 0, result.output
    key = read_key(tiny / "reference" / "tiny-keys.json")
    assert key.part("q1").reference == 10  # 1+2+3+4
    assert key.part("q2").reference == [[7.0, 10.0], [15.0, 22.0]]  # [[1,2],[3,4]]^2 by hand
    sheet = (tiny / "reference" / "tiny-keys.md").read_text()
    assert "multiplied element-wise" in sheet and "## q2" in sheet
    assert invoke("key", "check", "--problems", str(tiny / "problems"), "--reference", str(tiny / "reference")).exit_code == 0


def test_check_fails_after_a_reference_is_edited(tiny: Path):
    invoke("key", "build", "--problems", str(tiny / "problems"), "--reference", str(tiny / "reference"))
    path = tiny / "reference" / "tiny-keys.json"
    data = json.loads(path.read_text())
    data["parts"][0]["reference"] = 11
    path.write_text(json.dumps(data))
    result = invoke("key", "check", "--problems", str(tiny / "problems"), "--reference", str(tiny / "reference"))
    assert result.exit_code == 1
    assert "q1: stored values differ from a fresh computation" in result.output


def test_check_fails_when_the_problem_source_changes(tiny: Path):
    invoke("key", "build", "--problems", str(tiny / "problems"), "--reference", str(tiny / "reference"))
    with (tiny / "problems" / "tiny.py").open("a") as f:
        f.write("\n# an edit\n")
    result = invoke("key", "check", "--problems", str(tiny / "problems"), "--reference", str(tiny / "reference"))
    assert result.exit_code == 1
    assert "hash mismatch" in result.output


def test_check_fails_when_a_committed_key_of_the_real_sets_is_edited(tmp_path: Path):
    shutil.copytree(ROOT / "problems", tmp_path / "problems")
    shutil.copytree(ROOT / "reference", tmp_path / "reference")
    path = tmp_path / "reference" / "ai6126-hw1.json"
    data = json.loads(path.read_text())
    for part in data["parts"]:
        if part["id"] == "q1.conv1":
            part["reference"] += 1
    path.write_text(json.dumps(data))
    result = invoke("key", "check", "ai6126-hw1", "--problems", str(tmp_path / "problems"), "--reference", str(tmp_path / "reference"))
    assert result.exit_code == 1 and "q1.conv1" in result.output


def test_self_test_catches_a_mistake_equal_to_the_reference(tiny: Path):
    source = TINY.replace("return A * A", "return A @ A")
    (tiny / "problems" / "tiny.py").write_text(source)
    ps = load_problem_file(tiny / "problems" / "tiny.py")["tiny-keys"]
    report = check_key(ps, build_key(ps))
    assert not report.ok
    assert any("equals the reference" in f.problem for f in report.findings)


def test_self_test_renders_the_reference_in_every_syntax(tiny: Path):
    ps = load_problem_file(tiny / "problems" / "tiny.py")["tiny-keys"]
    report = check_key(ps, build_key(ps))
    assert report.ok, report.findings
    # int: '10', 10, and the matrix in 9 forms (rows, tabs, commas, nested, semicolons, native, 3 LaTeX)
    assert report.forms_checked == 2 + 9
    assert report.mistakes_checked == 1


def test_unknown_assignment_is_a_usage_error(tiny: Path):
    result = invoke("key", "check", "nope", "--problems", str(tiny / "problems"), "--reference", str(tiny / "reference"))
    assert result.exit_code == 2 and "unknown assignment" in result.output


def test_drift_is_judged_against_the_scale_of_the_tensor():
    from grader.keys.check import drift

    stored = {"reference": [[1000.0, 2.0], [3.0, 1e-6]], "name": "conv"}
    # 13th-digit noise, and a tiny entry off by far more than its own size but not the tensor's
    noise = {"reference": [[1000.0 * (1 + 3e-13), 2.0], [3.0, 1e-6 * 1.5]], "name": "conv"}
    assert drift(stored, noise) == []
    edited = {"reference": [[1000.0, 2.0], [3.01, 1e-6]], "name": "conv"}
    [line] = drift(stored, edited)
    assert line.startswith("reference[1][0] differs by 0.01")
    assert "3.0 in the key, 3.01 now" in line
    assert drift(stored, {**stored, "name": "conv2"}) == ["name differs ('conv' in the key, 'conv2' now)"]
    assert drift({"v": [1.0, 2.0]}, {"v": [1.0, 2.0, 3.0]}) == ["v has shape [3] now, [2] in the key"]
    assert drift({"v": 5}, {"v": 6}) != [] and drift({"v": float("nan")}, {"v": float("nan")}) == []
