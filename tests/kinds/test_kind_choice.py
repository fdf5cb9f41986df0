"""`choice`: case-insensitive options, unambiguous prefixes, booleans, clear refusals."""

from __future__ import annotations

import json

import pytest

from grader.errors import InvalidAnswer
from grader.kinds import Choice

TF = Choice(["true", "false"])
SIZE = Choice(["smaller", "larger", "same"])
YN = Choice(["yes", "no"])


@pytest.mark.parametrize(
    "kind, raw, expected",
    [
        (TF, "true", "true"),
        (TF, "True", "true"),
        (TF, "TRUE", "true"),
        (TF, "T", "true"),
        (TF, "t", "true"),
        (TF, "false", "false"),
        (TF, "F", "false"),
        (TF, "fal", "false"),
        (TF, " False. ", "false"),
        (TF, "**False**", "false"),
        (TF, '"true"', "true"),
        (TF, True, "true"),
        (TF, False, "false"),
        (SIZE, "Smaller", "smaller"),
        (SIZE, "sm", "smaller"),
        (SIZE, "l", "larger"),
        (SIZE, "Larger", "larger"),
        (SIZE, "sa", "same"),
        (SIZE, "SAME", "same"),
        (YN, "Y", "yes"),
        (YN, "n", "no"),
        (YN, True, "yes"),
    ],
)
def test_accepted(kind, raw, expected):
    assert kind.parse(raw) == expected


def test_exact_option_wins_over_a_longer_one():
    kind = Choice(["no", "none"])
    assert kind.parse("no") == "no"
    assert kind.parse("non") == "none"
    with pytest.raises(InvalidAnswer):
        kind.parse("n")


@pytest.mark.parametrize(
    "kind, raw, fragments",
    [
        (SIZE, "s", ["could be any of `smaller`, `same`"]),
        (SIZE, "bigger", ["'bigger' is not one of the options", "`smaller`, `larger`, `same`"]),
        (SIZE, "", ["empty"]),
        (SIZE, True, ["true/false is not one of the options"]),
        (SIZE, 3, ["got int"]),
        (SIZE, ["smaller"], ["list"]),
        pytest.param(TF, "x" * 500, ["500 characters"], id="too-long"),
        (TF, "maybe", ["'maybe' is not one of the options"]),
    ],
)
def test_rejected(kind, raw, fragments):
    with pytest.raises(InvalidAnswer) as info:
        kind.parse(raw)
    message = info.value.feedback()
    for fragment in fragments:
        assert fragment in message
    assert "An accepted form" in message


def test_compare_does_not_reveal_the_answer():
    assert SIZE.compare("smaller", "smaller").full
    m = SIZE.compare("larger", "smaller")
    assert m.fraction == 0 and "larger" in m.feedback and "smaller" not in m.feedback


def test_normalise_encode_decode():
    assert TF.normalise("False") == "false"
    assert TF.normalise(False) == "false"
    assert YN.normalise(True) == "yes"
    with pytest.raises(ValueError):
        SIZE.normalise("bigger")
    assert SIZE.decode(json.loads(json.dumps(SIZE.encode("same")))) == "same"
    assert SIZE.parse(SIZE.canonical("same")) == "same"


def test_examples_include_short_prefixes():
    assert set(SIZE.examples) >= {"smaller", "larger", "same", "sm", "l", "sa"}
    for example in SIZE.examples:
        SIZE.parse(example)
    assert SIZE.describe() == "one of smaller, larger, same"


def test_bad_option_lists():
    with pytest.raises(ValueError):
        Choice(["yes"])
    with pytest.raises(ValueError):
        Choice(["Yes", "yes"])
