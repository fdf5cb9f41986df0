"""`expr`: formulas in every accepted notation agree with numpy truths at sampled points."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from grader.errors import InvalidAnswer
from grader.kinds import Expr
from grader.sampling import Count, Real, Sample

N = 16
RNG = np.random.default_rng(20240601)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# Scalar symbols carry a trailing axis of 1 so they broadcast against h_i (one column per i).
GRAD_ENV = {
    "y": RNG.integers(0, 2, size=(N, 1)).astype(float),
    "z": RNG.normal(size=(N, 1)),
    "h_i": RNG.uniform(0.05, 0.95, size=(N, 4)),
}
GRAD_TRUTH = -2 * (GRAD_ENV["y"] - GRAD_ENV["z"]) * GRAD_ENV["h_i"]
GRAD_KIND = Expr(["y", "z", "h_i"])
GRAD = GRAD_KIND.normalise(Sample(GRAD_ENV, GRAD_TRUTH, {"seed": 7, "index": {"i": [1, 4]}}))

BCE_KIND = Expr({"y": Count(0, 1), "yhat": Real(0.05, 0.95)})
BCE_ENV = {"y": np.array([0.0, 1.0] * (N // 2)), "yhat": RNG.uniform(0.05, 0.95, size=N)}
BCE_TRUTH = -(BCE_ENV["y"] * np.log(BCE_ENV["yhat"]) + (1 - BCE_ENV["y"]) * np.log(1 - BCE_ENV["yhat"]))
BCE = BCE_KIND.normalise(Sample(BCE_ENV, BCE_TRUTH, {"seed": 11}))

AB_KIND = Expr(["a", "b"], functions=("exp", "log", "sqrt", "sigmoid", "floor", "s=sigmoid"))
AB_ENV = {"a": RNG.uniform(0.5, 3.0, size=N), "b": RNG.uniform(0.5, 3.0, size=N)}


def ab_sample(truth):
    return AB_KIND.normalise(Sample(AB_ENV, truth(AB_ENV["a"], AB_ENV["b"]), {"seed": 1}))


@pytest.mark.parametrize(
    "text",
    [
        "-2(y-z)h_i",
        "-2*(y - z)*h_i",
        "2(z-y)h_i",
        "-2(y-z)h_{i}",
        "-2(y-z)h[i]",
        "−2(y−z)·h_i",
        "-2 (y - z) ⋅ h_i",
        "-2 × (y - z) × h_i",
        r"-2 \cdot (y - z) \cdot h_i",
        r"-2\left(y - z\right)h_i",
        r"\frac{-4(y-z)h_i}{2}",
        "dR/dw_i = -2(y-z)h_i",
        r"\frac{\partial R}{\partial w_i} = -2(y-z)h_i",
        "$-2(y-z)h_i$",
        "-(2y - 2z)h_i",
    ],
)
def test_gradient_notations_agree(text):
    m = GRAD_KIND.compare(GRAD_KIND.parse(text), GRAD)
    assert m.full, m.feedback
    assert m.details == {"method": "sampled points", "seed": 7, "n_points": N}


@pytest.mark.parametrize(
    "text",
    [
        "-(y*log(yhat) + (1-y)*log(1-yhat))",
        "-(y log(ŷ) + (1-y) log(1-ŷ))",
        "-y ln(yhat) - (1-y) ln(1-yhat)",
        r"-\left(y \log \hat{y} + (1-y) \log(1-\hat{y})\right)",
        r"-(y\log(\hat{y}) + (1 - y)\log(1 - \hat{y}))",
        "-(y*log(yhat) + (1-y)*log(1-yhat)) + 0*y",
    ],
)
def test_bce_notations_agree(text):
    assert BCE_KIND.compare(BCE_KIND.parse(text), BCE).full


@pytest.mark.parametrize(
    "text, truth",
    [
        ("a^2 + b", lambda a, b: a**2 + b),
        ("a**2 + b", lambda a, b: a**2 + b),
        ("2ab", lambda a, b: 2 * a * b),
        ("a(b+1)", lambda a, b: a * (b + 1)),
        ("s(a)", lambda a, b: sigmoid(a)),
        ("sigmoid(a)", lambda a, b: sigmoid(a)),
        ("σ(a)", lambda a, b: sigmoid(a)),
        ("sigma(a)", lambda a, b: sigmoid(a)),
        (r"\sigma(a)", lambda a, b: sigmoid(a)),
        ("s(a)(1-s(a))", lambda a, b: sigmoid(a) * (1 - sigmoid(a))),
        ("floor(a)", lambda a, b: np.floor(a)),
        ("⌊a⌋ + b", lambda a, b: np.floor(a) + b),
        (r"\lfloor a \rfloor", lambda a, b: np.floor(a)),
        (r"\exp(a) + \log(b)", lambda a, b: np.exp(a) + np.log(b)),
        ("e^{a}", lambda a, b: np.exp(a)),
        ("e^(a+b)", lambda a, b: np.exp(a + b)),
        ("exp(a) / sqrt(b)", lambda a, b: np.exp(a) / np.sqrt(b)),
        (r"\frac{a}{b}", lambda a, b: a / b),
        ("pi a", lambda a, b: math.pi * a),
        ("7", lambda a, b: np.full_like(a, 7.0)),
        (3, lambda a, b: np.full_like(a, 3.0)),
    ],
)
def test_notations_against_numpy(text, truth):
    m = AB_KIND.compare(AB_KIND.parse(text), ab_sample(truth))
    assert m.full, m.feedback


def test_count_symbol_formula_and_disagreement_point():
    kind = Expr({"V": Count(1, 5000)})
    env = {"V": np.array([7.0, 12.0, 3000.0])}
    sample = kind.normalise(Sample(env, 3 * env["V"] + 1, {"seed": 5}))
    assert kind.compare(kind.parse("3V + 1"), sample).full
    assert kind.compare(kind.parse("3*V+1"), sample).full
    m = kind.compare(kind.parse("3V"), sample)
    assert m.fraction == 0
    # where it disagrees, never the right value: that is kept apart for the `reference` level
    assert m.feedback == "At V=7: yours is 21, which is not the right value."
    assert m.reveals == "The right value there is 22."
    assert m.details["n_points"] == 3


def test_disagreement_names_the_index_and_values():
    m = GRAD_KIND.compare(GRAD_KIND.parse("-(y-z)h_i"), GRAD)
    assert m.fraction == 0
    assert m.feedback.startswith("At i=")
    assert "h_i=" in m.feedback and "yours is" in m.feedback and m.reveals.startswith("The right value there is ")


def test_broadcast_formula_without_the_index_disagrees():
    m = GRAD_KIND.compare(GRAD_KIND.parse("-2(y-z)"), GRAD)
    assert m.fraction == 0


def test_non_finite_values_never_agree():
    kind = Expr(["a"])
    env = {"a": np.array([1.0, 2.0, 3.0])}
    nan_truth = kind.normalise(Sample(env, np.array([np.nan, 2.0, 3.0])))
    assert not kind.compare(kind.parse("a"), nan_truth).full
    truth = kind.normalise(Sample(env, env["a"]))
    m = kind.compare(kind.parse("a + 0*log(a - 1)"), truth)  # 0·log(0) = NaN at a = 1
    assert not m.full and "NaN" in m.feedback
    assert not kind.compare(kind.parse("a + 0*log(a - 3)"), truth).full


def test_tolerance_is_tight():
    kind = Expr(["a"])
    env = {"a": np.array([1.0, 2.0, 3.0])}
    truth = kind.normalise(Sample(env, env["a"] * 1.0))
    assert kind.compare(kind.parse("a*(1 + 1/10000000)"), truth).full  # 1e-7 relative
    assert not kind.compare(kind.parse("a*(1 + 1/100000)"), truth).full  # 1e-5 relative


@pytest.mark.parametrize(
    "raw, fragments",
    [
        ("3W + 1", ["unknown name", "V"]),
        ("3V +", []),
        ("", []),
        ("tanh(V)", ["not accepted"]),
        (True, ["true/false"]),
        (["3V+1"], ["list"]),
        pytest.param("V+" * 1500 + "1", ["characters"], id="too-long"),
        ("3V + (1", ["("]),
    ],
)
def test_rejected(raw, fragments):
    kind = Expr(["V"])
    with pytest.raises(InvalidAnswer) as info:
        kind.parse(raw)
    message = info.value.feedback()
    for fragment in fragments:
        assert fragment in message


def test_declared_greek_symbol_is_not_the_sigmoid():
    kind = Expr(["sigma", "x"], functions=("exp", "sigmoid"))
    env = {"sigma": np.array([0.5, 2.0]), "x": np.array([1.0, 3.0])}
    sample = kind.normalise(Sample(env, env["sigma"] * env["x"]))
    assert kind.compare(kind.parse("σ x"), sample).full
    assert kind.compare(kind.parse("sigma(x)"), sample).full  # a product, not a call


def test_custom_alias_and_clash():
    kind = Expr(["x"], functions=("relu", "f=relu"))
    env = {"x": np.array([-1.0, 0.5, 2.0])}
    sample = kind.normalise(Sample(env, np.maximum(env["x"], 0)))
    assert kind.compare(kind.parse("f(x)"), sample).full
    assert kind.compare(kind.parse("relu(x)"), sample).full
    with pytest.raises(ValueError):
        Expr(["s"], functions=("s=sigmoid",))


def test_with_values_keeps_the_points():
    variant = GRAD_KIND.with_values(GRAD, -(GRAD_ENV["y"] - GRAD_ENV["z"]) * GRAD_ENV["h_i"])
    assert variant.env is GRAD.env
    assert GRAD_KIND.compare(GRAD_KIND.parse("-(y-z)h_i"), variant).full
    assert not GRAD_KIND.compare(GRAD_KIND.parse("-2(y-z)h_i"), variant).full


def test_encode_decode_round_trip():
    data = json.loads(json.dumps(GRAD_KIND.encode(GRAD)))
    back = GRAD_KIND.decode(data)
    np.testing.assert_array_equal(back.value, GRAD.value)
    for k in GRAD.env:
        np.testing.assert_array_equal(back.env[k], GRAD.env[k])
    assert back.meta["seed"] == 7
    assert GRAD_KIND.compare(GRAD_KIND.parse("-2(y-z)h_i"), back).full


def test_canonical_reparses_to_an_agreeing_formula():
    parsed = BCE_KIND.parse(r"-\left(y \log \hat{y} + (1-y) \log(1-\hat{y})\right)")
    text = BCE_KIND.canonical(parsed)
    assert "yhat" in text
    assert BCE_KIND.compare(BCE_KIND.parse(text), BCE).full


def test_sample_helper_and_examples():
    kind = Expr({"V": Count(1, 50)}, n_points=9)
    sample = kind.sample(np.random.default_rng(3), lambda env: 3 * env["V"] + 1)
    assert sample.n_points == 9 and sample.env["V"].shape == (9,)
    assert kind.compare(kind.parse("3V+1"), kind.normalise(sample)).full
    for example in kind.examples:
        kind.parse(example)
    assert kind.describe() == "a formula in V"


def test_first_axis_alignment_between_formula_and_truth():
    # The truth has no trailing axis while the environment carries h_i of shape (n, 4):
    # the formula broadcasts over h_i and still compares point by point.
    env = dict(GRAD_ENV)
    truth = (env["y"] - env["z"])[:, 0]
    assert truth.shape == (N,)
    sample = GRAD_KIND.normalise(Sample(env, truth))
    assert GRAD_KIND.compare(GRAD_KIND.parse("y - z"), sample).full
    assert GRAD_KIND.compare(GRAD_KIND.parse("y - z + 0*h_i"), sample).full
    assert not GRAD_KIND.compare(GRAD_KIND.parse("y - z + h_i"), sample).full
    scalars = Expr(["a"])
    flat = scalars.normalise(Sample({"a": np.array([1.0, 2.0])}, np.array([[2.0, 2.0], [4.0, 4.0]])))
    assert scalars.compare(scalars.parse("2a"), flat).full  # (n,) formula against (n, 2) truth


def test_bare_alias_declares_the_function():
    kind = Expr(["x"], functions=("s",))
    env = {"x": np.array([-1.0, 0.0, 2.0])}
    sample = kind.normalise(Sample(env, sigmoid(env["x"])))
    for text in ("s(x)", "sigmoid(x)", "σ(x)", r"\sigma(x)"):
        assert kind.compare(kind.parse(text), sample).full, text
    plain = Expr(["x"], functions=("sigmoid",))
    assert plain.compare(plain.parse("sigma(x)"), sample).full
    with pytest.raises(InvalidAnswer):
        plain.parse("s(x)")  # `s` was not declared for this part
