"""`shape`: fixed-size shapes in every notation, and shapes whose sizes are formulas."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from grader.errors import InvalidAnswer
from grader.kinds import Shape, ShapeFormula
from grader.sampling import Count, Sample, draw

SHAPE = Shape()
BATCHED = Shape(batch=True)


@pytest.mark.parametrize(
    "raw",
    [
        "46x62x20",
        "46X62X20",
        "46 x 62 x 20",
        "46×62×20",
        "46 × 62 × 20",
        "(46, 62, 20)",
        "(46,62,20)",
        "[46, 62, 20]",
        "46*62*20",
        "46, 62, 20",
        "46 62 20",
        "46·62·20",
        "R^{46×62×20}",
        "R^{46 x 62 x 20}",
        r"\mathbb{R}^{46 \times 62 \times 20}",
        r"$\mathbb{R}^{46 \times 62 \times 20}$",
        "ℝ^{46×62×20}",
        "ℝ^(46, 62, 20)",
        r"Z \in \mathbb{R}^{46 \times 62 \times 20}",
        "Z ∈ ℝ^{46×62×20}",
        "torch.Size([46, 62, 20])",
        r"46 \times 62 \times 20",
        [46, 62, 20],
        (46, 62, 20),
        ["46", "62", "20"],
    ],
)
def test_fixed_shape_syntaxes(raw):
    assert SHAPE.parse(raw) == (46, 62, 20)


@pytest.mark.parametrize("raw, expected", [("24", (24,)), (24, (24,)), ("[24]", (24,)), ("5x4", (5, 4)), ("(3)", (3,))])
def test_single_and_two_dimensions(raw, expected):
    assert SHAPE.parse(raw) == expected


@pytest.mark.parametrize(
    "raw", ["N×20×24×24", "N x 20 x 24 x 24", "(-1, 20, 24, 24)", "−1×20×24×24", "[None, 20, 24, 24]", [-1, 20, 24, 24], "20×24×24"]
)
def test_batch_dimension_is_ignored_where_allowed(raw):
    assert BATCHED.parse(raw) == (20, 24, 24)


@pytest.mark.parametrize(
    "raw, fragments",
    [
        ("N×20", ["no batch dimension", "'N'"]),
        ("-1x20", ["no batch dimension"]),
        ("5xNx3", ["dimension 2 ('N') is not a size"]),
        ("Hx4", ["dimension 1 ('H') is not a number", "numbers, not formulas"]),
        ("4.5x2", ["dimension 1 (4.5) is not a whole number"]),
        ("5x-3", ["dimension 2 (-3) is negative"]),
        ("5x", ["dimension 2 is empty"]),
        ("(5, 4", ["never closed"]),
        (True, ["true/false"]),
        ({"a": 5}, ["table"]),
        ([5, [4]], ["dimension 2 is a list"]),
        pytest.param("5x" * 600 + "5", ["characters"], id="too-long"),
    ],
)
def test_fixed_shape_rejected(raw, fragments):
    with pytest.raises(InvalidAnswer) as info:
        SHAPE.parse(raw)
    message = info.value.feedback()
    for fragment in fragments:
        assert fragment in message
    assert "An accepted form" in message


def test_compare_never_reveals_the_reference():
    assert SHAPE.compare((46, 62, 20), (46, 62, 20)).full
    assert SHAPE.compare((5, 4), (5, 4, 1)).feedback == "Expected 3 dimensions, got 2."
    assert SHAPE.compare((46, 62, 21), (46, 62, 20)).feedback == "Dimension 3 is wrong."
    m = SHAPE.compare((48, 64, 21), (46, 62, 20))
    assert m.feedback == "Dimensions 1, 2 and 3 are wrong."
    assert "46" not in m.feedback and "62" not in m.feedback
    assert "batch" in BATCHED.compare((1, 20, 24, 24), (20, 24, 24)).feedback


@pytest.mark.parametrize("value", [torch.Size([5, 4]), (5, 4), [5, 4], torch.tensor([5, 4]), np.array([5, 4])])
def test_normalise(value):
    assert SHAPE.normalise(value) == (5, 4)
    assert SHAPE.normalise(24) == (24,)


def test_normalise_refuses_non_sizes():
    with pytest.raises(ValueError):
        SHAPE.normalise([5.5, 4])


def test_encode_decode_canonical():
    assert SHAPE.decode(json.loads(json.dumps(SHAPE.encode((46, 62, 20))))) == (46, 62, 20)
    assert SHAPE.canonical((46, 62, 20)) == "46×62×20"
    assert SHAPE.parse(SHAPE.canonical((46, 62, 20))) == (46, 62, 20)
    for example in BATCHED.examples:
        assert BATCHED.parse(example) == (7, 9, 4)


# -- sizes given by formulas --------------------------------------------------------------------------

CONV = {
    "C": Count(1, 4), "F": Count(1, 8), "K": Count(1, 5), "S": Count(1, 3),
    "P": Count(0, 2), "D": Count(1, 3), "H": Count(1, 40), "W": Count(1, 40),
}
FORMULA = ShapeFormula(CONV)


def _conv_sample() -> Sample:
    env = draw(np.random.default_rng(4), CONV, 300)
    span = {s: env[s] + 2 * env["P"] - env["D"] * (env["K"] - 1) - 1 for s in "HW"}
    valid = (span["H"] >= 0) & (span["W"] >= 0)
    env = {k: v[valid] for k, v in env.items()}
    span = {s: v[valid] for s, v in span.items()}
    truth = np.stack([env["F"], span["H"] // env["S"] + 1, span["W"] // env["S"] + 1], axis=1)
    return FORMULA.normalise(Sample(env, truth, {"seed": 99, "method": "sampled points"}))


CONV_SAMPLE = _conv_sample()


@pytest.mark.parametrize(
    "text",
    [
        "F x (floor((H+2P-D(K-1)-1)/S)+1) x (floor((W+2P-D(K-1)-1)/S)+1)",
        "F × ⌊(H+2P−D(K−1)−1)/S⌋+1 × ⌊(W+2P−D(K−1)−1)/S⌋+1",
        "(F, floor((H+2P-D*(K-1)-1)/S)+1, floor((W+2P-D*(K-1)-1)/S)+1)",
        "[F, floor((H+2P-D(K-1)-1)/S)+1, floor((W+2P-D(K-1)-1)/S)+1]",
        r"F \times \left(\left\lfloor \frac{H+2P-D(K-1)-1}{S} \right\rfloor + 1\right) \times "
        r"\left(\left\lfloor \frac{W+2P-D(K-1)-1}{S} \right\rfloor + 1\right)",
        r"\mathbb{R}^{F \times (\lfloor \frac{H+2P-D(K-1)-1}{S} \rfloor + 1) \times (\lfloor \frac{W+2P-D(K-1)-1}{S} \rfloor + 1)}",
        "ℝ^{F × (⌊(H+2P-D(K-1)-1)/S⌋+1) × (⌊(W+2P-D(K-1)-1)/S⌋+1)}",
        ["F", "floor((H+2P-D(K-1)-1)/S)+1", "floor((W+2P-D(K-1)-1)/S)+1"],
    ],
)
def test_formula_shape_notations(text):
    m = FORMULA.compare(FORMULA.parse(text), CONV_SAMPLE)
    assert m.full, m.feedback
    assert m.details == {"method": "sampled points", "seed": 99, "n_points": CONV_SAMPLE.n_points}


def test_star_multiplies_inside_a_dimension():
    kind = ShapeFormula({"m": Count(1, 9), "n": Count(1, 9)})
    env = {"m": np.array([1.0, 2.0, 5.0]), "n": np.array([3.0, 1.0, 4.0])}
    sample = kind.normalise(Sample(env, np.stack([2 * env["m"], env["n"]], axis=1)))
    assert len(kind.parse("2*m x n")) == 2
    assert kind.compare(kind.parse("2*m x n"), sample).full
    assert kind.compare(kind.parse("2m × n"), sample).full
    assert kind.compare(kind.parse("(2m, n)"), sample).full
    column = kind.normalise(Sample(env, env["m"]))  # a 1-D value is one dimension
    assert kind.compare(kind.parse("m"), column).full
    assert kind.compare(kind.parse("[m]"), column).full


def test_digits_around_x_separate_dimensions():
    kind = ShapeFormula({"m": Count(1, 9)})
    env = {"m": np.array([1.0, 2.0])}
    sample = kind.normalise(Sample(env, np.array([[5.0, 4.0], [5.0, 4.0]])))
    assert kind.compare(kind.parse("5x4"), sample).full


def test_formula_miss_names_dimension_and_point():
    m = FORMULA.compare(FORMULA.parse("F x (H+2P-D(K-1)-1)/S+1 x floor((W+2P-D(K-1)-1)/S)+1"), CONV_SAMPLE)
    assert m.fraction == 0
    assert m.feedback.startswith("Dimension 2 disagrees at C=")
    assert "you give" in m.feedback and "the true size" not in m.feedback
    assert m.reveals.startswith("The true size there is ")
    no_dilation = FORMULA.compare(FORMULA.parse("F x floor((H+2P-K)/S)+1 x floor((W+2P-K)/S)+1"), CONV_SAMPLE)
    assert "Dimension 2 disagrees" in no_dilation.feedback
    assert FORMULA.compare(FORMULA.parse("F x H"), CONV_SAMPLE).feedback == "Expected 3 dimensions, got 2."


def test_formula_shape_nan_never_agrees():
    kind = ShapeFormula({"m": Count(1, 9)}, functions=("floor", "ceil", "log"))
    env = {"m": np.array([1.0, 2.0, 3.0])}
    sample = kind.normalise(Sample(env, env["m"]))
    assert not kind.compare(kind.parse("m + 0*log(m-1)"), sample).full
    assert not kind.compare(kind.parse("m"), kind.with_values(sample, np.array([[1.0], [np.nan], [3.0]]))).full


def test_formula_mistake_targets_via_with_values():
    env = CONV_SAMPLE.env
    span = {s: env[s] + 2 * env["P"] - env["D"] * (env["K"] - 1) - 1 for s in "HW"}
    no_floor = FORMULA.with_values(CONV_SAMPLE, np.stack([env["F"], span["H"] / env["S"] + 1, span["W"] / env["S"] + 1], axis=1))
    answer = FORMULA.parse("F x (H+2P-D(K-1)-1)/S+1 x (W+2P-D(K-1)-1)/S+1")
    assert FORMULA.compare(answer, no_floor).full
    assert not FORMULA.compare(answer, CONV_SAMPLE).full


@pytest.mark.parametrize(
    "raw, fragments",
    [
        ("F x G", ["dimension 2 ('G')", "unknown name 'G'", "C, D, F, H, K, P, S, W"]),
        ("FxH", ["dimension 1 ('FxH')", "' x ' (with spaces)"]),
        ("F x ⌊H", ["never closed"]),
        ("F x  x H", ["dimension 2 is empty"]),
        ("", ["empty"]),
        (True, ["true/false"]),
        ({"F": 1}, ["table"]),
        ("F x tanh(H)", ["not accepted"]),
    ],
)
def test_formula_shape_rejected(raw, fragments):
    with pytest.raises(InvalidAnswer) as info:
        FORMULA.parse(raw)
    message = info.value.feedback()
    for fragment in fragments:
        assert fragment in message


def test_formula_shape_round_trip_and_canonical():
    back = FORMULA.decode(json.loads(json.dumps(FORMULA.encode(CONV_SAMPLE))))
    np.testing.assert_array_equal(back.value, CONV_SAMPLE.value)
    text = FORMULA.canonical(FORMULA.parse("F × ⌊(H+2P−D(K−1)−1)/S⌋+1 × ⌊(W+2P−D(K−1)−1)/S⌋+1"))
    assert text.count(" × ") == 2
    assert FORMULA.compare(FORMULA.parse(text), back).full
    assert FORMULA.sampled and not SHAPE.sampled
    for example in FORMULA.examples:
        FORMULA.parse(example)
