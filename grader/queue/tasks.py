"""The one task: grade the job whose id the message carries.

A worker process claims the job (a conditional UPDATE with a lease, grader.store.jobs), keeps
the lease alive while it grades, grades through the course's engine (`Courseware.grade_job`:
grader.run.grading.Grading, the same pool of killable workers and code sandbox as everywhere)
and records the report once. A message delivered twice, or a job someone else holds, ends
in "nothing to do". The task returns one line, which the worker logs (one line per task).

Time limits: past the soft limit the task is told (SoftTimeLimitExceeded) and fails the job
with a reason; past the hard limit Celery kills the process and the worker's main process
fails the job (`GradeTask.on_failure`, called there for a hard limit).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import worker_process_init

from grader.run.pool import PoolError

if TYPE_CHECKING:
    from grader.queue.app import QueueConfig
    from grader.service.courseware import Courseware
    from grader.store.jobs import JobStore

log = logging.getLogger("grader.queue")

#: The task's name on the wire (a message names it; `send_task` needs no import of the task).
TASK = "grader.grade_job"


def too_long(seconds: float) -> str:
    """What a student reads about a submission stopped at a time limit."""
    return f"This submission could not be graded within {seconds:g} s; staff have been told."


@dataclass
class _Here:
    """The worker's course, made once in the worker's main process before its processes fork."""

    courseware: "Courseware"
    cfg: "QueueConfig"
    pid: int


_here: _Here | None = None


def install(courseware: "Courseware", cfg: "QueueConfig") -> None:
    """Make this process (and the worker processes it forks) grade for `courseware`."""
    global _here
    _here = _Here(courseware, cfg, os.getpid())


def here() -> _Here:
    if _here is None:
        raise RuntimeError("this process grades no course: start workers with `grader worker`")
    if _here.pid != os.getpid():
        _forked()
    return _here


@worker_process_init.connect
def _forked(**_: Any) -> None:
    """In a worker process just forked from the worker's main process."""
    if _here is None or _here.pid == os.getpid():
        return
    # the database connections in the engine's pool are the parent's: leave them to it
    _here.courseware.store.engine.dispose(close=False)
    _here.pid = os.getpid()
    # The grading pool starts its own workers (and the code sandbox) with the standard
    # library's multiprocessing, which here sees billiard's process object: daemonic (a
    # daemonic process may not start children) and with billiard's authentication key (which
    # the forkserver cannot pickle). Those workers are still ended with this process (they are
    # daemonic themselves, and tied to it by PDEATHSIG).
    me = multiprocessing.current_process()
    me._config["daemon"] = False  # type: ignore[attr-defined]
    me._config["authkey"] = multiprocessing.process.AuthenticationString(os.urandom(32))  # type: ignore[attr-defined]


def worker_name(hostname: str | None) -> str:
    return f"{hostname or 'worker'}:{os.getpid()}"


class LeaseKeeper:
    """Renews a worker's lease on its job every third of the lease while the job is graded,
    never past the task's hard limit (a process that dies stops renewing: the lease runs out
    and the sweeper puts the job back in the queue)."""

    def __init__(self, jobs: "JobStore", job_id: str, worker: str, lease: float, hard_limit: float) -> None:
        self.jobs, self.job_id, self.worker, self.lease = jobs, job_id, worker, lease
        self.until = time.monotonic() + hard_limit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grader-lease", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stop.wait(self.lease / 3):
            left = self.until - time.monotonic()
            if left <= 0:
                return
            try:
                if not self.jobs.renew(self.job_id, self.worker, min(self.lease, left)):
                    return  # no longer ours (graded, failed, or re-queued after a stall)
            except Exception as exc:  # the database away for a moment: the next round tries again
                log.warning("job %s: lease not renewed: %s", self.job_id, exc)


def run_job(job_id: Any, hostname: str | None) -> str:
    """Claim, grade and record one job; the line the worker logs."""
    if not isinstance(job_id, str) or not 0 < len(job_id) <= 40:
        return f"refused a message that names no job ({type(job_id).__name__})"
    where = here()
    cw, cfg = where.courseware, where.cfg
    who = worker_name(hostname)
    claim = cw.jobs.claim(job_id, lease=cfg.lease, worker=who, max_attempts=cfg.attempts)
    if claim.job is None:
        return f"job {job_id}: nothing to do ({claim.why})"
    job = claim.job
    limits = cfg.limits_for(job.assignment)
    started = time.monotonic()
    try:
        with LeaseKeeper(cw.jobs, job.id, who, cfg.lease, limits.hard):
            recorded, new = cw.grade_job(job)
    except SoftTimeLimitExceeded:
        cw.jobs.fail(job.id, too_long(limits.soft))
        cw.restart_grading()  # the pool may still hold the submission: start clean
        return f"job {job.id} failed: {job.assignment} {job.student}: soft time limit ({limits.soft:g} s)"
    except PoolError:
        # the pool could not grade (a worker that cannot start): a fresh one for the next task;
        # this job's lease runs out and a sweeper re-queues it, `attempts` bounding how often
        cw.restart_grading()
        raise
    took = time.monotonic() - started
    if recorded is None:
        found = cw.jobs.get(job.id)
        return f"job {job.id} failed: {job.assignment} {job.student}: {found.reason if found else '?'}"
    report = recorded.report
    again = "" if new else " (recorded before: nothing changed)"
    return f"job {job.id} graded: {job.assignment} {job.student} {report.score:g}/{report.max_score:g} in {took:.2f} s (attempt {job.attempts}){again}"


class GradeTask(Task):
    """The task's class: a hard time limit, which kills the process, fails the job here (Celery
    calls this in the worker's main process then)."""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        if not isinstance(exc, TimeLimitExceeded) or not args or not isinstance(args[0], str):
            return
        where = here()
        job = where.courseware.jobs.get(args[0])
        if job is not None and where.courseware.jobs.fail(job.id, too_long(where.cfg.limits_for(job.assignment).hard)):
            log.warning("job %s failed: %s %s: hard time limit", job.id, job.assignment, job.student)


def register(app: Celery, cfg: "QueueConfig") -> None:
    @app.task(name=TASK, bind=True, base=GradeTask, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
    def grade_job(self: Task, job_id: str) -> str:
        return run_job(job_id, self.request.hostname)
