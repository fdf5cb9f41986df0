"""Numbers read and written: ``parse_number`` (typed text), ``read_number`` (text or a native
TOML/JSON value: the front door of every numeric kind and of table entries) and ``fmt_number``
(the short echo every report shows, which reads back through ``parse_number``)."""

from __future__ import annotations

import datetime
import decimal
import math
import numbers
import sys
from fractions import Fraction
from typing import Any

from grader.errors import InvalidAnswer, TooComplex
from grader.parsing.evaluate import eval_exact
from grader.parsing.limits import LIMITS, Limits
from grader.parsing.maths import Exact
from grader.parsing.parser import guarded, parse_number_expr
from grader.parsing.resolve import resolve_names
from grader.parsing.text import check_length, describe_native
from grader.parsing.vocabulary import VOCABULARY

_FLOAT_MAX = Fraction(sys.float_info.max)
_FLOAT_TINY = Fraction(1, 10**300)

NUMBER_TEXT_LIMIT = 10_000
ACCEPTED_NUMBER = "0.25"

Scalar = Exact  # a number answer's value: int or Fraction where exact, else float


def parse_number(text: str, *, limits: Limits = LIMITS) -> int | Fraction | float:
    """Reads an ``int``/``number`` answer: a literal (``61706``, ``61,706``, ``61 706``,
    ``61_706``, ``-6``, ``−6``, ``.5``, ``9.933e-1``, ``1.2×10^-3``) or arithmetic with
    ``+ - * / ^ **``, the vocabulary's number functions (``exp log ln sqrt sigmoid``) and
    constants (``pi e``); ``log`` is natural.

    Returns an int when the value is an exact integer (``6.0`` -> 6, ``12/4`` -> 3), a
    Fraction for other exact values (``3/4``, ``0.9933``), a float otherwise (anything
    through exp/log/sqrt/pi/e, or past the exact-size cap).
    Raises :class:`InvalidAnswer` / ``TooComplex`` for anything unreadable, including a
    decimal comma (``1,5``).
    """

    def run() -> int | Fraction | float:
        node = parse_number_expr(text, limits=limits)
        try:
            resolved = resolve_names(node, symbols=(), functions=VOCABULARY.accepted_in("number"), limits=limits)
        except InvalidAnswer as e:
            if "this part accepts" not in e.message:
                raise
            raise InvalidAnswer(
                e.message.split(";")[0] + "; a number answer accepts digits, + - * / ^ ( ), "
                f"the functions {', '.join(VOCABULARY.allowed_in('number'))} and the constants "
                f"{', '.join(VOCABULARY.constant_names)}",
                position=e.position, expected="a number or arithmetic on numbers",
                example="(5*5*1 + 1)*6") from None
        value = eval_exact(resolved, limits=limits)
        # An exact value past float range cannot be compared or echoed: as "too large" as a
        # float overflow would be.
        if isinstance(value, (int, Fraction)) and abs(value) > _FLOAT_MAX:
            raise TooComplex("the number is too large", expected="a number below 1e308",
                             example="(5*5*1 + 1)*6")
        if value and abs(value) < _FLOAT_TINY:
            raise TooComplex("the number is too small to check (closer to 0 than 1e-300)",
                             expected="0 or a number above 1e-300 in size", example="1.2e-3")
        return value

    return guarded(run)


def read_number(raw: Any, example: str = ACCEPTED_NUMBER) -> Scalar:
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
    elif isinstance(raw, (datetime.date, datetime.time)):
        raise InvalidAnswer(
            f"{raw.isoformat()} was read as a date or time, not a number (TOML and YAML read an "
            "unquoted 2020-01-01 as a date)", expected="a number; put arithmetic in quotes",
            example=example)
    else:
        raise InvalidAnswer(f"expected a single number, got {describe_native(raw)}", example=example)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidAnswer(f"{value} is not a finite number", expected="a finite number", example=example)
    return value


def float_value(value: Scalar) -> float:
    """A float, refusing values beyond float range with a message instead of an OverflowError."""
    try:
        out = float(value)
    except OverflowError:
        raise InvalidAnswer("the number is too large to check", example=ACCEPTED_NUMBER) from None
    if not math.isfinite(out):
        raise InvalidAnswer("the number is too large to check", example=ACCEPTED_NUMBER)
    return out


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
