"""`grader regrade`: after a key edit, who changes is shown before anything is replaced."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from _store_fixtures import ASSIGNMENT, store_url, write_problem, write_submissions  # noqa: F401 (fixture)
from grader.cli import app
from grader.models import PartResult, Status, SubmissionReport
from grader.workflow.regrade import compare
from grader.store import ManualScore, Store
from grader.store.repository import utcnow

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def course(tmp_path, store_url, monkeypatch):
    """Graded once, a TA's score entered; on each store backend in turn (found in GRADER_DB)."""
    monkeypatch.setenv("GRADER_DB", store_url)
    problems = write_problem(tmp_path / "problems").parent
    subs = write_submissions(tmp_path / "subs")
    out = tmp_path / "out"
    common = [str(subs), "--out", str(out), "--problems", str(problems), "--reference", str(tmp_path / "reference"), "--budget", "0"]
    result = runner.invoke(app, ["run", *common, "-q"])
    assert result.exit_code == 0, result.output
    with Store.open(out, store_url) as s:  # a TA's score must not count as a change
        s.set_manual_score(ManualScore(assignment=ASSIGNMENT, student="ann", part_id="q3", score=5, comment="Yes.", grader="ta", at=utcnow()))
    return {"out": out, "problems": problems, "common": common, "db": store_url}


def score_on_disk(out, student):
    return json.loads((out / ASSIGNMENT / f"{student}.json").read_text())["score"]


def rows(output):
    """Table rows of the changes table: {student: [old, new, delta, parts]}."""
    found = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) >= 7 and cells[1] == ASSIGNMENT:
            found[cells[2]] = cells[3:7]
    return found


def test_key_edit_is_previewed_then_recorded(course):
    out = course["out"]
    with Store.open(out, course["db"]) as s:
        first_run = s.latest_run_ids(ASSIGNMENT)["ann"]
    write_problem(course["problems"], q1=4.0)  # the instructor fixes Q1's reference: 3 -> 4

    dry = runner.invoke(app, ["regrade", *course["common"], "--dry-run"])
    assert dry.exit_code == 0, dry.output
    # ann and dan answered 3 (now wrong), bob and cat answered 4 (now right); q1 is worth 2
    expected = {"ann": ["10", "8", "-2", "q1"], "dan": ["2", "0", "-2", "q1"], "bob": ["3", "5", "+2", "q1"], "cat": ["0", "2", "+2", "q1"]}
    assert rows(dry.output) == expected
    assert "4 of 4 submission(s) change" in dry.output and "Dry run: nothing was replaced." in dry.output
    assert score_on_disk(out, "bob") == 3
    with Store.open(out, course["db"]) as s:
        assert len(s.runs()) == 1 and s.regrade_history() == []

    real = runner.invoke(app, ["regrade", *course["common"]])
    assert real.exit_code == 0, real.output
    assert rows(real.output) == expected
    # the table comes before the replacement is reported
    assert real.output.index("Regrade: students whose grade changes") < real.output.index("Recorded regrade run")
    assert (score_on_disk(out, "bob"), score_on_disk(out, "ann")) == (5, 8)
    with Store.open(out, course["db"]) as s:
        runs = s.runs()
        assert [r.kind for r in runs] == ["run", "regrade"]
        assert runs[1].key_hashes[ASSIGNMENT] != runs[0].key_hashes[ASSIGNMENT]  # the edit is on record
        history = {h.student: h for h in s.regrade_history(ASSIGNMENT)}
        assert {k: (h.old_score, h.new_score, h.delta, h.parts_changed) for k, h in history.items()} == {
            "ann": (10, 8, -2, ["q1"]), "bob": (3, 5, 2, ["q1"]), "cat": (0, 2, 2, ["q1"]), "dan": (2, 0, -2, ["q1"])
        }
        assert all(h.previous_run_id == first_run and h.run_id == runs[1].id for h in history.values())

    again = runner.invoke(app, ["regrade", *course["common"], "--dry-run"])
    assert "No grades change (4 submission(s) regraded)." in again.output


def test_compare_lists_parts_whose_score_or_status_moved():
    def report(student, *parts):
        return SubmissionReport(
            assignment="a", student=student, score=sum(p[1] for p in parts), max_score=4,
            parts=[PartResult(id=i, score=sc, max_score=2, status=st, feedback="") for i, sc, st in parts],
        )

    old = [report("x", ("p1", 2, Status.correct), ("p2", 0, Status.incorrect))]
    new = [
        report("x", ("p1", 2, Status.correct), ("p2", 0, Status.invalid)),
        report("y", ("p1", 1, Status.partial), ("p2", 0, Status.missing)),
    ]
    x, y = sorted(compare(old, new), key=lambda c: c.student)
    assert (x.old, x.new, x.delta, x.parts_changed, x.changed) == (2, 2, 0, ["p2"], True)
    assert (y.old, y.new, y.changed) == (None, 1, True)
