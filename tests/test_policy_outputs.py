"""The feedback policy where students read: `grader run`'s report files and Gradescope's
results.json (through its `visibility` fields), the store and staff files untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.course import FeedbackPolicy
from grader.models import FeedbackLevel, PartResult, Status, SubmissionReport
from grader.lms.gradescope.results import AFTER_DUE, part_tests
from grader.run.writer import write_report_files

REPO = Path(__file__).resolve().parents[1]
REVEALS = "The right value there is 376."


def wrong_formula() -> PartResult:
    return PartResult(
        id="q3d.params", score=0, max_score=1, status=Status.incorrect, kind="expr", answer="3V", canonical="3*V",
        feedback="Incorrect. At V=125: yours is 375, which is not the right value.", reveals=REVEALS,
        matched=None, details={"method": "sampled points", "expected": 376},
    )


def policy(before: str, after: str) -> FeedbackPolicy:
    return FeedbackPolicy(before_due=FeedbackLevel(before), after_due=FeedbackLevel(after))


def test_default_policy_shows_the_verdict_now_and_the_reference_after_the_due_date() -> None:
    now, later = part_tests(wrong_formula(), False, "visible", FeedbackPolicy())
    assert now.visibility == "visible" and (now.score, now.max_score) == (0, 1)
    assert "yours is 375" in now.output and "376" not in now.output
    assert later.visibility == "after_due_date" and REVEALS in later.output and "yours is 375" in later.output
    assert later.name.endswith(AFTER_DUE) and (later.score, later.max_score) == (0, 0)  # marks counted once


def test_nothing_more_to_show_after_the_due_date_means_one_test() -> None:
    right = PartResult(id="q1", score=1, max_score=1, status=Status.correct, feedback="Correct.", kind="int")
    assert [t.visibility for t in part_tests(right, False, "visible", FeedbackPolicy())] == ["visible"]
    assert [t.visibility for t in part_tests(wrong_formula(), False, "visible", policy("reference", "reference"))] == ["visible"]


def test_verdicts_before_and_mistakes_after() -> None:
    now, later = part_tests(wrong_formula(), False, "visible", policy("verdicts", "mistakes"))
    assert "Not correct." in now.output and "yours is" not in now.output
    assert "yours is 375" in later.output and "376" not in later.output


def test_score_only_hides_every_part_from_students() -> None:
    (staff,) = part_tests(wrong_formula(), False, "visible", policy("score", "score"))
    assert staff.visibility == "hidden" and REVEALS in staff.output  # staff see everything
    (later,) = part_tests(wrong_formula(), False, "visible", policy("score", "reference"))
    assert later.visibility == "after_due_date" and (later.score, later.max_score) == (0, 1)


def test_report_files_show_what_the_level_allows(tmp_path: Path) -> None:
    report = SubmissionReport(assignment="hw", student="s1", score=0, max_score=1, parts=[wrong_formula()])
    write_report_files(report, tmp_path / "before", FeedbackLevel.mistakes)
    write_report_files(report, tmp_path / "after", FeedbackLevel.reference)
    before = json.loads((tmp_path / "before.json").read_text())["parts"][0]
    assert "reveals" not in before and "expected" not in before["details"] and before["feedback"].startswith("Incorrect. At V=125")
    assert "376" not in (tmp_path / "before.md").read_text()
    assert json.loads((tmp_path / "after.json").read_text())["parts"][0]["reveals"] == REVEALS
    assert f"yours is 375, which is not the right value. {REVEALS}" in (tmp_path / "after.md").read_text()
    assert report.parts[0].reveals == REVEALS  # what the store records is untouched


@pytest.fixture
def autograder(tmp_path: Path) -> Path:
    """/autograder with the demo course's problems and keys and a course file whose due date
    is in the future."""
    root = tmp_path / "autograder"
    shutil.copytree(REPO / "problems", root / "source" / "problems")
    shutil.copytree(REPO / "reference", root / "source" / "reference")
    (root / "source" / "grader.toml").write_text('[assignments.csc321-hw4]\ndue = 2999-01-01T00:00:00Z\n')
    (root / "submission").mkdir()
    (root / "submission" / "answers.toml").write_text('assignment = "csc321-hw4"\n[answers]\n"q3d.params" = "2V + 1"\n"q1.conv1.params" = "34849"\n')
    return root


def test_gradescope_keeps_the_reference_for_after_the_due_date(autograder: Path) -> None:
    result = CliRunner().invoke(app, ["gradescope", "--root", str(autograder), "--assignment", "csc321-hw4"])
    assert result.exit_code == 0, result.output
    data = json.loads((autograder / "results" / "results.json").read_text())
    tests = [t for t in data["tests"] if t["number"] == "q3d.params"]
    assert [t.get("visibility", "visible") for t in tests] == ["visible", "after_due_date"]
    assert "which is not the right value" in tests[0]["output"] and "The right value there is" not in tests[0]["output"]
    assert "The right value there is" in tests[1]["output"]
    assert data["score"] == 0 and sum(t["score"] for t in data["tests"]) == 0
    # a part without anything to reveal is one test, as before
    assert len([t for t in data["tests"] if t["number"] == "q1.conv1.params"]) == 1
