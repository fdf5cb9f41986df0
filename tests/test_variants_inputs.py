"""Declared inputs: what a draw can give, the printed value, exact JSON, and how a sheet shows it."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from grader.variants import Generator, Integer, IntMatrix, IntVector, OneOf, Rational, RationalVector
from grader.variants.inputs import decimal_text, encode_number, number_text, rational


def test_integers_honour_range_and_step():
    spec = Integer(5, 50, step=5, printed=20)
    g = Generator(11)
    draws = {spec.draw(g) for _ in range(300)}
    assert draws == set(range(5, 51, 5))
    assert spec.admits(20) and not spec.admits(21) and not spec.admits(55) and not spec.admits(True)


@pytest.mark.parametrize("make", [
    lambda: Integer(0, 3, printed=4),
    lambda: Integer(0, 10, step=2, printed=3),
    lambda: IntVector(3, 0, 1, printed=[1, 0]),
    lambda: IntMatrix(2, 2, -1, 1, printed=[[1, 2], [0, 0]]),
    lambda: Rational("0.1", "0.9", denominator=10, printed="0.25"),
    lambda: OneOf(28, 32, printed=30),
])
def test_a_printed_value_the_draw_cannot_give_is_refused(make):
    with pytest.raises(ValueError, match="printed value"):
        make()


def test_tables_are_drawn_entry_by_entry_and_delivered_as_float64_tensors():
    spec = IntMatrix(2, 3, -1, 2, printed=[[0, 1, 2], [-1, 0, 1]])
    value = spec.draw(Generator(5))
    assert len(value) == 2 and all(len(row) == 3 for row in value) and spec.admits(value)
    tensor = spec.deliver(value)
    assert tensor.dtype == torch.float64 and tensor.tolist() == [[float(v) for v in row] for row in value]
    assert spec.decode(spec.encode(value)) == value


def test_rationals_stay_exact_from_draw_to_json_and_back():
    spec = RationalVector(3, "0.1", "0.9", denominator=10, printed=["0.2", "0.5", "0.1"])
    assert spec.printed == [Fraction(1, 5), Fraction(1, 2), Fraction(1, 10)]
    assert spec.encode(spec.printed) == ["0.2", "0.5", "0.1"]
    assert spec.decode(["0.2", "1/2", "0.1"]) == spec.printed
    assert spec.deliver(spec.printed).tolist() == [0.2, 0.5, 0.1]  # the doubles of the decimals
    thirds = Rational(-1, 1, denominator=3, printed="1/3")
    assert thirds.encode(Fraction(-2, 3)) == "-2/3" and thirds.decode("-2/3") == Fraction(-2, 3)
    assert thirds.deliver(Fraction(1, 3)) == 1 / 3


def test_numbers_as_json_and_as_text():
    assert encode_number(3) == 3 and encode_number(Fraction(-1, 4)) == "-0.25" and encode_number(Fraction(1, 3)) == "1/3"
    assert decimal_text(Fraction(123, 1000)) == "0.123" and decimal_text(Fraction(1, 7)) is None
    assert number_text(-1) == "\u22121" and number_text(-1, "-") == "-1" and number_text(Fraction(5, 2)) == "2.5"
    assert rational(0.2) == Fraction(1, 5) and rational("3/4") == Fraction(3, 4)
    with pytest.raises(TypeError):
        rational(True)


def test_how_a_prompt_shows_each_input():
    assert Integer(-2, 2, printed=-1).show(-1) == "\u22121"
    assert IntVector(3, 0, 3, printed=[1, 0, 0]).show([1, 0, 0]) == "[1, 0, 0]"
    assert IntVector(3, 0, 3, printed=[1, 0, 0]).show([1, 0, 0], "()") == "(1, 0, 0)"
    y_hat = RationalVector(3, "0.1", "0.9", denominator=10, printed=["0.2", "0.5", "0.1"])
    assert y_hat.show(y_hat.printed, "()") == "(0.2, 0.5, 0.1)"
    matrix = IntMatrix(2, 2, -10, 10, printed=[[1, -10], [0, 3]])
    assert matrix.block(matrix.printed) == "  1 -10\n  0   3"
    assert OneOf((48, 64), (32, 32), printed=(48, 64)).show((48, 64)) == "(48, 64)"


def test_choices_decode_from_json_to_the_option_itself():
    spec = OneOf((48, 64, 10), (32, 32, 3), printed=(48, 64, 10))
    assert spec.encode((32, 32, 3)) == [32, 32, 3] and spec.decode([32, 32, 3]) == (32, 32, 3)
    assert {spec.draw(Generator(s)) for s in range(40)} == {(48, 64, 10), (32, 32, 3)}
    with pytest.raises(ValueError):
        spec.decode([1, 2, 3])
    assert OneOf(1, 2, printed=1).decode(2) == 2 and not OneOf(1, 2, printed=1).admits(True)


def test_describe_says_what_a_draw_ranges_over():
    assert Integer(0, 50, step=5, printed=5).describe() == "an integer from 0 to 50 in steps of 5"
    assert IntMatrix(4, 4, -1, 2, printed=[[0] * 4] * 4).describe() == "a 4×4 matrix, each entry an integer from -1 to 2"
    assert RationalVector(3, "0.1", "0.9", denominator=10, printed=["0.1"] * 3).describe() == (
        "a vector of 3, each a multiple of 1/10 from 0.1 to 0.9")
    assert OneOf(3, 5, printed=3).describe() == "one of 3, 5"
