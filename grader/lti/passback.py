"""Scores back to the platforms: after a submission is graded and after staff change a score,
the student's current score (manual scores and overrides applied) goes to the line item of
every platform course they launched the assignment from.

Each score is first recorded (`lti_score_posts`), then sent; a send that fails leaves it
pending with the error, retried with a growing delay for a bounded number of attempts, then
`failed` (`grader lti push` sends pending ones now; `--failed` tries failed ones again). In the
service, a thread also looks every RETRY_EVERY seconds for pending scores whose time has come,
so a platform that comes back gets them without another submission or command. So a platform
that is down never fails a submission and loses no score.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from grader.lms.comment import summary_comment
from grader.lms.lti import ags_score, iso_timestamp
from grader.lti.ags import AgsClient, AgsError
from grader.lti.keys import ToolKey
from grader.models import SubmissionReport
from grader.store.lti import LtiLink, LtiStore, ScorePost
from grader.store.merge import apply_adjustments
from grader.store.repository import Store

#: The report as the student may see it now (the course's feedback policy).
View = Callable[[SubmissionReport], SubmissionReport]
#: Attempts per score before it is left `failed` for `grader lti push --failed`.
MAX_ATTEMPTS = 5
#: Pending scores retried on the way when another score is sent (a bounded batch).
RETRY_BATCH = 20
#: How often the service's passback looks for pending scores due again (the shortest delay).
RETRY_EVERY = 30.0

log = logging.getLogger(__name__)


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min ... after the n-th failed attempt."""
    return timedelta(seconds=30 * 2 ** max(attempts - 1, 0))


@dataclass
class PushResult:
    sent: int = 0
    pending: int = 0
    failed: int = 0


class Passback:
    """Score posts of one course store. `background=True` (the service) sends on a thread of
    its own so a submission's response never waits for a platform; the command line sends
    in line. `view` filters the report a comment is written from (the feedback policy)."""

    def __init__(
        self,
        store: Store,
        key: Callable[[], ToolKey],
        *,
        view: View | None = None,
        background: bool = False,
        timeout: float = 5.0,
        retry_every: float = RETRY_EVERY,
    ) -> None:
        self.store = store
        self.view = view
        self.lti = LtiStore(store)
        self._key, self._timeout = key, timeout
        self._client: AgsClient | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lti-passback") if background else None
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()
        self.retry_every = retry_every
        self._stop = threading.Event()
        self._retrying: threading.Thread | None = None  # started with the first score (background only)

    @property
    def client(self) -> AgsClient:
        """Made on the first send (the tool's key is read, or made, only then)."""
        with self._lock:
            if self._client is None:
                self._client = AgsClient(self._key(), timeout=self._timeout)
            return self._client

    def close(self) -> None:
        self._stop.set()
        if self._retrying is not None:
            self._retrying.join(timeout=10)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._client is not None:
            self._client.close()

    # -- when grades change ------------------------------------------------------------------------
    def recorded(self, report: SubmissionReport) -> list[int]:
        """A submission was recorded: queue its score for every place it goes, and send."""
        targets = self.lti.targets(report.assignment, report.student)
        if not targets:
            return []
        current = self._adjusted(report)
        ids = [self.lti.queue_post(link, report.student, user, self._payload(current, user)) for link, user in targets]
        self._dispatch(ids)
        return ids

    def changed(self, assignment: str, students: list[str] | None = None) -> list[int]:
        """Staff changed scores (manual grading, an override, a regrade): queue the current score
        of each student (all linked students of the assignment when None) wherever it differs
        from the last one sent, and send."""
        linked = set(self.lti.linked_students(assignment))
        wanted = linked if students is None else linked & set(students)
        if not wanted:
            return []
        ids = []
        for report in self.store.latest_reports(assignment):
            if report.student not in wanted:
                continue
            current = self._adjusted(report)
            for link, user in self.lti.targets(assignment, report.student):
                payload = self._payload(current, user)
                last = self.lti.last_sent(link, user)
                if last is not None and _same_grade(last.payload, payload):
                    continue
                ids.append(self.lti.queue_post(link, report.student, user, payload))
        self._dispatch(ids)
        return ids

    def _adjusted(self, report: SubmissionReport) -> SubmissionReport:
        a, s = report.assignment, report.student
        return apply_adjustments(report, self.store.manual_scores(a, s), self.store.overrides(a, s))

    def _payload(self, report: SubmissionReport, user_id: str) -> dict:
        """The AGS score of the adjusted report; its comment says no more than the student may
        see now (the feedback policy, through `view`), and there is none without a view."""
        stamp = iso_timestamp(datetime.now(timezone.utc))
        score = ags_score(report, user_id, stamp)
        comment = summary_comment(self.view(report)) if self.view is not None else None
        return score.model_copy(update={"comment": comment}).model_dump(by_alias=True, mode="json", exclude_none=True)

    # -- sending -----------------------------------------------------------------------------------
    def _dispatch(self, ids: list[int]) -> None:
        if not ids:
            return
        if self._pool is None:
            self.send(ids)
            self.retry_due()
            return

        def job() -> None:
            self.send(ids)
            self.retry_due()

        self._submit(job)
        self.start_retrying()

    def _submit(self, job: Callable[[], object]) -> None:
        assert self._pool is not None
        future = self._pool.submit(job)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    @property
    def retrying(self) -> bool:
        """Whether the thread that retries pending scores on a timer runs."""
        return self._retrying is not None and self._retrying.is_alive()

    def start_retrying(self) -> None:
        """Start the timer that retries pending scores (background passbacks; once)."""
        with self._lock:
            if self._pool is None or self._retrying is not None or self._stop.is_set():
                return
            self._retrying = threading.Thread(target=self._retry_loop, name="lti-retry", daemon=True)
            self._retrying.start()

    def _retry_loop(self) -> None:
        while not self._stop.wait(self.retry_every):
            try:
                if self.lti.posts(("pending",), due_only=True, limit=1):
                    self._submit(self.retry_due)  # on the sending thread, one send at a time
            except Exception:  # the store may be away for a moment: the next round tries again
                log.exception("LTI: could not look for pending scores")

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait (bounded) for the sends under way; whether they all finished."""
        with self._lock:
            running = set(self._futures)
        done, pending = wait(running, timeout=timeout)
        return not pending

    def send(self, ids: list[int]) -> PushResult:
        result = PushResult()
        for post_id in ids:
            post = self.lti.post(post_id)
            if post is None or post.state != "pending":
                continue
            state = self._send_one(post)
            setattr(result, state, getattr(result, state) + 1)
        return result

    def _send_one(self, post: ScorePost) -> str:
        try:
            platform = self.lti.platform_by_id(post.platform_id)
            link = self.lti.link(post.platform_id, post.context_id, post.assignment)
            if platform is None or link is None:
                raise AgsError("the platform or the course link is no longer registered")
            url = self._line_item(platform, link, float(post.payload.get("scoreMaximum") or 1.0))
            self.client.post_score(platform, url, post.payload)
        except AgsError as exc:
            attempts = post.attempts + 1
            return self.lti.mark_failed_attempt(post.id, str(exc), give_up_after=MAX_ATTEMPTS, retry_in=retry_delay(attempts))
        except Exception as exc:  # never let a post break the caller (a submission, a worker)
            return self.lti.mark_failed_attempt(post.id, f"{type(exc).__name__}: {exc}", give_up_after=MAX_ATTEMPTS, retry_in=retry_delay(post.attempts + 1))
        self.lti.mark_sent(post.id)
        return "sent"

    def _line_item(self, platform, link: LtiLink, score_maximum: float) -> str:  # type: ignore[no-untyped-def]
        if link.lineitem_url:
            return link.lineitem_url
        url = self.client.line_item(platform, link, label=link.assignment, score_maximum=score_maximum)
        self.lti.set_lineitem(link.platform_id, link.context_id, link.assignment, url)
        return url

    def retry_due(self, limit: int = RETRY_BATCH) -> PushResult:
        """Pending scores whose next try has come (a bounded batch)."""
        return self.send([p.id for p in self.lti.posts(("pending",), due_only=True, limit=limit)])

    def push(self, *, include_failed: bool = False) -> PushResult:
        """Send every pending score now (and the failed ones again, if asked): how many were sent,
        and how many are left pending and failed."""
        if include_failed:
            self.lti.requeue([p.id for p in self.lti.posts(("failed",))])
        result = self.send([p.id for p in self.lti.posts(("pending",))])
        result.pending = len(self.lti.posts(("pending",)))
        result.failed = len(self.lti.posts(("failed",)))
        return result


def _same_grade(a: dict, b: dict) -> bool:
    keys = ("scoreGiven", "scoreMaximum", "gradingProgress", "activityProgress")
    return all(a.get(k) == b.get(k) for k in keys)
