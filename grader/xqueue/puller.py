"""The pull loop of `grader xqueue`: pull a submission, journal it, grade it through the one
engine, store the reply, post it, mark it posted.

Every step is written to the journal (grader.store.xqueue) before the next one, so:
- on start, replies graded but not posted are posted first, and submissions pulled but never
  graded (the client died grading them) are graded and posted;
- a submission XQueue serves again (its timeout passed before a reply reached it) is answered
  from the journal with the new key XQueue gave it, never graded twice;
- the grade is recorded in the grade store as a service submission with an idempotency key made
  from the XQueue submission, so a grading repeated after a crash records nothing new.
A submission whose grading killed the client `MAX_GRADE_ATTEMPTS` times is answered with a
message, uncredited, rather than graded forever. A stop request (SIGTERM) lets the submission
under way finish (its grading and its post), then the loop ends.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import datetime

from grader.models import BrokenSubmission, Submission
from grader.service.courseware import Courseware
from grader.store.xqueue import JournalEntry, XQueueJournal
from grader.xqueue.answers import ACCEPTED_FORM, Payload, read_payload, read_response
from grader.xqueue.client import LoginRefused, Refused, UnknownQueue, XQueueClient, XQueueError
from grader.xqueue.protocol import Malformed, Pulled, Result, handed
from grader.xqueue.reply import graded_reply, message_reply

MAX_GRADE_ATTEMPTS = 3
COULD_NOT_GRADE = "This submission could not be graded; the course staff have been told. Nothing was credited for it."


class Puller:
    def __init__(
        self,
        courseware: Courseware,
        client: XQueueClient,
        queue: str,
        *,
        poll: float = 5.0,
        parallel: int = 1,
        stopping: threading.Event | None = None,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.cw = courseware
        self.client = client
        self.queue = queue
        self.poll = poll
        self.parallel = max(1, parallel)
        self._halt = threading.Event()  # another pulling thread failed
        self.stopping = stopping or threading.Event()
        self.log = log
        self.journal = XQueueJournal(courseware.store, client.url, queue)
        self._parts = {a: [p.id for p in courseware.part_keys(a)] for a in courseware.catalog.assignments}

    # -- the loop --------------------------------------------------------------------------------
    def start(self) -> int:
        """Log in, check the queue, and finish what an earlier run left; the queue's length."""
        self.client.login()
        length = self.client.queue_length(self.queue)
        self.resume()
        return length

    def resume(self) -> None:
        """Post the replies graded but not posted, then grade and post what was pulled only."""
        for entry in self.journal.in_state("graded"):
            if self.stopping.is_set():
                return
            self.log(f"submission {entry.submission_id}: graded before a restart, posting its reply")
            self.post(entry)
        for entry in self.journal.in_state("pulled"):
            if self.stopping.is_set():
                return
            self.log(f"submission {entry.submission_id}: pulled before a restart, grading it")
            self.post(self.grade(entry))

    def run(self, *, once: bool = False) -> None:
        """Pull and answer until stopped (with `once`: until the queue is empty), `parallel`
        submissions at a time (one loop a thread, each grading its own submission in the pool).
        XQueue unreachable or failing is waited for (with `once`, the error is raised)."""
        if self.parallel == 1:
            return self._loop(once)
        failures: list[BaseException] = []
        halt = self._halt = threading.Event()

        def loop() -> None:
            try:
                self._loop(once)
            except BaseException as exc:  # handed to the caller's thread; the others stop
                failures.append(exc)
                halt.set()

        threads = [threading.Thread(target=loop, name=f"xqueue-{i}", daemon=True) for i in range(self.parallel)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.2)  # short joins: the caller's signal handlers keep running
        if failures:
            raise failures[0]

    def _stopped(self) -> bool:
        return self.stopping.is_set() or self._halt.is_set()

    def _loop(self, once: bool) -> None:
        while not self._stopped():
            try:
                pulled = self.client.get_submission(self.queue)
            except Malformed as exc:  # no header to answer it by: XQueue serves it again
                self.log(f"a submission could not be read and is not answered: {exc}")
                pulled = None
            except (LoginRefused, UnknownQueue):
                raise  # the operator's to fix: waiting would not help
            except XQueueError as exc:  # unreachable, failing, or refusing this once
                if once or self._stopped():
                    raise
                self.log(f"{exc}; trying again in {self.poll:g} s")
                self._wait()
                continue
            if pulled is None:
                if once:
                    return
                self._wait()
                continue
            self.answer(pulled)

    def _wait(self) -> None:
        deadline = time.monotonic() + self.poll
        while not self._stopped() and time.monotonic() < deadline:
            self.stopping.wait(min(0.2, max(0.0, deadline - time.monotonic())))

    def answer(self, pulled: Pulled) -> JournalEntry:
        """One submission: journaled, graded unless the journal has its reply, posted."""
        entry = self.journal.pulled(pulled.submission_id, pulled.header, pulled.body)
        if entry.state == "pulled":
            entry = self.grade(entry)
        else:
            self.log(f"submission {entry.submission_id}: served again ({entry.served} times in all), answered from the journal")
        return self.post(entry)

    # -- grading ---------------------------------------------------------------------------------
    def grade(self, entry: JournalEntry) -> JournalEntry:
        """The reply for a journaled submission, stored (before it is posted)."""
        sid = entry.submission_id
        try:
            found = handed(entry.body)
        except Malformed as exc:
            return self._store(entry, message_reply(f"This submission could not be read: {exc}."), None)
        if found.student is None:
            return self._store(entry, message_reply("This submission does not say who handed it in (no anonymous_student_id); it was not graded."), None)
        try:
            payload = read_payload(found.grader_payload, self._parts)
        except Malformed as exc:
            return self._store(entry, message_reply(f"This problem is not set up for the grader: {exc}. Please tell the course staff."), None)
        attempts = self.journal.grading(sid, found.student, payload.assignment)
        if attempts > MAX_GRADE_ATTEMPTS:
            self.log(f"submission {sid}: its grading was cut short {attempts - 1} times; answered as not gradable")
            return self._store(entry, message_reply(COULD_NOT_GRADE), None)
        sub = read_response(found.response, payload, student=found.student, source=f"xqueue:{self.queue}/{sid}")
        if isinstance(sub, BrokenSubmission):
            return self._store(entry, message_reply(f"Your answer could not be read: {sub.reason}. Write it as {ACCEPTED_FORM}."), None)
        sub = self._completed(sub, payload, found.submitted_at)
        try:
            outcome = self.cw.grading.submit(sub).result()
        except Exception as exc:  # the engine itself failed (a student's answer costs a part, never this)
            self.log(f"submission {sid}: grading failed: {type(exc).__name__}: {exc}")
            return self._store(entry, message_reply(COULD_NOT_GRADE), None)
        if isinstance(outcome, BrokenSubmission):
            return self._store(entry, message_reply(f"This submission could not be graded: {outcome.reason}."), None)
        recorded, _new = self.cw.service.record_submission(outcome, sub.answers, self._idempotency_key(sid))
        report = recorded.report
        reply = graded_reply(self.cw.adjusted(report), self.cw.student_view(report), payload.graded(), payload.points)
        self.log(f"submission {sid}: {report.assignment} by {report.student}: {report.score:g} / {report.max_score:g}; reply score {reply.score:g}")
        return self._store(entry, reply, recorded.id)

    def _completed(self, sub: Submission, payload: Payload, submitted_at: datetime | None) -> Submission:
        """The submission as graded: edX's hand-in time (never a `submitted_at` line the student
        typed), the student's earlier answers to the other parts (when the payload grades some
        parts), and code parts as code files."""
        answers = dict(sub.answers)
        if payload.graded() is not None:
            earlier = self.cw.service.submissions(payload.assignment, sub.student)
            if earlier:
                answers = {**earlier[-1].answers, **answers}
        return sub.model_copy(
            update={"answers": answers, "submitted_at": submitted_at, "code": {**sub.code, **self.cw.code_files(payload.assignment, answers)}}
        )

    def _idempotency_key(self, submission_id: str) -> str:
        """One per XQueue submission (of this server), so a repeated grading records nothing new."""
        server = hashlib.sha256(self.client.url.encode()).hexdigest()[:16]
        return f"xqueue:{server}:{submission_id}"[:200]

    def _store(self, entry: JournalEntry, reply: Result, recorded: str | None) -> JournalEntry:
        self.journal.graded(entry.submission_id, reply.model_dump(), recorded)
        stored = self.journal.entry(entry.submission_id)
        assert stored is not None
        return stored

    # -- posting ---------------------------------------------------------------------------------
    def post(self, entry: JournalEntry) -> JournalEntry:
        """Post the stored reply; marked posted once XQueue took it. Refused or unreachable, the
        row stays graded: posted on the next start, or when XQueue serves it again."""
        assert entry.reply is not None
        sid = entry.submission_id
        try:
            self.client.put_result(entry.header, Result.model_validate(entry.reply))
        except Refused as exc:
            self.journal.post_failed(sid, f"refused: {exc}")
            self.log(f"submission {sid}: XQueue refused the reply ({exc}); it is answered when XQueue serves it again")
        except XQueueError as exc:
            self.journal.post_failed(sid, str(exc))
            self.log(f"submission {sid}: the reply was not posted ({exc}); it is posted on the next start or when served again")
        else:
            self.journal.posted(sid)
            self.log(f"submission {sid}: reply posted")
        found = self.journal.entry(sid)
        assert found is not None
        return found
