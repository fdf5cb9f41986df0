"""The grading jobs' store (grader.store.jobs) on SQLite and on the machine's PostgreSQL: a
claim is exclusive and bounded by attempts, a lease that ran out can be taken over, a result
is recorded once however often it is written, two sweepers never both re-queue a job."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from _store_fixtures import pg_database
from grader.models import PartResult, Status, Submission, SubmissionReport
from grader.store import db
from grader.store.jobs import GAVE_UP, JobStore
from grader.store.repository import Store, utcnow


@pytest.fixture(scope="module")
def pg_module_url() -> Iterator[str]:
    with pg_database("grader_queue") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store.open(None, str(tmp_path / "jobs.sqlite"))
        yield s
        s.close()
    else:  # the module's database, emptied after each test
        s = Store.open(None, request.getfixturevalue("pg_module_url"))
        yield s
        db.metadata.drop_all(s.engine)
        with s.engine.begin() as conn:  # the next test's store is made anew by the migrations
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        s.close()


def submission(student: str = "alice") -> Submission:
    return Submission(assignment="hw", student=student, answers={"q1": "42", "q2": "1 2"}, source=f"web:{student}", handed_in_by=student, submitted_at=utcnow())


def report(student: str = "alice", score: float = 3.0) -> SubmissionReport:
    parts = [
        PartResult(id="q1", score=score, max_score=3.0, status=Status.correct if score == 3.0 else Status.incorrect, feedback="", kind="num"),
        PartResult(id="q2", score=0.0, max_score=2.0, status=Status.incorrect, feedback="", kind="pair"),
    ]
    return SubmissionReport(assignment="hw", student=student, score=score, max_score=5.0, parts=parts, key_hash="k1", grader_version="t")


def rows(store: Store, table) -> int:  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_job_is_made_kept_and_read_back(store: Store) -> None:
    jobs = JobStore(store.engine)
    job, new = jobs.create(submission(), {"q1": "42", "q2": "1 2"}, key_hash="k0", idempotency_key="try-1")
    assert new and job.state == "queued" and job.attempts == 0
    again, new_again = jobs.create(submission(), {"q1": "other"}, key_hash="k0", idempotency_key="try-1")
    assert not new_again and again.id == job.id and again.answers == {"q1": "42", "q2": "1 2"}  # the first one, once
    read = jobs.get(job.id)
    assert read is not None and read.submission.answers == {"q1": "42", "q2": "1 2"} and read.submission.source == "web:alice"
    assert read.key_hash == "k0" and jobs.pending_count("hw", "alice") == 1 and jobs.counts() == {"queued": 1}


def test_a_claim_is_exclusive_until_its_lease_runs_out(store: Store) -> None:
    jobs = JobStore(store.engine)
    job, _ = jobs.create(submission(), {}, key_hash="k0")
    first = jobs.claim(job.id, lease=30, worker="w1", max_attempts=3)
    assert first.job is not None and first.job.state == "running" and first.job.attempts == 1 and first.job.worker == "w1"
    second = jobs.claim(job.id, lease=30, worker="w2", max_attempts=3)
    assert second.job is None and "running" in second.why and "w1" in second.why
    # w1 died: after its lease, w2 may take the job over (a second attempt)
    later = utcnow() + timedelta(seconds=31)
    taken = jobs.claim(job.id, lease=30, worker="w2", max_attempts=3, now=later)
    assert taken.job is not None and taken.job.attempts == 2 and taken.job.worker == "w2"
    assert not jobs.renew(job.id, "w1", 30)  # the dead worker's renewals no longer count
    assert jobs.renew(job.id, "w2", 30)


def test_claims_are_bounded_by_attempts(store: Store) -> None:
    jobs = JobStore(store.engine)
    job, _ = jobs.create(submission(), {}, key_hash="k0")
    now = utcnow()
    for attempt in range(1, 3):
        claim = jobs.claim(job.id, lease=1, worker=f"w{attempt}", max_attempts=2, now=now)
        assert claim.job is not None and claim.job.attempts == attempt
        now += timedelta(seconds=2)  # its lease runs out
    worn = jobs.claim(job.id, lease=1, worker="w3", max_attempts=2, now=now)
    assert worn.job is None and "2 attempts" in worn.why
    failed = jobs.get(job.id)
    assert failed is not None and failed.state == "failed" and failed.reason == GAVE_UP and "staff have been told" in GAVE_UP


def test_racing_claims_have_one_winner(store: Store) -> None:
    jobs = JobStore(store.engine)
    job, _ = jobs.create(submission(), {}, key_hash="k0")
    won: list[str] = []
    barrier = threading.Barrier(6)

    def claim(i: int) -> None:
        barrier.wait(timeout=10)
        if jobs.claim(job.id, lease=30, worker=f"w{i}", max_attempts=3).job is not None:
            won.append(f"w{i}")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(won) == 1
    found = jobs.get(job.id)
    assert found is not None and found.attempts == 1 and found.worker == won[0]


def test_a_result_is_recorded_once_however_often_it_is_written(store: Store) -> None:
    jobs = JobStore(store.engine)
    job, _ = jobs.create(submission(), {"q1": "42"}, key_hash="k0", idempotency_key="once")
    claimed = jobs.claim(job.id, lease=30, worker="w1", max_attempts=3).job
    assert claimed is not None
    recorded, new = jobs.record_graded(claimed, report(score=3.0))
    assert new and recorded.id == job.id and recorded.report.score == 3.0 and recorded.idempotency_key == "once"
    counts = {t.name: rows(store, t) for t in (db.runs, db.submissions, db.results, db.service_submissions)}
    assert counts == {"runs": 1, "submissions": 1, "results": 2, "service_submissions": 1}
    # the same job graded again (a redelivered message), even to another score: nothing changes
    again, new_again = jobs.record_graded(claimed, report(score=0.0))
    assert not new_again and again.report.score == 3.0
    assert {t.name: rows(store, t) for t in (db.runs, db.submissions, db.results, db.service_submissions)} == counts
    done = jobs.get(job.id)
    assert done is not None and done.state == "graded" and done.key_hash == "k1" and done.lease_until is None  # the key that graded it
    assert not jobs.fail(job.id, "too late")  # a graded job stays graded
    assert jobs.claim(job.id, lease=30, worker="w2", max_attempts=3, now=utcnow() + timedelta(days=1)).job is None


def test_racing_results_record_one_submission(store: Store) -> None:
    jobs = JobStore(store.engine)
    job, _ = jobs.create(submission(), {}, key_hash="k0")
    claimed = jobs.claim(job.id, lease=30, worker="w1", max_attempts=3).job
    assert claimed is not None
    news: list[bool] = []
    barrier = threading.Barrier(4)

    def record() -> None:
        barrier.wait(timeout=10)
        news.append(jobs.record_graded(claimed, report())[1])

    threads = [threading.Thread(target=record) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(news) == [False, False, False, True]
    assert rows(store, db.service_submissions) == 1 and rows(store, db.runs) == 1


def test_two_sweepers_requeue_an_expired_job_once(store: Store) -> None:
    jobs = JobStore(store.engine)
    job, _ = jobs.create(submission(), {}, key_hash="k0")
    assert jobs.claim(job.id, lease=1, worker="dead", max_attempts=3).job is not None
    assert jobs.expired() == []  # not yet
    later = utcnow() + timedelta(seconds=2)
    assert jobs.expired(now=later) == [(job.id, "hw")]
    outcomes = [jobs.requeue_expired(job.id, 3, now=later), jobs.requeue_expired(job.id, 3, now=later)]
    assert outcomes == ["queued", None]
    found = jobs.get(job.id)
    assert found is not None and found.state == "queued" and found.lease_until is None and found.attempts == 1
    # its last attempt's lease runs out too: failed, with the reason
    now = later
    for _ in range(2):
        assert jobs.claim(job.id, lease=1, worker="dead", max_attempts=3, now=now).job is not None
        now += timedelta(seconds=2)
        if jobs.get(job.id).attempts < 3:  # type: ignore[union-attr]
            assert jobs.requeue_expired(job.id, 3, now=now) == "queued"
    assert jobs.requeue_expired(job.id, 3, now=now) == "failed"
    failed = jobs.get(job.id)
    assert failed is not None and failed.state == "failed" and failed.reason == GAVE_UP


def test_a_lost_message_is_sent_again_by_one_sweeper(store: Store) -> None:
    jobs = JobStore(store.engine)
    job, _ = jobs.create(submission(), {}, key_hash="k0")
    assert jobs.stale_queued(60) == []
    later = utcnow() + timedelta(seconds=61)
    [(job_id, assignment, sent_at)] = jobs.stale_queued(60, now=later)
    assert (job_id, assignment) == (job.id, "hw")
    assert jobs.resend(job_id, sent_at, now=later) and not jobs.resend(job_id, sent_at, now=later)
    assert jobs.stale_queued(60, now=later) == []  # sent again just now


def test_only_a_job_never_taken_is_discarded(store: Store) -> None:
    jobs = JobStore(store.engine)
    taken, _ = jobs.create(submission("alice"), {}, key_hash="k0")
    fresh, _ = jobs.create(submission("bob"), {}, key_hash="k0")
    assert jobs.claim(taken.id, lease=30, worker="w", max_attempts=3).job is not None
    jobs.discard(taken.id)
    jobs.discard(fresh.id)
    assert jobs.get(taken.id) is not None and jobs.get(fresh.id) is None
