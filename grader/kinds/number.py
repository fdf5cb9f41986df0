"""A real number checked within a tolerance, and the number reading every numeric kind shares.

A `number` part accepts |answer − reference| ≤ rel_tol·|reference| + abs_tol. The default
0.5% means any answer correct to three significant figures passes, so nobody loses marks
for rounding alone; when an answer misses, the feedback states the tolerance (never the
reference itself, which students would then copy).
"""

from __future__ import annotations

import decimal
import math
import numbers
from fractions import Fraction
from typing import Any

import numpy as np

from grader.errors import InvalidAnswer
from grader.kinds._split import check_length
from grader.kinds.base import Kind, Match
from grader.parsing import parse_number

NUMBER_TEXT_LIMIT = 10_000
NUMBER_EXAMPLE = "0.25"

Scalar = int | Fraction | float

# Float comparisons at exactly the tolerance edge (0.5% of 100 is 0.5) must not fail on the
# last bit of rounding, so the allowed error gets a few ulps of slack.
_EDGE_SLACK = 1e-12


def describe_native(raw: Any) -> str:
    """What kind of native value a student gave, for messages."""
    if isinstance(raw, bool):
        return "true/false"
    if isinstance(raw, (list, tuple)):
        return f"a list of {len(raw)} item{'s' if len(raw) != 1 else ''}"
    if isinstance(raw, dict):
        return "a table"
    return type(raw).__name__


def read_number(raw: Any, example: str = NUMBER_EXAMPLE) -> Scalar:
    """One number from a native value or a string (via `parse_number`); always finite."""
    if isinstance(raw, bool):
        raise InvalidAnswer("true/false is not a number", expected="a number", example=example)
    if isinstance(raw, (int, Fraction)):
        value: Scalar = raw
    elif isinstance(raw, numbers.Integral):
        value = int(raw)
    elif isinstance(raw, numbers.Real):
        value = float(raw)
    elif isinstance(raw, str):
        check_length(raw, NUMBER_TEXT_LIMIT, "number", example)
        if not raw.strip():
            raise InvalidAnswer("the answer is empty", expected="a number", example=example)
        value = parse_number(raw)
    else:
        raise InvalidAnswer(f"expected a single number, got {describe_native(raw)}", example=example)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidAnswer(f"{value} is not a finite number", expected="a finite number", example=example)
    return value


def to_float(value: Scalar) -> float:
    """A float, refusing values beyond float range with a message instead of an OverflowError."""
    try:
        out = float(value)
    except OverflowError:
        raise InvalidAnswer("the number is too large to check", example=NUMBER_EXAMPLE) from None
    if not math.isfinite(out):
        raise InvalidAnswer("the number is too large to check", example=NUMBER_EXAMPLE)
    return out


def scalar_of(value: Any) -> Any:
    """A reference function's single value (0-d tensor, 1-element array, numpy scalar) as Python."""
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"expected a single value, got an array of shape {value.shape}")
        value = value.reshape(()).item()
    if isinstance(value, np.generic):
        value = value.item()
    return value


def _approx(x: int | Fraction, digits: int) -> str:
    """`digits` significant figures of an exact value too long to show in full."""
    ctx = decimal.Context(prec=digits, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    text = str(ctx.divide(decimal.Decimal(x.numerator), decimal.Decimal(x.denominator)))
    if "E" in text:  # 1.000000000E+300 -> 1e+300
        mantissa, exponent = text.split("E")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        text = f"{mantissa}e{exponent}"
    return text


def fmt_number(x: Any, digits: int = 6) -> str:
    """A short readable number: integers without `.0`, others to `digits` significant figures.

    Exact values stay exact while short (`13/3`, a 30-digit integer); longer ones are rounded,
    so the text always reads back through `parse_number`.
    """
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, Fraction) and x.denominator == 1:
        x = x.numerator
    if isinstance(x, int):
        return str(x) if x.bit_length() <= 128 else _approx(x, max(digits, 10))
    if isinstance(x, Fraction):
        d = x.denominator
        for p in (2, 5):
            while d % p == 0:
                d //= p
        if d != 1 and x.numerator.bit_length() + x.denominator.bit_length() <= 64:
            return f"{x.numerator}/{x.denominator}"  # not a terminating decimal: show it exactly
        return _approx(x, digits)
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return format(x, f".{digits}g")


def fmt_percent(rel_tol: float) -> str:
    return f"{rel_tol * 100:g}%"


def within(answer: Any, target: Any, rel_tol: float, abs_tol: float) -> Any:
    """|a − t| ≤ rel_tol·|t| + abs_tol, element-wise for arrays; NaN and ∞ never agree."""
    a = np.asarray(answer, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        allowed = (rel_tol * np.abs(t) + abs_tol) * (1 + _EDGE_SLACK)
        ok = np.abs(a - t) <= allowed
    return ok & np.isfinite(a) & np.isfinite(t)


def tolerance_phrase(rel_tol: float, abs_tol: float) -> str:
    if rel_tol > 0:
        return f"accepted within {fmt_percent(rel_tol)} of the reference"
    return f"accepted within ±{fmt_number(abs_tol)} of the reference"


class Number(Kind):
    """A real number, e.g. a loss or an activation; tensors from references become floats."""

    name = "number"
    examples = ("0.25", "2.5e-1", "-1/2*(log(0.8)+log(0.4))", "1.2×10^-3")

    def __init__(self, rel_tol: float = 0.005, abs_tol: float = 1e-9) -> None:
        if rel_tol < 0 or abs_tol < 0:
            raise ValueError("tolerances must be non-negative")
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol

    def parse(self, raw: Any) -> float:
        return to_float(read_number(raw))

    def compare(self, answer: Any, target: Any) -> Match:
        if bool(within(answer, target, self.rel_tol, self.abs_tol)):
            return Match(1.0)
        return Match(
            0.0,
            f"Your answer was read as {fmt_number(answer)}; answers are "
            f"{tolerance_phrase(self.rel_tol, self.abs_tol)}.",
        )

    def normalise(self, value: Any) -> float:
        value = scalar_of(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"a number part's reference must be a real number, got {value!r}")
        return float(value)

    def canonical(self, value: Any) -> str:
        return fmt_number(value, 10)

    def encode(self, value: Any) -> float:
        return float(value)

    def decode(self, data: Any) -> float:
        return float(data)

    def describe(self) -> str:
        return f"a number (within {fmt_percent(self.rel_tol)})" if self.rel_tol else "a number"
