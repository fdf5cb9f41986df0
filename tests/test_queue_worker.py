"""`grader worker`: real Celery worker subprocesses over the machine's Redis (a key prefix of
their own) and a store on SQLite or the machine's PostgreSQL. A job graded by a worker lands
in the store once; the same task delivered twice changes nothing; a job whose worker died
(its lease ran out) is re-queued by the sweeper and graded once; a hostile answer costs its
part only; the worker also runs over RabbitMQ."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from _queue_fixtures import RABBIT, REDIS, Worker, queue_course, redis_prefix, start_worker, wait_until
from _store_fixtures import pg_database
from _service_fixtures import Q1

pytest.importorskip("celery")

GRADED_IN = 60.0  # seconds: a worker's first task starts its grading pool


@dataclass
class Queue:
    root: Path
    db: str
    courseware: Any  # grader.service.courseware.Courseware, with a dispatcher to the worker's queue
    worker: Worker

    def submit(self, student: str, answers: dict[str, Any], assignment: str = "svc-hw") -> str:
        from grader.models import Submission

        sub = Submission(assignment=assignment, student=student, answers=answers, source=f"web:{student}", handed_in_by=student)
        job, _ = self.courseware.jobs.create(sub, answers, key_hash=self.courseware.catalog.keys[assignment].source_hash)
        self.courseware.dispatcher.send(job.id, assignment)
        return job.id

    def graded(self, job_id: str, timeout: float = GRADED_IN) -> Any:
        wait_until(lambda: self.courseware.jobs.state(job_id) in ("graded", "failed"), timeout)
        return self.courseware.jobs.get(job_id)

    def count(self, table: Any) -> int:
        with self.courseware.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def courseware_on_queue(root: Path, db: str, broker: str) -> Any:
    from grader.course import load_course
    from grader.queue.app import make_app, queue_config
    from grader.queue.dispatch import CeleryDispatcher
    from grader.service.courseware import Courseware

    course = load_course(root)
    cw = Courseware(course, db, budget=None)
    cfg = queue_config(course, broker, cw.catalog.keys, 2.0)
    cw.dispatcher = CeleryDispatcher(make_app(cfg), cfg)
    return cw


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def queue(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Queue]:
    for prefix in redis_prefix():
        root = queue_course(tmp_path_factory.mktemp("queue-course"), prefix, lost_after=3.0)
        with pg_database("grader_queue") if request.param == "postgresql" else nullcontext(str(root / "grades.sqlite")) as db:
            cw = courseware_on_queue(root, db, REDIS)
            worker = start_worker(root, db, REDIS, root / "worker.log", concurrency=2)
            try:
                yield Queue(root, db, cw, worker)
            finally:
                worker.stop()
                cw.close()


def test_a_job_graded_by_a_worker_lands_in_the_store_once(queue: Queue) -> None:
    from grader.store import db

    before = {t.name: queue.count(t) for t in (db.runs, db.submissions, db.service_submissions)}
    job_id = queue.submit("alice", {"q1": str(Q1), "q2": "3.25 4.5 6.75"})
    job = queue.graded(job_id)
    assert job.state == "graded" and job.attempts == 1 and job.worker and job.key_hash
    recorded = queue.courseware.service.submission(job_id)
    assert recorded is not None and recorded.student == "alice" and recorded.answers == {"q1": str(Q1), "q2": "3.25 4.5 6.75"}
    by_part = {p.id: p for p in recorded.report.parts}
    assert by_part["q1"].score == 2 and by_part["q2"].score == 1 and by_part["q3"].status.value == "missing"  # not answered
    after = {t.name: queue.count(t) for t in (db.runs, db.submissions, db.service_submissions)}
    assert after == {name: n + 1 for name, n in before.items()}
    # the worker logged one line for it, through Celery's tracer
    text = queue.worker.wait_for(f"job {job_id} graded: svc-hw alice 3/5", 10)
    assert text.count(f"job {job_id}") == 1


def test_the_same_task_delivered_twice_changes_nothing(queue: Queue) -> None:
    from grader.store import db

    job_id = queue.submit("bob", {"q1": "73511", "q2": "1 2 3"})
    first = queue.graded(job_id)
    counts = {t.name: queue.count(t) for t in (db.runs, db.submissions, db.results, db.service_submissions)}
    report = queue.courseware.service.submission(job_id).report
    for _ in range(2):  # the message again (a redelivery, a sweeper's re-send)
        queue.courseware.dispatcher.send(job_id, "svc-hw")
    queue.worker.wait_for(f"job {job_id}: nothing to do (already graded)", GRADED_IN, count=2)
    assert {t.name: queue.count(t) for t in (db.runs, db.submissions, db.results, db.service_submissions)} == counts
    again = queue.courseware.jobs.get(job_id)
    assert again.attempts == first.attempts == 1 and again.finished_at == first.finished_at
    assert queue.courseware.service.submission(job_id).report == report


def test_a_job_whose_worker_died_is_requeued_by_the_sweeper_and_graded_once(queue: Queue) -> None:
    from grader.models import Submission

    # a worker claimed the job (its message consumed) and died: nothing but the lease remains
    sub = Submission(assignment="svc-hw", student="carol", answers={"q1": str(Q1)}, source="web:carol", handed_in_by="carol")
    job, _ = queue.courseware.jobs.create(sub, {"q1": str(Q1)}, key_hash="k")
    dead = queue.courseware.jobs.claim(job.id, lease=1.0, worker="dead-worker:1", max_attempts=3)
    assert dead.job is not None and dead.job.attempts == 1
    done = queue.graded(job.id)
    assert done.state == "graded" and done.attempts == 2 and done.worker != "dead-worker:1"
    queue.worker.wait_for(f"job {job.id} re-queued", 5)
    assert len([s for s in queue.courseware.service.submissions("svc-hw", "carol")]) == 1
    assert queue.courseware.service.submission(job.id).report.score == 2


def test_a_job_whose_message_was_lost_is_sent_again_and_graded_once(queue: Queue) -> None:
    from grader.models import Submission

    # the job was made and its message lost (a broker that restarted empty): nothing waits in
    # the broker's queue, so after `lost_after` a sweeper sends its id again
    sub = Submission(assignment="svc-hw", student="faye", answers={"q2": "3.25 4.5 6.75"}, source="web:faye", handed_in_by="faye")
    job, _ = queue.courseware.jobs.create(sub, {"q2": "3.25 4.5 6.75"}, key_hash="k")
    done = queue.graded(job.id, timeout=30)
    assert done.state == "graded" and done.attempts == 1
    queue.worker.wait_for("queued job(s) sent again", 5)
    assert queue.courseware.service.submission(job.id).report.score == 1
    assert len(queue.courseware.service.submissions("svc-hw", "faye")) == 1


def test_a_hostile_answer_costs_its_part_only(queue: Queue) -> None:
    job_id = queue.submit("dan", {"q1": "9" * 5000 + "**" + "9" * 5000, "q2": "3.25 4.5 6.75"})
    job = queue.graded(job_id)
    assert job.state == "graded"
    parts = {p.id: p for p in queue.courseware.service.submission(job_id).report.parts}
    assert parts["q1"].score == 0 and parts["q2"].score == 1


def test_a_message_that_names_no_job_is_refused(queue: Queue) -> None:
    queue.courseware.dispatcher.send("0" * 24, "svc-hw")  # a well-formed id of no job
    queue.worker.wait_for(f"job {'0' * 24}: nothing to do (no such job)", GRADED_IN)


def test_worker_help() -> None:
    out = subprocess.run([sys.executable, "-m", "grader", "worker", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for option in ("--course", "--broker", "--db", "--concurrency", "--max-tasks-per-child", "GRADER_BROKER_URL"):
        assert option in out.stdout


def test_a_worker_without_a_broker_says_so(tmp_path: Path) -> None:
    from _service_fixtures import make_course

    root = make_course(tmp_path / "c")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "grader", "worker", "--course", str(root)], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 2 and "no broker" in out.stderr and "--broker" in out.stderr


def test_a_worker_over_rabbitmq(tmp_path: Path) -> None:
    kombu = pytest.importorskip("kombu")
    try:
        with kombu.Connection(RABBIT, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 (any reason it cannot be reached)
        pytest.skip(f"no RabbitMQ on 127.0.0.1:5672: {exc}")
    name = f"grader-test-{uuid.uuid4().hex[:8]}"
    root = queue_course(tmp_path / "c", "", name=name)
    db = str(root / "grades.sqlite")
    cw = courseware_on_queue(root, db, RABBIT)
    worker = start_worker(root, db, RABBIT, root / "worker.log")
    try:
        q = Queue(root, db, cw, worker)
        job = q.graded(q.submit("erin", {"q1": str(Q1), "q2": "3.25 4.5 6.75"}))
        assert job.state == "graded" and q.courseware.service.submission(job.id).report.score == 3
    finally:
        worker.stop()
        cw.close()
        with kombu.Connection(RABBIT, connect_timeout=3) as conn:
            conn.default_channel.queue_delete(name)
