"""The grading pool: budgets enforced by killing workers, resumption with the context so far,
crashes and memory caps contained, identical answers checked once, reports in input order."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from functools import partial
from pathlib import Path

import pytest

from grader.keys.catalog import Catalog, GraderLoader
from grader.problemset import load_problem_file
from grader.run.pool import GradingPool, PoolError
from grader.keys.build import build_key, write_key
from grader.models import BrokenSubmission, Status, Submission
from grader.problemset import load_problem_sets

# A tiny problem set with booby-trapped answers: 13 computes forever, 1313 waits 1.5 s without
# computing, 1414 computes forever the first time only (a marker file beside the problem
# set says it happened), 666 kills the worker, 777 allocates far past the memory cap. Part `b` follows
# through from `a`, `c` from `b`.
TINY = '''
import os, sys, time
from grader.errors import InvalidAnswer
from grader.kinds.base import Kind, Match
from grader.problemset import ProblemSet

CALLS = []


class Whole(Kind):
    name = "whole"

    def parse(self, raw):
        CALLS.append(raw)
        try:
            return int(str(raw).strip())
        except ValueError:
            raise InvalidAnswer("not a whole number", example="12")

    def compare(self, answer, target):
        if answer == 13:
            while True:
                pass
        if answer == 1313:
            time.sleep(1.5)
            answer = target
        if answer == 1414:
            marker = __file__ + ".stopped-once"
            if not os.path.exists(marker):
                open(marker, "w").close()
                while True:
                    pass
            answer = target
        if answer == 666:
            os._exit(3)
        if answer == 777:
            bytearray(8 * 2**30)
        # Which check this was in its worker: a cached verdict repeats the number.
        return Match(1.0 if answer == target else 0.0, f"check {len(CALLS)}; torch {'torch' in sys.modules}")


hw = ProblemSet("tiny", title="Tiny")


@hw.part("a", 1, Whole())
def a():
    return 2


@hw.part("h", 1, Whole())
def h():
    return 1


@hw.part("b", 1, Whole(), uses=["a"])
def b(a):
    return int(a) * 3


@hw.part("c", 1, Whole(), uses=["b"])
def c(b):
    return int(b) + 1
'''


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny")


@pytest.fixture(scope="module")
def loader(tiny_root: Path) -> GraderLoader:
    root = tiny_root
    (root / "problems").mkdir()
    (root / "problems" / "tiny.py").write_text(textwrap.dedent(TINY))
    ps = load_problem_sets(root / "problems")["tiny"]
    write_key(build_key(ps), root / "reference")
    return Catalog(root / "problems", root / "reference").loader()  # as `grader run` builds it


def sub(student: str, assignment: str = "tiny", **answers: object) -> Submission:
    return Submission(assignment=assignment, student=student, answers=answers, source=f"{student}.toml")


def statuses(report) -> dict[str, str]:
    return {p.id: p.status.value for p in report.parts}


def test_right_answers_graded_in_input_order(loader: GraderLoader) -> None:
    subs = [sub(f"s{i}", a=2, h=1, b=6, c=7 if i % 2 else 8) for i in range(6)]
    with GradingPool(loader, workers=2) as pool:
        reports = list(pool.grade(subs))
    assert [r.student for r in reports] == [f"s{i}" for i in range(6)]
    assert [r.score for r in reports] == [4.0 if i % 2 else 3.0 for i in range(6)]
    assert pool.kills == pool.crashes == 0


def test_a_hanging_check_is_killed_at_the_budget_and_grading_resumes(loader: GraderLoader) -> None:
    # `a` is wrong; `h` computes forever (stopped, graded once more, stopped again); `b` is
    # right only by follow-through from the student's own `a` (so the fresh worker must have
    # received the context), `c` by follow-through from `b`.
    hanging = sub("hang", a=5, h=13, b=15, c=16)
    good = sub("good", a=2, h=1, b=6, c=7)
    with GradingPool(loader, workers=1, budget=1.0) as pool:
        list(pool.grade([good]))  # the worker is up: time only the grading below
        t0 = time.monotonic()
        reports = list(pool.grade([hanging, good]))
        elapsed = time.monotonic() - t0
    assert pool.kills == 2  # the first stop is retried once
    first, second = reports
    h = first.parts[1]
    assert h.status is Status.invalid and "too complex to check within 1 s" in h.feedback.lower()
    assert statuses(first) == {"a": "incorrect", "h": "invalid", "b": "correct", "c": "correct"}
    assert first.parts[2].matched == "follow-through: a"
    assert first.score == 2.0
    assert statuses(second) == {"a": "correct", "h": "correct", "b": "correct", "c": "correct"}
    # stopped at ~1 s of CPU, twice; the rest includes two fresh workers' start (`h` never
    # ends by itself: the bound only has to leave room for a loaded machine)
    assert 2.0 <= elapsed < 120


def test_the_budget_counts_cpu_time_so_a_check_that_waits_is_not_stopped(loader: GraderLoader) -> None:
    # 1.5 s on the wall clock but almost no CPU: a starved process on a loaded machine looks
    # the same, and its grade must not depend on the machine.
    with GradingPool(loader, workers=1, budget=1.0) as pool:
        [report] = pool.grade([sub("waits", a=2, h=1313, b=6, c=7)])
    assert pool.kills == 0 and statuses(report) == {"a": "correct", "h": "correct", "b": "correct", "c": "correct"}


def test_a_check_stopped_once_at_the_budget_is_graded_again(loader: GraderLoader, tiny_root: Path) -> None:
    with GradingPool(loader, workers=1, budget=0.5) as pool:
        [report] = pool.grade([sub("unlucky", a=5, h=1414, b=15, c=16)])
    assert (tiny_root / "problems" / "tiny.py.stopped-once").exists() and pool.kills == 1
    assert statuses(report) == {"a": "incorrect", "h": "correct", "b": "correct", "c": "correct"}
    assert report.parts[2].matched == "follow-through: a"  # the retry kept the context


def test_a_worker_crash_costs_that_part_only(loader: GraderLoader) -> None:
    with GradingPool(loader, workers=1) as pool:
        [report] = pool.grade([sub("crash", a=2, h=666, b=6, c=7)])
    assert pool.crashes == 1
    assert statuses(report) == {"a": "correct", "h": "error", "b": "correct", "c": "correct"}
    assert "exit code 3" in report.parts[1].feedback


def test_memory_cap_stops_a_huge_allocation(loader: GraderLoader) -> None:
    with GradingPool(loader, workers=1, memory=2 * 2**30) as pool:
        [report] = pool.grade([sub("hungry", a=2, h=777, b=6, c=7)])
    assert report.parts[1].status is not Status.correct
    assert "MemoryError" in report.parts[1].feedback
    assert statuses(report)["c"] == "correct" and pool.crashes == 0


def test_identical_answers_are_checked_once_per_context(loader: GraderLoader) -> None:
    subs = [
        sub("x1", a=5, h=1, b=15, c=16),  # b right by follow-through from a = 5
        sub("x2", a=5, h=1, b=15, c=16),  # the same answers: every verdict from the cache
        sub("x3", a=2, h=1, b=15, c=16),  # same b, but a is right now: b is simply wrong
    ]
    with GradingPool(loader, workers=1) as pool:
        x1, x2, x3 = pool.grade(subs)
    assert x2.parts == x1.parts  # feedback "check N" repeats: no new check was made
    assert statuses(x1)["b"] == "correct" and statuses(x3)["b"] == "incorrect"
    assert x3.parts[2].feedback != x1.parts[2].feedback


def test_an_answer_matching_the_reference_is_reused_in_any_context(loader: GraderLoader) -> None:
    # b = 6 is the reference whatever the student's a: judged before follow-through is tried
    with GradingPool(loader, workers=1) as pool:
        y1, y2 = pool.grade([sub("y1", a=5, h=1, b=6, c=7), sub("y2", a=2, h=1, b=6, c=7)])
    assert y1.parts[2] == y2.parts[2] and y1.parts[2].matched == "reference"
    assert y1.parts[0].feedback != y2.parts[0].feedback  # a differs: checked anew


def test_without_cache_every_answer_is_checked(loader: GraderLoader) -> None:
    with GradingPool(loader, workers=1, cache=False) as pool:
        x1, x2 = pool.grade([sub("x1", a=2, h=1, b=6, c=7), sub("x2", a=2, h=1, b=6, c=7)])
    assert [p.score for p in x1.parts] == [p.score for p in x2.parts]
    assert x1.parts[0].feedback != x2.parts[0].feedback


def test_unknown_assignment_is_a_broken_submission(loader: GraderLoader) -> None:
    with GradingPool(loader, workers=1) as pool:
        broken, fine = pool.grade([sub("lost", assignment="nope", a=1), sub("fine", a=2)])
    assert isinstance(broken, BrokenSubmission) and "nope" in broken.reason
    assert fine.parts[0].status is Status.correct


def test_a_loader_that_fails_stops_the_pool(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("raise RuntimeError('broken problem set')\n")
    with pytest.raises(PoolError, match="broken problem set"):
        # a worker's load that imports a problem file which raises
        with GradingPool(partial(load_problem_file, tmp_path / "bad.py"), workers=1) as pool:
            list(pool.grade([sub("s", a=1)]))


def test_torch_is_imported_only_for_follow_through(loader: GraderLoader) -> None:
    # The tiny set's checks report whether their worker has imported torch.
    plain = sub("plain", a=2, h=1, b=6, c=7)  # all right: nothing to recompute
    ft = sub("ft", a=5, h=1, b=15, c=99)  # a wrong: b recomputed from the student's a
    with GradingPool(loader, workers=1) as pool:
        before, after = pool.grade([plain, ft])
    assert all(p.feedback.endswith("torch False") for p in before.parts)
    assert after.parts[2].matched == "follow-through: a" and after.parts[3].feedback.endswith("torch True")
    assert after.parts[3].status is Status.incorrect


def test_a_real_homework_graded_without_follow_through_never_loads_torch() -> None:
    repo = Path(__file__).resolve().parents[1]
    ps = load_problem_sets(repo / "problems")["csc321-hw4"]
    model = {p.id: p.solutions[0] for p in ps if p.solutions}  # all right: nothing to recompute
    with GradingPool(Catalog(repo / "problems", repo / "reference").loader(), workers=1) as pool:
        [report] = pool.grade([Submission(assignment="csc321-hw4", student="m", answers=model, source="m.toml")])
        [slot] = pool.slots
        maps = Path(f"/proc/{slot.process.pid}/maps").read_text()
    assert {p.status for p in report.parts if p.id in model} == {Status.correct}
    assert "libtorch" not in maps  # the worker's address space: torch was never imported


def test_warm_modules_are_imported_before_the_first_submission(loader: GraderLoader) -> None:
    # The same right answers as above, whose checks never need torch: with warm=("torch",) the
    # worker has it already (imported while it started, not in the middle of the class).
    plain = sub("plain", a=2, h=1, b=6, c=7)
    with GradingPool(loader, workers=1, warm=("torch",)).start() as pool:
        [report] = pool.grade([plain])
    assert {p.status for p in report.parts} == {Status.correct}
    assert all(p.feedback.endswith("torch True") for p in report.parts)


def test_a_large_class_starts_its_pool_before_reading_and_warms_torch(loader: GraderLoader, tiny_root: Path) -> None:
    # In a fresh interpreter, as `grader run` starts: torch not imported in the parent.
    probe = textwrap.dedent(f"""
        import sys
        from grader.keys.catalog import Catalog
        from grader.models import Submission
        from grader.run.batch import EARLY_POOL_FILES, early_pool
        catalog = Catalog({str(tiny_root / "problems")!r}, {str(tiny_root / "reference")!r})  # b, c follow through
        assert early_pool(catalog, EARLY_POOL_FILES - 1, 2.0, None) is None  # too small to gain
        assert early_pool(catalog, EARLY_POOL_FILES, None, None) is None  # graded in this process
        pool = early_pool(catalog, EARLY_POOL_FILES, 2.0, 1)
        assert pool is not None and pool.warm == ("torch",) and len(pool.slots) == 1  # started already
        with pool:
            [report] = pool.grade([Submission(assignment="tiny", student="s", answers=dict(a=2, h=1, b=6, c=7), source="s.toml")])
        assert all(p.feedback.endswith("torch True") for p in report.parts), [p.feedback for p in report.parts]
        assert "torch" not in sys.modules  # the workers imported it, not this process
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
