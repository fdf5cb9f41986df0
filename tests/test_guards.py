"""The per-part guards: an alarm that stops a part in this process, and the shared deadline a
parent reads to kill a worker; both give a one-off load (a problem set, torch) its own time."""

from __future__ import annotations

import time
from array import array

import pytest

from grader.run.guard import Alarm, Deadline
from grader.scoring import PartTimeout


def busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_an_alarm_stops_a_part_past_its_budget() -> None:
    alarm = Alarm(0.2)
    started = time.monotonic()
    with pytest.raises(PartTimeout) as stop:
        with alarm(0):
            busy(5)
    assert stop.value.seconds == 0.2 and time.monotonic() - started < 2
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
    with Alarm(None)(0):
        busy(0.05)
    assert Alarm(0).usable is False


def test_a_deadline_is_written_for_the_parent_and_extended_for_a_load() -> None:
    shared = array("d", [0.0, 0.0])
    deadline = Deadline(shared, budget=2.0, setup_time=300.0)
    with deadline(3):
        assert shared[0] == 3 and 1.9 < shared[1] - time.monotonic() <= 2.0
        seen = deadline.setup(lambda: shared[1] - time.monotonic())
        assert 299 < seen <= 300  # the load runs under the start-up allowance
        assert shared[0] == 3 and 1.9 < shared[1] - time.monotonic() <= 2.0  # then the part's budget again
