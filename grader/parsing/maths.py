"""Numeric implementations behind the vocabulary's functions: exact scalars and float64 arrays.

Exact scalars are ``int``/``Fraction`` where the value stays exact (``sqrt(9/4)``, ``relu``,
``floor``), ``float`` otherwise; a domain error is :class:`InvalidAnswer` and an overflow
:class:`TooComplex`, never a Python exception.  Array versions follow numpy: NaN/inf propagate
and the caller decides what a non-finite value means.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import reduce
from typing import Union

import numpy as np

from grader.errors import InvalidAnswer, TooComplex

Exact = Union[int, Fraction, float]


def too_large(what: str = "the value") -> TooComplex:
    return TooComplex(f"{what} is too large to compute", expected="a value below about 1e308",
                      example="1.2e-3")


def to_float(v: Exact) -> float:
    """``float(v)``, with an overflow (or an infinite result) as ``TooComplex``."""
    try:
        f = float(v)
    except OverflowError:
        raise too_large() from None
    if math.isinf(f):
        raise too_large()
    return f


def _exact_at_zero(fn, v: Exact) -> Exact | None:
    """`fn(0)` exactly when `v` is an exact 0 and the value there is rational (exp(0) is 1,
    sin(0) is 0): a whole-number part must not refuse exp(0) as merely approximate."""
    if v == 0 and not isinstance(v, float):
        at = Fraction(fn(0.0))
        return at.numerator if at.denominator == 1 else at
    return None


def exp(v: Exact) -> Exact:
    if (at := _exact_at_zero(math.exp, v)) is not None:
        return at
    try:
        return math.exp(to_float(v))
    except OverflowError:
        raise too_large("exp(...)") from None


def log(v: Exact) -> Exact:
    if v == 1 and not isinstance(v, float):
        return 0
    if v <= 0:
        raise InvalidAnswer("logarithm of a number that is not positive",
                            expected="a positive argument to log", example="log(0.2)")
    if isinstance(v, Fraction):
        return math.log(v.numerator) - math.log(v.denominator)
    return math.log(v)


def sqrt(v: Exact) -> Exact:
    """Exact for perfect squares of fractions (``sqrt(9/4)`` is ``3/2``), float otherwise."""
    if v < 0:
        raise InvalidAnswer("square root of a negative number", expected="a non-negative argument")
    if not isinstance(v, float):
        fr = Fraction(v)
        n, d = math.isqrt(fr.numerator), math.isqrt(fr.denominator)
        if n * n == fr.numerator and d * d == fr.denominator:
            return Fraction(n, d)
    return math.sqrt(to_float(v))


def sigmoid(v: Exact) -> Exact:
    """The logistic function, without overflow for large negative arguments."""
    if v == 0 and not isinstance(v, float):
        return Fraction(1, 2)
    x = to_float(v)
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    ex = math.exp(x)
    return ex / (1.0 + ex)


def float_of(fn):
    """A one-argument ``math`` function made safe for exact arguments past float range."""
    def value(v: Exact) -> Exact:
        at = _exact_at_zero(fn, v)
        return at if at is not None else fn(to_float(v))
    return value


def reciprocal_of(fn):
    """``1/fn(v)`` (sec, csc, cot), with a zero denominator as a domain error."""
    def value(v: Exact) -> Exact:
        d = fn(to_float(v))
        if d == 0:
            raise InvalidAnswer("division by zero", expected="an argument where the function is defined")
        return 1.0 / d
    return value


def sigmoid_array(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def fold_arrays(fn):
    """A variadic array function from a binary one: ``max(a, b, c)`` is ``fn(fn(a, b), c)``."""
    return lambda *args: reduce(fn, args)
