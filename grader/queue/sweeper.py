"""The sweeper: jobs whose worker died go back in the queue; jobs whose message was lost are
sent again.

It runs in every worker's main process, on the worker's own timer (a Celery bootstep; no
scheduler of ours, no extra process to deploy). Two sweepers never both re-queue a job: each
re-queue is a conditional UPDATE that only one of them wins (grader.store.jobs); and were a
job's id sent twice, the second task would find it graded and change nothing.

- A running job whose lease ran out (its worker was killed, or hung past renewing) is put back
  to queued and its id sent again; after `attempts` claims it is failed with a reason.
- A queued job sent more than `lost_after` seconds ago is sent again when the broker's queue is
  empty (a broker that restarted without its messages); while messages wait, none is lost yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from celery import bootsteps

from grader.queue.dispatch import CeleryDispatcher
from grader.service.courseware import QueueDown
from grader.store.jobs import JobStore

log = logging.getLogger("grader.queue")


@dataclass
class Swept:
    requeued: int = 0
    failed: int = 0
    resent: int = 0

    def __bool__(self) -> bool:
        return bool(self.requeued or self.failed or self.resent)


def sweep(jobs: JobStore, dispatcher: CeleryDispatcher) -> Swept:
    """One pass; what it did. A broker that is down ends the pass (the next one tries again:
    a job re-queued but not sent is picked up as lost)."""
    cfg = dispatcher.cfg
    done = Swept()
    try:
        for job_id, assignment in jobs.expired():
            state = jobs.requeue_expired(job_id, cfg.attempts)
            if state == "failed":
                done.failed += 1
                log.warning("job %s failed: its lease ran out %d times", job_id, cfg.attempts)
            elif state == "queued":
                dispatcher.send(job_id, assignment)
                done.requeued += 1
                log.info("job %s re-queued: its worker's lease ran out", job_id)
        stale = jobs.stale_queued(cfg.lost_after)
        if stale and dispatcher.waiting() == 0:
            for job_id, assignment, sent_at in stale:
                if jobs.resend(job_id, sent_at):
                    dispatcher.send(job_id, assignment)
                    done.resent += 1
            if done.resent:
                log.warning("%d queued job(s) sent again: the broker's queue was empty (a broker restarted without its messages?)", done.resent)
    except QueueDown as exc:
        log.warning("sweep stopped: %s", exc)
    return done


class SweeperStep(bootsteps.StartStopStep):
    """A worker bootstep: `sweep` every `sweep_every` seconds on the worker's timer."""

    requires = {"celery.worker.components:Timer"}
    jobs: JobStore | None = None  # bound by `sweeper_step`
    dispatcher: CeleryDispatcher | None = None

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        if self.jobs is None or self.dispatcher is None:
            return
        self.tref = worker.timer.call_repeatedly(self.dispatcher.cfg.sweep_every, self.run, priority=10)

    def run(self) -> None:
        assert self.jobs is not None and self.dispatcher is not None
        try:
            sweep(self.jobs, self.dispatcher)
        except Exception:  # the database away for a moment: the next pass tries again
            log.exception("sweep failed")

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


def sweeper_step(jobs: JobStore, dispatcher: CeleryDispatcher) -> type[SweeperStep]:
    """The step class to add to a worker (`app.steps["worker"].add(...)`), bound to this course."""
    return type("Sweeper", (SweeperStep,), {"jobs": jobs, "dispatcher": dispatcher})
