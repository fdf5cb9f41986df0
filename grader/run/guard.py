"""Per-part limits: the guards `AssignmentGrader.grade` puts around each part.

A part's budget counts the CPU time of its check, not the wall clock: on a loaded machine (a
batch sharing two cores, a CI runner) a check gets less of the CPU per second, and a grade
must not depend on that. A one-off load (a problem set, torch) runs outside any budget.
Behind the CPU budget a wall-clock limit of WALL_FACTOR times it stops a check that waits
without computing (a sleep, a lock); a part stopped either way is graded once more before it
is called too complex (the caller retries: grader.run.pool, the part loop).

Two ways to stop a part, for two settings:

* `Deadline`, in a worker process (grader.run.pool): an ITIMER_PROF timer of the part's
  budget whose SIGPROF, left at its default action, ends the process even inside a long C
  call (a huge integer power, a numpy allocation), where no Python handler would run; and
  the part's index and wall-clock deadline in memory shared with the parent, which kills the
  worker past it. The parent tells the two apart by the exit signal.
* `Alarm`, in this process (Gradescope's container: one process, no parent to kill it): the
  same two timers raise `PartTimeout` between bytecodes. A single long C call finishes
  first; what the caller wrote before the part (provisional results) covers a kill.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from grader.scoring import PartTimeout

#: The wall-clock limit behind a part's CPU budget, as a multiple of it: a check computing on
#: a machine ten times oversubscribed still finishes; one that only waits is stopped.
WALL_FACTOR = 10.0
#: How a worker stopped by its CPU timer ends: SIGPROF's default action (exit code -SIGPROF).
CPU_SIGNAL = signal.SIGPROF


def arm_cpu(seconds: float) -> None:
    """Start (or with 0, stop) this process's CPU-time timer."""
    signal.setitimer(signal.ITIMER_PROF, seconds)


T = TypeVar("T")


class Deadline:
    """A worker's side of the part limits: its CPU timer, and the shared [index of the part in
    hand, its wall-clock deadline] pair the parent reads when it waits (no message, so no
    time per part).

    `setup` runs a slow, one-off load (a problem set, torch) with the CPU timer stopped and
    under the start-up allowance, then gives the part a fresh budget. `pause` stops the CPU
    timer while the worker talks to its parent or waits for work.
    """

    def __init__(self, shared: Any, budget: float, setup_time: float) -> None:
        self.shared = shared
        self.budget = budget
        self.wall = budget * WALL_FACTOR
        self.setup_time = setup_time

    def begin(self, index: int, seconds: float) -> None:
        # the deadline first: a parent reading between the two writes sees a later deadline
        self.shared[1] = time.monotonic() + seconds
        self.shared[0] = index

    def __call__(self, index: int) -> None:
        # This runs before every part (~1 µs). Nothing to wrap: SIGPROF or the parent ends
        # the process past the budget.
        signal.setitimer(signal.ITIMER_PROF, self.budget)
        self.shared[1] = time.monotonic() + self.wall
        self.shared[0] = index

    def pause(self) -> None:
        arm_cpu(0)

    def setup(self, load: Callable[[], T]) -> T:
        index = int(self.shared[0])
        arm_cpu(0)
        self.begin(index, self.setup_time)
        try:
            return load()
        finally:
            self.begin(index, self.wall)
            arm_cpu(self.budget)


class Alarm:
    """Interrupt a part after `seconds` of CPU time, or WALL_FACTOR times that on the wall
    clock (SIGPROF and SIGALRM; main thread on POSIX only, else no limit).

    `setup` runs a one-off load (a problem set, torch) with both timers paused, then gives
    the part a fresh budget, as `Deadline.setup` does for a worker."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = float(seconds or 0)
        self.usable = bool(
            self.seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        )
        self._armed = False

    def __call__(self, index: int) -> AbstractContextManager[Any] | None:
        return self._limit() if self.usable else None

    def _arm(self, on: bool) -> None:
        signal.setitimer(signal.ITIMER_PROF, self.seconds if on else 0)
        signal.setitimer(signal.ITIMER_REAL, self.seconds * WALL_FACTOR if on else 0)

    @contextmanager
    def _limit(self) -> Iterator[None]:
        seconds = self.seconds

        def expire(signum: int, frame: Any) -> None:
            self._arm(False)  # the other timer must not fire while the part unwinds
            raise PartTimeout(seconds)

        previous = [(sig, signal.signal(sig, expire)) for sig in (signal.SIGPROF, signal.SIGALRM)]
        self._arm(True)
        self._armed = True
        try:
            yield
        finally:
            self._armed = False
            self._arm(False)
            for sig, handler in previous:
                signal.signal(sig, handler)

    def setup(self, load: Callable[[], T]) -> T:
        if not self._armed:
            return load()
        self._arm(False)
        try:
            return load()
        finally:
            self._arm(True)
