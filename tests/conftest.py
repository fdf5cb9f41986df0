"""Shared fixtures: a tiny self-contained problem set (its own kinds, no torch) and its keys.

The runner and CLI tests grade against these rather than the course's problem sets, so they
stay fast and do not depend on the answer kinds other modules provide.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

# Two assignments. `tiny-hw`: an exact number with a named mistake worth 1 mark, a pair with
# per-entry credit, a manual part. `boom-hw`: a kind whose check crashes on "boom" (a grader
# bug, so the part is `error`).
TINY_PROBLEMS = '''
from grader.errors import InvalidAnswer
from grader.kinds.base import Kind, Match
from grader.problemset import ProblemSet


class Num(Kind):
    name = "num"
    examples = ("42",)

    def parse(self, raw):
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise InvalidAnswer("not a number", example="42")
        try:
            return float(str(raw).replace(",", "").strip())
        except ValueError:
            raise InvalidAnswer("cannot read this as a number", example="42") from None

    def normalise(self, value):
        return float(value)

    def compare(self, answer, target):
        return Match(1.0 if answer == target else 0.0)

    def canonical(self, value):
        return f"{value:g}"


class Pair(Kind):
    name = "pair"
    examples = ("1 2",)

    def parse(self, raw):
        items = raw if isinstance(raw, list) else str(raw).replace(",", " ").split()
        try:
            values = [float(x) for x in items]
        except (TypeError, ValueError):
            raise InvalidAnswer("not a list of numbers", example="1 2") from None
        if len(values) != 2:
            raise InvalidAnswer(f"expected 2 numbers, got {len(values)}", example="1 2")
        return values

    def normalise(self, value):
        return [float(x) for x in value]

    def compare(self, answer, target):
        n = sum(a == t for a, t in zip(answer, target))
        return Match(n / 2, f"{n} of 2 entries correct.")

    def canonical(self, value):
        return " ".join(f"{x:g}" for x in value)


tiny = ProblemSet("tiny-hw", title="Tiny <b>homework</b>")


@tiny.part("q1", 2, Num())
def q1():
    return 6 * 7


@q1.mistake("off by one", marks=1)
def _():
    return 41


@tiny.part("q2", 1, Pair())
def q2():
    return [1, 2]


tiny.manual("q3", 1, "Explain in a sentence.")
'''

BOOM_PROBLEMS = '''
from grader.kinds.base import Kind, Match
from grader.problemset import ProblemSet


class Fragile(Kind):
    name = "fragile"

    def parse(self, raw):
        return str(raw)

    def compare(self, answer, target):
        if answer == "boom":
            raise RuntimeError("kaboom")
        return Match(1.0 if answer == target else 0.0)


boom = ProblemSet("boom-hw", title="Boom")


@boom.part("a", 1, Fragile())
def a():
    return "ok"


@boom.part("b", 1, Fragile())
def b():
    return "fine"
'''


def write_problems(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny_hw.py").write_text(textwrap.dedent(TINY_PROBLEMS))
    (folder / "boom_hw.py").write_text(textwrap.dedent(BOOM_PROBLEMS))
    return folder


def build_keys_without_torch(problems: Path, reference: Path) -> None:
    """Write answer keys for the fixture sets. `build_key` imports torch only to record its
    version (and to convert array arguments, which these references do not take): stubbed."""
    from grader.keys import build as keys
    from grader.problemset import load_problem_sets

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(keys, "torch_version", lambda: "none")
        for ps in load_problem_sets(problems).values():
            keys.write_key(keys.build_key(ps), reference)


@pytest.fixture
def course(tmp_path: Path) -> dict[str, Path]:
    """A course folder: problems/, reference/ (keys built) and an empty class/ folder."""
    problems = write_problems(tmp_path / "problems")
    reference = tmp_path / "reference"
    build_keys_without_torch(problems, reference)
    klass = tmp_path / "class"
    klass.mkdir()
    return {"root": tmp_path, "problems": problems, "reference": reference, "class": klass}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path
