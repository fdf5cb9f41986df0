"""Issue 10 §7, late submissions: the course file's due date and late policy are applied from
`submitted_at` (Gradescope: the submission metadata's `created_at`), shown in the JSON and
Markdown reports and Gradescope's output ("submitted 26 h late: × 0.8"), and exported: every
score a gradebook receives is the late-adjusted one, the raw score stays in the JSON report."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import write
from typer.testing import CliRunner

from grader.cli import app
from grader.course import read_course_file
from grader.models import PartResult, RunSummary, Status, SubmissionReport

runner = CliRunner(env={"COLUMNS": "250"})
DUE = datetime(2026, 3, 12, 23, 0, tzinfo=timezone.utc)
COURSE = """
[course]
problems = "problems"
reference = "reference"
[assignments.tiny-hw]
due = 2026-03-12T23:00:00Z
late = { per_day = 0.1, cutoff_days = 7 }
"""
RIGHT = 'assignment = "tiny-hw"\nsubmitted_at = {when}\n[answers]\nq1 = 42\nq2 = "1 2"\n'


def course_file(root: Path) -> Path:
    return write(root / "grader.toml", COURSE)


def report(score: float, submitted_at: datetime | None) -> SubmissionReport:
    part = PartResult(id="q1", score=score, max_score=10, status=Status.partial, feedback="")
    return SubmissionReport(assignment="tiny-hw", student="ann", score=score, max_score=10, parts=[part], submitted_at=submitted_at)


@pytest.mark.parametrize(
    "late_by,score,note",
    [
        (timedelta(hours=-3), 10, None),  # on time: the report is left as it is
        (timedelta(0), 10, None),  # at the due date exactly
        (timedelta(hours=26), 8, "submitted 26 h late: × 0.8"),  # the example
        (timedelta(minutes=5), 9, "submitted 5 min late: × 0.9"),
        (timedelta(days=8), 0, "submitted 8 days late, after the cut-off: not credited"),
    ],
)
def test_the_late_policy_from_submitted_at(tmp_path: Path, late_by: timedelta, score: float, note: str | None) -> None:
    tiny = read_course_file(course_file(tmp_path)).assignment("tiny-hw")
    late = tiny.late_report(report(10, DUE + late_by))
    assert late.score == score
    if note is None:
        assert late.late is None
    else:
        assert late.late is not None and late.late.note == note and late.late.raw_score == 10
        assert late.late.due == DUE and late.late.refused == (score == 0)


def test_no_submitted_at_or_no_due_date_changes_nothing(tmp_path: Path) -> None:
    course = read_course_file(course_file(tmp_path))
    assert course.assignment("tiny-hw").late_report(report(10, None)).late is None
    assert course.assignment("other-hw").late_report(report(10, DUE + timedelta(days=3))).late is None  # no due date
    far = course.assignment("tiny-hw").late_report(report(10, datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))))
    assert far.score == 10  # an extreme submitted_at is on time, never a crash


def run(tmp_path: Path, course: dict[str, Path], out: Path):
    course_file(course["root"])
    result = runner.invoke(
        app,
        ["run", str(course["class"]), "--out", str(out), "--problems", str(course["problems"]), "--reference", str(course["reference"]),
         "--budget", "0", "-q", "--course", str(course["root"])],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return RunSummary.model_validate_json((out / "run.json").read_text())


def test_a_run_reports_stores_and_exports_the_late_adjusted_score(course: dict[str, Path], tmp_path: Path) -> None:
    write(course["class"] / "ann.toml", RIGHT.format(when="2026-03-14T01:00:00Z"))  # 26 h late
    write(course["class"] / "bob.toml", RIGHT.format(when="2026-03-12T22:00:00Z"))  # on time
    write(course["class"] / "cat.toml", RIGHT.format(when="2026-03-25T12:00:00Z"))  # after the cut-off
    out = tmp_path / "out"
    summary = run(tmp_path, course, out)
    assert {e.student: e.score for e in summary.reports} == {"ann": 2.4, "bob": 3.0, "cat": 0.0}

    ann = json.loads((out / "tiny-hw/ann.json").read_text())
    assert ann["score"] == 2.4
    assert ann["late"]["raw_score"] == 3.0 and ann["late"]["factor"] == 0.8 and ann["late"]["days"] == 2
    assert ann["late"]["note"] == "submitted 26 h late: × 0.8"
    assert "late" not in json.loads((out / "tiny-hw/bob.json").read_text())  # on time: the report is unchanged
    assert "- Late: submitted 26 h late: × 0.8 (score before the late policy: 3 / 4)" in (out / "tiny-hw/ann.md").read_text()
    assert "after the cut-off: not credited" in (out / "tiny-hw/cat.md").read_text()
    summary_md = (out / "tiny-hw/summary.md").read_text()
    assert "- `ann`: submitted 26 h late: × 0.8, 3 → 2.4\n- `cat`: submitted 12.5 days late, after the cut-off: not credited, 3 → 0\n" in summary_md

    html = runner.invoke(app, ["report", "tiny-hw", "--out", str(out), "--reference", str(course["reference"])])
    assert html.exit_code == 0, html.output
    assert '2.4 / 4<br><span class="late">submitted 26 h late: × 0.8</span>' in (out / "tiny-hw/report.html").read_text()
    gradebook = {r[0]: r for r in csv.reader(io.StringIO((out / "tiny-hw/gradebook.csv").read_text()))}
    assert gradebook["ann"][-2:] == ["2.4", "4"]
    canvas = runner.invoke(app, ["export", "canvas", "tiny-hw", "--out", str(out), "-o", "-", "--reference", str(course["reference"])])
    assert [r[0::5] for r in csv.reader(io.StringIO(canvas.stdout))][2:] == [["ann", "2.4"], ["bob", "3"], ["cat", "0"]]
    lti = json.loads(runner.invoke(app, ["export", "lti", "tiny-hw", "--out", str(out), "-o", "-"]).stdout)
    assert [p["scoreGiven"] for p in lti] == [2.4, 3.0, 0.0]

    # a manual score counts as late as the rest: ann's q3 (1 mark) scored 1 -> (3 + 1) × 0.8
    scored = runner.invoke(app, ["manual", "override", "tiny-hw", "ann", "q3", "1", "--out", str(out)])
    assert scored.exit_code == 0, scored.output
    lms = runner.invoke(app, ["export", "json", "tiny-hw", "--out", str(out), "-o", "-"])
    [ann_now] = [r for r in json.loads(lms.stdout) if r["student"] == "ann"]
    assert ann_now["score"] == 3.2 and ann_now["late"]["raw_score"] == 4.0
    assert json.loads((out / "tiny-hw/ann.json").read_text())["score"] == 3.2  # the refreshed report too


def test_an_older_store_gains_the_late_column(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from grader.store import Store
    from grader.store.db import metadata

    path = tmp_path / "grades.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE submissions DROP COLUMN late")  # a store made before late submissions
    engine.dispose()
    with Store.open(db_url=str(path)) as store:
        run_id = store.begin_run("test")
        late = read_course_file(course_file(tmp_path)).assignment("tiny-hw").late_report(report(10, DUE + timedelta(hours=26)))
        store.record_report(run_id, late)
        [back] = store.latest_reports("tiny-hw")
    assert back.score == 8 and back.late == late.late


def test_gradescope_applies_the_late_policy_from_created_at(course: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    shutil.copytree(course["problems"], root / "source" / "problems")
    shutil.copytree(course["reference"], root / "source" / "reference")
    course_file(root / "source")
    # the file's own submitted_at says on time; Gradescope's created_at is what counts
    write(root / "submission/answers.toml", RIGHT.format(when="2026-03-12T10:00:00Z"))
    metadata = {"users": [{"sid": "s-1", "email": "ann@uni.example"}], "created_at": "2026-03-13T21:00:00.123456-04:00"}
    (root / "submission_metadata.json").write_text(json.dumps(metadata))
    result = runner.invoke(app, ["gradescope", "--root", str(root), "--assignment", "tiny-hw"])
    assert result.exit_code == 0, result.output
    data = json.loads((root / "results/results.json").read_text())
    assert data["score"] == 2.4  # 3 auto-graded marks, 26 h late: × 0.8
    assert "Late: submitted 26 h late: × 0.8; the auto-graded score 3 counts as 2.4." in data["output"]
    assert data["extra_data"]["late"]["raw_score"] == 3.0


@pytest.mark.parametrize("budget", [None, 2.0])
def test_one_at_a_time_grading_applies_the_late_policy(course: dict[str, Path], budget: float | None) -> None:
    from grader.keys.catalog import Catalog
    from grader.run.grading import Grading

    catalog = Catalog(course["problems"], course["reference"], read_course_file(course_file(course["root"])))
    with Grading(catalog, budget=budget) as grading:
        late = grading.grade(grading.submission("tiny-hw", "ann", {"q1": 42, "q2": "1 2"}, source="web:ann", submitted_at=DUE + timedelta(hours=26)))
        on_time = grading.grade(grading.submission("tiny-hw", "bob", {"q1": 42}, source="web:bob", submitted_at=DUE))
    assert isinstance(late, SubmissionReport) and late.score == 2.4 and late.late is not None and late.late.raw_score == 3
    assert isinstance(on_time, SubmissionReport) and on_time.score == 2 and on_time.late is None
