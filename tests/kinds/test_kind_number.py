"""`number`: number forms, the 0.5% tolerance edges, feedback that states the tolerance."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from grader.errors import InvalidAnswer
from grader.kinds import Number

KIND = Number()
BCE = -1 / 3 * (math.log(0.2) + math.log(0.5) + math.log(0.9))


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("0.9933", 0.9933),
        ("9.933e-1", 0.9933),
        ("1.2×10^-3", 0.0012),
        (r"1.2 \times 10^{-3}", 0.0012),
        ("3/4", 0.75),
        ("\u22126", -6.0),
        ("-6", -6.0),
        ("61,706", 61706.0),
        ("61 706", 61706.0),
        ("61_706", 61706.0),
        ("(5*5*1+1)*6", 156.0),
        ("-1/3*(log(0.2)+log(0.5)+log(0.9))", BCE),
        ("ln(2)", math.log(2)),
        ("exp(1)", math.e),
        ("sqrt(2)", math.sqrt(2)),
        ("sigmoid(0)", 0.5),
        ("2*pi", 2 * math.pi),
        ("e^2", math.e**2),
        ("2**3", 8.0),
        ("2^3", 8.0),
        (0.25, 0.25),
        (3, 3.0),
    ],
)
def test_accepted_forms(raw, expected):
    value = KIND.parse(raw)
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("1,5", "comma"),
        ("seven", "unknown name 'seven'"),
        ("", "empty"),
        ("   ", "empty"),
        (True, "true/false"),
        ([0.5], "list"),
        ({"x": 1}, "table"),
        ("0.5 0.6", "two numbers side by side"),
        pytest.param("x" * 20_000, "characters", id="too-long"),
    ],
)
def test_rejected_inputs(raw, fragment):
    with pytest.raises(InvalidAnswer) as info:
        KIND.parse(raw)
    assert fragment.lower() in info.value.feedback().lower()


@pytest.mark.parametrize(
    "answer, reference, full",
    [
        (100.5, 100.0, True),  # exactly 0.5% above
        (99.5, 100.0, True),  # exactly 0.5% below
        (100.6, 100.0, False),  # 0.6%
        (99.4, 100.0, False),
        (-2.01, -2.0, True),
        (-2.012, -2.0, False),
        (0.3015, 0.3, True),  # the edge, with awkward binary fractions
        (0.3018, 0.3, False),
        (0.0, 0.0, True),
        (5e-10, 0.0, True),  # abs_tol 1e-9 around zero
        (2e-9, 0.0, False),
        (0.0272, 0.0271828, True),  # three significant figures always pass
        (0.803, BCE, True),
        (0.79, BCE, False),
    ],
)
def test_tolerance_edges(answer, reference, full):
    assert KIND.compare(answer, reference).full is full


def test_miss_states_the_tolerance_not_the_reference():
    m = KIND.compare(0.79, BCE)
    assert m.fraction == 0
    assert "0.5%" in m.feedback and "0.79" in m.feedback
    assert f"{BCE:.4f}" not in m.feedback and f"{BCE:.3f}" not in m.feedback


def test_custom_tolerance():
    loose = Number(rel_tol=0.01)
    assert loose.compare(101.0, 100.0).full
    assert not loose.compare(101.5, 100.0).full
    assert "1%" in loose.compare(101.5, 100.0).feedback
    absolute = Number(rel_tol=0.0, abs_tol=0.01)
    assert absolute.compare(0.009, 0.0).full and not absolute.compare(0.02, 0.0).full
    assert "±0.01" in absolute.compare(0.02, 0.0).feedback


def test_nan_never_matches():
    assert not KIND.compare(float("nan"), float("nan")).full
    assert not KIND.compare(1.0, float("nan")).full


@pytest.mark.parametrize(
    "value, expected",
    [(torch.tensor(0.25), 0.25), (torch.tensor([0.25]), 0.25), (np.float32(0.25), 0.25), (1, 1.0), (0.25, 0.25)],
)
def test_normalise(value, expected):
    out = KIND.normalise(value)
    assert type(out) is float and out == expected


def test_normalise_refuses_arrays():
    with pytest.raises(ValueError):
        KIND.normalise(torch.tensor([0.1, 0.2]))


def test_encode_round_trip_and_canonical():
    value = KIND.normalise(torch.tensor(BCE, dtype=torch.float64))
    assert KIND.decode(json.loads(json.dumps(KIND.encode(value)))) == value
    assert KIND.compare(KIND.parse(KIND.canonical(value)), value).full
    assert KIND.canonical(156.0) == "156"
    for example in KIND.examples:
        assert isinstance(KIND.parse(example), float)
