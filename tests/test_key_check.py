"""`grader key check` cannot say "ok" for a wrong key: small problem sets broken on purpose, one
mistake each, every one failing the check with the part, the file and the line named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app

runner = CliRunner()

GOOD = '''
import torch
from grader.problemset import ProblemSet
from grader.kinds import Choice, Int, Matrix, Vector

hw = ProblemSet("tiny-check", total=8)
A = torch.tensor([[1.0, 2.0], [3.0, 4.0]])

@hw.part("count", marks=1, kind=Int(), solutions=["10"])
def count():
    return int(A.sum())

@count.alternative("counted the diagonal twice")
def _():
    return int(A.sum() + A.trace())

@hw.part("square", marks=2, kind=Matrix(2, 2), solutions=["[[7, 10], [15, 22]]"])
def square():
    return A @ A

@square.mistake("multiplied element-wise", marks=0.5)
def _():
    return A * A

@square.mistake("transposed the product")
def _():
    return (A @ A).T

@hw.part("rows", marks=2, kind=Vector(2), solutions=["[3, 7]"])
def rows():
    return A.sum(dim=1)

@hw.part("symmetric", marks=3, kind=Choice(["yes", "no"]), solutions=["no"])
def symmetric():
    return "yes" if torch.equal(A, A.T) else "no"
'''


ROWS = '@hw.part("rows"'


def check(folder: Path, source: str, *extra: str):
    (folder / "problems").mkdir(exist_ok=True)
    (folder / "problems" / "tiny.py").write_text(source)
    return runner.invoke(app, ["key", "check", "--problems", str(folder / "problems"), "--reference", str(folder / "reference"), *extra])


def line_of(source: str, text: str) -> int:
    """The line (1-based) of the first line of `source` containing `text`: independent of the grader."""
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


def findings(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.startswith("  ") and not line.strip().startswith("stale:")]


def test_the_good_set_passes(tmp_path: Path) -> None:
    result = check(tmp_path, GOOD)
    # the only complaint is the missing committed key (stale), none about the parts
    assert findings(result.output) == [], result.output
    assert "tiny-check: FAILED" in result.output and "no committed key" in result.output
    built = runner.invoke(app, ["key", "build", "--problems", str(tmp_path / "problems"), "--reference", str(tmp_path / "reference")])
    assert built.exit_code == 0, built.output
    result = check(tmp_path, GOOD)
    assert result.exit_code == 0 and "tiny-check: ok" in result.output, result.output


@pytest.mark.parametrize(
    ("broken", "by", "part", "decorator", "says"),
    [
        # wrong model answers, one kind at a time
        ('solutions=["10"]', 'solutions=["11"]', "count", '@hw.part("count"', "the model answer '11' is graded incorrect (0 of 1 marks)"),
        ('solutions=["[[7, 10], [15, 22]]"]', 'solutions=["[[7, 10], [15, 23]]"]', "square", '@hw.part("square"', "the model answer '[[7, 10], [15, 23]]' is graded incorrect"),
        ('solutions=["[3, 7]"]', 'solutions=["[3, 8]"]', "rows", '@hw.part("rows"', "the model answer '[3, 8]' is graded incorrect"),
        ('solutions=["no"]', 'solutions=["yes"]', "symmetric", '@hw.part("symmetric"', "the model answer 'yes' is graded incorrect"),
        # a declared size the reference does not have
        ("kind=Matrix(2, 2)", "kind=Matrix(3, 2)", "square", '@hw.part("square"', "declared Matrix(3, 2) but the reference is 2×2"),
        ("kind=Vector(2)", "kind=Vector(3)", "rows", '@hw.part("rows"', "declared Vector(3) but the reference has 2 entries"),
        # named answers that cannot do what they declare
        ("return (A @ A).T", "return A * A", "square", '@square.mistake("transposed', "the named mistake 'transposed the product' typed as"),
        ("return int(A.sum() + A.trace())", "return int(A.sum())", "count", "@count.alternative", "the alternative 'counted the diagonal twice' equals the reference"),
        ('marks=0.5)', "marks=5)", "square", '@square.mistake("multiplied', "declares 5 marks, outside 0 to the part's 2"),
    ],
    ids=["int", "matrix", "vector", "choice", "matrix-size", "vector-size", "mistake-shadowed", "alternative-is-reference", "mistake-marks"],
)
def test_a_broken_part_fails_with_the_part_and_its_line(tmp_path: Path, broken: str, by: str, part: str, decorator: str, says: str) -> None:
    assert broken in GOOD
    source = GOOD.replace(broken, by, 1)
    result = check(tmp_path, source)
    assert result.exit_code == 1, result.output
    hits = [f for f in findings(result.output) if says in f]
    assert hits, result.output
    # one line: the assignment, the part, the file and line of its decorator, what is wrong
    assert re.match(rf"tiny-check, part {re.escape(part)} \(\S*tiny\.py:{line_of(source, decorator)}\): ", hits[0]), hits[0]


def test_marks_that_do_not_add_up_to_the_total(tmp_path: Path) -> None:
    result = check(tmp_path, GOOD.replace("total=8", "total=10"))
    assert result.exit_code == 1
    assert "the parts' marks add up to 8 (1 + 2 + 2 + 3), not the declared total=10" in result.output
    built = runner.invoke(app, ["key", "build", "--problems", str(tmp_path / "problems"), "--reference", str(tmp_path / "reference")])
    assert built.exit_code == 0 and "warning: tiny-check (" in built.output and "not the declared total=10" in built.output


def test_a_reference_that_cannot_be_computed_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    source = GOOD.replace("return A.sum(dim=1)", "return A.sum(dim=5)")
    result = check(tmp_path, source)
    assert result.exit_code == 1
    [line] = findings(result.output)
    at = line_of(source, ROWS)
    assert line.startswith("tiny-check, part rows (") and f"tiny.py:{at}): cannot compute the key: IndexError" in line
    assert "Traceback" not in result.output
    debug = check(tmp_path, source, "--debug")
    assert debug.exit_code != 0 and isinstance(debug.exception, Exception)  # --debug: raised, traceback and all


def test_a_choice_reference_outside_its_options(tmp_path: Path) -> None:
    result = check(tmp_path, GOOD.replace('else "no"', 'else "nope"'))
    assert result.exit_code == 1
    [line] = findings(result.output)
    assert line.startswith("tiny-check, part symmetric (") and "is not one of the options" in line


def test_a_problem_set_that_does_not_import_names_its_line(tmp_path: Path) -> None:
    source = GOOD.replace("kind=Vector(2)", "kind=Vector(0)")
    result = check(tmp_path, source)
    assert result.exit_code == 1
    assert f"tiny.py:{line_of(source, ROWS)}: ValueError: a vector has at least one entry" in result.output
    assert "Traceback" not in result.output


def test_the_committed_keys_pass_the_stricter_check() -> None:
    root = Path(__file__).resolve().parents[1]
    result = runner.invoke(app, ["key", "check", "--problems", str(root / "problems"), "--reference", str(root / "reference")])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok") == 5


def test_a_kind_that_fails_on_its_own_reference_costs_that_part_only(tmp_path: Path) -> None:
    source = GOOD.replace(
        'hw = ProblemSet("tiny-check", total=8)',
        'class Fussy(Int):\n    def forms(self, value):\n        raise RuntimeError("no forms today")\n\n\nhw = ProblemSet("tiny-check", total=8)',
    ).replace('kind=Int(), solutions=["10"]', 'kind=Fussy(), solutions=["10"]')
    result = check(tmp_path, source)
    assert result.exit_code == 1
    [line] = findings(result.output)  # the other parts self-tested as usual, without complaint
    assert re.match(rf"tiny-check, part count \(\S*tiny\.py:{line_of(source, '@hw.part(' + chr(34) + 'count')}\): the self-test failed: RuntimeError: no forms today", line), line
