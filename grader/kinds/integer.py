"""A whole number (a count of parameters, units, multiplications): exact match only.

Any number form is read (`61,706`, `2.904e5`, `55*55*96`), and the value must be exactly
integral: `2.904e5` is 290400, `6.5` is read but never equals an integer, and a value computed
approximately (`exp(-1000)`, `sqrt(2)^2`) is never exactly whole. Feedback on a miss
says what was read, never the reference.
"""

from __future__ import annotations

import numbers
from fractions import Fraction
from typing import Any

from grader.errors import TooComplex
from grader.kinds.base import Kind, Match
from grader.kinds.values import scalar_of
from grader.parsing.numbers import Scalar, fmt_number, read_number

INT_EXAMPLE = "1234"
INT_DIGITS = 40
INT_MAGNITUDE_LIMIT = 10**INT_DIGITS


def as_exact_int(value: Scalar) -> Scalar:
    """An integral value as `int`; anything else unchanged (compare reports it)."""
    if isinstance(value, int):
        return value
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Int(Kind):
    """An exact integer, e.g. a parameter count."""

    name = "int"
    examples = ("1234", "1,234", "(3*3*1+1)*4", "1.5e3")

    def parse(self, raw: Any) -> Scalar:
        value = read_number(raw, INT_EXAMPLE)
        # Typed text reads exactly (int/Fraction) except through exp, log, sqrt of a non-square,
        # pi...: a float from text is approximate and never counts as a whole number (exp(-1000)
        # is not 0). A native float is a number as written (TOML `6.0`).
        if not (isinstance(raw, str) and isinstance(value, float)):
            value = as_exact_int(value)
        if abs(value) >= INT_MAGNITUDE_LIMIT:  # a bound, and keeps the echo exact and re-readable
            raise TooComplex(
                f"the number has more than {INT_DIGITS} digits",
                expected=f"a whole number of at most {INT_DIGITS} digits",
                example=INT_EXAMPLE,
            )
        return value

    def compare(self, answer: Any, target: Any) -> Match:
        if isinstance(answer, float):
            return Match(0.0, f"Expected a whole number; yours is about {fmt_number(answer)}, computed "
                              "approximately (through exp, log, a root or a constant), so not exactly whole.")
        if not isinstance(answer, int):
            return Match(0.0, f"Expected a whole number; you gave {fmt_number(answer)}.")
        if answer == target:
            return Match(1.0)
        return Match(0.0, f"Your answer was read as {answer}.")

    def normalise(self, value: Any) -> int:
        value = scalar_of(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"an int part's reference must be a whole number, got {value!r}")
        exact = as_exact_int(value if isinstance(value, (int, float, Fraction)) else float(value))
        if not isinstance(exact, int):
            raise ValueError(f"an int part's reference must be a whole number, got {value!r}")
        return exact

    def canonical(self, value: Any) -> str:
        if isinstance(value, float):  # approximate: shown as such, and it reads back
            return "≈" + fmt_number(value, 10)
        return fmt_number(value, 10)

    def encode(self, value: Any) -> int:
        return int(value)

    def decode(self, data: Any) -> int:
        return int(data)

    def forms(self, value: Any) -> list[Any]:
        v = int(value)
        forms: list[Any] = [str(v), v]
        if abs(v) >= 1000:
            forms += [f"{v:,}".replace(",", sep) for sep in (",", " ", "_")]
        if v < 0:
            forms.append("\u2212" + str(-v))
        return forms

    def describe(self) -> str:
        return "a whole number"
