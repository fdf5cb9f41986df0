"""Per-part limits: the guards `AssignmentGrader.grade` puts around each part.

Two ways to stop a part that runs too long, for two settings:

* `Deadline`: the part's index and deadline in memory shared with a parent process, which
  kills the worker when the deadline passes (grader.run.pool). The only limit that always
  holds: a thread cannot be killed, and an alarm does not interrupt a long C call.
* `Alarm`: SIGALRM in this process raises `PartTimeout` between bytecodes (one process and
  no parent to kill it, as in Gradescope's container). A single long C call finishes first;
  what the caller wrote before the part (provisional results) covers a kill.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

from grader.scoring import PartTimeout

T = TypeVar("T")


class Deadline:
    """A worker's side of the shared [index of the part in hand, its deadline] pair.

    Writing costs no message, so no time per part; the parent reads the pair when it waits.
    `setup` runs a slow, one-off load (a problem set, torch) under the start-up allowance
    instead of the part's budget, then gives the part a fresh budget.
    """

    def __init__(self, shared: Any, budget: float, setup_time: float) -> None:
        self.shared = shared
        self.budget = budget
        self.setup_time = setup_time

    def begin(self, index: int, seconds: float) -> None:
        # the deadline first: a parent reading between the two writes sees a later deadline
        self.shared[1] = time.monotonic() + seconds
        self.shared[0] = index

    def __call__(self, index: int) -> AbstractContextManager[Any]:
        self.begin(index, self.budget)
        return nullcontext()

    def setup(self, load: Callable[[], T]) -> T:
        index = int(self.shared[0])
        self.begin(index, self.setup_time)
        try:
            return load()
        finally:
            self.begin(index, self.budget)


class Alarm:
    """Interrupt a part after `seconds` (SIGALRM; main thread on POSIX only, else no limit).

    `setup` runs a one-off load (a problem set, torch) with the alarm paused, then gives the
    part a fresh budget, as `Deadline.setup` does for a worker."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = float(seconds or 0)
        self.usable = bool(
            self.seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        )
        self._armed = False

    def __call__(self, index: int) -> AbstractContextManager[Any]:
        return self._limit() if self.usable else nullcontext()

    @contextmanager
    def _limit(self) -> Iterator[None]:
        seconds = self.seconds

        def expire(signum: int, frame: Any) -> None:
            raise PartTimeout(seconds)

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        self._armed = True
        try:
            yield
        finally:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def setup(self, load: Callable[[], T]) -> T:
        if not self._armed:
            return load()
        signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            return load()
        finally:
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
