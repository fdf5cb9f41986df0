"""Sending a job's id to the workers (the service on submit, a worker's sweeper on re-queue)."""

from __future__ import annotations

from celery import Celery
from kombu.exceptions import ChannelError, OperationalError

from grader.queue.app import QueueConfig
from grader.queue.tasks import TASK
from grader.service.courseware import QueueDown


#: A publish on a connection that turns out dead reconnects once, at once; no longer waits.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


class CeleryDispatcher:
    """`grader.service.courseware.Dispatcher` over a Celery app: one message per job, carrying
    only its id, with the assignment's time limits."""

    def __init__(self, app: Celery, cfg: QueueConfig) -> None:
        self.app = app
        self.cfg = cfg

    def send(self, job_id: str, assignment: str) -> None:
        """Publish (one quick retry, for a pooled connection the broker dropped); QueueDown if
        the broker cannot be reached."""
        limits = self.cfg.limits_for(assignment)
        try:
            self.app.send_task(
                TASK, args=[job_id], queue=self.cfg.name, time_limit=limits.hard, soft_time_limit=limits.soft, retry=True, retry_policy=PUBLISH_RETRY
            )
        except (OperationalError, OSError) as exc:
            raise QueueDown(f"the grading queue cannot be reached ({type(exc).__name__}: {str(exc)[:200]})") from exc

    def waiting(self) -> int:
        """Messages in the broker's queue not yet delivered to a worker; QueueDown if the
        broker cannot be reached."""
        try:
            with self.app.connection_for_read() as conn:
                # (Redis: a plain declare only reads the list's length; a passive one there
                # misreads a prefixed queue as missing. RabbitMQ: passive, so no argument clashes.)
                return int(conn.default_channel.queue_declare(queue=self.cfg.name, passive=not self.cfg.redis).message_count)
        except ChannelError:  # no such queue yet: nothing waits
            return 0
        except (OperationalError, OSError) as exc:
            raise QueueDown(f"the grading queue cannot be reached ({type(exc).__name__})") from exc

    def close(self) -> None:
        self.app.close()
