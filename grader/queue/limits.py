"""How long one grading task may take: soft and hard time limits from the assignment's parts.

The pool already bounds every part (grader.run.pool): a check is stopped at its CPU budget or,
if it only waits, at WALL_FACTOR times it, and graded once more in a fresh worker; a code part
runs each sandboxed test under the part's own wall-clock limit. So a task's worst case is the
sum of its parts' worst cases plus the one-off loads (a pool worker importing the problem set,
a sandbox importing torch). The soft limit is that sum; the hard limit (the process is killed)
leaves a grace after it for the task to record what it has; the broker's visibility timeout
and a worker's lease follow from the hard limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from grader.models import AnswerKey, PartKey
from grader.run.guard import WALL_FACTOR

#: A fresh pool worker loads the problem set (and perhaps torch), outside any part's budget.
START_ALLOWANCE = 60.0
#: A code part's sandbox imports torch in its zygote once per worker.
SANDBOX_START = 60.0
#: Between the soft limit (the task is told) and the hard one (the process is killed).
GRACE = 30.0
#: Over the largest hard limit: Redis redelivers a message not acknowledged within the
#: visibility timeout, so it must outlast every task that may still be running.
VISIBILITY_MARGIN = 60.0


@dataclass(frozen=True)
class TaskLimits:
    soft: float
    hard: float


def part_seconds(part: PartKey, budget: float) -> float:
    """The longest the pool lets one part take."""
    if part.kind != "code":
        return 2 * budget * WALL_FACTOR  # stopped at the wall limit, graded once more, stopped again
    data = part.reference if isinstance(part.reference, dict) else {}
    seconds = float((data.get("limits") or {}).get("seconds", 5.0))
    tests = 1 if data.get("form") == "training" else 2 + 2 * len(data.get("probes") or ())  # load, forward, gradients, gradcheck
    return tests * seconds


def task_limits(key: AnswerKey, budget: float) -> TaskLimits:
    """The soft and hard time limits of a task grading one submission to `key`."""
    parts = sum(part_seconds(p, budget) for p in key.parts)
    code = SANDBOX_START if any(p.kind == "code" for p in key.parts) else 0.0
    soft = round(START_ALLOWANCE + code + parts, 1)
    return TaskLimits(soft=soft, hard=soft + GRACE)


def capped(limits: TaskLimits, soft_cap: float | None) -> TaskLimits:
    """`limits` with the soft limit at most `soft_cap` (a course's `[queue] time_limit`), the
    grace after it shortened to half of it for a short cap."""
    if soft_cap is None or limits.soft <= soft_cap:
        return limits
    return TaskLimits(soft=soft_cap, hard=soft_cap + min(GRACE, soft_cap / 2))


def visibility_timeout(limits: Iterable[TaskLimits]) -> float:
    """The broker's visibility timeout for tasks with these limits."""
    return max((lim.hard for lim in limits), default=START_ALLOWANCE + GRACE) + VISIBILITY_MARGIN
