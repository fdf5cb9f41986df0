"""`vector` / `matrix`: every table syntax, entry forms, shape and per-entry comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from grader.errors import InvalidAnswer, TooComplex
from grader.kinds import Matrix, Vector

M22 = Matrix(2, 2)
V3 = Vector(3)
SQUARE = [[2.0, 1.0], [1.0, 1.0]]
ASYM = [[2.0, -1.0], [0.5, 3.0]]  # not symmetric, so a transposed read would show


@pytest.mark.parametrize(
    "raw",
    [
        [[2, -1], [0.5, 3]],
        [["2", "-1"], ["1/2", "3"]],
        ((2, -1), (0.5, 3)),
        "2 -1\n0.5 3",
        "2\t-1\n0.5\t3",
        "2, -1\n0.5, 3",
        "2,-1\n0.5,3",
        "\n  2  -1 \n\n 0.5   3 \n",
        "[[2,-1],[0.5,3]]",
        "[[2, -1], [0.5, 3]]",
        "[[2 -1] [0.5 3]]",
        "((2, -1), (0.5, 3))",
        "[2 -1; 0.5 3]",
        "[2, -1; 0.5, 3]",
        "2 -1; 0.5 3",
        "[2, -1],\n[0.5, 3]",
        "[2 -1]\n[0.5 3]",
        r"\begin{bmatrix} 2 & -1 \\ 0.5 & 3 \end{bmatrix}",
        r"\begin{pmatrix} 2 & -1 \\ 0.5 & 3 \end{pmatrix}",
        r"\begin{vmatrix} 2 & -1 \\ 0.5 & 3 \end{vmatrix}",
        r"\begin{matrix} 2 & -1 \\ 0.5 & 3 \\ \end{matrix}",
        r"\left[\begin{array}{cc} 2 & -1 \\ 0.5 & 3 \end{array}\right]",
        r"$$\begin{bmatrix} 2 & -1 \\ \frac{1}{2} & 3 \end{bmatrix}$$",
        r"Y = \begin{bmatrix} 2 & -1 \\ 0.5 & 3 \end{bmatrix}",
        "Y = [[2, -1], [0.5, 3]]",
        "tensor([[ 2.0000, -1.0000],\n        [ 0.5000,  3.0000]], dtype=torch.float64)",
        "array([[ 2. , -1. ],\n       [ 0.5,  3. ]])",
        "[[ 2.  -1. ]\n [ 0.5  3. ]]",
        "[2 0.5; -1 3]^T",
        "2 \u22121\n0.5 3",  # unicode minus starts an entry like '-' 
        np.array(ASYM),
        torch.tensor(ASYM),
    ],
)
def test_matrix_syntaxes(raw):
    value = M22.parse(raw)
    assert value.dtype == np.float64 and value.shape == (2, 2)
    np.testing.assert_array_equal(value, ASYM)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1.2 \\times 10^{-3}  2", [[0.0012, 2.0]]),
        ("1.2×10^-3, 2", [[0.0012, 2.0]]),
        ("(5*5*1 + 1)*6  2", [[156.0, 2.0]]),
        ("2 - 1  3", [[1.0, 3.0]]),  # spaced binary minus: one entry
        ("2 -1  3", [[2.0, -1.0, 3.0]]),  # a sign glued to a number starts an entry
        ("- 1  2", [[-1.0, 2.0]]),
        ("2 * 3  4", [[6.0, 4.0]]),
        ("sqrt(4) 3/4", [[2.0, 0.75]]),
        ("log(1)  exp(0)", [[0.0, 1.0]]),
        ("61,706 2", None),  # commas separate entries: '706 2' is not a number
        ('["61,706", "2"]', None),
        (["61,706", "2"], [[61706.0, 2.0]]),  # native strings: one entry each, thousands allowed
    ],
)
def test_entries_may_be_any_number_form(raw, expected):
    kind = Matrix(1, len(expected[0])) if expected else Matrix(1, 2)
    if expected is None:
        with pytest.raises(InvalidAnswer):
            kind.parse(raw)
        return
    np.testing.assert_allclose(kind.parse(raw), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "raw",
    [
        [2, -1, 0.5],
        ["2", "-1", "0.5"],
        [[2], [-1], [0.5]],
        [[2, -1, 0.5]],
        "[2, -1, 0.5]",
        "(2, -1, 0.5)",
        "[2 -1 0.5]",
        "2 -1 0.5",
        "2, -1, 0.5",
        "2\n-1\n0.5",
        "[2; -1; 0.5]",
        "[2, -1, 0.5]^T",
        r"\begin{bmatrix} 2 \\ -1 \\ 0.5 \end{bmatrix}",
        r"\begin{pmatrix} 2 & -1 & 1/2 \end{pmatrix}",
        "h = [2, -1, 0.5]",
        "tensor([ 2.0000, -1.0000,  0.5000])",
        torch.tensor([2.0, -1.0, 0.5]),
    ],
)
def test_vector_as_row_or_column(raw):
    value = V3.parse(raw)
    assert value.shape == (3,)
    np.testing.assert_array_equal(value, [2.0, -1.0, 0.5])


def test_matrix_column_from_flat_list_when_part_is_a_column():
    col = Matrix(3, 1)
    assert col.parse([1, 2, 3]).shape == (3, 1)
    assert Matrix(1, 3).parse([1, 2, 3]).shape == (1, 3)
    assert col.parse("1\n2\n3").shape == (3, 1)


@pytest.mark.parametrize(
    "raw, fragments",
    [
        ("1 2 3 4\n1 2 3 4\n1 2 3\n1 2 3 4", ["row 3 has 3 entries, the others 4"]),
        ("1 2\n3", ["row 2 has 1 entry, row 1 has 2"]),
        ("1 2\n3 x1", ["entry 'x1' in row 2, column 2 is not a number"]),
        ("1,5 2,5", ["not a number", "decimal comma"]),
        ("", ["no entries"]),
        ("[1,,2]", ["empty entry"]),
        ("[[1, 2], [3, 4]", ["never closed"]),
        ([[1, 2], [3, "four"]], ["'four'", "row 2, column 2"]),
        ([1, [2, 3]], ["mixes numbers and lists"]),
        ([[[1, 2]], [[3, 4]]], ["nested too deeply"]),
        ("[[[1, 2]], [[3, 4]]]", ["two levels of brackets"]),
        (r"\begin{bmatrix} 1 & 2 \\ 3 & 4", ["LaTeX environment"]),
        (r"2 \begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}", ["unexpected text '2'"]),
        (True, ["true/false"]),
        ({"a": 1}, ["table"]),
        ([], ["empty"]),
    ],
)
def test_rejected_tables_say_where(raw, fragments):
    with pytest.raises(InvalidAnswer) as info:
        M22.parse(raw)
    message = info.value.feedback()
    for fragment in fragments:
        assert fragment in message
    assert "An accepted form" in message


def test_size_caps_are_checked_before_work():
    with pytest.raises(TooComplex):
        M22.parse("1 " * 10_001)
    with pytest.raises(TooComplex):
        M22.parse([[1] * 101] * 100)
    with pytest.raises(TooComplex):
        M22.parse(" " * 100_001 + "1")
    assert Matrix(100, 100).parse([[1] * 100] * 100).shape == (100, 100)  # exactly at the cap


def test_shape_mismatch_is_reported_as_such():
    m = Matrix(4, 4).compare(M22.parse("1 2\n3 4"), np.zeros((4, 4)))
    assert m.fraction == 0 and m.feedback == "Expected a 4×4 matrix, got 2×2."
    v = V3.compare(V3.parse("1 2 3 4"), np.zeros(3))
    assert v.fraction == 0 and "3 entries" in v.feedback and "got 4" in v.feedback
    v2 = V3.compare(V3.parse("1 2\n3 4"), np.zeros(3))
    assert "2×2" in v2.feedback


def test_per_entry_fraction_and_first_wrong_entry():
    kind = Matrix(4, 4, per_entry=True)
    truth = np.arange(16, dtype=float).reshape(4, 4) - 5
    answer = truth.copy()
    answer[1, 2] += 1  # row 2, column 3 for students
    answer[3, 0] += 1
    answer[3, 3] = -answer[3, 3]
    m = kind.compare(answer, truth)
    assert m.fraction == pytest.approx(13 / 16)
    assert m.feedback.startswith("13 of 16 entries correct; first wrong entry at row 2, column 3")
    assert "0.5%" in m.feedback


def test_all_or_nothing_still_counts_matches():
    truth = np.array(SQUARE)
    answer = truth.copy()
    answer[0, 1] = 7
    m = M22.compare(answer, truth)
    assert m.fraction == 0
    assert "3 of 4 entries correct" in m.feedback and "row 1, column 2" in m.feedback


def test_entries_use_the_number_tolerance():
    truth = np.array([100.0, -2.0, 0.0])
    assert V3.compare(np.array([100.5, -2.01, 5e-10]), truth).full
    m = Vector(3, per_entry=True).compare(np.array([100.6, -2.0, 0.0]), truth)
    assert m.fraction == pytest.approx(2 / 3) and "position 1" in m.feedback
    assert not V3.compare(np.array([np.nan, -2.0, 0.0]), truth).full


@pytest.mark.parametrize(
    "value, shape",
    [
        (torch.tensor(SQUARE), (2, 2)),
        (torch.tensor([[SQUARE]]), (2, 2)),  # conv2d output with batch and channel axes
        (np.array(SQUARE, dtype=np.float32), (2, 2)),
        (SQUARE, (2, 2)),
    ],
)
def test_matrix_normalise(value, shape):
    out = M22.normalise(value)
    assert out.dtype == np.float64 and out.shape == shape
    np.testing.assert_array_equal(out, SQUARE)


def test_vector_normalise():
    np.testing.assert_array_equal(V3.normalise(torch.tensor([[1.0], [2.0], [3.0]])), [1, 2, 3])
    with pytest.raises(ValueError):
        V3.normalise(torch.zeros(2, 3))


@pytest.mark.parametrize("kind, value", [(M22, np.array(ASYM)), (V3, np.array([0.1, -2.5, 1e-7]))])
def test_encode_round_trip_and_canonical_reparses(kind, value):
    data = json.loads(json.dumps(kind.encode(value)))
    back = kind.decode(data)
    np.testing.assert_array_equal(back, value)
    assert kind.compare(kind.parse(kind.canonical(value)), value).full


def test_canonical_and_describe():
    assert M22.canonical(np.array(ASYM)) == "[[2, -1], [0.5, 3]]"
    assert V3.canonical(np.array([2.0, -1.0, 0.5])) == "[2, -1, 0.5]"
    assert Matrix(4, 16).describe() == "a 4×16 matrix"
    assert V3.describe() == "a vector of 3 numbers"


@pytest.mark.parametrize("kind", [Matrix(2, 3), Matrix(4, 16), Vector(5), Vector(1)])
def test_examples_parse_to_the_declared_shape(kind):
    want = (kind.rows, kind.cols) if isinstance(kind, Matrix) else (kind.length,)
    for example in kind.examples:
        assert kind.parse(example).shape == want
