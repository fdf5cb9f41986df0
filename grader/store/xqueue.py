"""The XQueue client's journal (table `xqueue_journal`): what was pulled, graded and posted.

Persistence only (the client's rules live in grader.xqueue). A submission goes
pulled -> graded -> posted, one row keyed by (server, XQueue's submission id); each step is
written before the next begins, so a client killed at any point resumes from the row: a
pulled row is graded, a graded row is posted, a posted row is never graded again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from grader.store import db
from grader.store.repository import Store, _to_store, _utc, utcnow

State = Literal["pulled", "graded", "posted"]

#: Errors are kept short: a message for staff, not a traceback.
MAX_ERROR_CHARS = 2000


class JournalEntry(BaseModel):
    server: str
    submission_id: str
    queue: str
    header: str
    body: str
    student: str | None = None
    assignment: str | None = None
    state: State
    reply: dict[str, Any] | None = None
    service_submission: str | None = None
    served: int
    grade_attempts: int
    post_attempts: int
    last_error: str | None = None
    pulled_at: datetime
    graded_at: datetime | None = None
    posted_at: datetime | None = None


class XQueueJournal:
    """One queue's journal on one XQueue server, over a grade store's engine."""

    def __init__(self, store: Store, server: str, queue: str) -> None:
        self.engine = store.engine
        self.server = server
        self.queue = queue

    def _key(self, submission_id: str) -> Any:
        t = db.xqueue_journal
        return and_(t.c.server == self.server, t.c.submission_id == submission_id)

    def pulled(self, submission_id: str, header: str, body: str) -> JournalEntry:
        """Note a submission XQueue handed out (before anything else is done with it). Served
        again, its row keeps its state and reply and takes the new header (XQueue's new key)."""
        t = db.xqueue_journal
        with self.engine.begin() as conn:
            done = conn.execute(update(t).where(self._key(submission_id)).values(header=header, served=t.c.served + 1))
            if done.rowcount == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(t).values(
                                server=self.server, submission_id=submission_id, queue=self.queue, header=header, body=body,
                                state="pulled", served=1, grade_attempts=0, post_attempts=0, pulled_at=_to_store(utcnow()),
                            )
                        )
                except IntegrityError:  # another client of the same store wrote it first
                    conn.execute(update(t).where(self._key(submission_id)).values(header=header, served=t.c.served + 1))
        found = self.entry(submission_id)
        assert found is not None
        return found

    def grading(self, submission_id: str, student: str | None, assignment: str | None) -> int:
        """Note that grading starts (counted before it starts: a grading that kills the client
        still counts); the attempts so far, this one included."""
        t = db.xqueue_journal
        with self.engine.begin() as conn:
            conn.execute(
                update(t).where(self._key(submission_id)).values(student=student, assignment=assignment, grade_attempts=t.c.grade_attempts + 1)
            )
            return int(conn.execute(select(t.c.grade_attempts).where(self._key(submission_id))).scalar_one())

    def graded(self, submission_id: str, reply: dict[str, Any], service_submission: str | None) -> None:
        """The reply to post, stored before it is posted (a row already graded keeps its reply)."""
        t = db.xqueue_journal
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(and_(self._key(submission_id), t.c.state == "pulled"))
                .values(state="graded", reply=reply, service_submission=service_submission, graded_at=_to_store(utcnow()), last_error=None)
            )

    def post_failed(self, submission_id: str, error: str) -> None:
        t = db.xqueue_journal
        with self.engine.begin() as conn:
            conn.execute(
                update(t).where(self._key(submission_id)).values(post_attempts=t.c.post_attempts + 1, last_error=error[:MAX_ERROR_CHARS])
            )

    def posted(self, submission_id: str) -> None:
        t = db.xqueue_journal
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(self._key(submission_id))
                .values(state="posted", posted_at=_to_store(utcnow()), post_attempts=t.c.post_attempts + 1, last_error=None)
            )

    def entry(self, submission_id: str) -> JournalEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(db.xqueue_journal).where(self._key(submission_id))).mappings().first()
        return _entry(row) if row is not None else None

    def in_state(self, state: State) -> list[JournalEntry]:
        """This queue's rows in `state`, oldest first (on start: pulled ones to grade, graded ones to post)."""
        t = db.xqueue_journal
        query = select(t).where(and_(t.c.server == self.server, t.c.queue == self.queue, t.c.state == state)).order_by(t.c.pulled_at)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query).mappings()]

    def entries(self) -> list[JournalEntry]:
        t = db.xqueue_journal
        query = select(t).where(and_(t.c.server == self.server, t.c.queue == self.queue)).order_by(t.c.pulled_at)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query).mappings()]


def _entry(row: Any) -> JournalEntry:
    values = dict(row)
    for name in ("pulled_at", "graded_at", "posted_at"):
        values[name] = _utc(values[name])
    return JournalEntry.model_validate(values)
