"""The web service's persistence: access tokens, drafts, submissions with idempotency keys.

Persistence only (the service's rules live in grader.service). A service submission is
recorded in one transaction with a run of kind `serve` and its report's rows, so the staff's
class view, exports and regrades see it as they see `grader run`'s results, and a submission
is either wholly recorded or absent.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from grader import __version__
from grader.models import SubmissionReport
from grader.store import db
from grader.store.repository import Store, _jsonable, _result_rows, _submission_row, _to_store, _utc, utcnow


class Principal(BaseModel):
    """Who a token belongs to: a roster student, or a member of staff."""

    subject: str
    role: str  # "student" | "staff"


class ServiceSubmission(BaseModel):
    id: str
    assignment: str
    student: str
    idempotency_key: str | None = None
    answers: dict[str, Any] = {}
    report: SubmissionReport
    created_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class ServiceStore:
    """The service's tables over a grade store's engine."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    # -- settings --------------------------------------------------------------------------------
    def secret(self, name: str) -> str:
        """A named random secret, made on first use and kept (the cookie signing key)."""
        t = db.service_settings
        with self.engine.begin() as conn:
            found = conn.execute(select(t.c.value).where(t.c.name == name)).scalar()
            if found is not None:
                return found
            value = secrets.token_urlsafe(32)
            try:
                with conn.begin_nested():
                    conn.execute(insert(t).values(name=name, value=value))
            except IntegrityError:  # another process made it first
                return conn.execute(select(t.c.value).where(t.c.name == name)).scalar_one()
            return value

    # -- tokens ----------------------------------------------------------------------------------
    def issue_token(self, subject: str, role: str) -> str:
        token = secrets.token_urlsafe(24)
        with self.engine.begin() as conn:
            conn.execute(
                insert(db.service_tokens).values(token_hash=token_hash(token), subject=subject, role=role, created_at=_to_store(utcnow()))
            )
        return token

    def principal(self, token: str) -> Principal | None:
        """The owner of a live (not revoked) token."""
        return self.principal_by_hash(token_hash(token))

    def principal_by_hash(self, digest: str) -> Principal | None:
        t = db.service_tokens
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.subject, t.c.role).where(and_(t.c.token_hash == digest, t.c.revoked_at.is_(None)))).first()
        return Principal(subject=row[0], role=row[1]) if row else None

    def revoke(self, subject: str, role: str) -> int:
        """Revoke every live token of `subject`; how many were revoked."""
        t = db.service_tokens
        with self.engine.begin() as conn:
            done = conn.execute(
                update(t)
                .where(and_(t.c.subject == subject, t.c.role == role, t.c.revoked_at.is_(None)))
                .values(revoked_at=_to_store(utcnow()))
            )
            return done.rowcount

    # -- drafts ----------------------------------------------------------------------------------
    def save_draft(self, assignment: str, student: str, part_id: str, answer: str) -> None:
        t = db.service_drafts
        key = and_(t.c.assignment == assignment, t.c.student == student, t.c.part_id == part_id)
        at = _to_store(utcnow())
        with self.engine.begin() as conn:
            if conn.execute(update(t).where(key).values(answer=answer, at=at)).rowcount == 0:
                conn.execute(insert(t).values(assignment=assignment, student=student, part_id=part_id, answer=answer, at=at))

    def drafts(self, assignment: str, student: str) -> dict[str, str]:
        t = db.service_drafts
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.part_id, t.c.answer).where(and_(t.c.assignment == assignment, t.c.student == student)))
            return {part: answer for part, answer in rows}

    # -- submissions -----------------------------------------------------------------------------
    def record_submission(self, report: SubmissionReport, answers: dict[str, Any], idempotency_key: str | None = None) -> tuple[ServiceSubmission, bool]:
        """Record a graded service submission (one transaction: its run, its rows, the service
        row). With an idempotency key already used by this student, nothing is written and the
        submission recorded then is returned; the flag says whether it is new."""
        sid = secrets.token_hex(12)
        try:
            with self.engine.begin() as conn:
                made = write_service_submission(conn, sid, report, answers, idempotency_key)
        except IntegrityError:
            if idempotency_key is None:
                raise
            found = self.by_idempotency_key(report.student, idempotency_key)
            if found is None:
                raise
            return found, False
        return made, True

    def replace_report(self, sid: str, report: SubmissionReport) -> None:
        """A regrade's report for a service submission (the grade store records the regrade run)."""
        t = db.service_submissions
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == sid).values(report=json.loads(report.model_dump_json())))

    def by_idempotency_key(self, student: str, key: str) -> ServiceSubmission | None:
        t = db.service_submissions
        return self._one(and_(t.c.student == student, t.c.idempotency_key == key))

    def submission(self, sid: str) -> ServiceSubmission | None:
        return self._one(db.service_submissions.c.id == sid)

    def submissions(self, assignment: str | None = None, student: str | None = None) -> list[ServiceSubmission]:
        t = db.service_submissions
        query = select(t).order_by(t.c.created_at, t.c.id)
        if assignment is not None:
            query = query.where(t.c.assignment == assignment)
        if student is not None:
            query = query.where(t.c.student == student)
        with self.engine.connect() as conn:
            return [_service_submission(r) for r in conn.execute(query).mappings()]

    def count(self, assignment: str, student: str) -> int:
        t = db.service_submissions
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(and_(t.c.assignment == assignment, t.c.student == student))).scalar_one())

    def _one(self, where: Any) -> ServiceSubmission | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(db.service_submissions).where(where)).mappings().first()
        return _service_submission(row) if row is not None else None


def write_service_submission(
    conn: Connection, sid: str, report: SubmissionReport, answers: dict[str, Any], idempotency_key: str | None = None
) -> ServiceSubmission:
    """Write a graded service submission on `conn` (the caller's transaction): a run of kind
    `serve`, its report's rows, and the service row `sid`."""
    now = utcnow()
    run = conn.execute(
        insert(db.runs).values(
            started_at=_to_store(now),
            finished_at=_to_store(now),
            grader_version=report.grader_version or __version__,
            key_hashes={report.assignment: report.key_hash} if report.key_hash else {},
            command=f"serve: submission {sid}",
            kind="serve",
        )
    )
    run_id = int(run.inserted_primary_key[0])
    conn.execute(insert(db.submissions), [_submission_row(run_id, report, list(report.warnings))])
    rows = _result_rows(run_id, report)
    if rows:
        conn.execute(insert(db.results), rows)
    conn.execute(
        insert(db.service_submissions).values(
            id=sid,
            assignment=report.assignment,
            student=report.student,
            idempotency_key=idempotency_key,
            answers=_jsonable(answers),
            run_id=run_id,
            report=json.loads(report.model_dump_json()),
            created_at=_to_store(now),
        )
    )
    return ServiceSubmission(
        id=sid, assignment=report.assignment, student=report.student, idempotency_key=idempotency_key, answers=answers, report=report, created_at=now
    )


def _service_submission(row: Any) -> ServiceSubmission:
    return ServiceSubmission(
        id=row["id"],
        assignment=row["assignment"],
        student=row["student"],
        idempotency_key=row["idempotency_key"],
        answers=dict(row["answers"] or {}),
        report=SubmissionReport.model_validate(row["report"]),
        created_at=_utc(row["created_at"]),
    )
