"""Faults the grading queue survives, on real servers: `grader worker` subprocesses over a
private Redis (restartable) and a fresh PostgreSQL database, submissions made through the
service's own path (`Courseware.submit` with the Celery dispatcher).

- A worker killed with SIGKILL mid-task (its whole process tree, as a lost machine; or only
  the pool process grading, as the OOM killer): the job is graded in the end, exactly once —
  one service submission, one graded row in the grade store, the right report — and a
  duplicate delivery of its message changes nothing.
- Redis restarted mid-run (SIGKILLed, in memory only, so every message it held is lost, then
  started again on its port): every submission is graded exactly once in the end; while it is
  down the service answers 503 with Retry-After to a submission, never 500, and still shows
  the submissions it has.
- A check that hangs is stopped and reported as that part's verdict; the worker goes on.
- A task stuck past its time limit (soft: the task is told; hard: its process is killed) is
  failed with a reason the student reads, its grading processes end, and the worker goes on.

A check is made observably mid-flight by the test course's kind (tests/_queue_fixtures.py): an
answer `slow S TAG` leaves a marker file named after the grading process and sleeps S seconds.
"""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("celery")
pytest.importorskip("psycopg")

from sqlalchemy import func, select  # noqa: E402

from _store_fixtures import pg_database  # noqa: E402

from _fault_fixtures import (  # noqa: E402
    RedisServer,
    Workers,
    make_fault_course,
    markers,
    parent_of,
    private_redis,  # noqa: F401 (fixture)
    wait_until,
    workers_for,
)

ASSIGNMENT = "faults-hw"
#: Short leases and sweeps, so a dead worker's job is re-queued within seconds.
QUEUE_SETTINGS = """
[queue]
lease = 2
sweep_every = 0.5
lost_after = 3
wait = 0.3
prefix = "{prefix}"
"""


@dataclass
class Queue:
    """One course on the queue: its folder, broker, store, workers and the service's courseware."""

    course: Path
    redis: RedisServer
    db: str
    workers: Workers
    cw: Any  # grader.service.courseware.Courseware with the Celery dispatcher

    def submit(self, student: str, answers: dict[str, Any], key: str | None = None) -> str:
        """Hand in as the service does (a job, its id sent to the workers); the submission id."""
        found, _new = asyncio.run(self.cw.submit(ASSIGNMENT, student, answers, key))
        return found.id

    def job(self, job_id: str) -> Any:
        return self.cw.jobs.get(job_id)

    def wait_done(self, job_id: str, timeout: float = 90.0) -> Any:
        job = wait_until(lambda: (j := self.job(job_id)) is not None and not j.pending and j, timeout=timeout, interval=0.2, what=f"job {job_id} graded or failed")
        return job

    def graded_rows(self, student: str) -> tuple[int, int]:
        """(graded submission rows, part result rows) of `student` in the grade store, every run."""
        from grader.store import db

        with self.cw.store.engine.connect() as conn:
            subs = conn.execute(select(func.count()).select_from(db.submissions).where(db.submissions.c.student == student)).scalar_one()
            parts = conn.execute(select(func.count()).select_from(db.results).where(db.results.c.student == student)).scalar_one()
        return int(subs), int(parts)


@pytest.fixture
def extra_settings() -> str:
    """More `[queue]` lines for one test (parametrize it to change them)."""
    return ""


@pytest.fixture
def queue(tmp_path: Path, private_redis: RedisServer, extra_settings: str) -> Iterator[Queue]:
    from grader.course import load_course
    from grader.queue.app import make_app, queue_config
    from grader.queue.dispatch import CeleryDispatcher
    from grader.service.courseware import Courseware

    course = make_fault_course(tmp_path / "course")
    with open(course / "grader.toml", "a") as f:
        f.write(textwrap.dedent(QUEUE_SETTINGS.format(prefix=f"faults-{uuid.uuid4().hex[:6]}:")) + extra_settings + "\n")
    with pg_database("grader_faults") as url:
        c = load_course(course)
        cw = Courseware(c, url, budget=None, wait=c.queue.wait)
        cfg = queue_config(c, private_redis.url, cw.catalog.keys, 2.0)
        cw.dispatcher = CeleryDispatcher(make_app(cfg), cfg)
        env = {"GRADER_TEST_MARKERS": str(course / "markers")}
        try:
            for workers in workers_for(course, private_redis.url, url, tmp_path / "logs", env):
                yield Queue(course, private_redis, url, workers, cw)
        finally:
            cw.close()


def started_checks(q: Queue, tag: str, n: int = 1, timeout: float = 90.0) -> list[int]:
    """Wait until the check tagged `tag` started `n` times; the grading processes' ids."""
    found = wait_until(lambda: len(markers(q.course, tag)) >= n and markers(q.course, tag), timeout=timeout, what=f"{n} start(s) of check {tag}")
    return [int(name.rsplit(".", 1)[1]) for name in found]


def assert_graded_once(q: Queue, job_id: str, student: str, score: float) -> None:
    """One service submission (the job's id) with the right report, one graded row and one
    result row per part in the grade store."""
    subs = q.cw.service.submissions(ASSIGNMENT, student)
    assert [s.id for s in subs] == [job_id]
    report = subs[0].report
    assert (report.score, report.max_score) == (score, 5.0)
    assert [p.id for p in report.parts] == ["q1", "q2"]
    assert q.graded_rows(student) == (1, 2)


def test_a_worker_killed_mid_task_is_graded_once_by_the_other(queue: Queue) -> None:
    q = queue
    w1 = q.workers.start("w1", "--concurrency", "1")
    w2 = q.workers.start("w2", "--concurrency", "1")
    w1.wait_ready(), w2.wait_ready()
    job_id = q.submit("ann", {"q1": "slow 4 ann", "q2": "7"})
    [pid] = started_checks(q, "ann")
    holder, other = (w1, w2) if pid in w1.members() else (w2, w1)
    assert pid in holder.members()
    running = q.job(job_id)
    assert running.state == "running" and running.worker.startswith(f"{holder.name}@") and running.attempts == 1

    holder.kill()  # the machine is gone: no handler runs, nothing is acknowledged or recorded
    assert holder.members() == [] and q.job(job_id).state == "running"

    done = q.wait_done(job_id, timeout=60)
    assert done.state == "graded", done.reason
    assert done.attempts == 2 and done.worker.startswith(f"{other.name}@")
    first, second = started_checks(q, "ann", 2)
    assert first != second  # graded again from the start, in another process
    assert_graded_once(q, job_id, "ann", 5.0)

    # the dead worker's message was never acknowledged: Redis hands it out again one day
    # (after its visibility timeout). Delivered again now, it finds the job graded and writes nothing.
    q.cw.dispatcher.send(job_id, ASSIGNMENT)
    wait_until(lambda: f"job {job_id}: nothing to do (already graded)" in other.output(), timeout=30, what="the duplicate delivery seen")
    assert_graded_once(q, job_id, "ann", 5.0)
    assert len(markers(q.course, "ann")) == 2  # not graded a third time
    assert other.alive()


def test_a_killed_pool_process_is_graded_once_by_its_worker(queue: Queue) -> None:
    """Only the Celery pool process grading the job is SIGKILLed (the OOM killer's choice): the
    worker's main process sees it lost, the message comes back, and the job is graded once."""
    import os
    import signal

    q = queue
    w = q.workers.start("w1", "--concurrency", "1").wait_ready()
    job_id = q.submit("bob", {"q1": "slow 4 bob", "q2": "8"})
    [pid] = started_checks(q, "bob")
    # from the grading process up to the pool process whose parent is the worker's main process
    pool_process = pid
    while parent_of(pool_process) != w.pid:
        pool_process = parent_of(pool_process)
    os.kill(pool_process, signal.SIGKILL)

    done = q.wait_done(job_id, timeout=60)
    assert done.state == "graded", done.reason
    assert done.attempts == 2
    assert len(started_checks(q, "bob", 2)) == 2
    assert_graded_once(q, job_id, "bob", 3.0)  # q1 right (3), q2 wrong (8, not 7)
    assert w.alive() and pool_process not in w.members() and pid not in w.members()

    # the worker goes on: the next submission is graded as usual
    nxt = q.submit("cat", {"q1": "42", "q2": "7"})
    assert q.wait_done(nxt, timeout=60).state == "graded"
    assert_graded_once(q, nxt, "cat", 5.0)


def test_a_hanging_check_is_stopped_reported_and_the_worker_goes_on(queue: Queue) -> None:
    """A check that never returns is stopped at its part's wall-clock limit (the budget times
    grader.run.guard.WALL_FACTOR), tried once more, and reported on that part with a reason the
    student can read; the rest of the submission is graded and the worker takes the next job."""
    q = queue
    w = q.workers.start("w1", "--concurrency", "1", "--budget", "0.2").wait_ready()
    stuck = q.submit("dan", {"q1": "hang dan", "q2": "7"})
    nxt = q.submit("eve", {"q1": "42", "q2": "7"})
    done = q.wait_done(stuck, timeout=90)
    assert done.state == "graded", done.reason
    report = q.cw.service.submission(stuck).report
    q1, q2 = report.parts
    assert q1.status == "invalid" and q1.score == 0 and "Too complex to check within 0.2 s" in q1.feedback
    assert q2.status == "correct" and report.score == 2.0
    hung = started_checks(q, "dan", 2)  # stopped once, tried again in a fresh process, stopped again
    assert len(hung) == 2 and not set(hung) & set(w.members())  # those processes are gone
    assert q.wait_done(nxt, timeout=60).state == "graded"
    assert_graded_once(q, nxt, "eve", 5.0)
    assert w.alive()


def test_redis_restarted_mid_run_loses_no_submission_and_the_service_answers_503(queue: Queue) -> None:
    from fastapi.testclient import TestClient

    from grader.service.app import create_app
    from grader.service.limits import Rate

    q = queue
    students = [f"s{i:02d}" for i in range(16)]
    tokens = {s: q.cw.service.issue_token(s, "student") for s in students}
    # even students answer q2 right (5 marks), odd ones wrong (3); each check takes 0.4 s, so
    # with one worker process most submissions still wait in the broker when it dies
    answers = {s: {"q1": f"slow 0.4 {s}", "q2": "7" if i % 2 == 0 else "8"} for i, s in enumerate(students)}
    expected = {s: 5.0 if i % 2 == 0 else 3.0 for i, s in enumerate(students)}
    statuses: list[int] = []
    ids: dict[str, str] = {}
    w = q.workers.start("w1", "--concurrency", "1").wait_ready()

    with TestClient(create_app(q.cw, identity_ttl=0.0, submit_rate=Rate(1000, 1000))) as client:

        def post(student: str) -> Any:
            r = client.post(
                f"/api/v1/assignments/{ASSIGNMENT}/submissions", json={"answers": answers[student]},
                headers={"Authorization": f"Bearer {tokens[student]}", "Idempotency-Key": f"{student}-1"},
            )
            statuses.append(r.status_code)
            if r.status_code in (201, 202):
                ids[student] = r.json()["id"]
            return r

        for s in students[:8]:
            assert post(s).status_code in (201, 202)
        wait_until(lambda: q.cw.jobs.counts().get("graded", 0) >= 1, timeout=60, what="a first submission graded")
        pending = [s for s in students[:8] if q.job(ids[s]).pending]
        assert len(pending) >= 3  # the run is mid-way: these are queued (or one running)

        q.redis.stop()  # a crash: nothing saved, every message in it lost
        down = post(students[8])
        assert down.status_code == 503
        assert down.headers["content-type"].startswith("application/json") and "try again" in down.json()["detail"]
        assert int(down.headers["Retry-After"]) > 0
        assert students[8] not in ids and q.cw.jobs.by_idempotency_key(students[8], f"{students[8]}-1") is None  # not taken, so not kept
        shown = client.get(f"/api/v1/submissions/{ids[pending[-1]]}", headers={"Authorization": f"Bearer {tokens[pending[-1]]}"})
        assert shown.status_code == 200 and shown.json()["status"] in ("queued", "running")

        q.redis.start()  # the same port, empty
        for s in students[8:]:
            # as a client follows Retry-After: try again until taken (the service reconnects)
            wait_until(lambda: post(s).status_code in (201, 202), timeout=30, interval=1.0, what=f"{s}'s submission taken after the restart")

        for s in students:
            done = q.wait_done(ids[s], timeout=120)
            assert done.state == "graded", (s, done.reason)
        for s in students:
            got = client.get(f"/api/v1/submissions/{ids[s]}", headers={"Authorization": f"Bearer {tokens[s]}"}).json()
            assert got["status"] == "graded" and got["report"]["score"] == expected[s]

    assert set(statuses) <= {201, 202, 503} and 503 in statuses
    assert q.cw.jobs.counts() == {"graded": len(students)}
    for s in students:
        assert_graded_once(q, ids[s], s, expected[s])
    assert w.alive()
    assert "sent again" in w.output()  # the sweeper found the lost messages' jobs and sent them


def student_view(q: Queue, student: str, job_id: str) -> dict[str, Any]:
    """GET /api/v1/submissions/{id} as the student sees it."""
    from fastapi.testclient import TestClient

    from grader.service.app import create_app

    token = q.cw.service.issue_token(student, "student")
    with TestClient(create_app(q.cw, identity_ttl=0.0)) as client:
        r = client.get(f"/api/v1/submissions/{job_id}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("extra_settings", ["time_limit = 20"])
def test_a_task_past_its_soft_time_limit_is_failed_and_the_worker_goes_on(queue: Queue) -> None:
    """A check that waits without end (no CPU, so its CPU budget never stops it; its wall-clock
    limit, 50 s at a budget of 5 s, lies beyond the task's): the task's soft time limit (the
    course caps it at 20 s, which a fresh grading pool's start fits in on a loaded machine)
    ends the task, the job is failed with a reason the student can read, the grading pool that
    held the check is replaced, and the same worker grades the next job."""
    q = queue
    w = q.workers.start("w1", "--concurrency", "1", "--budget", "5").wait_ready()
    stuck = q.submit("fay", {"q1": "hang fay", "q2": "7"})
    nxt = q.submit("gus", {"q1": "42", "q2": "8"})
    [hung] = started_checks(q, "fay")
    done = q.wait_done(stuck, timeout=60)
    assert done.state == "failed"
    assert done.reason == "This submission could not be graded within 20 s; staff have been told."
    assert student_view(q, "fay", stuck) == {"id": stuck, "status": "failed", "report": None, "reason": done.reason}
    wait_until(lambda: hung not in w.members(), timeout=20, what="the stuck check's process ended")
    assert q.cw.service.submissions(ASSIGNMENT, "fay") == [] and q.graded_rows("fay") == (0, 0)

    assert q.wait_done(nxt, timeout=60).state == "graded"
    assert_graded_once(q, nxt, "gus", 3.0)
    assert w.alive() and f"job {stuck} failed" in w.output()


def test_a_task_past_its_hard_time_limit_is_killed_failed_and_the_worker_goes_on(queue: Queue) -> None:
    """The hard limit, which kills the pool process: a message whose soft and hard limits are
    both 20 s (the worker applies a message's limits as sent, the hard one counted from the soft),
    so the kill comes before the task can act on its soft limit, for a check that never
    returns. The job is failed with a reason, nothing of the killed process is left (its grading
    pool, the check), and the worker grades the next job in a fresh pool process."""
    from grader.models import Submission
    from grader.queue.tasks import TASK
    from grader.service.courseware import utcnow

    q = queue
    w = q.workers.start("w1", "--concurrency", "1", "--budget", "5").wait_ready()  # the check's own wall limit: 50 s
    key = q.cw.catalog.keys[ASSIGNMENT]
    answers = {"q1": "hang hal", "q2": "7"}
    sub = Submission(assignment=ASSIGNMENT, student="hal", answers=answers, submitted_at=utcnow(), source="web:hal", handed_in_by="hal")
    job, _ = q.cw.jobs.create(sub, sub.answers, key_hash=key.source_hash)
    q.cw.dispatcher.app.send_task(TASK, args=[job.id], queue=q.cw.dispatcher.cfg.name, time_limit=20, soft_time_limit=20, retry=False)
    [hung] = started_checks(q, "hal")
    pool_process = hung
    while parent_of(pool_process) != w.pid:
        pool_process = parent_of(pool_process)
    done = q.wait_done(job.id, timeout=60)
    assert done.state == "failed"
    assert done.reason.startswith("This submission could not be graded within") and done.reason.endswith("staff have been told.")
    wait_until(lambda: hung not in w.members() and pool_process not in w.members(), timeout=20, what="the killed process and its check gone")
    assert "hard time limit" in w.output()

    nxt = q.submit("ida", {"q1": "42", "q2": "7"})
    assert q.wait_done(nxt, timeout=60).state == "graded"
    assert_graded_once(q, nxt, "ida", 5.0)
    assert w.alive()
