"""The index-expr kind and its evaluator against plain Python loops over small random tensors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from grader.errors import InvalidAnswer
from grader.kinds import IndexExpr
from grader.kinds.index_eval import IndexEvaluator
from grader.sampling import Sample

RNG = np.random.default_rng(3)
D = 3
X = RNG.normal(size=(D, 5, 4))  # X[i, j]
W = RNG.normal(size=(D, 2, 3))  # W[k1, k2]
V = RNG.normal(size=(D, 6))     # v[n], indexed from 1 in the base-1 tests


def valid_corr(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Z[i,j] = Σ_{k1,k2} W[k1,k2] X[i+k1, j+k2] by loops (valid positions only)."""
    rows, cols = x.shape[0] - w.shape[0] + 1, x.shape[1] - w.shape[1] + 1
    z = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            for a in range(w.shape[0]):
                for b in range(w.shape[1]):
                    z[i, j] += w[a, b] * x[i + a, j + b]
    return z


def evaluate(text: str, free: tuple[str, ...], sizes: tuple[int, ...], base: int = 0, env=None, tensors=None) -> np.ndarray:
    env = env if env is not None else {"X": X, "W": W}
    tensors = tensors or {"X": 2, "W": 2}
    kind = IndexExpr(tensors, free=free, indices=("k1", "k2", "i", "j", "n"), base=base)
    return IndexEvaluator(env, free, sizes, base, tensors).evaluate(kind.parse(text))


def test_sum_without_limits_runs_over_the_values_that_keep_tensors_in_range():
    got = evaluate("sum_{k1,k2} W[k1,k2] X[i+k1, j+k2]", ("i", "j"), (4, 2))
    for d in range(D):
        assert np.allclose(got[d], valid_corr(X[d], W[d]))


def test_a_read_outside_a_tensor_is_zero():
    got = evaluate("X[i+3, j]", ("i", "j"), (5, 4))
    for d in range(D):
        expected = np.zeros((5, 4))
        expected[:2] = X[d, 3:]
        assert np.allclose(got[d], expected)


def test_an_additive_term_does_not_leak_outside_the_range():
    # Σ_k (v[k] + 1) over the values that keep v in range: Σ v + 6, not an unbounded count of 1s
    got = evaluate("sum_{n} (v[n] + 1)", ("i",), (1,), base=1, env={"v": V}, tensors={"v": 1})
    assert np.allclose(got[:, 0], V.sum(axis=1) + 6)


def test_explicit_limits_and_base_one():
    got = evaluate("sum_{n=2}^{4} v_n", ("i",), (1,), base=1, env={"v": V}, tensors={"v": 1})
    assert np.allclose(got[:, 0], V[:, 1:4].sum(axis=1))


def test_a_free_index_may_appear_as_a_number():
    got = evaluate("(i+1) v[i]", ("i",), (6,), base=1, env={"v": V}, tensors={"v": 1})
    assert np.allclose(got, V * np.arange(2, 8))


def test_a_sum_with_no_tensor_and_no_limits_is_invalid():
    with pytest.raises(InvalidAnswer, match="range is unknown"):
        evaluate("sum_{n} n", ("i",), (2,), base=1, env={"v": V}, tensors={"v": 1})


def test_compare_names_the_first_disagreeing_index():
    truth = np.stack([valid_corr(X[d], W[d]) for d in range(D)])
    sample = Sample({"X": X, "W": W}, truth)
    kind = IndexExpr({"X": 2, "W": 2}, free=("i", "j"), indices=("k1", "k2"))
    right = kind.compare(kind.parse(r"\sum_{k_1}\sum_{k_2} X_{i+k_1,j+k_2} W_{k_1,k_2}"), sample)
    assert right.full and right.details["draws"] == D
    wrong = kind.compare(kind.parse("sum_{k1,k2} W[k1,k2] X[i+k2, j+k1]"), sample)
    assert not wrong.full and wrong.feedback.startswith("First disagrees at i=")
    assert "random draw 1 of 3" in wrong.feedback
    # the true value is kept apart, for the `reference` feedback level only
    i, j = (int(n) for n in re.match(r"First disagrees at i=(\d+), j=(\d+)", wrong.feedback).groups())
    assert f"{truth[0, i, j]:.6g}" not in wrong.feedback and wrong.reveals == f"Autograd gives {truth[0, i, j]:.6g} there."


def test_non_finite_values_never_agree():
    sample = Sample({"X": X, "W": W}, np.zeros((D, 4, 2)))
    kind = IndexExpr({"X": 2, "W": 2}, free=("i", "j"))
    assert not kind.compare(kind.parse("0*X[i,j]/0"), sample).full


def test_a_huge_grid_is_too_complex_not_slow():
    kind = IndexExpr({"X": 2}, free=("i", "j"))
    node = kind.parse("sum_{a=1}^{9000} sum_{b=1}^{9000} X[i,j]")
    with pytest.raises(InvalidAnswer, match="too many index values"):
        IndexEvaluator({"X": X}, ("i", "j"), (5, 4), 0, {"X": 2}).evaluate(node)


@pytest.mark.parametrize("text", ["W[k1]", "Q[i,j]", "X[i,j](", "sum_{i,j", "__import__('os')"])
def test_unreadable_index_formulas_are_invalid(text):
    with pytest.raises(InvalidAnswer):
        IndexExpr({"X": 2, "W": 2}, free=("i", "j"), indices=("k1",)).parse(text)


@pytest.mark.parametrize("text", ["1e400", "X[i,j] * 1.5e400", "X[i, j+1e400]", "sum_{k1=1}^{1e400} W[k1, j]", "-2 sum_{k1,k2} W[k1,k2] X[i+k1, j+k2] * 1e309"])
def test_a_literal_beyond_float_range_is_invalid_and_pointed_at_not_a_grader_error(text):
    # Exact when parsed (1e400 is an integer), it overflowed when evaluated in float64: the
    # grader's `error`. Now unreadable at parse time, as 1e999 already was, caret on the number.
    kind = IndexExpr({"X": 2, "W": 2}, free=("i", "j"), indices=("k1", "k2"))
    with pytest.raises(InvalidAnswer, match="too large") as exc:
        kind.parse(text)
    literal = next(t for t in ("1.5e400", "1e400", "1e309") if t in text)
    assert exc.value.position == text.index(literal) and "below 1e308" in exc.value.feedback()


def test_a_tiny_literal_and_a_huge_power_are_still_read():
    # 1e-400 is 0 in float64 and 10^400 evaluates to inf: both are answers (wrong here), not errors
    truth = np.stack([valid_corr(X[d], W[d]) for d in range(D)])
    sample = Sample({"X": X, "W": W}, truth)
    kind = IndexExpr({"X": 2, "W": 2}, free=("i", "j"), indices=("k1", "k2"))
    for text in ("1e-400 * X[i,j]", "10^400 * X[i,j]"):
        assert not kind.compare(kind.parse(text), sample).full
