"""Manual grading: the interactive queue, the CSV import, overrides, and scores surviving re-runs."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from _store_fixtures import ASSIGNMENT, write_problem, write_submissions
from grader.cli import app
from grader.cli.manual import QUIT, SKIP, parse_entry
from grader.store import Store

runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that rich tables do not wrap reasons


@pytest.fixture
def course(tmp_path):
    """A class folder graded once by `grader run` (which records into OUT/grades.sqlite)."""
    problems = write_problem(tmp_path / "problems").parent
    subs = write_submissions(tmp_path / "subs")
    out = tmp_path / "out"
    args = ["run", str(subs), "--out", str(out), "--problems", str(problems), "--reference", str(tmp_path / "reference"), "--budget", "0", "-q"]  # in-process: isolation is not under test here
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return {"out": out, "run": args, "tmp": tmp_path}


def report_on_disk(out, student):
    return json.loads((out / ASSIGNMENT / f"{student}.json").read_text())


def part(report, part_id):
    return next(p for p in report["parts"] if p["id"] == part_id)


def manual(course, *args, input=None):
    return runner.invoke(app, ["manual", *args, "--out", str(course["out"])], input=input)


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("4", (4.0, "")),
        ("2.5, clear but no example", (2.5, "clear but no example")),
        ("3 good; see q2", (3.0, "good; see q2")),
        (" .5 ", (0.5, "")),
        ("s", SKIP),
        ("Q", QUIT),
    ],
)
def test_entries_are_read_as_score_then_comment(typed, expected):
    assert parse_entry(typed, 5) == expected


@pytest.mark.parametrize("typed", ["", "good", "6", "-1", "5.5, too generous"])
def test_bad_entries_are_refused_with_a_reason(typed):
    with pytest.raises(ValueError, match="score"):
        parse_entry(typed, 5)


def test_interactive_queue_stores_each_entry_and_resumes(course):
    out = course["out"]
    # queue for q3: ann, bob, cat (dan left q3 out). Bad entries are asked again; input ends -> stop.
    result = manual(course, ASSIGNMENT, "--grader", "ta1", input="4, Good point\nnope\n9\n2 too brief\n")
    assert result.exit_code == 0, result.output
    assert "3 free-text answer(s) to score" in result.output
    assert "Weights are shared so features are detected anywhere." in result.output  # ann's answer shown
    assert "start with a score" in result.output and "between 0 and 5" in result.output
    assert "Scored 2, skipped 0; 1 left for next time." in result.output
    with Store.open(out) as s:
        got = {(m.student, m.part_id): (m.score, m.comment, m.grader) for m in s.manual_scores(ASSIGNMENT)}
    assert got == {("ann", "q3"): (4, "Good point", "ta1"), ("bob", "q3"): (2, "too brief", "ta1")}
    # the reports on disk were brought up to date
    ann = report_on_disk(out, "ann")
    assert ann["score"] == 9 and part(ann, "q3")["status"] == "partial" and part(ann, "q3")["feedback"] == "Good point"
    gradebook = list(csv.reader((out / ASSIGNMENT / "gradebook.csv").open()))
    assert gradebook[1][:5] == ["ann", "2", "3", "4", "9"]

    # next session: only cat is left; skip, then the queue is empty
    result = manual(course, ASSIGNMENT, input="s\n")
    assert "1 free-text answer(s) to score" in result.output and "Fewer parameters" not in result.output
    assert "Scored 0, skipped 1." in result.output
    result = manual(course, ASSIGNMENT, input="5, Full marks\n")
    assert "Scored 1" in result.output
    assert "Nothing to score" in manual(course, ASSIGNMENT).output


def test_manual_scores_survive_a_rerun(course):
    out = course["out"]
    manual(course, ASSIGNMENT, input="5, Exactly right\nq\n")
    assert report_on_disk(out, "ann")["score"] == 10
    result = runner.invoke(app, course["run"])  # the autograder runs again over the same class
    assert result.exit_code == 0, result.output
    ann = report_on_disk(out, "ann")
    assert ann["score"] == 10 and part(ann, "q3") | {"details": None} == part(ann, "q3") | {
        "score": 5.0, "status": "correct", "feedback": "Exactly right", "details": None
    }
    assert "Exactly right" in (out / ASSIGNMENT / "ann.md").read_text()
    gradebook = {row[0]: row for row in csv.reader((out / ASSIGNMENT / "gradebook.csv").open())}
    assert gradebook["ann"][3:5] == ["5", "10"] and gradebook["bob"][3] == ""  # bob's q3 still awaits a grader
    with Store.open(out) as s:
        assert len(s.runs()) == 2 and len(s.manual_scores(ASSIGNMENT)) == 1


GOOD_ROWS = "Student,Part,Score,Comment\nann,q3,4,Nice\n" 'cat,q3,5,"Full marks, well argued"\n'


def test_csv_import_checks_every_row_first_and_imports_all_or_none(course):
    out, sheet = course["out"], course["tmp"] / "scores.csv"
    sheet.write_text(
        "Student,Part,Score,Comment\n"
        "ann,q3,4,Nice\n"  # line 2: good
        "ann,q9,1,\n"  # 3: no such part
        "bob,q1,1,\n"  # 4: autograded part
        "bob,q3,7,\n"  # 5: above the part's 5 marks
        "cat,q3,abc,\n"  # 6: not a number
        "zed,q3,1,\n"  # 7: nobody by that name
        "ann,q3,3,again\n"  # 8: duplicate
        ",,,\n"  # blank line from a spreadsheet: ignored
        'cat,q3,5,"Full marks, well argued"\n'  # 10: good
    )
    result = manual(course, "import", str(sheet), "--grader", "prof")
    assert result.exit_code == 1, result.output
    assert "Nothing imported" in result.output and "6 bad row(s)" in result.output
    for reason in ("unknown part id 'q9'", "is autograded", "between 0 and 5", "'abc' is not a number", "no graded submission for student 'zed'", "duplicate of line 2"):
        assert reason in result.output
    with Store.open(out) as s:
        assert s.manual_scores(ASSIGNMENT) == []  # not half imported
    sheet.write_text(GOOD_ROWS)  # fixed: the good rows only
    result = manual(course, "import", str(sheet), "--grader", "prof")
    assert result.exit_code == 0 and "Imported 2 score(s)" in result.output, result.output
    with Store.open(out) as s:
        got = {m.student: (m.score, m.comment, m.grader) for m in s.manual_scores(ASSIGNMENT)}
    assert got == {"ann": (4, "Nice", "prof"), "cat": (5, "Full marks, well argued", "prof")}
    assert report_on_disk(out, "cat")["score"] == 5


@pytest.mark.parametrize(
    "case",
    ["oversized comment", "oversized student", "extra cells", "not utf-8"],
)
def test_a_malformed_or_oversized_row_imports_nothing(course, case):
    # Before: a 200 kB cell stopped the csv reader (a traceback) after the rows above it were
    # stored; a non-UTF-8 byte did the same; an unquoted comma silently lost a comment's end.
    out, sheet = course["out"], course["tmp"] / "scores.csv"
    bad = {
        "oversized comment": "bob,q3,2," + "x" * 200_000 + "\n",
        "oversized student": "b" * 5000 + ",q3,2,\n",
        "extra cells": "bob,q3,2,Good, but short\n",
        "not utf-8": "bob,q3,2,caf\xe9\n",
    }[case]
    sheet.write_bytes((GOOD_ROWS + bad).encode("latin-1" if case == "not utf-8" else "utf-8"))
    before = report_on_disk(out, "ann")
    result = manual(course, "import", str(sheet))
    with Store.open(out) as s:
        assert s.manual_scores(ASSIGNMENT) == []  # the good rows above the bad one were not stored either
    if case == "not utf-8":
        assert result.exit_code == 2 and "not UTF-8 text" in result.output, result.output
        return
    assert result.exit_code == 1 and "Nothing imported" in result.output and "1 bad row(s)" in result.output, result.output
    reason = {"oversized comment": "comment cell is longer than", "oversized student": "student cell is longer than",
              "extra cells": "1 cell(s) more than there are columns"}[case]
    assert reason in result.output and len(result.output) < 5000  # listed, not echoed whole
    assert report_on_disk(out, "ann") == before  # the run's files untouched


def test_csv_import_needs_the_columns(course):
    sheet = course["tmp"] / "bad.csv"
    sheet.write_text("name,mark\nann,4\n")
    result = manual(course, "import", str(sheet))
    assert result.exit_code == 2 and "missing column(s) part, score, student" in result.output


def test_override_changes_an_autograded_part_until_removed(course):
    out = course["out"]
    result = manual(course, "override", ASSIGNMENT, "bob", "q1", "1", "--reason", "Method right, arithmetic slip.")
    assert result.exit_code == 0, result.output
    bob = report_on_disk(out, "bob")
    assert bob["score"] == 4 and "Method right, arithmetic slip." in part(bob, "q1")["feedback"]
    runner.invoke(app, course["run"])
    assert report_on_disk(out, "bob")["score"] == 4  # survives a re-run too
    assert manual(course, "override", ASSIGNMENT, "bob", "q1", "0", "--remove").exit_code == 0
    assert report_on_disk(out, "bob")["score"] == 3
    assert manual(course, "override", ASSIGNMENT, "bob", "q1", "3").exit_code == 2  # above the part's 2 marks


def test_a_score_recorded_while_a_run_writes_into_out_waits_for_that_run(course):
    """The refresh after a manual score takes OUT's lock, like `grader run`: while another
    command holds it, the score goes into the store and the files on disk stay as they are
    (never interleaved with that command's writes); the message says so."""
    from grader.run.output import lock_output

    out, sheet = course["out"], course["tmp"] / "scores.csv"
    sheet.write_text(GOOD_ROWS)
    before = (out / ASSIGNMENT / "cat.json").read_bytes()
    with lock_output(out):  # a `grader run` writing into OUT
        result = manual(course, "import", str(sheet), "--grader", "prof")
    assert result.exit_code == 0, result.output
    assert "Imported 2 score(s)" in result.output
    assert "were not rewritten" in result.output and "another grader command" in result.output
    assert (out / ASSIGNMENT / "cat.json").read_bytes() == before
    with Store.open(out) as s:
        assert {m.student for m in s.manual_scores(ASSIGNMENT)} == {"ann", "cat"}
    result = runner.invoke(app, course["run"])  # the next run writes them with the scores
    assert result.exit_code == 0, result.output
    assert report_on_disk(out, "cat")["score"] == 5
