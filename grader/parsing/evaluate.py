"""Evaluation of expression trees: exact (int/Fraction, float where needed) and vectorised.

Both evaluators walk the tree with an explicit stack (:func:`ast.fold`), never recursively.
``eval_exact`` keeps integers and fractions exact until a result would exceed
``Limits.max_exact_bits`` bits, then continues in floating point; a float overflow is
``TooComplex``.  ``eval_array`` is plain float64 numpy and lets NaN/inf propagate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from grader.errors import InvalidAnswer
from grader.parsing import maths
from grader.parsing.ast import BinOp, Call, Const, Index, Neg, Node, Num, Sum, Sym, children, fold
from grader.parsing.limits import LIMITS, Limits
from grader.parsing.maths import Exact, to_float, too_large
from grader.parsing.vocabulary import VOCABULARY, Function

_NO_INDICES = "indices are not allowed in this part"


def _normalize(v: Exact) -> Exact:
    if isinstance(v, Fraction) and v.denominator == 1:
        return v.numerator
    return v


def _bits(v: Exact) -> int:
    if isinstance(v, int):
        return abs(v).bit_length()
    if isinstance(v, Fraction):
        return max(abs(v.numerator).bit_length(), v.denominator.bit_length())
    return 0


def _checked(v: Exact, limits: Limits) -> Exact:
    """Finite check for floats; exact values past the bit cap continue as floats."""
    if isinstance(v, float):
        if math.isnan(v):
            raise InvalidAnswer("the expression is not a number (NaN)",
                                expected="a finite real value")
        if math.isinf(v):
            raise too_large()
        return v
    if isinstance(v, complex):  # pragma: no cover - guarded by callers
        raise InvalidAnswer("the expression is not a real number", expected="a real value")
    v = _normalize(v)
    if _bits(v) > limits.max_exact_bits:
        return to_float(v)
    return v


def _exact_power(base: Exact, exp: Exact, limits: Limits) -> Exact:
    if isinstance(exp, Fraction) and exp.denominator == 1:
        exp = exp.numerator
    if isinstance(exp, int) and not isinstance(base, float):
        if base == 0 and exp < 0:
            raise InvalidAnswer("division by zero (0 raised to a negative power)",
                                expected="a non-zero base")
        if base in (0, 1) or exp == 0:
            return 1 if exp == 0 else base
        if base == -1:
            return 1 if exp % 2 == 0 else -1
        # bits of the result ~ |exp| * bits(base): decide before computing anything
        if abs(exp) * _bits(base) <= limits.max_exact_bits:
            return Fraction(base) ** exp
    fb, fe = to_float(base), to_float(exp)
    if fb < 0 and not float(fe).is_integer():
        raise InvalidAnswer("a negative number raised to a fractional power is not a real number",
                            expected="a non-negative base or an integer exponent",
                            example="(-8)^3  or  8^(1/3)")
    if fb == 0 and fe < 0:
        raise InvalidAnswer("division by zero (0 raised to a negative power)",
                            expected="a non-zero base")
    try:
        r = math.pow(fb, fe)
    except OverflowError:
        raise too_large() from None
    except ValueError:
        raise InvalidAnswer("this power is not a real number", expected="a real value") from None
    return r


def _function(func: str, count: int) -> Function:
    """The vocabulary entry a call names (any spelling), its argument count checked."""
    entry = VOCABULARY.function(func)
    if entry is None:
        raise InvalidAnswer(f"the function '{func}' cannot be evaluated here",
                            expected="one of " + ", ".join(f.name for f in VOCABULARY.functions))
    entry.check_arity(func, count)
    return entry


def _exact_up(limits: Limits):
    def up(node: Node, kids: list[Exact], _ctx: object) -> Exact:
        if isinstance(node, Num):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, Fraction, float)):
                raise InvalidAnswer(f"not a number: {v!r}")
            return _checked(v, limits)
        if isinstance(node, Const):
            if node.name not in VOCABULARY.constant_values:
                raise InvalidAnswer(f"unknown constant '{node.name}'")
            return VOCABULARY.constant_values[node.name]
        if isinstance(node, Sym):
            if node.name in VOCABULARY.constant_values:
                return VOCABULARY.constant_values[node.name]
            raise InvalidAnswer(f"'{node.name}' is a symbol; a number is expected here",
                                expected="a number or arithmetic on numbers",
                                example="(2*7 + 3)*5")
        if isinstance(node, (Index, Sum)):
            raise InvalidAnswer(_NO_INDICES, expected="a formula without indices or sums")
        if isinstance(node, Neg):
            return _checked(-kids[0], limits)
        if isinstance(node, BinOp):
            a, b = kids
            op = node.op
            if op == "+":
                return _checked(a + b, limits)
            if op == "-":
                return _checked(a - b, limits)
            if op == "*":
                return _checked(a * b, limits)
            if op == "/":
                if b == 0:
                    raise InvalidAnswer("division by zero", expected="a non-zero divisor")
                if isinstance(a, float) or isinstance(b, float):
                    return _checked(a / b, limits)
                return _checked(Fraction(a) / Fraction(b), limits)
            if op == "^":
                if isinstance(node.a, Const) and node.a.name == "e":
                    return _checked(maths.exp(b), limits)
                return _checked(_exact_power(a, b, limits), limits)
            raise InvalidAnswer(f"unknown operator '{op}'")
        if isinstance(node, Call):
            return _checked(_function(node.func, len(kids)).exact(*kids), limits)
        raise InvalidAnswer(f"not an expression: {type(node).__name__}")

    return up


def eval_exact(node: Node, *, limits: Limits = LIMITS) -> int | Fraction | float:
    """Value of a constant tree: int/Fraction where exact, float for exp/log/sqrt/pi/e/...

    Raises :class:`InvalidAnswer` (division by zero, log of a non-positive number, a symbol,
    NaN) or :class:`TooComplex` (overflow).
    """
    from grader.parsing.parser import guarded

    def run() -> Exact:
        v = fold(node, _exact_up(limits), _no_indices)
        return _normalize(_checked(v, limits))

    return guarded(run)


# --------------------------------------------------------------------------- arrays


def _no_indices(node: Node, ctx: object) -> list[object]:
    """``fold`` down-hook: Index/Sum are refused before their children are looked at."""
    if isinstance(node, (Index, Sum)):
        raise InvalidAnswer(_NO_INDICES, expected="a formula without indices or sums")
    return [ctx] * len(children(node))


def _num_float(v: Exact) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def apply_array_function(func: str, args: list[np.ndarray]) -> np.ndarray:
    """A vocabulary function applied element-wise to arrays (shared by every array evaluator)."""
    return _function(func, len(args)).array(*args)


def _array_up(env: Mapping[str, np.ndarray]):
    def up(node: Node, kids: list[np.ndarray], _ctx: object) -> np.ndarray:
        if isinstance(node, Num):
            return np.float64(_num_float(node.value))
        if isinstance(node, Const):
            return np.float64(VOCABULARY.constant_values.get(node.name, math.nan))
        if isinstance(node, Sym):
            if node.name in env:
                return np.asarray(env[node.name], dtype=np.float64)
            if node.name in VOCABULARY.constant_values:
                return np.float64(VOCABULARY.constant_values[node.name])
            raise InvalidAnswer(f"no value for the symbol '{node.name}'",
                                expected="a symbol this part declares")
        if isinstance(node, (Index, Sum)):
            raise InvalidAnswer(_NO_INDICES, expected="a formula without indices or sums")
        if isinstance(node, Neg):
            return np.negative(kids[0])
        if isinstance(node, BinOp):
            a, b = kids
            op = node.op
            if op == "+":
                return np.add(a, b)
            if op == "-":
                return np.subtract(a, b)
            if op == "*":
                return np.multiply(a, b)
            if op == "/":
                return np.divide(a, b)
            if op == "^":
                if isinstance(node.a, Const) and node.a.name == "e":
                    return np.exp(b)
                return np.power(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
            raise InvalidAnswer(f"unknown operator '{op}'")
        if isinstance(node, Call):
            return apply_array_function(node.func, kids)
        raise InvalidAnswer(f"not an expression: {type(node).__name__}")

    return up


def eval_array(node: Node, env: Mapping[str, np.ndarray]) -> np.ndarray:
    """Vectorised float64 value of ``node``; ``env`` maps every free symbol (``h_i``
    included) to an array whose leading axis is the sample.  NaN/inf propagate.  The result
    is broadcast against the shapes of ``env``'s arrays when they are compatible."""
    from grader.parsing.parser import guarded

    def run() -> np.ndarray:
        with np.errstate(all="ignore"):
            out = np.asarray(fold(node, _array_up(env), _no_indices), dtype=np.float64)
            shapes = [np.shape(v) for v in env.values()]
            try:
                target = np.broadcast_shapes(out.shape, *shapes)
            except ValueError:
                return out
            return np.array(np.broadcast_to(out, target), dtype=np.float64)

    return guarded(run)
