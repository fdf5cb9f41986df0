"""The Celery application of a course's grading queue, configured from the course's settings.

Why Celery (over a queue of our own): it is the proven task queue for Python, with the
delivery guarantees grading needs already built and tested — late acknowledgement (a message
is removed only once its task ended), redelivery of a task whose worker process died, soft and
hard time limits per task enforced from outside the task, worker processes replaced after a
bounded number of tasks — over Redis or RabbitMQ alike (kombu), and `celery inspect`/Flower
for operators. What it does not give, exactly-once grading, the store does: a task carries
only a job id, and recording its report is idempotent (grader.store.jobs).

Settings, and why:
- `task_acks_late` + `task_reject_on_worker_lost`: a worker killed mid-task leaves its message
  to be delivered again, instead of losing it;
- `worker_prefetch_multiplier = 1`: a worker holds one message per free process, so a long
  task never sits on others a free worker could take;
- time limits per task (sent with each message, from the assignment's parts: grader.queue.limits),
  with the course's longest as the worker's default;
- `broker_transport_options.visibility_timeout` above the longest hard limit: Redis redelivers
  a message not acknowledged in that time, which must not happen to a task still running;
- JSON only (`accept_content`): a worker never unpickles what the broker hands it;
- no result backend: results live in the store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from celery import Celery

from grader.course import Course
from grader.models import AnswerKey

from grader.queue.limits import GRACE, START_ALLOWANCE, TaskLimits, capped, task_limits, visibility_timeout
from grader.queue.tasks import register

#: Worker processes are replaced after this many tasks (memory a long life may gather). A new
#: one imports torch and the problem sets again, ~2.5 s of CPU: every 200 tasks that was 13 ms
#: a task, more than half of a task's CPU (bench/queue_load.py: 22 -> 9 ms, twice the rate).
MAX_TASKS_PER_CHILD = 5000
#: The broker's URL when neither --broker nor the course file gives one.
BROKER_ENV = "GRADER_BROKER_URL"
#: How long a publish or a broker connection may take before the broker is "down".
BROKER_TIMEOUT = 3.0


@dataclass(frozen=True)
class QueueConfig:
    """What the service and the workers of one course agree on (from `[queue]` and the flags)."""

    broker: str
    name: str = "grader"
    prefix: str = ""  # Redis: every key starts with it (several courses, or tests, on one database)
    lease: float = 30.0
    attempts: int = 3
    sweep_every: float = 10.0
    lost_after: float = 120.0
    limits: dict[str, TaskLimits] = field(default_factory=dict)  # per assignment
    max_tasks_per_child: int = MAX_TASKS_PER_CHILD

    @property
    def longest(self) -> TaskLimits:
        """The longest limits of any assignment: a worker's default for a message without its own."""
        if not self.limits:
            return TaskLimits(START_ALLOWANCE, START_ALLOWANCE + GRACE)
        return max(self.limits.values(), key=lambda lim: lim.hard)

    def limits_for(self, assignment: str) -> TaskLimits:
        return self.limits.get(assignment) or self.longest

    @property
    def redis(self) -> bool:
        return self.broker.split("://", 1)[0] in ("redis", "rediss", "redis+socket", "sentinel")


def broker_url(course: Course, given: str | None = None) -> str | None:
    """The broker in force: `--broker`, else $GRADER_BROKER_URL, else the course's `[queue] broker`;
    None: no queue (grading in-process)."""
    return given or os.environ.get(BROKER_ENV) or course.queue.broker or None


def queue_config(course: Course, broker: str, keys: Mapping[str, AnswerKey], budget: float, *, max_tasks_per_child: int = MAX_TASKS_PER_CHILD) -> QueueConfig:
    """The course's queue settings, with every assignment's time limits from its key and `budget`."""
    q = course.queue
    return QueueConfig(
        broker=broker, name=q.name, prefix=q.prefix, lease=q.lease, attempts=q.attempts, sweep_every=q.sweep_every, lost_after=q.lost_after,
        limits={a: capped(task_limits(key, budget), q.time_limit) for a, key in keys.items()}, max_tasks_per_child=max_tasks_per_child,
    )


def transport_options(cfg: QueueConfig) -> dict[str, Any]:
    options: dict[str, Any] = {
        "visibility_timeout": int(visibility_timeout(cfg.limits.values()) + 0.999),
        # a channel asked of a connection that is down: one immediate retry, then the error (a
        # submission is answered 503 in milliseconds; a worker's consumer reconnects on its own)
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
    if cfg.redis:
        # a broker that vanished must fail a publish in seconds (the service answers 503), not hang
        options.update(socket_timeout=BROKER_TIMEOUT * 2, socket_connect_timeout=BROKER_TIMEOUT)
        if cfg.prefix:
            options["global_keyprefix"] = cfg.prefix
    return options


def make_app(cfg: QueueConfig) -> Celery:
    """The course's Celery app (its one task is registered by grader.queue.tasks)."""
    app = Celery("grader", broker=cfg.broker, set_as_current=False)
    longest = cfg.longest
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        event_serializer="json",
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=cfg.max_tasks_per_child,
        task_soft_time_limit=longest.soft,
        task_time_limit=longest.hard,
        broker_transport_options=transport_options(cfg),
        broker_connection_timeout=BROKER_TIMEOUT,
        broker_connection_retry_on_startup=True,
        task_default_queue=cfg.name,
        task_create_missing_queues=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    register(app, cfg)
    return app
