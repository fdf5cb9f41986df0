"""The grade store: runs and results round-trip, manual scores and overrides merge and survive."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import inspect

from _store_fixtures import ASSIGNMENT, grade_class, write_problem
from grader import __version__
from grader.models import Status
from grader.store import ManualScore, Override, RegradeRecord, RunRecorder, Store, apply_adjustments, class_reports
from grader.store.db import database_url
from grader.store.loading import reports_on_disk

AT = datetime(2026, 3, 12, 21, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return grade_class(write_problem(tmp_path_factory.mktemp("problems")).parent)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path) as s:
        yield s


def by_student(reports):
    return {r.student: r for r in reports}


def test_default_database_is_a_sqlite_file_next_to_the_reports(tmp_path):
    assert database_url(tmp_path) == f"sqlite:///{(tmp_path / 'grades.sqlite').resolve()}"
    assert database_url(tmp_path, "postgresql+psycopg://u@h/grades") == "postgresql+psycopg://u@h/grades"
    assert database_url(None, str(tmp_path / "x.db")) == f"sqlite:///{(tmp_path / 'x.db').resolve()}"
    with Store.open(tmp_path) as s:
        tables = set(inspect(s.engine).get_table_names())
    assert (tmp_path / "grades.sqlite").is_file()
    assert {"runs", "results", "manual_scores", "overrides", "regrade_history"} <= tables


def test_results_round_trip_exactly(store, reports):
    run = store.begin_run("grader run subs --out out")
    for r in reports:
        store.record_report(run, r)
    store.finish_run(run)
    back = store.latest_reports(ASSIGNMENT)
    assert [r.student for r in back] == ["ann", "bob", "cat", "dan"]
    for original, stored in zip(reports, back):
        assert stored.model_dump(mode="json") == original.model_dump(mode="json")


def test_a_run_records_what_reproduces_its_grades(store, reports):
    run = store.begin_run("grader run subs")
    store.record_report(run, reports[0])
    store.finish_run(run)
    info = store.run(run)
    assert info.grader_version == __version__
    assert info.key_hashes == {ASSIGNMENT: reports[0].key_hash} and len(reports[0].key_hash) == 16
    assert info.command == "grader run subs" and info.kind == "run"
    assert info.started_at.tzinfo is not None and info.finished_at >= info.started_at


def test_latest_result_per_student_comes_from_the_most_recent_run_that_graded_them(store, reports):
    ann, bob = reports[0], reports[1]
    first = store.begin_run()
    store.record_report(first, ann)
    store.record_report(first, bob)
    second = store.begin_run()
    better_bob = bob.model_copy(update={"score": 9.0})
    store.record_report(second, better_bob)  # only bob regraded
    assert store.latest_run_ids(ASSIGNMENT) == {"ann": first, "bob": second}
    latest = by_student(store.latest_reports(ASSIGNMENT))
    assert latest["ann"].score == ann.score and latest["bob"].score == 9.0


def test_manual_score_sets_status_feedback_and_total(reports):
    cat = by_student(reports)["cat"]
    assert cat.score == 0 and by_id(cat)["q3"].status is Status.manual
    merged = apply_adjustments(
        cat, [ManualScore(assignment=ASSIGNMENT, student="cat", part_id="q3", score=2.5, comment="Half the idea.", grader="ta1", at=AT)]
    )
    q3 = by_id(merged)["q3"]
    assert (q3.score, q3.status, q3.feedback) == (2.5, Status.partial, "Half the idea.")
    assert q3.details["manual"]["grader"] == "ta1"
    assert merged.score == 2.5
    # full and zero marks read as correct / incorrect; merging twice changes nothing
    full = apply_adjustments(cat, [ManualScore(assignment=ASSIGNMENT, student="cat", part_id="q3", score=5, at=AT)])
    zero = apply_adjustments(cat, [ManualScore(assignment=ASSIGNMENT, student="cat", part_id="q3", score=0, at=AT)])
    assert by_id(full)["q3"].status is Status.correct and by_id(zero)["q3"].status is Status.incorrect
    assert apply_adjustments(merged, [ManualScore(assignment=ASSIGNMENT, student="cat", part_id="q3", score=2.5, comment="Half the idea.", grader="ta1", at=AT)]) == merged


def test_entries_for_someone_else_or_an_unknown_part_are_ignored(reports):
    ann = by_student(reports)["ann"]
    others = [
        ManualScore(assignment=ASSIGNMENT, student="bob", part_id="q3", score=5, at=AT),
        ManualScore(assignment=ASSIGNMENT, student="ann", part_id="q9", score=5, at=AT),
        ManualScore(assignment="other-hw", student="ann", part_id="q3", score=5, at=AT),
    ]
    assert apply_adjustments(ann, others) == ann


def test_override_wins_over_autograder_and_keeps_its_reason(store, reports):
    run = store.begin_run()
    for r in reports:
        store.record_report(run, r)
    store.set_override(Override(assignment=ASSIGNMENT, student="bob", part_id="q1", score=1.5, reason="Regrade request: sign slip only.", grader="prof", at=AT))
    bob = by_student(store.reports(ASSIGNMENT))["bob"]
    q1 = by_id(bob)["q1"]
    assert q1.score == 1.5 and q1.status is Status.partial
    assert "Regrade request: sign slip only." in q1.feedback and q1.details["override"]["autograded_score"] == 0
    assert bob.score == pytest.approx(1.5 + 3)
    assert store.delete_override(ASSIGNMENT, "bob", "q1")
    assert by_student(store.reports(ASSIGNMENT))["bob"].score == 3


def test_manual_scores_are_upserted_and_never_touched_by_runs(store, reports):
    store.set_manual_score(ManualScore(assignment=ASSIGNMENT, student="ann", part_id="q3", score=3, comment="ok", grader="ta1", at=AT))
    store.set_manual_score(ManualScore(assignment=ASSIGNMENT, student="ann", part_id="q3", score=4, comment="better on second look", grader="ta2", at=AT))
    for _ in range(2):  # two runs after the score was entered
        run = store.begin_run()
        for r in reports:
            store.record_report(run, r)
        store.finish_run(run)
    [entry] = store.manual_scores(ASSIGNMENT)
    assert (entry.score, entry.comment, entry.grader, entry.at) == (4, "better on second look", "ta2", AT)
    ann = by_student(store.reports(ASSIGNMENT))["ann"]
    assert ann.score == 2 + 3 + 4 and by_id(ann)["q3"].feedback == "better on second look"


def test_recorder_stores_the_raw_report_and_returns_it_merged(tmp_path, reports):
    with Store.open(tmp_path) as s:
        s.set_manual_score(ManualScore(assignment=ASSIGNMENT, student="ann", part_id="q3", score=5, comment="Exactly.", grader="ta", at=AT))
    with RunRecorder.open(tmp_path, command="grader run subs") as rec:
        written = {r.student: rec.record(r) for r in reports}
    assert written["ann"].score == 10 and by_id(written["ann"])["q3"].status is Status.correct
    assert written["bob"] == by_student(reports)["bob"]
    with Store.open(tmp_path) as s:
        stored = by_student(s.latest_reports(ASSIGNMENT))
        assert by_id(stored["ann"])["q3"].status is Status.manual  # the run keeps what the autograder said
        assert s.runs()[-1].command == "grader run subs" and s.runs()[-1].finished_at is not None


def test_regrade_history_round_trip(store, reports):
    old, new = store.begin_run(), store.begin_run(kind="regrade")
    rec = RegradeRecord(run_id=new, previous_run_id=old, assignment=ASSIGNMENT, student="bob", old_score=3, new_score=5, delta=2, parts_changed=["q1"], at=AT)
    store.record_regrade([rec])
    assert store.regrade_history(ASSIGNMENT) == [rec]
    assert store.regrade_history("other") == []


def test_class_reports_fall_back_to_json_reports_on_disk(tmp_path, reports):
    folder = tmp_path / ASSIGNMENT
    folder.mkdir()
    for r in reports:
        (folder / f"{r.student}.json").write_text(r.model_dump_json())
    (folder / "summary.json").write_text('{"not": "a report"}')
    assert [r.student for r in reports_on_disk(tmp_path, ASSIGNMENT)] == ["ann", "bob", "cat", "dan"]
    with Store.open(tmp_path) as s:
        s.set_manual_score(ManualScore(assignment=ASSIGNMENT, student="bob", part_id="q3", score=1, comment="thin", at=AT))
        got = by_student(class_reports(s, tmp_path, ASSIGNMENT))
    assert got["bob"].score == 3 + 1 and got["ann"].score == 5


def test_any_sqlalchemy_url_works(tmp_path, reports):
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'g.db'}"
    with Store.open(db_url=url) as s:
        run = s.begin_run()
        s.record_report(run, reports[0])
    assert (tmp_path / "elsewhere" / "g.db").is_file()
    with Store.open(db_url=url) as s:
        assert [r.student for r in s.latest_reports(ASSIGNMENT)] == ["ann"]


def by_id(report):
    return {p.id: p for p in report.parts}


def test_one_result_per_student_and_run_even_within_one_batch(store, reports):
    """Two files by one student in one run: the last is kept, with a warning, whether the two
    are stored in the same transaction or in different ones; the key hash is recorded."""
    first = reports[0]
    second = first.model_copy(update={"source": "again.toml", "score": first.score - 1})
    third = first.model_copy(update={"source": "third.toml", "score": first.score - 2})
    run_id = store.begin_run("grader run class/")
    store.record_reports(run_id, [first, second])
    store.record_reports(run_id, [third] + list(reports[1:]))
    kept = by_student(store.reports(ASSIGNMENT))
    assert len(kept) == len(reports)
    assert kept[first.student].source == "third.toml" and kept[first.student].score == first.score - 2
    assert any("another submission by this student (again.toml)" in w for w in kept[first.student].warnings)
    assert len(kept[first.student].parts) == len(first.parts)  # no rows left over from the others
    assert store.run(run_id).key_hashes == {ASSIGNMENT: first.key_hash}


def test_a_store_written_before_columns_were_added_opens_and_keeps_the_new_fields(tmp_path, reports):
    """A store of a grader before migrations (no version table) that lacks `submissions.variant`
    and `results.reveals`: opening adds them (the baseline migration adopts it), and a report's
    variant and reference-revealing feedback then round-trip."""
    import sqlite3

    from grader.variants.variant import Variant

    path = tmp_path / "grades.sqlite"
    with Store.open(tmp_path):
        pass
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE submissions DROP COLUMN variant")
    con.execute("ALTER TABLE results DROP COLUMN reveals")
    con.execute("DROP TABLE alembic_version")
    con.commit()
    con.close()
    report = reports[0]
    report = report.model_copy(update={
        "variant": Variant(code="1-ABCD-EFGH", values={"x": [1, 2, 3]}),
        "parts": [report.parts[0].model_copy(update={"reveals": "The expected value is 42."})] + report.parts[1:],
    })
    with Store.open(tmp_path) as s:
        run = s.begin_run("grader run subs --out out")
        s.record_report(run, report)
        back = s.latest_reports(report.assignment)[0]
    assert back.variant == report.variant and back.parts[0].reveals == "The expected value is 42."
