"""Grading one submission at a time (what the web service and the connectors do): through the
same killable worker pool as `grader run`, from several threads, from an event loop that keeps
running, with per-part progress, and reading an answer without grading it."""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from test_isolation import TINY
from grader.keys.build import build_key, write_key
from grader.keys.catalog import Catalog
from grader.models import BrokenSubmission, Status, Submission
from grader.problemset import load_problem_file, load_problem_sets
from grader.run.grading import Grading
from grader.run.pool import GradingPool, PoolError


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    root = tmp_path_factory.mktemp("tiny")
    (root / "problems").mkdir()
    (root / "problems" / "tiny.py").write_text(textwrap.dedent(TINY))
    write_key(build_key(load_problem_sets(root / "problems")["tiny"]), root / "reference")
    return Catalog(root / "problems", root / "reference")


def sub(student: str, **answers: object) -> Submission:
    return Grading.submission("tiny", student, answers, source=f"web:{student}")


def test_submissions_from_several_threads_are_each_graded(catalog: Catalog) -> None:
    results: dict[str, float] = {}
    with Grading(catalog, workers=1) as grading:

        def student(i: int) -> None:
            report = grading.grade(sub(f"s{i}", a=2, h=1, b=6, c=7 if i % 2 else 8))
            results[report.student] = report.score

        threads = [threading.Thread(target=student, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert results == {f"s{i}": (4.0 if i % 2 else 3.0) for i in range(8)}


def test_the_pool_and_this_process_give_the_same_report(catalog: Catalog) -> None:
    answers = {"a": 5, "h": 1, "b": 15, "c": 99}  # b right only by follow-through
    with Grading(catalog) as pooled, Grading(catalog, budget=None) as local:
        via_pool, here = pooled.grade(sub("x", **answers)), local.grade(sub("x", **answers))
    strip = lambda report: [p.model_copy(update={"feedback": p.feedback.split(" check")[0]}) for p in report.parts]  # noqa: E731
    assert strip(via_pool) == strip(here) and via_pool.parts[2].matched == "follow-through: a"


def test_an_event_loop_keeps_running_while_a_hanging_part_is_killed(catalog: Catalog) -> None:
    async def scenario(grading: Grading) -> tuple[object, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(ticker())
        report = await asyncio.wrap_future(grading.submit(sub("hang", a=2, h=13, b=6, c=7)))
        beat.cancel()
        return report, ticks

    with GradingPool(catalog.loader(), workers=1, budget=1.0) as pool:
        grading = Grading(catalog, budget=None)
        grading.pool = pool  # the same pool, with a 1 s budget
        started = time.monotonic()
        report, ticks = asyncio.run(scenario(grading))
        elapsed = time.monotonic() - started
    assert report.parts[1].status is Status.invalid and "within 1 s" in report.parts[1].feedback
    assert [p.status for p in report.parts] == [Status.correct, Status.invalid, Status.correct, Status.correct]
    assert pool.kills == 2 and elapsed < 30  # stopped at the budget, graded once more, stopped again
    assert ticks >= 50  # ≥ 1 s of 10 ms ticks: the loop was never blocked by the wait


def test_progress_arrives_part_by_part(catalog: Catalog) -> None:
    seen: list[tuple[int, str]] = []
    with Grading(catalog) as grading:
        report = grading.submit(sub("p", a=2, h=1, b=6, c=7), on_part=lambda i, r: seen.append((i, r.id))).result(timeout=60)
    assert seen == [(0, "a"), (1, "h"), (2, "b"), (3, "c")] and report.score == 4


def test_an_unknown_assignment_is_a_broken_submission(catalog: Catalog) -> None:
    with Grading(catalog) as grading:
        outcome = grading.grade(Grading.submission("nope", "s", {"a": 1}, source="web:s"))
    assert isinstance(outcome, BrokenSubmission) and "nope" in outcome.reason and "tiny" in outcome.reason


def test_a_pool_that_cannot_start_fails_the_submission_not_the_caller(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("raise RuntimeError('broken problem set')\n")
    with GradingPool(partial(load_problem_file, tmp_path / "bad.py"), workers=1) as pool:
        future = pool.submit(Submission(assignment="x", student="s", answers={}, source="s"))
        with pytest.raises(PoolError, match="broken problem set"):
            future.result(timeout=60)
        with pytest.raises(PoolError):
            pool.submit(Submission(assignment="x", student="t", answers={}, source="t"))


def test_read_says_how_an_answer_is_read(catalog: Catalog) -> None:
    grading = Grading(catalog, budget=None)
    assert (grading.read("tiny", "a", " 12 ").status, grading.read("tiny", "a", " 12 ").read_as) == ("ok", "12")
    bad = grading.read("tiny", "a", "twelve")
    assert bad.status == "invalid" and "not a whole number" in bad.message and "`12`" in bad.message
    with pytest.raises(LookupError):
        grading.read("tiny", "zz", "1")
