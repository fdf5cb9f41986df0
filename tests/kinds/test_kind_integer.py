"""`int`: every number form from answer-format.md, exact integer comparison, no reference leak."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import torch

from grader.errors import InvalidAnswer
from grader.kinds import Int

KIND = Int()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("61706", 61706),
        ("61,706", 61706),
        ("61 706", 61706),
        ("61_706", 61706),
        ("-6", -6),
        ("\u22126", -6),  # unicode minus
        ("2.904e5", 290400),
        ("1.2×10^3", 1200),
        (r"1.2 \times 10^{3}", 1200),
        ("(5*5*1+1)*6", 156),
        ("55*55*96", 290400),
        ("2^10", 1024),
        ("2**10", 1024),
        ("  34944  ", 34944),
        (34944, 34944),
        (290400.0, 290400),  # a float that is exactly integral
    ],
)
def test_accepted_forms_read_as_exact_ints(raw, expected):
    value = KIND.parse(raw)
    assert type(value) is int
    assert value == expected


@pytest.mark.parametrize(
    "raw, expected",
    [("6.5", 6.5), ("3/4", Fraction(3, 4)), (290400.5, 290400.5)],
)
def test_non_integral_values_are_read_but_never_integers(raw, expected):
    value = KIND.parse(raw)
    assert not isinstance(value, int)
    assert float(value) == float(expected)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("1,5", "comma"),
        ("abc", "unknown name 'abc'"),
        ("", "empty"),
        (True, "true/false"),
        ([1, 2], "list of 2 items"),
        ({"a": 1}, "table"),
        ("12 +", "ends too early after '+'"),
        pytest.param("1" * 20_000, "characters", id="too-long"),
    ],
)
def test_rejected_inputs_say_what_was_wrong(raw, fragment):
    with pytest.raises(InvalidAnswer) as info:
        KIND.parse(raw)
    message = info.value.feedback()
    assert fragment.lower() in message.lower()
    assert "`" in message  # an accepted form is shown


def test_exact_match_only():
    assert KIND.compare(KIND.parse("34,944"), 34944).full
    assert KIND.compare(KIND.parse("(11*11*3+1)*96"), 34944).full
    off = KIND.compare(KIND.parse("34945"), 34944)
    assert off.fraction == 0
    assert "34945" in off.feedback and "34944" not in off.feedback


def test_non_integer_feedback_names_what_was_given():
    m = KIND.compare(KIND.parse("6.5"), 6)
    assert m.fraction == 0
    assert "whole number" in m.feedback and "6.5" in m.feedback
    assert KIND.compare(KIND.parse(290400.5), 290400).fraction == 0


@pytest.mark.parametrize(
    "value", [torch.tensor(34944), torch.tensor([34944]), np.int64(34944), 34944.0, Fraction(34944), 34944]
)
def test_normalise_reference_values(value):
    out = KIND.normalise(value)
    assert type(out) is int and out == 34944


@pytest.mark.parametrize("value", [34944.5, torch.tensor([1, 2]), "34944", True])
def test_normalise_refuses_non_integers(value):
    with pytest.raises((TypeError, ValueError)):
        KIND.normalise(value)


def test_encode_round_trip_and_canonical():
    data = json.loads(json.dumps(KIND.encode(37752832)))
    assert KIND.decode(data) == 37752832
    assert KIND.parse(KIND.canonical(37752832)) == 37752832
    assert KIND.describe() == "a whole number"
    for example in KIND.examples:
        assert isinstance(KIND.parse(example), int)
