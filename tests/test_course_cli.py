"""The course on the command line: `grader course check`, and every command finding its folders
in the course file (from --course or GRADER_COURSE, from any directory), explicit flags winning."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.course import COURSE_ENV

runner = CliRunner()

TINY = '''
import torch
from grader.problemset import ProblemSet
from grader.kinds import Int, Matrix

hw = ProblemSet("tiny", total=3)
A = torch.tensor([[1.0, 2.0], [3.0, 4.0]])

@hw.part("q1", marks=1, kind=Int())
def q1():
    return int(A.sum())

@hw.part("q2", marks=2, kind=Matrix(2, 2))
def q2():
    return A @ A
'''

# Folders under other names than the defaults, so that finding them by default cannot pass.
COURSE = """
[course]
title = "A course"
problems = "sets"
reference = "keys"
submissions = "handed-in"
out = "results"

[assignments.tiny]
due = 2026-03-12T23:59:00+00:00
"""

RIGHT = 'assignment = "tiny"\nstudent = "{student}"\n\n[answers]\nq1 = {q1}\nq2 = [[7, 10], [15, 22]]\n'


@pytest.fixture()
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "course"
    (folder / "sets").mkdir(parents=True)
    (folder / "sets" / "tiny.py").write_text(TINY)
    (folder / "grader.toml").write_text(COURSE)
    for student, q1 in (("alice", 10), ("bob", 11)):  # 1+2+3+4 = 10: bob is wrong
        (folder / "handed-in" / "tiny" / student).mkdir(parents=True)
        (folder / "handed-in" / "tiny" / student / "answers.toml").write_text(RIGHT.format(student=student, q1=q1))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no grader.toml here or above
    monkeypatch.delenv(COURSE_ENV, raising=False)
    return folder


def invoke(*args: object, env: dict[str, str] | None = None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def totals(out: Path) -> dict[str, float]:
    rows = list(csv.DictReader(io.StringIO((out / "tiny" / "gradebook.csv").read_text())))
    return {r["student"]: float(r["total"]) for r in rows}


def test_every_command_finds_the_course_folders(course: Path) -> None:
    built = invoke("key", "build", "--course", course)
    assert built.exit_code == 0, built.output
    assert (course / "keys" / "tiny.json").is_file()
    checked = invoke("key", "check", env={COURSE_ENV: str(course)})
    assert checked.exit_code == 0 and "tiny: ok" in checked.output, checked.output

    graded = invoke("run", "--course", course, "--quiet", "--budget", "0")
    assert graded.exit_code == 0, graded.output
    assert totals(course / "results") == {"alice": 3.0, "bob": 2.0}
    assert not list(Path.cwd().iterdir())  # nothing written where the command ran

    report = invoke("report", "tiny", env={COURSE_ENV: str(course)})
    assert report.exit_code == 0 and (course / "results" / "tiny" / "report.html").is_file(), report.output
    exported = invoke("export", "csv", "tiny", "--course", course, "-o", "-")
    assert exported.exit_code == 0 and "alice" in exported.output and "bob" in exported.output, exported.output
    template = invoke("template", "tiny", "--course", course)
    assert template.exit_code == 0 and "q2" in template.output
    override = invoke("manual", "override", "tiny", "bob", "q1", "1", "--reason", "regraded", "--course", course)
    assert override.exit_code == 0, override.output
    assert totals(course / "results") == {"alice": 3.0, "bob": 3.0}  # the store is the course's


def test_explicit_flags_win_over_the_course_file(course: Path, tmp_path: Path) -> None:
    assert invoke("key", "build", "--course", course, "--reference", tmp_path / "my-keys").exit_code == 0
    assert (tmp_path / "my-keys" / "tiny.json").is_file() and not (course / "keys").exists()
    other = tmp_path / "other"
    (other / "tiny" / "carol").mkdir(parents=True)
    (other / "tiny" / "carol" / "answers.toml").write_text(RIGHT.format(student="carol", q1=10))
    result = invoke("run", other, "--out", tmp_path / "out", "--reference", tmp_path / "my-keys", "--course", course, "--quiet", "--budget", "0")
    assert result.exit_code == 0, result.output
    assert totals(tmp_path / "out") == {"carol": 3.0} and not (course / "results").exists()
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert not [w for w in run["warnings"] if "stale" in w or "no answer key" in w]  # the keys given were used


def test_a_named_course_that_does_not_exist_is_a_usage_error(course: Path, tmp_path: Path) -> None:
    result = invoke("run", "--course", tmp_path / "nowhere")
    assert result.exit_code == 2 and "no grader.toml there" in result.output
    result = invoke("key", "check", env={COURSE_ENV: str(tmp_path / "nowhere")})
    assert result.exit_code == 2 and "GRADER_COURSE" in result.output


def test_course_check_passes_a_good_course(course: Path) -> None:
    result = invoke("course", "check", "--course", course)
    assert result.exit_code == 0 and result.output.strip() == f"{(course / 'grader.toml').resolve()}: ok"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[assignments.tiny2]\n", "assignments.tiny2: unknown assignment: it is not a problem set in"),
        ('[assignments.v]\nproblem_set = "tony"\n', "assignments.v: unknown assignment: its problem_set 'tony' is not a problem set"),
        ('[assignments.tiny]\ndue = "next friday"\n', "assignments.tiny.due: not a date ('next friday')"),
        ('[assignments.tiny]\nfeedback = { after_due = "everything" }\n', "assignments.tiny.feedback.after_due: 'everything' is not a feedback policy"),
        ('[course]\nroster = "class.csv"\n', "course.roster: no such file"),
        ('[course]\nrooster = "class.csv"\n', "course.rooster: unknown setting"),
        ('[assignments.tiny]\nlate = { per_week = 0.1 }\n', "assignments.tiny.late.per_week: unknown setting"),
        ('[defaults]\nlate = "strict"\n', "defaults.late: not a late policy ('strict'); write it as a table, e.g. late = { per_day"),
        ('[assignments.tiny]\nfeedback = "mistakes"\n', "assignments.tiny.feedback: not a feedback policy ('mistakes'); write it as a table"),
    ],
)
def test_course_check_says_each_mistake_in_one_line(course: Path, toml: str, expected: str) -> None:
    (course / "grader.toml").write_text('[course]\nproblems = "sets"\n' + toml if not toml.startswith("[course]") else toml.replace("[course]\n", '[course]\nproblems = "sets"\n'))
    result = invoke("course", "check", "--course", course)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stdout.splitlines() if line]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{(course / 'grader.toml').resolve()}: {expected}"), lines[0]


def test_course_check_reports_every_mistake_and_a_roster_without_students(course: Path) -> None:
    (course / "class.csv").write_text("name,email\nAlice,a@example.edu\n")
    (course / "grader.toml").write_text(
        '[course]\nproblems = "sets"\nroster = "class.csv"\n[assignments.tiny]\nroster = "own.csv"\n[assignments.hw9]\n'
    )
    result = invoke("course", "check", "--course", course)
    assert result.exit_code == 1
    settings = sorted(line.split(": ")[1] for line in result.stdout.splitlines() if line)
    assert settings == ["assignments.hw9", "assignments.tiny.roster", "course.roster"], result.stdout
    assert "a roster needs a 'student' column" in result.stdout


def test_course_check_without_any_course_is_a_usage_error(course: Path) -> None:
    result = invoke("course", "check")
    assert result.exit_code == 2 and "no grader.toml here" in result.output


def test_manual_refresh_applies_the_named_courses_feedback_policy(tmp_path, monkeypatch):
    """`grader manual override --course C` rewrites the reports at C's feedback level, not at
    that of the course found from the current directory (the repository's, whose due dates
    are past and so shows everything)."""
    import json
    import shutil

    from typer.testing import CliRunner

    from grader.cli import app

    root = Path(__file__).resolve().parents[1]
    course = tmp_path / "course"
    (course / "submissions" / "csc321-hw4").mkdir(parents=True)
    shutil.copytree(root / "submissions" / "csc321-hw4" / "s1001", course / "submissions" / "csc321-hw4" / "s1001")
    (course / "grader.toml").write_text(
        f'[course]\nproblems = "{root / "problems"}"\nreference = "{root / "reference"}"\n'
        '[assignments.csc321-hw4]\ndue = 2999-01-01T00:00:00Z\nfeedback = { before_due = "score", after_due = "reference" }\n'
    )
    runner = CliRunner()
    ran = runner.invoke(app, ["run", "--course", str(course), "--budget", "0", "--quiet"])
    assert ran.exit_code == 0, ran.output
    report = course / "out" / "csc321-hw4" / "s1001.json"
    before = json.loads(report.read_text())
    assert before["parts"] == []  # score only, before the due date
    monkeypatch.chdir(root)  # the repository's own grader.toml is the nearest course here
    done = runner.invoke(app, ["manual", "override", "csc321-hw4", "s1001", "q2a", "1", "--reason", "checked", "--course", str(course)])
    assert done.exit_code == 0, done.output
    refreshed = json.loads(report.read_text())
    assert refreshed["parts"] == []  # still score only
    assert refreshed["score"] != before["score"]  # and the refresh did happen: the override counts
