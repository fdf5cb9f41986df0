"""parse_number: every number form of answer-format.md, with independently computed values."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from grader.errors import InvalidAnswer, TooComplex
from grader.parsing import parse_number

EXACT = [
    ("61706", 61706),
    ("61,706", 61706),
    ("61 706", 61706),
    ("61_706", 61706),
    ("1,234,567", 1234567),
    ("1 234 567", 1234567),
    ("34,944", 34944),
    ("5133600", 5133600),
    ("5,133,600", 5133600),
    ("-6", -6),
    ("−6", -6),
    ("  -6  ", -6),
    ("+6", 6),
    ("6.0", 6),
    ("2e3", 2000),
    ("0.9933", Fraction(9933, 10000)),
    (".5", Fraction(1, 2)),
    ("9.933e-1", Fraction(9933, 10000)),
    ("9.933E-1", Fraction(9933, 10000)),
    ("1.2×10^-3", Fraction(12, 10) / 1000),
    ("1.2 \\times 10^{-3}", Fraction(12, 10) / 1000),
    ("1.2*10**-3", Fraction(12, 10) / 1000),
    ("1.2·10^(-3)", Fraction(12, 10) / 1000),
    ("1.2 \\cdot 10^{-3}", Fraction(12, 10) / 1000),
    ("10⁻³", Fraction(1, 1000)),
    ("3/4", Fraction(3, 4)),
    ("\\frac{3}{4}", Fraction(3, 4)),
    ("\\frac34", Fraction(3, 4)),
    ("12/4", 3),
    ("(5*5*1+1)*6", (5 * 5 * 1 + 1) * 6),
    ("55*55*96", 55 * 55 * 96),
    ("55 × 55 × 96", 55 * 55 * 96),
    ("3×224×224", 3 * 224 * 224),
    ("46·62·20·3·3·10", 46 * 62 * 20 * 3 * 3 * 10),
    ("(11*11*3+1)*96", (11 * 11 * 3 + 1) * 96),
    ("2^10", 1024),
    ("2**10", 1024),
    ("2^-2", Fraction(1, 4)),
    ("-2^2", -4),
    ("(-2)^2", 4),
    ("2^3^2", 2 ** 9),
    ("0.1+0.2", Fraction(3, 10)),
    ("1,234.5", Fraction(24690, 20)),
    ("sqrt(16)", 4),
    ("\\sqrt{\\frac{9}{4}}", Fraction(3, 2)),
    ("- - 6", 6),
    ("$61706$", 61706),
    ("x = 61706", 61706),
    ("2^100", 2 ** 100),
]


@pytest.mark.parametrize("text,expected", EXACT)
def test_exact_values(text, expected):
    value = parse_number(text)
    assert value == expected
    assert type(value) is type(expected), (text, value)


FLOATS = [
    ("-1/3*(log(0.2)+log(0.5)+log(0.9))", -(math.log(0.2) + math.log(0.5) + math.log(0.9)) / 3),
    ("log(1 + exp(5))", math.log(1 + math.exp(5))),
    ("ln(2)", math.log(2)),
    ("\\ln 2", math.log(2)),
    ("\\log(2)", math.log(2)),
    ("exp(-1)", math.exp(-1)),
    ("e^2", math.exp(2)),
    ("e^{-0.5}", math.exp(-0.5)),
    ("e", math.e),
    ("pi", math.pi),
    ("\\pi", math.pi),
    ("π/2", math.pi / 2),
    ("2pi", 2 * math.pi),
    ("sqrt(2)", math.sqrt(2)),
    ("\\sqrt{2}", math.sqrt(2)),
    ("sigmoid(0.5)", 1 / (1 + math.exp(-0.5))),
    ("sigmoid(-800)", 0.0),
    ("2^0.5", 2 ** 0.5),
    ("1e-999999", 0.0),
    ("-log(sigmoid(-5))", -math.log(1 / (1 + math.exp(5)))),
]


@pytest.mark.parametrize("text,expected", FLOATS)
def test_float_values(text, expected):
    value = parse_number(text)
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(
    "text,example",
    [("1,5", "1.5"), ("0,9933", "0.9933"), ("12,50", "12.50"), ("3,14", "3.14")],
)
def test_decimal_comma_is_rejected_with_hint(text, example):
    with pytest.raises(InvalidAnswer) as info:
        parse_number(text)
    err = info.value
    assert "decimal comma" in err.message
    assert "decimal point" in err.message
    assert err.example == example
    assert "column 1" in err.message


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("1,23,456", "thousands grouping"),
        ("1,234 567", "thousands grouping"),
        ("61_70", "underscores"),
        ("2 3", "two numbers side by side"),
        ("12 345 6", "two numbers side by side"),
        ("x", "unknown name 'x'"),
        ("factorial(5)", "unknown function or name 'factorial'"),
        ("1/0", "division by zero"),
        ("log(0)", "logarithm"),
        ("log(-2)", "logarithm"),
        ("sqrt(-1)", "square root of a negative"),
        ("(-8)^(1/3)", "fractional power"),
        ("0^-1", "division by zero"),
        ("", "empty"),
        ("   ", "empty"),
        ("5%", "percentage"),
        ("5!", "factorial"),
        ("max(1,2)", "decimal comma"),
        ("relu(2.5)", "not accepted"),
    ],
)
def test_rejected_numbers(text, fragment):
    with pytest.raises(InvalidAnswer) as info:
        parse_number(text)
    assert fragment in info.value.message


@pytest.mark.parametrize("text", ["9**9**9", "1e999999", "2^2^2^2^2^2", "exp(1000)", "10^1000*10^1000",
                                  "1" * 41, "e^e^e^e"])
def test_too_large_numbers(text):
    with pytest.raises(TooComplex):
        parse_number(text)


def test_non_string_input():
    with pytest.raises(InvalidAnswer):
        parse_number(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidAnswer):
        parse_number(b"5")  # type: ignore[arg-type]
