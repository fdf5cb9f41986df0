"""canonical(): an ASCII echo that parses back to an equal tree."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.parsing import (
    BinOp,
    Call,
    Index,
    Neg,
    Num,
    Sum,
    Sym,
    canonical,
    eval_array,
    parse_math,
    resolve_names,
)

ROUND_TRIP = [
    "3V+1", "2(y-z)h_i", "-2(y-z) sum_{i=1}^{4} w_i h_i (1-h_i) x_{i+j-1}", "\\frac{a}{b}",
    "10^-3", "X[i+k1, j+k2, n]", "x_{c,2(j-1)+k}", "W[1,c,n-2(j-1)]", "sum(x_i, i, j)",
    "|x| |y|", "\\log \\hat{y}", "-x^2", "(-x)^2", "--x", "a-(b-c)", "a-b-c", "a/(b/c)",
    "a/b/c", "a^b^c", "(a^b)^c", "(\\sum_i x_i) y", "a - \\sum_i x_i", "-\\sum_i x_i",
    "\\sum_i x_i + 1", "2*-3", "a*(-b)", "\\sum_{i}\\sum_{j} x_{i,j}", "x^{\\sum_i y_i}",
    "(\\sum_i x_i)^2", "-(a*b)", "a*(b*c)", "\\sum_{k_1,k_2} W[k_1,k_2]", "e^{-x}",
    "\\pi r^2", "⌊x/2⌋+1", "max(a,b,c)", "1.5e3 x", ".5x", "\\sum_{i=1}^{n} -x_i",
    "a/\\sum_i x_i", "-(\\sum_i x_i)*2", "F ⌊(H+2P−D(K−1)−1)/S⌋+1",
    "-(y \\log \\hat{y} + (1-y)\\log(1-\\hat{y}))", "σ(x)(1-σ(x))", "k_1 + k_{1}",
    "dR/dw_i = -2(y-z)h_i", "1.2×10^-3", "\\sum_{i}^{4} x_i", "\\sum_{i=0} x_i",
    "\\sqrt{x}^2", "2^-x^2", "sum_{i} (a_i + b_i)", "sum_{i} sum_{j} a_i b_j c",
    "(sum_{i} a_i)(sum_{j} b_j)",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_round_trip(text):
    tree = parse_math(text)
    echo = canonical(tree)
    assert echo.isascii()
    assert parse_math(echo) == tree
    assert canonical(parse_math(echo)) == echo  # idempotent


def test_canonical_examples():
    assert canonical(parse_math("2(y-z)h_i")) == "2*(y - z)*h_i"
    assert canonical(parse_math("3V+1")) == "3*V + 1"
    assert canonical(parse_math("-2(y-z) sum_{i=1}^{4} w_i h_i")) == \
        "-2*(y - z)*sum_{i=1}^{4} w_i*h_i"
    assert canonical(parse_math("(\\sum_i x_i) y")) == "(sum_{i} x_i)*y"
    assert canonical(parse_math("a*(-b)")) == "a*(-b)"


def test_resolved_round_trip():
    kw = dict(symbols=["y", "z", "h_i", "yhat"], functions=["s", "log", "exp"])
    for text in ("2(y-z)h_i", "-(y log ŷ + (1-y) log(1-ŷ))", "s(z)(1-s(z))", "yz h_i"):
        tree = resolve_names(parse_math(text), **kw)
        assert resolve_names(parse_math(canonical(tree)), **kw) == tree


# ---------------------------------------------------------------- property: random trees

NAMES = st.sampled_from(["x", "y", "z", "V", "k1", "yhat", "sigma", "w"])
NUMS = st.one_of(
    st.integers(0, 10 ** 6).map(lambda v: Num(v, str(v))),
    st.sampled_from([Num(Fraction(1, 2), "0.5"), Num(Fraction(9933, 10000), "9.933e-1"),
                     Num(Fraction(3, 2), "1.5")]),
)
LEAVES = st.one_of(NUMS, NAMES.map(Sym))


def _extend(children):
    index_arg = st.one_of(NAMES.map(Sym), st.integers(0, 9).map(lambda v: Num(v, str(v))), children)
    return st.one_of(
        children.map(Neg),
        st.tuples(st.sampled_from("+-*/^"), children, children).map(lambda t: BinOp(*t)),
        st.tuples(st.sampled_from(["exp", "log", "floor", "abs", "f"]), children).map(
            lambda t: Call(t[0], (t[1],))),
        st.tuples(children, children).map(lambda t: Call("max", t)),
        st.tuples(st.sampled_from(["h", "X"]), st.lists(index_arg, min_size=1, max_size=3)).map(
            lambda t: Index(t[0], tuple(t[1]))),
        st.tuples(st.lists(st.sampled_from(["i", "j", "k_1"]), min_size=1, max_size=2, unique=True),
                  st.one_of(st.none(), NUMS), st.one_of(st.none(), NUMS), children).map(
            lambda t: Sum(tuple(t[0]), t[1], t[2], t[3])),
    )


TREES = st.recursive(LEAVES, _extend, max_leaves=12)


@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(TREES)
def test_round_trip_random_trees(tree):
    echo = canonical(tree)
    assert parse_math(echo) == tree, echo


SCALAR = st.recursive(
    st.one_of(st.integers(1, 9).map(lambda v: Num(v, str(v))), st.sampled_from(["x", "y"]).map(Sym)),
    lambda ch: st.one_of(
        ch.map(Neg),
        st.tuples(st.sampled_from("+-*/"), ch, ch).map(lambda t: BinOp(*t)),
        st.tuples(st.sampled_from(["exp", "sigmoid", "tanh"]), ch).map(lambda t: Call(t[0], (t[1],))),
    ),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None, database=None)
@given(SCALAR)
def test_round_trip_preserves_values(tree):
    env = {"x": np.array([0.3, -1.2]), "y": np.array([2.0, 0.7])}
    again = resolve_names(parse_math(canonical(tree)), symbols=["x", "y"])
    np.testing.assert_array_equal(eval_array(again, env), eval_array(tree, env))
