"""Exports: Canvas and Moodle CSVs, the long per-part CSV, LTI AGS payloads and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

from _store_fixtures import ASSIGNMENT, grade_class, write_problem
from grader.cli import app
from grader.models import SubmissionReport
from grader.store import ManualScore, RunRecorder, Store

AT = datetime(2026, 3, 12, 21, 30, tzinfo=timezone.utc)
runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that rich tables do not wrap reasons


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """OUT after one graded run of the tiny class, with ann's free-text part scored by a TA."""
    root = tmp_path_factory.mktemp("exports")
    reference = root / "reference"
    reports = grade_class(write_problem(root / "problems").parent, reference=reference)
    out = root / "out"
    with RunRecorder.open(out, command="test") as rec:
        for r in reports:
            rec.record(r)
    with Store.open(out) as s:
        s.set_manual_score(ManualScore(assignment=ASSIGNMENT, student="ann", part_id="q3", score=4, comment="Good.", grader="ta", at=AT))
    roster = root / "roster.csv"
    roster.write_text(
        "Student,Name,Canvas_ID,SIS_User_ID,SIS_Login_ID,Section,Email,LTI_User_ID\n"
        "ann,\"Lee, Ann\",101,S-1,alee,L0101,ann@uni.example,lti-ann\n"
        "bob,\"Roe, Bob\",102,S-2,broe,L0102,,\n"
    )
    return out, reference, roster


def export(out_dir, *args):
    out, reference, _ = out_dir
    result = runner.invoke(app, ["export", *args, ASSIGNMENT, "--out", str(out), "-o", "-", *(["--reference", str(reference)] if args[0] in ("canvas", "moodle") else [])])
    assert result.exit_code == 0, result.output
    return result


def rows_of(text):
    return list(csv.reader(io.StringIO(text)))


# scores: ann 2+3 (+4 manual) = 9, bob 0+3 = 3, cat 0, dan 2 (q2 unreadable, q3 left out)
SCORES = {"ann": "9", "bob": "3", "cat": "0", "dan": "2"}


def test_canvas_csv_has_canvas_headers_and_points_possible_row(out):
    roster = out[2]
    result = export(out, "canvas", "--roster", str(roster), "--canvas-id", "4242")
    rows = rows_of(result.stdout)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Tiny homework (4242)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "10"]
    assert rows[2:] == [
        ["Lee, Ann", "101", "S-1", "alee", "L0101", "9"],
        ["Roe, Bob", "102", "S-2", "broe", "L0102", "3"],
        ["cat", "", "cat", "", "", "0"],  # not on the roster: our id offered as SIS User ID
        ["dan", "", "dan", "", "", "2"],
    ]
    assert "awaiting a grader" in result.stderr and "bob" in result.stderr


def test_canvas_without_id_names_a_new_assignment_and_writes_a_file(out):
    folder, reference, _ = out
    result = runner.invoke(app, ["export", "canvas", ASSIGNMENT, "--out", str(folder), "--reference", str(reference), "--title", "HW 1"])
    assert result.exit_code == 0, result.output
    path = folder / ASSIGNMENT / "exports" / f"{ASSIGNMENT}-canvas.csv"
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][-1] == "HW 1" and rows[1][0].strip() == "Points Possible" and len(rows) == 2 + 4


def test_moodle_csv_identifies_students_by_id_number(out):
    rows = rows_of(export(out, "moodle", "--feedback").stdout)
    assert rows[0] == ["ID number", "Tiny homework", "Feedback"]
    assert {r[0]: r[1] for r in rows[1:]} == SCORES
    feedback = {r[0]: r[2] for r in rows[1:]}
    assert "q1 (0/2)" in feedback["bob"] and "Awaiting a grader: q3" in feedback["bob"]


def test_moodle_by_email_leaves_out_students_without_one(out):
    roster = out[2]
    result = export(out, "moodle", "--id-field", "email", "--roster", str(roster))
    rows = rows_of(result.stdout)
    assert rows == [["Email address", "Tiny homework"], ["ann@uni.example", "9"]]
    for s in ("bob", "cat", "dan"):
        assert f"{s}: no email in the roster" in result.stderr


def test_long_csv_has_one_row_per_part(out):
    rows = rows_of(export(out, "csv").stdout)
    assert rows[0] == ["student", "assignment", "part", "score", "max", "status"]
    assert len(rows) == 1 + 4 * 3
    table = {(r[0], r[2]): (r[3], r[4], r[5]) for r in rows[1:]}
    assert table[("ann", "q3")] == ("4", "5", "partial")
    assert table[("bob", "q1")] == ("0", "2", "incorrect")
    assert table[("bob", "q3")] == ("0", "5", "manual")
    assert table[("dan", "q2")] == ("0", "3", "invalid")
    assert table[("dan", "q3")] == ("0", "5", "missing")


class AgsScoreSpec(BaseModel):
    """The IMS AGS score publish body, written from the spec, independently of grader.lms.lti."""

    model_config = ConfigDict(extra="forbid", strict=True)

    userId: str = Field(min_length=1)
    scoreGiven: float = Field(ge=0)
    scoreMaximum: float = Field(gt=0)
    comment: str | None = None
    timestamp: str
    activityProgress: Literal["Initialized", "Started", "InProgress", "Submitted", "Completed"]
    gradingProgress: Literal["FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"]


def test_lti_payloads_validate_and_flag_pending_manual_grading(out):
    roster = out[2]
    payloads = json.loads(export(out, "lti", "--roster", str(roster)).stdout)
    scores = {s.userId: s for s in (AgsScoreSpec.model_validate(p) for p in payloads)}
    assert set(scores) == {"lti-ann", "bob", "cat", "dan"}
    assert scores["lti-ann"].gradingProgress == "FullyGraded" and scores["lti-ann"].scoreGiven == 9
    assert scores["bob"].gradingProgress == "PendingManual" and scores["cat"].gradingProgress == "PendingManual"
    assert scores["dan"].gradingProgress == "FullyGraded"  # q3 left out: nothing for a person to grade
    assert all(s.scoreMaximum == 10 and s.activityProgress == "Completed" for s in scores.values())
    stamp = datetime.fromisoformat(scores["bob"].timestamp)
    assert stamp.tzinfo is not None and "." in scores["bob"].timestamp  # sub-second precision


def test_json_export_is_the_report_model(out):
    data = json.loads(export(out, "json").stdout)
    reports = [SubmissionReport.model_validate(d) for d in data]
    assert {r.student: r.score for r in reports} == {k: float(v) for k, v in SCORES.items()}


def test_export_of_unknown_assignment_is_a_usage_error(out):
    result = runner.invoke(app, ["export", "csv", "no-such-hw", "--out", str(out[0])])
    assert result.exit_code == 2 and "run `grader run` first" in result.stderr
