"""parse_math + resolve_names + eval_array/eval_exact over the syntax of answer-format.md.

Expected values are computed here with plain Python (math), sample by sample."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from grader.parsing import (
    BinOp,
    Call,
    Const,
    Index,
    Neg,
    Num,
    Sum,
    Sym,
    eval_array,
    eval_exact,
    parse_math,
    resolve_names,
)


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


SAMPLES = [
    dict(V=7.0, x=0.3, y=1.7, z=-0.4, h_i=0.25, yhat=0.35, a=2.0, b=5.0, sigma=0.8, alpha=0.1,
         k1=3.0, r=1.5, H=10.0, W=11.0, K=5.0, P=1.0, S=2.0, D=1.0, F=3.0, C=2.0),
    dict(V=2.0, x=1.1, y=0.2, z=2.5, h_i=0.75, yhat=0.9, a=-1.5, b=4.0, sigma=0.2, alpha=2.0,
         k1=-1.0, r=0.5, H=24.0, W=20.0, K=3.0, P=2.0, S=3.0, D=2.0, F=6.0, C=4.0),
]
SYMBOLS = list(SAMPLES[0])
FUNCTIONS = ("exp", "log", "ln", "sqrt", "sigmoid", "s", "σ", "floor", "ceil", "abs", "tanh",
             "relu", "min", "max")
ENV = {k: np.array([s[k] for s in SAMPLES]) for k in SYMBOLS}

CASES = [
    # implicit multiplication, operators
    ("3V+1", lambda e: 3 * e["V"] + 1),
    ("3V + 1", lambda e: 3 * e["V"] + 1),
    ("3*V+1", lambda e: 3 * e["V"] + 1),
    ("3 V + 1", lambda e: 3 * e["V"] + 1),
    ("2(y-z)h_i", lambda e: 2 * (e["y"] - e["z"]) * e["h_i"]),
    ("-2(y-z)h_i", lambda e: -2 * (e["y"] - e["z"]) * e["h_i"]),
    ("−2(y−z)·h_i", lambda e: -2 * (e["y"] - e["z"]) * e["h_i"]),
    ("2 x", lambda e: 2 * e["x"]),
    ("(a)(b)", lambda e: e["a"] * e["b"]),
    ("a b", lambda e: e["a"] * e["b"]),
    ("yz", lambda e: e["y"] * e["z"]),
    ("2xy", lambda e: 2 * e["x"] * e["y"]),
    ("a - b", lambda e: e["a"] - e["b"]),
    ("a -b", lambda e: e["a"] - e["b"]),
    ("a − b", lambda e: e["a"] - e["b"]),
    ("a · b", lambda e: e["a"] * e["b"]),
    ("a × b", lambda e: e["a"] * e["b"]),
    ("a ⋅ b", lambda e: e["a"] * e["b"]),
    ("a ÷ b", lambda e: e["a"] / e["b"]),
    ("a/b/2", lambda e: e["a"] / e["b"] / 2),
    ("a/(b/2)", lambda e: e["a"] / (e["b"] / 2)),
    ("1/2 x", lambda e: 0.5 * e["x"]),
    ("a*-b", lambda e: -e["a"] * e["b"]),
    ("--x", lambda e: e["x"]),
    ("- - - x", lambda e: -e["x"]),
    ("-(-x)", lambda e: e["x"]),
    # powers
    ("x^2", lambda e: e["x"] ** 2),
    ("x**2", lambda e: e["x"] ** 2),
    ("x²", lambda e: e["x"] ** 2),
    ("x^-1", lambda e: 1 / e["x"]),
    ("x^{-1}", lambda e: 1 / e["x"]),
    ("-x^2", lambda e: -(e["x"] ** 2)),
    ("(-x)^2", lambda e: e["x"] ** 2),
    ("b^x^2", lambda e: e["b"] ** (e["x"] ** 2)),
    ("2^-x", lambda e: 2 ** -e["x"]),
    ("10^-3 V", lambda e: 1e-3 * e["V"]),
    ("9.933e-1 x", lambda e: 0.9933 * e["x"]),
    ("1.2×10^-3 x", lambda e: 1.2e-3 * e["x"]),
    ("1.2 \\times 10^{-3} x", lambda e: 1.2e-3 * e["x"]),
    ("x\\cdot10^{-3}", lambda e: e["x"] * 1e-3),
    ("x⁻¹", lambda e: 1 / e["x"]),
    # LaTeX structure
    ("\\frac{a}{b}", lambda e: e["a"] / e["b"]),
    ("\\frac12 a", lambda e: 0.5 * e["a"]),
    ("\\dfrac{a+1}{b}", lambda e: (e["a"] + 1) / e["b"]),
    ("\\frac{\\frac{a}{b}}{x}", lambda e: e["a"] / e["b"] / e["x"]),
    ("a \\cdot b", lambda e: e["a"] * e["b"]),
    ("a \\times b", lambda e: e["a"] * e["b"]),
    ("\\left( a + b \\right) x", lambda e: (e["a"] + e["b"]) * e["x"]),
    ("\\left[ a + b \\right] x", lambda e: (e["a"] + e["b"]) * e["x"]),
    ("\\bigl( a + b \\bigr) x", lambda e: (e["a"] + e["b"]) * e["x"]),
    ("[a+b]x", lambda e: (e["a"] + e["b"]) * e["x"]),
    ("{a+b}x", lambda e: (e["a"] + e["b"]) * e["x"]),
    ("a\\,b", lambda e: e["a"] * e["b"]),
    ("a\\;b\\!+\\quad x", lambda e: e["a"] * e["b"] + e["x"]),
    ("$3V+1$", lambda e: 3 * e["V"] + 1),
    ("\\( 3V+1 \\)", lambda e: 3 * e["V"] + 1),
    # floor / ceil / abs
    ("\\lfloor a/b \\rfloor", lambda e: math.floor(e["a"] / e["b"])),
    ("⌊a/b⌋", lambda e: math.floor(e["a"] / e["b"])),
    ("floor(a/b)", lambda e: math.floor(e["a"] / e["b"])),
    ("\\lceil a/b \\rceil", lambda e: math.ceil(e["a"] / e["b"])),
    ("⌈a/b⌉", lambda e: math.ceil(e["a"] / e["b"])),
    ("ceil(a/b)", lambda e: math.ceil(e["a"] / e["b"])),
    ("|z|", lambda e: abs(e["z"])),
    ("\\left| z \\right|", lambda e: abs(e["z"])),
    ("|a-b| |z|", lambda e: abs(e["a"] - e["b"]) * abs(e["z"])),
    ("abs(z)", lambda e: abs(e["z"])),
    ("F ⌊(H+2P−D(K−1)−1)/S⌋+1",
     lambda e: e["F"] * math.floor((e["H"] + 2 * e["P"] - e["D"] * (e["K"] - 1) - 1) / e["S"]) + 1),
    ("\\left\\lfloor \\frac{W+2P-D(K-1)-1}{S} \\right\\rfloor + 1",
     lambda e: math.floor((e["W"] + 2 * e["P"] - e["D"] * (e["K"] - 1) - 1) / e["S"]) + 1),
    # functions
    ("\\log x", lambda e: math.log(e["x"])),
    ("\\ln x", lambda e: math.log(e["x"])),
    ("log(x)", lambda e: math.log(e["x"])),
    ("ln(x)", lambda e: math.log(e["x"])),
    ("log x^2", lambda e: math.log(e["x"] ** 2)),
    ("\\exp(x)", lambda e: math.exp(e["x"])),
    ("\\exp x", lambda e: math.exp(e["x"])),
    ("exp(x)", lambda e: math.exp(e["x"])),
    ("e^{x}", lambda e: math.exp(e["x"])),
    ("e^x", lambda e: math.exp(e["x"])),
    ("e^{-x^2}", lambda e: math.exp(-(e["x"] ** 2))),
    ("\\sqrt{x}", lambda e: math.sqrt(e["x"])),
    ("\\sqrt x", lambda e: math.sqrt(e["x"])),
    ("sqrt(x)", lambda e: math.sqrt(e["x"])),
    ("\\sigma(x)", lambda e: sig(e["x"])),
    ("σ(x)", lambda e: sig(e["x"])),
    ("s(x)", lambda e: sig(e["x"])),
    ("sigmoid(x)", lambda e: sig(e["x"])),
    ("\\operatorname{sigmoid}(x)", lambda e: sig(e["x"])),
    ("\\mathrm{exp}(x)", lambda e: math.exp(e["x"])),
    ("tanh(x) + relu(z)", lambda e: math.tanh(e["x"]) + max(e["z"], 0.0)),
    ("max(a, b) - min(a, b, z)", lambda e: max(e["a"], e["b"]) - min(e["a"], e["b"], e["z"])),
    ("xexp(y)", lambda e: e["x"] * math.exp(e["y"])),
    ("V(x+1)", lambda e: e["V"] * (e["x"] + 1)),
    # names
    ("\\hat{y}", lambda e: e["yhat"]),
    ("\\hat y", lambda e: e["yhat"]),
    ("ŷ", lambda e: e["yhat"]),
    ("y\u0302", lambda e: e["yhat"]),
    ("yhat", lambda e: e["yhat"]),
    ("y_hat", lambda e: e["yhat"]),
    ("2\\sigma", lambda e: 2 * e["sigma"]),
    ("2σ", lambda e: 2 * e["sigma"]),
    ("\\alpha x", lambda e: e["alpha"] * e["x"]),
    ("αx", lambda e: e["alpha"] * e["x"]),
    ("k_1 + k_{1} + k1", lambda e: 3 * e["k1"]),
    ("h_{i}", lambda e: e["h_i"]),
    ("h[i]", lambda e: e["h_i"]),
    ("\\pi r^2", lambda e: math.pi * e["r"] ** 2),
    ("π r²", lambda e: math.pi * e["r"] ** 2),
    ("2pi r", lambda e: 2 * math.pi * e["r"]),
    # equations: graded on the right-hand side
    ("dR/dw_i = -2(y-z)h_i", lambda e: -2 * (e["y"] - e["z"]) * e["h_i"]),
    ("\\frac{\\partial R}{\\partial w_i} = -2(y-z)h_i", lambda e: -2 * (e["y"] - e["z"]) * e["h_i"]),
    # the seed answers
    ("-(y log ŷ + (1-y) log(1-ŷ))",
     lambda e: -(e["y"] * math.log(e["yhat"]) + (1 - e["y"]) * math.log(1 - e["yhat"]))),
    ("-(y \\log \\hat{y} + (1-y)\\log(1-\\hat{y}))",
     lambda e: -(e["y"] * math.log(e["yhat"]) + (1 - e["y"]) * math.log(1 - e["yhat"]))),
    ("−(y·log ŷ + (1−y)·log(1−ŷ))",
     lambda e: -(e["y"] * math.log(e["yhat"]) + (1 - e["y"]) * math.log(1 - e["yhat"]))),
    ("3V", lambda e: 3 * e["V"]),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0] for c in CASES])
def test_formula_values(text, expected):
    node = resolve_names(parse_math(text), symbols=SYMBOLS, functions=FUNCTIONS)
    got = eval_array(node, ENV)
    want = np.array([expected(s) for s in SAMPLES], dtype=float)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_eval_array_lets_nan_and_inf_through():
    node = resolve_names(parse_math("log(x) + 1/(x - x)"), symbols=["x"])
    got = eval_array(node, {"x": np.array([-1.0, 2.0])})
    assert np.isnan(got[0]) and np.isinf(got[1])


def test_eval_array_huge_power_is_fast_and_infinite():
    node = resolve_names(parse_math("(x+y+1)^(9^9^9)"), symbols=["x", "y"])
    got = eval_array(node, {"x": np.array([1.0, -1.0]), "y": np.array([1.0, 0.0])})
    assert np.isinf(got[0]) and got[1] == 0.0


def test_eval_array_constant_broadcasts_to_samples():
    node = resolve_names(parse_math("sigmoid(0) + 1"), symbols=["y"])
    got = eval_array(node, {"y": np.zeros(4)})
    np.testing.assert_allclose(got, np.full(4, 1.5))


EXACT = [
    ("55*55*96", 55 * 55 * 96),
    ("(5*5*1+1)*6", 156),
    ("3/4", Fraction(3, 4)),
    ("\\frac{1}{3}+\\frac{1}{6}", Fraction(1, 2)),
    ("2^-2", Fraction(1, 4)),
    ("10^-3", Fraction(1, 1000)),
    ("⌊7/2⌋", 3),
    ("⌈7/2⌉", 4),
    ("\\lfloor -7/2 \\rfloor", -4),
    ("|−3|", 3),
    ("max(2, 3/2)", 2),
    ("min(2, 3/2)", Fraction(3, 2)),
    ("relu(-2)", 0),
    ("sqrt(16)", 4),
    ("⌊(10+2*0-1*(5-1)-1)/2⌋+1", 3),
    ("2^200", 2 ** 200),
    ("0.5*4", 2),
]


@pytest.mark.parametrize("text,expected", EXACT)
def test_eval_exact_keeps_exact_values(text, expected):
    node = resolve_names(parse_math(text), symbols=())
    value = eval_exact(node)
    assert value == expected and type(value) is type(expected)


def test_eval_exact_floats():
    node = resolve_names(parse_math("exp(1) + pi + sigmoid(0) + tanh(0) + 2^0.5"), symbols=())
    assert eval_exact(node) == pytest.approx(math.e + math.pi + 0.5 + 2 ** 0.5, rel=1e-14)
    assert eval_exact(parse_math("2*pi")) == pytest.approx(2 * math.pi)


def test_eval_exact_big_power_falls_back_to_float():
    # 2^5000 has more than 4000 bits: float fallback, which overflows -> TooComplex
    from grader.errors import TooComplex

    with pytest.raises(TooComplex):
        eval_exact(parse_math("2^5000"))
    tiny = eval_exact(parse_math("2^-5000"))
    assert tiny == 0.0 and isinstance(tiny, float)


# --------------------------------------------------------------------------- trees

i, j, k, c = Sym("i"), Sym("j"), Sym("k"), Sym("c")


def n(v: int) -> Num:
    return Num(v, str(v))


def mul(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = BinOp("*", out, x)
    return out


TREES = [
    ("h_i", Index("h", (i,))),
    ("x_{i+j-1}", Index("x", (BinOp("-", BinOp("+", i, j), n(1)),))),
    ("X[i+k1, j+k2, n]", Index("X", (BinOp("+", i, Sym("k1")), BinOp("+", j, Sym("k2")), Sym("n")))),
    ("x_{c,2(j-1)+k}", Index("x", (c, BinOp("+", mul(n(2), BinOp("-", j, n(1))), k)))),
    ("W[1,c,n-2(j-1)]", Index("W", (n(1), c, BinOp("-", Sym("n"), mul(n(2), BinOp("-", j, n(1))))))),
    ("k_1", Index("k", (n(1),))),
    ("k_{1}", Index("k", (n(1),))),
    ("sum_{i,j} x_{i,j}", Sum(("i", "j"), None, None, Index("x", (i, j)))),
    ("sum_{i=1}^{4} w_i", Sum(("i",), n(1), n(4), Index("w", (i,)))),
    ("\\sum_{i=1}^{4} w_i", Sum(("i",), n(1), n(4), Index("w", (i,)))),
    ("\\sum_{i=1}^4 w_i", Sum(("i",), n(1), n(4), Index("w", (i,)))),
    ("\\sum_{k_1,k_2,m} W[k_1]", Sum(("k_1", "k_2", "m"), None, None, Index("W", (Index("k", (n(1),)),)))),
    ("Σ_{i} x_i", Sum(("i",), None, None, Index("x", (i,)))),
    ("∑_i x_i", Sum(("i",), None, None, Index("x", (i,)))),
    ("sum(x_i y_j, i, j)", Sum(("i", "j"), None, None, mul(Index("x", (i,)), Index("y", (j,))))),
    ("\\sum_i a_i + b", BinOp("+", Sum(("i",), None, None, Index("a", (i,))), Sym("b"))),
    ("\\sum_i \\sum_j x_{i,j}", Sum(("i",), None, None, Sum(("j",), None, None, Index("x", (i, j))))),
    ("-2(y-z) sum_{i=1}^{4} w_i h_i (1-h_i) x_{i+j-1}",
     mul(Neg(n(2)), BinOp("-", Sym("y"), Sym("z")),
         Sum(("i",), n(1), n(4), mul(Index("w", (i,)), Index("h", (i,)),
                                      BinOp("-", n(1), Index("h", (i,))),
                                      Index("x", (BinOp("-", BinOp("+", i, j), n(1)),)))))),
    ("σ(x)", Call("sigma", (Sym("x"),))),
    ("⌊x⌋", Call("floor", (Sym("x"),))),
    ("\\lfloor x\\rfloor", Call("floor", (Sym("x"),))),
    ("|x|", Call("abs", (Sym("x"),))),
    ("V(x+1)", Call("V", (BinOp("+", Sym("x"), n(1)),))),
    ("yhat", Sym("yhat")),
    ("\\hat{y}", Sym("yhat")),
    ("ŷ", Sym("yhat")),
    ("σ", Sym("sigma")),
    ("\\sigma", Sym("sigma")),
    ("xy", Sym("xy")),
    ("k1", Sym("k1")),
    ("e^{x}", BinOp("^", Const("e"), Sym("x"))),
    ("\\pi", Const("pi")),
    ("10^-3", BinOp("^", n(10), Neg(n(3)))),
    ("0.5", Num(Fraction(1, 2), "0.5")),
]


@pytest.mark.parametrize("text,tree", TREES, ids=[t[0] for t in TREES])
def test_parse_trees(text, tree):
    assert parse_math(text) == tree


def test_num_keeps_its_text():
    assert parse_math("9.933e-1").text == "9.933e-1"
    assert parse_math("9.933e-1").value == Fraction(9933, 10000)
