"""Grading jobs: service submissions waiting for a worker, their claims, leases and outcomes.

Persistence only (the queue's rules live in grader.queue, the service's in grader.service).
Every state change is one conditional UPDATE on the job's row, which SQLite and PostgreSQL
both make atomic (PostgreSQL re-checks the WHERE clause of a row another transaction changed
meanwhile), so two workers, or two sweepers, never both win:

- `claim`: `... WHERE id = :id AND (state = 'queued' OR (state = 'running' AND lease_until < :now))`
- `record_graded`: `... SET state = 'graded' WHERE id = :id AND state <> 'graded'`, in the same
  transaction as the service submission row of the same id, so a task that runs twice (a
  redelivered message, a sweeper's re-send) records nothing the second time.
- `requeue_expired`: `... WHERE id = :id AND state = 'running' AND lease_until < :now`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from grader.models import Submission, SubmissionReport
from grader.store import db
from grader.store.repository import Store, _jsonable, _to_store, _utc, utcnow
from grader.store.service import ServiceStore, ServiceSubmission, write_service_submission

JobState = Literal["queued", "running", "graded", "failed"]
PENDING: tuple[JobState, ...] = ("queued", "running")


class Job(BaseModel):
    id: str
    assignment: str
    student: str
    idempotency_key: str | None = None
    submission: Submission
    answers: dict[str, Any]
    key_hash: str | None = None
    state: JobState
    attempts: int
    lease_until: datetime | None = None
    worker: str | None = None
    reason: str | None = None
    created_at: datetime
    enqueued_at: datetime
    finished_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.state in PENDING


@dataclass(frozen=True)
class Claim:
    """What a worker's claim found: the job to grade (`job`), or why there is none."""

    job: Job | None
    why: str = ""


class JobStore:
    """The `grading_jobs` table over a grade store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.t = db.grading_jobs

    # -- the service's side ------------------------------------------------------------------------
    def create(self, sub: Submission, answers: dict[str, Any], *, key_hash: str | None, idempotency_key: str | None = None) -> tuple[Job, bool]:
        """A queued job for `sub`; (the job, whether it is new). With an idempotency key this
        student already used, nothing is written and that job is returned."""
        now = utcnow()
        row = {
            "id": secrets.token_hex(12),
            "assignment": sub.assignment,
            "student": sub.student,
            "idempotency_key": idempotency_key,
            "submission": json.loads(sub.model_dump_json()),
            "answers": _jsonable(answers),
            "key_hash": key_hash,
            "state": "queued",
            "attempts": 0,
            "created_at": _to_store(now),
            "enqueued_at": _to_store(now),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(self.t).values(**row))
        except IntegrityError:
            found = self.by_idempotency_key(sub.student, idempotency_key) if idempotency_key is not None else None
            if found is None:
                raise
            return found, False
        return _job(row), True

    def discard(self, job_id: str) -> None:
        """Remove a job that never reached the broker (the submission is refused, not kept)."""
        with self.engine.begin() as conn:
            conn.execute(delete(self.t).where(and_(self.t.c.id == job_id, self.t.c.state == "queued", self.t.c.attempts == 0)))

    def get(self, job_id: str) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.t).where(self.t.c.id == job_id)).mappings().first()
        return _job(row) if row is not None else None

    def by_idempotency_key(self, student: str, key: str) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.t).where(and_(self.t.c.student == student, self.t.c.idempotency_key == key))).mappings().first()
        return _job(row) if row is not None else None

    def state(self, job_id: str) -> JobState | None:
        with self.engine.connect() as conn:
            return conn.execute(select(self.t.c.state).where(self.t.c.id == job_id)).scalar()

    def pending_count(self, assignment: str, student: str) -> int:
        """Jobs of this student for this assignment not graded yet (they count as attempts)."""
        t = self.t
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(and_(t.c.assignment == assignment, t.c.student == student, t.c.state.in_(PENDING)))
                ).scalar_one()
            )

    def unfinished(self, assignment: str | None = None, student: str | None = None) -> list[Job]:
        """Jobs with no recorded submission: waiting, being graded, or failed; oldest first."""
        t = self.t
        query = select(t).where(t.c.state != "graded").order_by(t.c.created_at, t.c.id)
        if assignment is not None:
            query = query.where(t.c.assignment == assignment)
        if student is not None:
            query = query.where(t.c.student == student)
        with self.engine.connect() as conn:
            return [_job(row) for row in conn.execute(query).mappings()]

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state (for the logs and the benchmark)."""
        with self.engine.connect() as conn:
            return {state: int(n) for state, n in conn.execute(select(self.t.c.state, func.count()).group_by(self.t.c.state))}

    # -- a worker's side ---------------------------------------------------------------------------
    def claim(self, job_id: str, *, lease: float, worker: str, max_attempts: int, now: datetime | None = None) -> Claim:
        """Take the job to grade, holding it for `lease` seconds: it must be queued, or running
        under a lease that ran out (its worker died). A job already claimed `max_attempts`
        times is failed instead."""
        now = now or utcnow()
        t = self.t
        claimable = and_(t.c.id == job_id, or_(t.c.state == "queued", and_(t.c.state == "running", t.c.lease_until < _to_store(now))))
        with self.engine.begin() as conn:
            worn_out = conn.execute(
                update(t)
                .where(and_(claimable, t.c.attempts >= max_attempts))
                .values(state="failed", reason=GAVE_UP, finished_at=_to_store(now), lease_until=None)
            ).rowcount
            if worn_out:
                return Claim(None, f"failed after {max_attempts} attempts")
            taken = conn.execute(
                update(t)
                .where(claimable)
                .values(state="running", attempts=t.c.attempts + 1, lease_until=_to_store(now + timedelta(seconds=lease)), worker=worker[:200])
            ).rowcount
            if not taken:
                found = conn.execute(select(t.c.state, t.c.worker).where(t.c.id == job_id)).first()
                if found is None:
                    return Claim(None, "no such job")
                return Claim(None, f"already {found[0]}" + (f" (by {found[1]})" if found[0] == "running" and found[1] else ""))
            row = conn.execute(select(t).where(t.c.id == job_id)).mappings().one()
        return Claim(_job(row))

    def renew(self, job_id: str, worker: str, lease: float, now: datetime | None = None) -> bool:
        """Extend this worker's lease on a running job; False if the job is no longer its."""
        now = now or utcnow()
        t = self.t
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(t)
                    .where(and_(t.c.id == job_id, t.c.state == "running", t.c.worker == worker[:200]))
                    .values(lease_until=_to_store(now + timedelta(seconds=lease)))
                ).rowcount
            )

    def record_graded(self, job: Job, report: SubmissionReport) -> tuple[ServiceSubmission, bool]:
        """Record the job's report as the service submission of the same id, in one transaction
        with the job's move to `graded` (and the key hash that graded it). Idempotent: a job
        already graded writes nothing and returns the submission recorded then; the flag says
        whether this call recorded it."""
        t = self.t
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(t)
                .where(and_(t.c.id == job.id, t.c.state != "graded"))
                .values(state="graded", key_hash=report.key_hash or job.key_hash, lease_until=None, reason=None, finished_at=_to_store(utcnow()))
            ).rowcount
            if moved:
                return write_service_submission(conn, job.id, report, job.answers, job.idempotency_key), True
        found = ServiceStore(Store(self.engine)).submission(job.id)
        if found is None:  # graded, yet no submission: cannot happen (one transaction wrote both)
            raise LookupError(f"job {job.id} is graded but its submission is missing")
        return found, False

    def fail(self, job_id: str, reason: str) -> bool:
        """End a job that cannot be graded (not one already graded); False if it was."""
        t = self.t
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(t)
                    .where(and_(t.c.id == job_id, t.c.state != "graded"))
                    .values(state="failed", reason=reason, lease_until=None, finished_at=_to_store(utcnow()))
                ).rowcount
            )

    # -- the sweeper's side -----------------------------------------------------------------------
    def expired(self, now: datetime | None = None, limit: int = 500) -> list[tuple[str, str]]:
        """(id, assignment) of running jobs whose lease ran out (their worker died or hung), oldest lease first."""
        t = self.t
        now = now or utcnow()
        query = select(t.c.id, t.c.assignment).where(and_(t.c.state == "running", t.c.lease_until < _to_store(now))).order_by(t.c.lease_until).limit(limit)
        with self.engine.connect() as conn:
            return [(job_id, assignment) for job_id, assignment in conn.execute(query)]

    def requeue_expired(self, job_id: str, max_attempts: int, now: datetime | None = None) -> JobState | None:
        """Put a job whose lease ran out back in the queue ("queued": send its id again), or
        fail it once it has had `max_attempts` claims ("failed"); None if another sweeper, or a
        worker, got to it first."""
        t = self.t
        now = now or utcnow()
        expired = and_(t.c.id == job_id, t.c.state == "running", t.c.lease_until < _to_store(now))
        with self.engine.begin() as conn:
            if conn.execute(
                update(t).where(and_(expired, t.c.attempts >= max_attempts)).values(state="failed", reason=GAVE_UP, lease_until=None, finished_at=_to_store(now))
            ).rowcount:
                return "failed"
            if conn.execute(update(t).where(expired).values(state="queued", lease_until=None, enqueued_at=_to_store(now))).rowcount:
                return "queued"
        return None

    def stale_queued(self, older_than: float, now: datetime | None = None, limit: int = 500) -> list[tuple[str, str, Any]]:
        """(id, assignment, when sent as stored) of queued jobs last sent more than `older_than`
        seconds ago (their message may have been lost with a broker that restarted empty)."""
        t = self.t
        now = now or utcnow()
        cutoff = _to_store(now - timedelta(seconds=older_than))
        query = (
            select(t.c.id, t.c.assignment, t.c.enqueued_at).where(and_(t.c.state == "queued", t.c.enqueued_at < cutoff)).order_by(t.c.enqueued_at).limit(limit)
        )
        with self.engine.connect() as conn:
            return [(job_id, assignment, at) for job_id, assignment, at in conn.execute(query)]

    def resend(self, job_id: str, sent_at: Any, now: datetime | None = None) -> bool:
        """Mark a stale queued job as sent again now; False if it changed since it was read
        (another sweeper re-sent it, or a worker claimed it)."""
        t = self.t
        now = now or utcnow()
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(t).where(and_(t.c.id == job_id, t.c.state == "queued", t.c.enqueued_at == sent_at)).values(enqueued_at=_to_store(now))
                ).rowcount
            )


#: What a student reads when a job could not be graded after every attempt.
GAVE_UP = "This submission could not be graded (the grader stopped on it more than once); staff have been told."


def _job(row: Any) -> Job:
    return Job(
        id=row["id"],
        assignment=row["assignment"],
        student=row["student"],
        idempotency_key=row["idempotency_key"],
        submission=Submission.model_validate(row["submission"]),
        answers=dict(row["answers"] or {}),
        key_hash=row["key_hash"],
        state=row["state"],
        attempts=int(row["attempts"]),
        lease_until=_utc(row.get("lease_until")),
        worker=row.get("worker"),
        reason=row.get("reason"),
        created_at=_utc(row["created_at"]),
        enqueued_at=_utc(row["enqueued_at"]),
        finished_at=_utc(row.get("finished_at")),
    )
