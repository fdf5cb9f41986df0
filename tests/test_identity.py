"""Issue 10 §1, one student, one grade: who a submission is comes from where it was handed in
(its folder or file name, the Gradescope upload), never from a `student = ...` line; two
submissions by one student give one grade (the latest) and the other is listed; other answer
files in a student's folder are warnings; exports say which roster entries and submissions do
not match. Everything runs through the real CLI, the real store and the real exports."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

from conftest import write
from typer.testing import CliRunner

from grader.cli import app
from grader.models import RunSummary, SubmissionReport
from grader.store import Store

runner = CliRunner(env={"COLUMNS": "250"})

# tiny-hw (tests/conftest.py): q1 = 42 (2 marks), q2 = [1, 2] (1 mark), q3 free text.
ALICE = 'assignment = "tiny-hw"\n[answers]\nq1 = 42\nq2 = "1 2"\n'
MALLORY = 'assignment = "tiny-hw"\nstudent = "alice"\n[answers]\nq1 = 0\nq2 = "9 9"\n'


def run(course: dict[str, Path], out: Path):
    result = runner.invoke(
        app,
        ["run", str(course["class"]), "--out", str(out), "--problems", str(course["problems"]), "--reference", str(course["reference"]), "--budget", "0", "-q"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result, RunSummary.model_validate_json((out / "run.json").read_text())


def report(out: Path, name: str) -> SubmissionReport:
    return SubmissionReport.model_validate_json((out / "tiny-hw" / f"{name}.json").read_text())


def test_a_student_line_never_replaces_another_students_grade(course: dict[str, Path], tmp_path: Path) -> None:
    # the issue: a file in any folder saying student = "alice" replaced alice's grade in the store and every export
    write(course["class"] / "alice/answers.toml", ALICE)
    write(course["class"] / "mallory/answers.toml", MALLORY)
    out = tmp_path / "out"
    result, summary = run(course, out)

    assert sorted((e.student, e.source, e.score) for e in summary.reports) == [
        ("alice", "alice/answers.toml", 3.0),
        ("mallory", "mallory/answers.toml", 0.0),
    ]
    warning = "the file says student = 'alice', but it was handed in by 'mallory'; graded as 'mallory'"
    assert warning in report(out, "mallory").warnings
    assert summary.warnings == [f"mallory/answers.toml: {warning}"]  # run.json, and stderr
    assert warning in result.stderr
    assert not report(out, "alice").warnings

    with Store.open(out) as store:  # the store keys on the identity
        stored = {r.student: (r.score, r.source) for r in store.latest_reports("tiny-hw")}
    assert stored == {"alice": (3.0, "alice/answers.toml"), "mallory": (0.0, "mallory/answers.toml")}
    exported = {}
    for fmt in ("canvas", "moodle"):
        result = runner.invoke(app, ["export", fmt, "tiny-hw", "--out", str(out), "-o", "-", "--reference", str(course["reference"])])
        exported[fmt] = list(csv.reader(io.StringIO(result.stdout)))
    assert exported["canvas"][2:] == [["alice", "", "alice", "", "", "3"], ["mallory", "", "mallory", "", "", "0"]]
    assert exported["moodle"][1:] == [["alice", "3"], ["mallory", "0"]]
    gradebook = list(csv.reader(io.StringIO((out / "tiny-hw/gradebook.csv").read_text())))
    assert [(r[0], r[-2]) for r in gradebook[1:]] == [("alice", "3"), ("mallory", "0")]


def test_of_two_submissions_the_latest_submitted_at_is_graded_and_the_other_listed(course: dict[str, Path], tmp_path: Path) -> None:
    # the later one sorts first by path, and its file is older: submitted_at decides
    write(course["class"] / "z-first/alice.toml", 'assignment = "tiny-hw"\nsubmitted_at = 2026-03-01T10:00:00Z\n[answers]\nq1 = 1\n')
    write(course["class"] / "a-second/alice/answers.toml", 'assignment = "tiny-hw"\nsubmitted_at = 2026-03-02T10:00:00+01:00\n[answers]\nq1 = 42\n')
    os.utime(course["class"] / "a-second/alice/answers.toml", (1_000_000, 1_000_000))
    out = tmp_path / "out"
    result, summary = run(course, out)
    assert [(e.student, e.source) for e in summary.reports] == [("alice", "a-second/alice/answers.toml")]
    assert report(out, "alice").score == 2
    assert report(out, "alice").warnings == [
        "this is the latest of 2 submissions for this assignment and the one graded; not graded: 'z-first/alice.toml'"
    ]
    [old] = summary.superseded
    assert (old.source, old.student, old.graded) == ("z-first/alice.toml", "alice", "a-second/alice/answers.toml")
    assert "- `z-first/alice.toml` by `alice`: `a-second/alice/answers.toml` was graded instead" in (out / "tiny-hw/summary.md").read_text()
    assert "not graded: z-first/alice.toml" in result.stderr
    assert "superseded" in json.loads((out / "run.json").read_text())


def test_without_submitted_at_the_newer_file_is_graded(course: dict[str, Path], tmp_path: Path) -> None:
    older = write(course["class"] / "b/alice.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = 42\n')
    newer = write(course["class"] / "a/alice.toml", 'assignment = "tiny-hw"\n[answers]\nq1 = 7\n')
    os.utime(older, (1_000_000, 1_000_000))
    os.utime(newer, (2_000_000, 2_000_000))
    out = tmp_path / "out"
    _, summary = run(course, out)
    assert [(e.source, e.score) for e in summary.reports] == [("a/alice.toml", 0.0)]
    assert [s.source for s in summary.superseded] == ["b/alice.toml"]
    assert not (out / "tiny-hw/alice~2.json").exists()  # never a second grade for one student


def test_a_run_without_duplicates_writes_no_superseded_list(course: dict[str, Path], tmp_path: Path) -> None:
    write(course["class"] / "alice/answers.toml", ALICE)
    out = tmp_path / "out"
    run(course, out)
    assert "superseded" not in json.loads((out / "run.json").read_text())


def test_other_answer_files_in_a_students_folder_are_warnings(course: dict[str, Path], tmp_path: Path) -> None:
    write(course["class"] / "alice/answers.toml", ALICE)
    write(course["class"] / "alice/answers.yaml", "assignment: tiny-hw\nanswers:\n  q1: 1\n")
    write(course["class"] / "alice/draft/old.json", '{"assignment": "tiny-hw", "answers": {"q1": 2}}')
    write(course["class"] / "alice/notes.txt", "not an answer file")
    out = tmp_path / "out"
    _, summary = run(course, out)
    assert [(e.student, e.source) for e in summary.reports] == [("alice", "alice/answers.toml")]
    assert not summary.superseded
    assert report(out, "alice").warnings == [
        "other answer files in the folder were not read: 'answers.yaml', 'draft/old.json' (only answers.toml is graded)"
    ]


def test_exports_warn_about_roster_entries_without_a_submission_and_back(course: dict[str, Path], tmp_path: Path) -> None:
    write(course["class"] / "alice/answers.toml", ALICE)
    write(course["class"] / "bob.toml", ALICE)
    out = tmp_path / "out"
    run(course, out)
    roster = write(tmp_path / "roster.csv", "student,name\nalice,Alice A\nzoe,Zoe Z\nyan,Yan Y\n")
    result = runner.invoke(app, ["export", "canvas", "tiny-hw", "--out", str(out), "--roster", str(roster), "--reference", str(course["reference"])])
    assert result.exit_code == 0, result.output
    assert "warning: 2 roster entries without a submission: yan, zoe" in result.stderr
    assert "warning: 1 submission(s) without a roster entry: bob" in result.stderr
    # the export's closing summary says it too
    assert "Wrote 2 student(s) to" in result.stderr
    assert "; 2 roster entries without a submission: yan, zoe; 1 submission(s) without a roster entry: bob" in result.stderr
    clean = write(tmp_path / "full.csv", "student\nalice\nbob\n")
    quiet = runner.invoke(app, ["export", "moodle", "tiny-hw", "--out", str(out), "--roster", str(clean), "--reference", str(course["reference"])])
    assert "warning" not in quiet.stderr and "without a" not in quiet.stderr


# -- Gradescope: the uploader, never the file -------------------------------------------------------


def test_gradescope_grades_the_uploader_not_the_files_student_line(course: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    shutil.copytree(course["problems"], root / "source" / "problems")
    shutil.copytree(course["reference"], root / "source" / "reference")
    write(root / "submission/answers.toml", MALLORY)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"sid": "m-77", "email": "mallory@uni.example"}]}))
    result = runner.invoke(app, ["gradescope", "--root", str(root), "--assignment", "tiny-hw"])
    assert result.exit_code == 0, result.output
    data = json.loads((root / "results/results.json").read_text())
    assert data["extra_data"]["student"] == "m-77"
    assert "the file says student = 'alice', but it was handed in by 'm-77'" in data["output"]
