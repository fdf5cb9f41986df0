"""Hostile input end to end: files that are not submissions, answers built to hurt the parser
or the checker, and a check that hangs. Through `grader run` (a fresh process) and the pool."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader.keys.catalog import Catalog, GraderLoader
from grader.run.pool import GradingPool
from grader.keys.build import build_key, write_key
from grader.models import Status, Submission
from grader.problemset import load_problem_sets

REPO = Path(__file__).resolve().parents[1]

# Two integer parts, and a part whose check hangs on the answer 13 (a slow kind).
TINY = '''
import time
from grader.kinds import Int
from grader.problemset import ProblemSet


class SlowInt(Int):
    def compare(self, answer, target):
        if answer == 13:
            time.sleep(600)
        return super().compare(answer, target)


hw = ProblemSet("tiny", title="Tiny")


@hw.part("a", 1, Int())
def a():
    return 2


@hw.part("slow", 1, SlowInt())
def slow():
    return 1


@hw.part("b", 1, Int(), uses=["a"])
def b(a):
    return a * 3
'''


def grader_run(class_dir: Path, out: Path, problems: Path, reference: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "grader", "run", str(class_dir), "--out", str(out), "--quiet",
           "--problems", str(problems), "--reference", str(reference), *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tinyset")
    problems = root / "problems"
    problems.mkdir()
    (problems / "tiny.py").write_text(textwrap.dedent(TINY))
    write_key(build_key(load_problem_sets(problems)["tiny"]), root / "reference")
    return problems, root / "reference"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_hostile_files_are_reported_and_the_good_submission_is_graded(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    problems, reference = tiny
    cls = tmp_path / "class"
    outside = tmp_path / "outside"
    # The file a symlink points at is a perfectly good submission: it must still not be read.
    write(outside / "secret" / "answers.toml", 'assignment = "tiny"\n[answers]\na = "2"\n')
    write(cls / "good" / "answers.toml", 'assignment = "tiny"\n[answers]\na = "2"\nslow = "1"\nb = "6"\n')
    write(cls / "junk" / "answers.toml", random.Random(0).randbytes(4096))
    big = write(cls / "big" / "answers.toml", b"")
    with big.open("r+b") as f:
        f.truncate(100 * 2**20)  # sparse: 100 MB that take no disk
    (cls / "linkfile").mkdir()
    (cls / "linkfile" / "answers.toml").symlink_to(outside / "secret" / "answers.toml")
    (cls / "linkdir").symlink_to(outside / "secret", target_is_directory=True)
    write(cls / "dupkeys" / "answers.json", '{"assignment": "tiny", "answers": {"a": "5", "a": "2"}}')
    depth = 100_000
    write(cls / "deepjson" / "answers.json", '{"assignment": "tiny", "answers": {"a": ' + "[" * depth + "]" * depth + "}}")
    write(cls / "deeptoml" / "answers.toml", 'assignment = "tiny"\n[answers]\na = ' + "[" * depth + "]" * depth + "\n")
    write(cls / "wrongid" / "answers.toml", 'assignment = "no-such-homework"\n[answers]\na = "2"\n')
    write(cls / "future" / "answers.toml", 'assignment = "tiny"\nsubmitted_at = 2999-01-01T00:00:00Z\n[answers]\na = "2"\n')

    out = tmp_path / "out"
    proc = grader_run(cls, out, problems, reference)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    broken = {Path(b["source"]).parts[0]: b["reason"] for b in run["broken"]}
    reports = {r["student"]: json.loads((out / r["file"]).read_text()) for r in run["reports"]}

    assert reports["good"]["score"] == 3.0
    assert {"junk", "big", "linkfile", "deepjson", "deeptoml", "wrongid"} <= set(broken), broken
    assert "no-such-homework" in broken["wrongid"]
    assert "outside" in broken["linkfile"]
    # The folder symlink is never entered (reported, or not listed at all); nothing outside is read.
    assert "secret" not in reports and "linkdir" not in reports
    assert not any("secret" in json.dumps(r) for r in reports.values())
    # Duplicate keys and a future date are warned about on the report itself.
    assert any("duplicate" in w for w in reports["dupkeys"]["warnings"]), reports["dupkeys"]["warnings"]
    assert any("future" in w for w in reports["future"]["warnings"]), reports["future"]["warnings"]


def test_a_hanging_check_is_killed_at_the_budget_and_the_rest_is_graded(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    problems, reference = tiny
    cls = tmp_path / "class"
    # `a` is wrong, `slow` hangs, `b` is right by follow-through from the student's own `a`:
    # only possible if the worker that resumes after the kill got the context so far.
    write(cls / "hangs.toml", 'assignment = "tiny"\n[answers]\na = "5"\nslow = "13"\nb = "15"\n')
    write(cls / "fine.toml", 'assignment = "tiny"\n[answers]\na = "2"\nslow = "1"\nb = "6"\n')
    t0 = time.monotonic()
    proc = grader_run(cls, tmp_path / "out", problems, reference, "--budget", "1")
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert elapsed < 180  # the sleep is 600 s: the part was killed at its budget (the bound leaves room for a loaded machine)
    hangs = json.loads((tmp_path / "out" / "tiny" / "hangs.json").read_text())
    parts = {p["id"]: p for p in hangs["parts"]}
    assert parts["slow"]["status"] == "invalid"
    assert "too complex to check within 1 s" in parts["slow"]["feedback"].lower()
    assert parts["a"]["status"] == "incorrect"
    assert parts["b"]["status"] == "correct" and parts["b"]["matched"] == "follow-through: a"
    fine = json.loads((tmp_path / "out" / "tiny" / "fine.json").read_text())
    assert fine["score"] == 3.0


# -- hostile answers in a real homework ----------------------------------------------------------
HOSTILE: list[object] = [
    "__import__('os').system('touch /tmp/grader-pwned')",
    "eval('1+1')",
    "exec('import os')",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: 34944",
    "open('/etc/passwd').read()",
    "9**9**9",
    "1e999999",
    "-1e999999",
    "1e-999999",
    "(" * 10_000 + "1" + ")" * 10_000,
    "[" * 10_000 + "]" * 10_000,
    "{" * 10_000 + "}" * 10_000,
    "x" * 1_000_000,
    "1" * 1_000_000,
    "1\x002",
    "\u202e44943\u202c",
    "\u200f1+\u200f1",
    r"\input{/etc/passwd}",
    r"\include{secret}",
    r"\def\x{\x}\x",
    r"\newcommand{\a}{\a\a}\a",
    "factorial(10**9)",
    "x**(9**9**9)",
    "V**(9**9**9)",
    "-" * 10_000 + "1",
    "+-" * 5_000 + "1",
    "(x+y+z+1)**200",
    "(V+V+V+1)**200",
    "2**2**2**2**2**2**2",
    "10**10**10",
    "exp(exp(exp(100)))",
    "1/0",
    "0/0",
    "log(0)",
    "sqrt(-1)",
    "NaN",
    "inf",
    "9" * 5_000,
    r"\frac{" * 5_000,
    "sum_{i=1}^{10**9} i",
    r"\sum_{k=1}^{999999999} k",
    "x_{" * 3_000,
    "floor(" * 1_000 + "1" + ")" * 1_000,
    "<script>alert(1)</script>",
    "'; DROP TABLE results; --",
    "\x1b[2J\x1b[H",
    "{{7*7}}",
    "%s%s%s%n",
    "1" + "\u0301" * 1_000,
    "𝟗𝟗𝟗" * 1_000,
    [[1] * 1_000] * 1_000,
    [[[[[[[[[[1]]]]]]]]]],
]


@pytest.fixture(scope="module")
def csc321() -> tuple[GraderLoader, dict[str, str], list[str]]:
    loader = Catalog(REPO / "problems", REPO / "reference").loader()  # as `grader run` builds it
    ps = load_problem_sets(REPO / "problems")["csc321-hw4"]
    solutions = {p.id: p.solutions[0] for p in ps if p.solutions}
    graded = [p.id for p in ps if not p.manual]
    return loader, solutions, graded


def test_hostile_answers_end_non_correct_within_budget_and_the_rest_is_graded(csc321) -> None:
    loader, solutions, graded = csc321
    assert len(HOSTILE) >= 40
    budget = 2.0
    subs, targets = [], []
    for i, hostile in enumerate(HOSTILE):
        # each hostile answer into the formula part and one other part; model answers elsewhere
        target = graded[i % len(graded)]
        hit = {target, "q3d.params"}
        answers = {pid: (hostile if pid in hit else sol) for pid, sol in solutions.items()}
        answers.update({pid: hostile for pid in hit})
        subs.append(Submission(assignment="csc321-hw4", student=f"h{i}", answers=answers, source=f"h{i}.toml"))
        targets.append(hit)
    with GradingPool(loader, budget=budget) as pool:
        list(pool.grade(subs[:2]))  # workers up: time the hostile batch alone
        t0 = time.monotonic()
        reports = list(pool.grade(subs))
        elapsed = time.monotonic() - t0
    assert not os.path.exists("/tmp/grader-pwned")
    for hostile, hit, report in zip(HOSTILE, targets, reports):
        for part in report.parts:
            if part.id in hit:
                assert part.status in (Status.invalid, Status.incorrect, Status.partial), (repr(hostile)[:80], part)
                if part.answer is not None:
                    assert len(part.answer) < 1_000  # echoed, never stored whole
            elif part.id in solutions:
                assert part.status is Status.correct, (repr(hostile)[:80], part)
    # Every part ended on its own or was killed at the budget: the batch cannot take longer.
    parts = sum(len(r.parts) for r in reports)
    assert elapsed < pool.kills * budget + parts * 0.05 + 30, (elapsed, pool.kills)
