"""Starting a worker: a real Celery worker (prefork processes) grading one course's jobs."""

from __future__ import annotations

import logging
import sys

from grader.queue.app import QueueConfig, make_app
from grader.queue.dispatch import CeleryDispatcher
from grader.queue.sweeper import sweeper_step
from grader.queue.tasks import install
from grader.service.courseware import Courseware

LOG_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(message)s"


def run_worker(courseware: Courseware, cfg: QueueConfig, *, concurrency: int, hostname: str | None = None, loglevel: str = "INFO") -> int:
    """Run a worker until it is told to stop (SIGTERM: warm shutdown, finishing its tasks);
    its exit code. `courseware` is made here, before the worker processes fork from this one."""
    logging.basicConfig(level=loglevel, format=LOG_FORMAT, stream=sys.stderr)
    # one line per task: Celery's own "succeeded in N s: <the task's line>"; not "received" too
    logging.getLogger("celery.worker.strategy").setLevel(logging.WARNING)
    app = make_app(cfg)
    dispatcher = CeleryDispatcher(app, cfg)
    install(courseware, cfg)
    app.steps["worker"].add(sweeper_step(courseware.jobs, dispatcher))
    worker = app.Worker(
        hostname=hostname,
        pool_cls="prefork",
        concurrency=concurrency,
        max_tasks_per_child=cfg.max_tasks_per_child,
        loglevel=loglevel,
        queues=[cfg.name],
        quiet=True,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
    )
    worker.start()
    return int(worker.exitcode or 0)
