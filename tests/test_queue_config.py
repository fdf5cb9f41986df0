"""The queue's settings: time limits per task from the assignment's parts (a code part's tests
and sandbox included), the course's cap, the broker in force (flag, then environment, then
course file), and the Celery settings the delivery guarantees rest on."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("celery")

from grader.course import load_course  # noqa: E402
from grader.models import AnswerKey, PartKey  # noqa: E402
from grader.queue.app import BROKER_ENV, broker_url, make_app, queue_config  # noqa: E402
from grader.queue.limits import TaskLimits, capped, task_limits, visibility_timeout  # noqa: E402


def key(*parts: PartKey) -> AnswerKey:
    return AnswerKey(assignment="hw", title="hw", total=sum(p.marks for p in parts), source_hash="h", torch_version="", grader_version="", parts=list(parts))


def plain(part_id: str) -> PartKey:
    return PartKey(id=part_id, kind="int", kind_spec={}, marks=1)


def code(part_id: str, probes: int, seconds: float, form: str = "function") -> PartKey:
    data = {"form": form, "limits": {"seconds": seconds}, "probes": [{} for _ in range(probes)]}
    return PartKey(id=part_id, kind="code", kind_spec={}, marks=5, reference=data)


def test_a_tasks_limits_are_its_parts_worst_cases() -> None:
    # a plain part: stopped at 10 x its budget of wall clock, graded once more: 2 x 10 x budget
    three = task_limits(key(plain("a"), plain("b"), plain("c")), budget=2.0)
    assert three == TaskLimits(soft=60 + 3 * 40, hard=60 + 3 * 40 + 30)
    # a code part: loading, two probes forward and backward, gradcheck = 6 tests of 5 s, and
    # the sandbox's start once
    with_code = task_limits(key(plain("a"), code("c", probes=2, seconds=5.0)), budget=1.0)
    assert with_code.soft == 60 + 20 + 60 + 6 * 5
    training = task_limits(key(code("t", probes=0, seconds=30.0, form="training")), budget=1.0)
    assert training.soft == 60 + 60 + 30


def test_a_cap_bounds_the_soft_limit_and_the_grace_after_it() -> None:
    limits = TaskLimits(soft=180, hard=210)
    assert capped(limits, None) == limits and capped(limits, 500) == limits
    assert capped(limits, 100) == TaskLimits(soft=100, hard=130)
    assert capped(limits, 4) == TaskLimits(soft=4, hard=6)
    assert visibility_timeout([TaskLimits(10, 20), TaskLimits(100, 130)]) > 130


def test_the_broker_in_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "grader.toml").write_text('[queue]\nbroker = "redis://file:6379/0"\n')
    course = load_course(tmp_path)
    monkeypatch.delenv(BROKER_ENV, raising=False)
    assert broker_url(course) == "redis://file:6379/0"
    monkeypatch.setenv(BROKER_ENV, "redis://env:6379/0")
    assert broker_url(course) == "redis://env:6379/0"
    assert broker_url(course, "amqp://flag//") == "amqp://flag//"
    monkeypatch.delenv(BROKER_ENV)
    (tmp_path / "grader.toml").write_text("[course]\n")
    assert broker_url(load_course(tmp_path)) is None  # no queue: graded in-process


def test_the_celery_settings_delivery_rests_on(tmp_path: Path) -> None:
    (tmp_path / "grader.toml").write_text('[queue]\nname = "hw-queue"\nprefix = "c1:"\n')
    course = load_course(tmp_path)
    keys = {"hw": key(plain("a")), "big": key(*(plain(str(i)) for i in range(10)))}
    cfg = queue_config(course, "redis://127.0.0.1:6379/3", keys, budget=2.0, max_tasks_per_child=50)
    conf = make_app(cfg).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json" and conf.result_backend is None
    assert conf.worker_max_tasks_per_child == 50 and conf.task_default_queue == "hw-queue"
    longest = cfg.limits["big"]
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (longest.soft, longest.hard)
    options = conf.broker_transport_options
    assert options["visibility_timeout"] > longest.hard and options["global_keyprefix"] == "c1:"
    assert cfg.limits_for("hw") == cfg.limits["hw"] and cfg.limits_for("unknown") == longest


def test_the_worker_commands_default_is_the_apps() -> None:
    import inspect

    from grader.cli.worker import worker_command
    from grader.queue.app import MAX_TASKS_PER_CHILD

    assert inspect.signature(worker_command).parameters["max_tasks_per_child"].default == MAX_TASKS_PER_CHILD
