"""`grader run` end to end on a tiny self-made course (tests/conftest.py): what is written,
exit codes, reproducibility (byte-identical reruns, in-process or isolated), broken files."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from conftest import write, write_problems
from typer.testing import CliRunner

from grader.keys import build as keys
from grader.cli import app
from grader.models import Status, SubmissionReport
from grader.models import RunSummary
from grader.run.batch import grade_directory
from grader.run.writer import assign_file_names, safe_name

runner = CliRunner()


def populate(klass: Path) -> None:
    write(klass / "alice/answers.toml", 'assignment = "tiny-hw"\nsubmitted_at = 2026-01-02T10:00:00Z\n[answers]\nq1 = "42"\nq2 = [1, 2]\nq3 = "Because."\n')
    write(klass / "bob/answers.yaml", "assignment: tiny-hw\nanswers:\n  q1: 41\n  q2: '1 3'\n  q9: extra\n")
    write(klass / "late/carol.json", '{"assignment": "tiny-hw", "answers": {"q1": "forty", "q2": "1 2"}}')
    # alice again, earlier: listed as superseded, not graded
    write(klass / "again/alice.toml", 'assignment = "tiny-hw"\nstudent = "alice"\nsubmitted_at = 2026-01-01T09:00:00Z\n[answers]\nq1 = 6\n')
    write(klass / "evil.toml", 'assignment = "tiny-hw"\nstudent = "../../<b>evil</b>"\n[answers]\nq1 = "42"\n')
    write(klass / "broken/answers.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = = 1\n')
    write(klass / "typo.toml", 'assignment = "tiny-hw4"\n[answers]\nq1 = 1\n')
    write(klass / "noanswers.toml", 'assignment = "tiny-hw"\n')


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def run_args(course: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["run", str(course["class"]), "--out", str(out), "--problems", str(course["problems"]), "--reference", str(course["reference"]), *extra]


def tree(folder: Path) -> dict[str, bytes]:
    """Every report file under OUT (the grade store beside them records run times by design)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith("grades.sqlite")}


def test_run_writes_every_report_and_exits_0_despite_broken_files(course: dict[str, Path], tmp_path: Path) -> None:
    populate(course["class"])
    out = tmp_path / "out"
    result = invoke(*run_args(course, out, "--budget", "0"))
    assert result.exit_code == 0, result.output

    files = sorted(tree(out))
    assert files == [
        "run.json",
        "tiny-hw/alice.json",
        "tiny-hw/alice.md",
        "tiny-hw/bob.json",
        "tiny-hw/bob.md",
        "tiny-hw/carol.json",
        "tiny-hw/carol.md",
        "tiny-hw/evil.json",  # the file's name, never its student line
        "tiny-hw/evil.md",
        "tiny-hw/gradebook.csv",
        "tiny-hw/summary.md",
    ]
    alice = SubmissionReport.model_validate_json((out / "tiny-hw/alice.json").read_text())
    assert alice.source == "alice/answers.toml"  # the latest of alice's two
    bob = SubmissionReport.model_validate_json((out / "tiny-hw/bob.json").read_text())
    assert [(p.id, p.status, p.score) for p in bob.parts] == [("q1", Status.partial, 1), ("q2", Status.partial, 0.5), ("q3", Status.missing, 0)]
    assert "unknown part id 'q9' ignored" in bob.warnings
    carol = SubmissionReport.model_validate_json((out / "tiny-hw/carol.json").read_text())
    assert carol.parts[0].status is Status.invalid and carol.parts[1].status is Status.correct

    rows = list(csv.reader(io.StringIO((out / "tiny-hw/gradebook.csv").read_text(), newline="")))
    assert rows[0] == ["student", "q1", "q2", "q3", "total", "max"]
    assert rows[1:] == [
        ["alice", "2", "1", "", "3", "4"],
        ["bob", "1", "0.5", "0", "1.5", "4"],
        ["carol", "0", "1", "0", "1", "4"],
        ["evil", "2", "0", "0", "2", "4"],
    ]

    run = RunSummary.model_validate_json((out / "run.json").read_text())
    assert run.graded == 4
    assert [(s.source, s.student, s.graded) for s in run.superseded] == [("again/alice.toml", "alice", "alice/answers.toml")]
    assert [(b.source, b.assignment) for b in run.broken] == [
        ("broken/answers.toml", None),  # unreadable: which assignment it was for is unknown
        ("noanswers.toml", "tiny-hw"),
        ("typo.toml", "tiny-hw4"),
    ]
    assert "line 3" in run.broken[0].reason
    assert "no [answers] table" in run.broken[1].reason
    assert run.broken[2].reason == "unknown assignment 'tiny-hw4'; known: boom-hw, tiny-hw"
    assert run.errors == []
    assert run.warnings == ["evil.toml: the file says student = '../../<b>evil</b>', but it was handed in by 'evil'; graded as 'evil'"]
    [hw] = run.assignments
    assert (hw.assignment, hw.graded, hw.broken, hw.mean, hw.max_score) == ("tiny-hw", 4, 1, 1.875, 4.0)

    summary = (out / "tiny-hw/summary.md").read_text()
    # this assignment's broken files, and those no known assignment claims
    assert "- `broken/answers.toml`: invalid TOML" in summary
    assert "- `noanswers.toml`: no \\[answers\\] table" in summary
    assert "- `typo.toml`: unknown assignment" in summary
    assert "- `again/alice.toml` by `alice`: `alice/answers.toml` was graded instead" in summary
    assert "not graded: again/alice.toml: alice handed in a later submission (alice/answers.toml)" in result.stderr

    assert "broken: broken/answers.toml: invalid TOML" in result.stderr
    assert "broken: typo.toml: unknown assignment 'tiny-hw4'" in result.stderr
    assert "4 submission(s) graded, 3 broken (2 for no known assignment)" in result.stdout
    assert str(tmp_path) not in json.dumps([f.decode("utf-8") for f in tree(out).values()])  # no absolute paths


def test_two_runs_are_byte_identical_in_process_and_isolated(course: dict[str, Path], tmp_path: Path) -> None:
    populate(course["class"])
    first, second, isolated = tmp_path / "o1", tmp_path / "o2", tmp_path / "o3"
    assert invoke(*run_args(course, first, "--budget", "0", "--quiet")).exit_code == 0
    assert invoke(*run_args(course, second, "--budget", "0", "--quiet")).exit_code == 0
    # The default grades in killable worker processes; the reports must not depend on that.
    result = invoke(*run_args(course, isolated, "--quiet"))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # --quiet: no table
    assert tree(first) == tree(second) == tree(isolated)
    assert len(tree(first)) == 11


def test_a_grader_failure_on_a_part_exits_1_and_grades_the_rest(course: dict[str, Path], tmp_path: Path) -> None:
    write(course["class"] / "zed.toml", 'assignment = "boom-hw"\n[answers]\na = "boom"\nb = "fine"\n')
    out = tmp_path / "out"
    result = invoke(*run_args(course, out, "--budget", "0"))
    assert result.exit_code == 1
    rep = SubmissionReport.model_validate_json((out / "boom-hw/zed.json").read_text())
    assert [p.status for p in rep.parts] == [Status.error, Status.correct]
    assert "kaboom" in rep.parts[0].feedback
    assert "error: the grader failed on 1 part(s) in: boom-hw/zed.json" in result.stderr
    assert RunSummary.model_validate_json((out / "run.json").read_text()).exit_code == 1


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing-dir", "does not exist"),
        ("no-problem-sets", "no problem sets found"),
        ("unknown-assignment", "unknown assignment 'nope'; known: boom-hw, tiny-hw"),
    ],
)
def test_usage_errors_exit_2(course: dict[str, Path], tmp_path: Path, case: str, message: str) -> None:
    args = run_args(course, tmp_path / "out", "--budget", "0")
    if case == "missing-dir":
        args[1] = str(tmp_path / "no-such-class")
    elif case == "no-problem-sets":
        empty = tmp_path / "empty"
        empty.mkdir()
        args[args.index("--problems") + 1] = str(empty)
    else:
        args += ["--assignment", "nope"]
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_assignment_option_fills_in_files_without_one(course: dict[str, Path], tmp_path: Path) -> None:
    write(course["class"] / "amy.toml", '[answers]\nq1 = "42"\n')
    out = tmp_path / "out"
    assert invoke(*run_args(course, out, "--budget", "0", "--assignment", "tiny-hw")).exit_code == 0
    assert SubmissionReport.model_validate_json((out / "tiny-hw/amy.json").read_text()).score == 2
    # and without it, the same file is reported as broken (still exit 0)
    out2 = tmp_path / "out2"
    result = invoke(*run_args(course, out2, "--budget", "0"))
    assert result.exit_code == 0 and "no 'assignment' given" in result.stderr


def test_rerun_into_the_same_out_removes_reports_of_vanished_submissions(course: dict[str, Path], tmp_path: Path) -> None:
    populate(course["class"])
    out = course["class"] / "out"  # OUT inside the class folder: never read back as submissions
    assert invoke(*run_args(course, out, "--budget", "0")).exit_code == 0
    write(out / "tiny-hw/notes.txt", "the instructor's own file")
    (course["class"] / "late/carol.json").unlink()
    assert invoke(*run_args(course, out, "--budget", "0")).exit_code == 0
    assert not (out / "tiny-hw/carol.json").exists() and not (out / "tiny-hw/carol.md").exists()
    assert (out / "tiny-hw/notes.txt").exists()
    assert RunSummary.model_validate_json((out / "run.json").read_text()).graded == 3


def test_missing_keys_are_built_and_noted_in_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "torch_version", lambda: "none")  # the fixture's references need no torch
    problems = write_problems(tmp_path / "problems")
    write(tmp_path / "class/amy.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = 42\n')
    summary = grade_directory(tmp_path / "class", tmp_path / "out", problems_dir=problems, reference_dir=tmp_path / "ref", budget=None)
    assert summary.graded == 1 and summary.exit_code == 0 and summary.reports[0].score == 2
    assert [w.split(" in ")[0] for w in summary.warnings] == ["no answer key for boom-hw", "no answer key for tiny-hw"]
    assert json.loads((tmp_path / "out/run.json").read_text())["warnings"] == summary.warnings


def test_a_problem_set_that_cannot_be_keyed_is_an_error_and_the_others_are_graded(course: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "torch_version", lambda: "none")
    write(course["problems"] / "bad_hw.py", (
        "from grader.problemset import ProblemSet\n"
        "from grader.kinds.text import Text\n"
        "bad = ProblemSet('bad-hw')\n"
        "@bad.part('q1', 1, Text())\n"
        "def q1():\n"
        "    raise ZeroDivisionError('reference bug')\n"
    ))
    write(course["class"] / "amy.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = 42\n')
    result = invoke(*run_args(course, tmp_path / "out", "--budget", "0"))
    assert result.exit_code == 1  # a grader (instructor-side) error, not a usage error
    assert "bad_hw.py could not be loaded or keyed" in result.stderr and "ZeroDivisionError: reference bug" in result.stderr
    run = RunSummary.model_validate_json((tmp_path / "out" / "run.json").read_text())
    assert run.graded == 1  # tiny-hw is still graded


def test_symlink_out_of_the_class_is_reported(course: dict[str, Path], tmp_path: Path) -> None:
    secret = write(tmp_path / "secret.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = "42"\n')
    os.symlink(secret, course["class"] / "mallory.toml")
    out = tmp_path / "out"
    result = invoke(*run_args(course, out, "--budget", "0"))
    assert result.exit_code == 0
    run = RunSummary.model_validate_json((out / "run.json").read_text())
    assert run.graded == 0 and [b.source for b in run.broken] == ["mallory.toml"]
    assert "outside the class folder" in run.broken[0].reason


def test_schema_command_prints_the_report_schema() -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "SubmissionReport" and "parts" in schema["properties"]
    run_schema = json.loads(invoke("schema", "--run").stdout)
    assert run_schema["title"] == "RunSummary" and "broken" in run_schema["properties"]


def test_help_lists_the_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "run" in result.stdout and "schema" in result.stdout
    run_help = invoke("run", "--help").stdout
    for option in ("--out", "--problems", "--reference", "--assignment", "--quiet", "--budget"):
        assert option in run_help


def test_file_names_are_safe_and_distinct() -> None:
    assert safe_name("../../etc/passwd") == "_.._etc_passwd"
    assert safe_name("...") == "student" and safe_name("") == "student"
    assert safe_name("José Núñez") == "José_Núñez"
    reports = [SubmissionReport(assignment="a", student=s, score=0, max_score=0, parts=[]) for s in ("Ann", "ann", "a/b", "a_b", "summary", "x" * 500)]
    names = assign_file_names(reports)
    assert names[:5] == ["Ann", "ann~2", "a_b", "a_b~2", "summary~2"]
    assert len(names[5]) == 80 and len({n.lower() for n in names}) == len(names)



def test_run_records_in_the_grade_store_and_applies_manual_scores(course: dict[str, Path], tmp_path: Path) -> None:
    from grader.store import ManualScore, Store
    from grader.store.repository import utcnow

    populate(course["class"])
    out = tmp_path / "out"
    assert invoke(*run_args(course, out, "--budget", "0")).exit_code == 0
    with Store.open(out) as store:
        assert len(store.runs()) == 1
        assert sorted(r.student for r in store.latest_reports("tiny-hw")) == ["alice", "bob", "carol", "evil"]
        store.set_manual_score(ManualScore(assignment="tiny-hw", student="bob", part_id="q3", score=1, comment="Good.", grader="ta", at=utcnow()))
    assert invoke(*run_args(course, out, "--budget", "0")).exit_code == 0
    bob = SubmissionReport.model_validate_json((out / "tiny-hw/bob.json").read_text())
    assert bob.score == 2.5 and bob.parts[2].score == 1
    rows = {r[0]: r for r in csv.reader(io.StringIO((out / "tiny-hw/gradebook.csv").read_text(), newline=""))}
    assert rows["bob"][1:] == ["1", "0.5", "1", "2.5", "4"]


def test_reports_written_while_grading_keep_final_names_when_a_namesake_breaks(course: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports are written as they are graded under names fixed up front; if one of two files
    by the same student cannot be graded, the other ends up under the plain name, alone."""
    from grader.run import batch as runner

    real = runner.ClassGrading.grade_here

    def flaky(self, sub):  # the first of amy's two files fails inside the grader
        if sub.source.endswith("amy one.toml"):
            return self.failed(sub, "simulated failure")
        return real(self, sub)

    monkeypatch.setattr(runner.ClassGrading, "grade_here", flaky)
    # two students whose ids give the same file name, amy_one
    write(course["class"] / "x" / "amy one.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = 42\n')
    write(course["class"] / "y" / "amy_one.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = 42\n')
    out = tmp_path / "out"
    grade_directory(course["class"], out, problems_dir=course["problems"], reference_dir=None, budget=None)
    files = sorted(p.name for p in (out / "tiny-hw").iterdir() if p.name.startswith("amy"))
    assert files == ["amy_one.json", "amy_one.md"]
    assert json.loads((out / "tiny-hw" / "amy_one.json").read_text())["source"] == "y/amy_one.toml"
