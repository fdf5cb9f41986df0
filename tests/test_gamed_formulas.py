"""Formulas that cannot be gamed (issue 10 §4), on the seed part they were found on.

csc321-hw4 q3d.params (3V + 1 trainable parameters, V a count in [1, 5000]) is graded from the
committed key alone, as `grader run` grades it. The four gamed formulas of the red-team report
earned full marks when the points never went below V = 125 and a count was compared with a
relative tolerance of 1e-6; each is now wrong, by sampling (edge points V = 1, 2, 3 and a pool
spanning the domain, compared exactly at integer values) or, where every checked point agrees,
by a sympy proof built from the grader's own parse tree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.keys.build import read_key
from grader.kinds import Expr, ShapeFormula
from grader.kinds.symbolic import prove
from grader.models import Status, Submission
from grader.sampling import Count, Sample, checked_indices
from grader.scoring import AssignmentGrader

ROOT = Path(__file__).resolve().parents[1]
KEY = read_key(ROOT / "reference" / "csc321-hw4.json")
NYU = read_key(ROOT / "reference" / "nyu-dl-hw2.json")
PART = "q3d.params"

GAMED = [
    "3V + 1 + exp(110 - V)",  # tuned to vanish above V = 125
    "3V + 1 + 10^6*exp(-(V-50)^2)",  # a bump between the old points
    "3V + 1.0003",  # within 1e-6 of 3V + 1 for large V
    "3.0000009V + 1",
]


@pytest.fixture(scope="module")
def grader() -> AssignmentGrader:
    return AssignmentGrader(None, KEY)  # the key alone: no problem set, no torch


def grade(grader: AssignmentGrader, answer: str, key=None):
    assignment = grader.key.assignment
    report = grader.grade(Submission(assignment=assignment, student="s", answers={PART: answer}, source="s.toml"))
    return next(p for p in report.parts if p.id == PART)


@pytest.mark.parametrize("answer", GAMED)
def test_each_gamed_formula_of_the_report_is_now_wrong(grader, answer):
    result = grade(grader, answer)
    assert (result.status, result.score, result.matched) == (Status.incorrect, 0, None), result.feedback


def test_a_bump_between_every_sampled_point_is_caught_by_the_proof(grader):
    # agrees exactly at every point of the pool but V = 4017: only sympy can tell
    answer = "3V + 1 + 10^6*exp(-100(V-4017)^2)"
    pool = np.asarray(KEY.part(PART).reference["env"]["V"])
    assert 4017 not in pool
    result = grade(grader, answer)
    assert (result.status, result.score) == (Status.incorrect, 0)
    assert result.details["method"] == "sympy"
    assert "agrees at all" in result.feedback and "not the same formula" in result.feedback
    assert "3V" not in result.feedback and "376" not in result.feedback  # no reference in the feedback


def test_a_difference_below_float_resolution_at_the_points_is_witnessed_exactly(grader):
    # zero at V = 4017 only, and far below float64's resolution at every other integer: only an
    # exact evaluation at a checked point shows it is not 3V + 1
    result = grade(grader, "3V + 1 + 10^6*exp(-100(V-4017)^2)*(V-4017)^2")
    assert (result.status, result.details["method"]) == (Status.incorrect, "sympy")


@pytest.mark.parametrize("answer", ["3V + 1", "1+3*V", r"\frac{6V + 2}{2}", "(9V^2 - 1)/(3V - 1)", "3(V + 1) - 2"])
def test_right_formulas_are_proved_right_and_say_so(grader, answer):
    result = grade(grader, answer)
    assert (result.status, result.score, result.matched) == (Status.correct, 2, "reference"), result.feedback
    assert result.details["method"] == "sympy"


def test_a_named_mistake_is_still_named(grader):
    result = grade(grader, "3V")
    assert (result.status, result.score, result.matched) == (Status.partial, 1, "mistake: bias forgotten")


def test_the_pool_has_the_small_values_and_spans_the_domain():
    sample = Sample.from_json(KEY.part(PART).reference)
    meta = sample.meta
    assert meta["integer"] is True and meta["formula"] == "3V + 1"
    V = sample.env["V"]
    assert V[: meta["edge"]].tolist() == [1, 2, 3]
    assert V.min() == 1 and V.max() > 4000 and (V < 125).sum() >= 15 and ((V > 40) & (V < 60)).any()
    np.testing.assert_array_equal(sample.value, 3 * V + 1)


def test_points_are_drawn_per_answer_always_with_the_small_values_and_reproducibly(grader):
    meta = Sample.from_json(KEY.part(PART).reference).meta
    n = 3 + 4 * 24
    seen = set()
    for text in ["3 V + 1", "1 + 3 V", "V + 2V + 1", "3V + 2", "2V"]:
        rows, seed = checked_indices(meta, n, text)
        assert rows[:3].tolist() == [0, 1, 2] and len(rows) == 3 + 2 * 24  # every edge point, two blocks
        again, seed_again = checked_indices(meta, n, text)
        assert seed == seed_again and np.array_equal(rows, again)
        seen.add(tuple(rows))
    assert len(seen) > 1  # different answers meet different points
    # a regrade of the same answer sees the same points; spacing does not change them
    a, b = grade(grader, "3V+1"), grade(grader, "3 V + 1")
    assert a.details == b.details and a.details["points_seed"] != grade(grader, "1 + 3V").details["points_seed"]
    assert a.details["n_points"] == 51 and a.details["pool"] == n


def test_a_count_part_compares_exactly_at_integer_points():
    kind = Expr({"V": Count(1, 5000)})
    V = np.arange(1.0, 25.0)
    exact = kind.normalise(Sample({"V": V}, 3 * V + 1, {"seed": 1, "integer": True}))
    loose = kind.normalise(Sample({"V": V}, 3 * V + 1, {"seed": 1}))
    nearly = kind.parse("3V + 1.0000001")  # within 1e-6 relative everywhere
    assert kind.compare(nearly, loose).full  # a real-valued part: the tolerance holds
    miss = kind.compare(nearly, exact)
    assert miss.fraction == 0 and miss.details["method"] == "sampled points"
    assert kind.compare(kind.parse("(6V + 2)/2"), exact).full


def test_a_shape_formula_gamed_between_points_is_proved_different():
    grader = AssignmentGrader(None, NYU)
    right = "F x (floor((H+2P-D(K-1)-1)/S)+1) x (floor((W+2P-D(K-1)-1)/S)+1)"
    gamed = right + " + 1/(10^30 (W + 1))"  # too small for float64 at any size: equal at every point

    def result(answer):
        report = grader.grade(Submission(assignment="nyu-dl-hw2", student="s", answers={"q1.1b": answer}, source="s.toml"))
        return next(p for p in report.parts if p.id == "q1.1b")

    ok, bad = result(right), result(gamed)
    assert (ok.status, ok.details["method"]) == (Status.correct, "sympy")
    assert (bad.status, bad.details["method"]) == (Status.incorrect, "sympy")


def test_sympy_undecided_leaves_the_sampling_verdict():
    V = {"V": Count(1, 5000)}
    kind = ShapeFormula(V)
    (reference,), (halves,) = kind.parse("V"), kind.parse("floor(V/2) + ceil(V/2)")
    assert prove(halves, reference, ["V"], V) is None  # true for integers, but sympy cannot tell
    sample = kind.normalise(Sample({"V": np.arange(1.0, 30.0)}, np.arange(1.0, 30.0), {"seed": 3, "integer": True, "formula": "V"}))
    match = kind.compare(kind.parse("floor(V/2) + ceil(V/2)"), sample)
    assert match.full and match.details["method"] == "sampled points"


def test_no_text_reaches_sympy(grader, monkeypatch):
    """Proofs are built from the parse tree: sympify, parse_expr and lambdify are never called."""
    import sympy
    import sympy.parsing.sympy_parser as sympy_parser

    def refuse(*args, **kwargs):
        raise AssertionError("sympy was handed text")

    for owner, name in ((sympy, "sympify"), (sympy, "lambdify"), (sympy, "parse_expr"), (sympy_parser, "parse_expr")):
        if hasattr(owner, name):
            monkeypatch.setattr(owner, name, refuse)
    for answer in [*GAMED, "3V + 1", "3V + 1 + 10^6*exp(-100(V-4017)^2)", "__import__('os')"]:
        assert grade(grader, answer).status is not Status.error
