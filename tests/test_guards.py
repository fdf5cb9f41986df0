"""The per-part guards: an alarm that stops a part in this process, and a worker's CPU timer
with the shared wall-clock limit a parent reads to kill it; budgets count CPU time, and both
give a one-off load (a problem set, torch) its own time."""

from __future__ import annotations

import signal
import time
from array import array

import pytest

from grader.run.guard import WALL_FACTOR, Alarm, Deadline
from grader.scoring import PartTimeout


def busy(seconds: float) -> None:
    """Compute for `seconds` of this process's CPU time (budgets count CPU time: a wall-clock
    loop on a loaded machine would compute less)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_an_alarm_stops_a_part_past_its_budget() -> None:
    alarm = Alarm(0.2)
    started = time.monotonic()
    with pytest.raises(PartTimeout) as stop:
        with alarm(0):
            busy(5)
    assert stop.value.seconds == 0.2 and time.monotonic() - started < 0.2 * WALL_FACTOR + 1
    with alarm(1):  # disarmed after a part: the next one has its own budget
        busy(0.1)
    busy(0.3)  # and nothing fires between parts


def test_a_load_under_an_alarm_pauses_it_and_gives_the_part_a_fresh_budget() -> None:
    alarm = Alarm(0.3)
    with alarm(0):
        busy(0.2)
        assert alarm.setup(lambda: (busy(0.5), "loaded")[1]) == "loaded"  # would have fired at 0.3 s
        busy(0.2)  # 0.2 + 0.2 < 0.3 again after the load
    with pytest.raises(PartTimeout):
        with alarm(1):
            busy(0.1)
            alarm.setup(lambda: None)
            busy(5)


def test_no_budget_means_no_alarm() -> None:
    assert Alarm(None)(0) is None and Alarm(0).usable is False


def test_a_deadline_arms_the_cpu_timer_and_writes_the_wall_limit_for_the_parent() -> None:
    shared = array("d", [0.0, 0.0])
    deadline = Deadline(shared, budget=2.0, setup_time=300.0)
    try:
        assert deadline(3) is None  # nothing to wrap: the timer and the parent enforce it
        assert 1.9 < signal.getitimer(signal.ITIMER_PROF)[0] <= 2.01  # the part's CPU seconds
        assert shared[0] == 3 and 19.9 < shared[1] - time.monotonic() <= 2.0 * WALL_FACTOR
        cpu, wall = deadline.setup(lambda: (signal.getitimer(signal.ITIMER_PROF)[0], shared[1] - time.monotonic()))
        assert cpu == 0 and 299 < wall <= 300  # the load runs with the CPU timer stopped, under the start-up allowance
        assert 1.9 < signal.getitimer(signal.ITIMER_PROF)[0] <= 2.01  # then the part's budget again, fresh
        assert shared[0] == 3 and 19.9 < shared[1] - time.monotonic() <= 20.0
        deadline.pause()
        assert signal.getitimer(signal.ITIMER_PROF)[0] == 0
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)  # SIGPROF's default action would end this process


def test_an_alarm_counts_cpu_time_not_the_wall_clock() -> None:
    # A check that waits (or whose process is starved by a loaded machine) uses little CPU:
    # half a second of wall clock is within a 0.2 s budget; the same spent computing is not.
    alarm = Alarm(0.2)
    with alarm(0):
        time.sleep(0.5)
    with pytest.raises(PartTimeout):
        with alarm(1):
            busy(0.5)


def test_an_alarm_stops_a_part_that_only_waits_at_the_wall_limit() -> None:
    alarm = Alarm(0.05)
    started = time.monotonic()
    with pytest.raises(PartTimeout):
        with alarm(0):
            time.sleep(5)
    assert 0.05 * WALL_FACTOR <= time.monotonic() - started < 2
