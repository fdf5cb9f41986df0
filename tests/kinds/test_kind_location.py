"""`location`: index syntaxes, checks against the array's mask, feedback, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from grader.errors import InvalidAnswer
from grader.kinds import Location, LocationTarget

KIND = Location()  # Z, indices from 0

# A 5×4 array with its largest value 6 at (1, 2) and (2, 0).
Z = np.array([[0, 1, 2, 3], [4, 5, 6, 3], [6, 1, 1, 1], [0, 0, -6, 0], [1, 1, 1, 1]], dtype=float)
LARGEST = LocationTarget(values=Z, mask=Z == Z.max())


@pytest.mark.parametrize(
    "raw",
    [
        "(1, 3)",
        "(1,3)",
        "1,3",
        "1, 3",
        "1 3",
        "[1, 3]",
        "Z[1,3]",
        "Z[1, 3]",
        "z[1,3]",
        "Z(1, 3)",
        "Z_{1,3}",
        "$Z_{1,3}$",
        "(i, j) = (1, 3)",
        "i=1, j=3",
        "Z[1,3] = 3",
        [1, 3],
        (1, 3),
        ["1", "3"],
    ],
)
def test_accepted_syntaxes(raw):
    assert KIND.parse(raw) == (1, 3)


def test_unicode_minus_and_single_index():
    assert KIND.parse("(\u22121, 3)") == (-1, 3)
    assert KIND.parse(4) == (4,)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("X[1,3]", "asks for a location in Z, not in X"),
        ("Z_13", "braces with a comma"),
        ("(1.5, 3)", "index 1 ('1.5') is not a whole number"),
        ("(a, b)", "index 1 ('a') is not a whole number"),
        ("", "empty"),
        ("(1, 3", "never closed"),
        (True, "true/false"),
        ([], "location"),
        ({"i": 1}, "table"),
        pytest.param("1," * 300, "characters", id="too-long"),
    ],
)
def test_rejected(raw, fragment):
    with pytest.raises(InvalidAnswer) as info:
        KIND.parse(raw)
    message = info.value.feedback()
    assert fragment in message
    assert "An accepted form" in message


@pytest.mark.parametrize("where", [(1, 2), (2, 0)])
def test_any_location_in_the_mask_is_correct(where):
    assert KIND.compare(where, LARGEST).full


def test_wrong_location_keeps_the_value_there_for_the_reference_level():
    m = KIND.compare((0, 0), LARGEST)
    assert m.fraction == 0 and m.feedback == "Z[0,0] is not a location that qualifies."
    assert m.reveals == "Z[0,0] = 0."


def test_outside_and_wrong_number_of_indices():
    # which index is out of range, not Z's size (that may be another part's answer)
    assert KIND.compare((7, 1), LARGEST).feedback == "(7, 1) is outside Z: index 1 is too large (indices from 0)."
    assert KIND.compare((7, 1), LARGEST).reveals == "Z is 5×4."
    assert KIND.compare((0, -1), LARGEST).feedback == "(0, -1) is outside Z: index 2 is below the first index, 0 (indices from 0)."
    assert "outside" in KIND.compare((-1, 0), LARGEST).feedback  # no Python-style negative indices
    assert "give 2 indices" in KIND.compare((1,), LARGEST).feedback


def test_one_based_locations():
    kind = Location(base=1, name="Z")
    assert kind.compare(kind.parse("(2, 3)"), LARGEST).full  # Z[1, 2] from 0
    assert kind.compare((3, 1), LARGEST).full
    assert "indices from 1" in kind.compare((0, 1), LARGEST).feedback
    assert kind.compare((1, 1), LARGEST).reveals == "Z[1,1] = 0."


def test_normalise_accepts_pairs_of_tensors_and_bare_masks():
    t = torch.tensor(Z)
    for value in [(t == t.min(), t), (t, t == t.min()), LocationTarget(t, t == t.min())]:
        target = KIND.normalise(value)
        assert KIND.compare((3, 2), target).full
        assert KIND.compare((0, 0), target).reveals == "Z[0,0] = 0."
    bare = KIND.normalise(t == 0)
    assert bare.values is None
    assert KIND.compare((0, 0), bare).full
    assert "not a location that qualifies" in KIND.compare((0, 1), bare).feedback
    with pytest.raises(TypeError):
        KIND.normalise(t)  # values without a mask


@pytest.mark.parametrize("target", [LARGEST, LocationTarget(values=None, mask=Z == 0)])
def test_encode_round_trip(target):
    back = KIND.decode(json.loads(json.dumps(KIND.encode(target))))
    np.testing.assert_array_equal(back.mask, target.mask)
    if target.values is None:
        assert back.values is None
    else:
        np.testing.assert_array_equal(back.values, target.values)


def test_canonical_reparses_and_examples_parse():
    assert KIND.canonical((1, 3)) == "(1, 3)"
    assert KIND.parse(KIND.canonical((1, 3))) == (1, 3)
    for example in KIND.examples:
        assert KIND.parse(example) == (6, 2)
    assert "indices from 0" in KIND.describe()
