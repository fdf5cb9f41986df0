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
from typing import Union

import numpy as np

from grader.errors import InvalidAnswer, TooComplex
from grader.parsing.ast import BinOp, Call, Const, Index, Neg, Node, Num, Sum, Sym, children, fold
from grader.parsing.limits import LIMITS, Limits
from grader.parsing.resolve import FUNCTION_ALIASES

Exact = Union[int, Fraction, float]

_CONST = {"pi": math.pi, "e": math.e}

_NO_INDICES = "indices are not allowed in this part"


def _too_large(what: str = "the value") -> TooComplex:
    return TooComplex(f"{what} is too large to compute", expected="a value below about 1e308",
                      example="1.2e-3")


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


def _to_float(v: Exact) -> float:
    try:
        f = float(v)
    except OverflowError:
        raise _too_large() from None
    if math.isinf(f):
        raise _too_large()
    return f


def _checked(v: Exact, limits: Limits) -> Exact:
    """Finite check for floats; exact values past the bit cap continue as floats."""
    if isinstance(v, float):
        if math.isnan(v):
            raise InvalidAnswer("the expression is not a number (NaN)",
                                expected="a finite real value")
        if math.isinf(v):
            raise _too_large()
        return v
    if isinstance(v, complex):  # pragma: no cover - guarded by callers
        raise InvalidAnswer("the expression is not a real number", expected="a real value")
    v = _normalize(v)
    if _bits(v) > limits.max_exact_bits:
        return _to_float(v)
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
    fb, fe = _to_float(base), _to_float(exp)
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
        raise _too_large() from None
    except ValueError:
        raise InvalidAnswer("this power is not a real number", expected="a real value") from None
    return r


def _sqrt(v: Exact) -> Exact:
    if v < 0:
        raise InvalidAnswer("square root of a negative number", expected="a non-negative argument")
    if not isinstance(v, float):
        fr = Fraction(v)
        n, d = math.isqrt(fr.numerator), math.isqrt(fr.denominator)
        if n * n == fr.numerator and d * d == fr.denominator:
            return Fraction(n, d)
    return math.sqrt(_to_float(v))


def _log(v: Exact) -> float:
    if v <= 0:
        raise InvalidAnswer("logarithm of a number that is not positive",
                            expected="a positive argument to log", example="log(0.2)")
    if isinstance(v, Fraction):
        return math.log(v.numerator) - math.log(v.denominator)
    return math.log(v)


def _exp(v: Exact) -> float:
    try:
        return math.exp(_to_float(v))
    except OverflowError:
        raise _too_large("exp(...)") from None


def _sigmoid(v: Exact) -> float:
    x = _to_float(v)
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    ex = math.exp(x)
    return ex / (1.0 + ex)


_EXACT_FUNCS = {
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "sigmoid": _sigmoid,
    "tanh": lambda v: math.tanh(_to_float(v)),
    "relu": lambda v: v if v > 0 else 0,
    "abs": abs,
    "floor": lambda v: math.floor(v),
    "ceil": lambda v: math.ceil(v),
    "sin": lambda v: math.sin(_to_float(v)),
    "cos": lambda v: math.cos(_to_float(v)),
    "tan": lambda v: math.tan(_to_float(v)),
}


def _exact_up(limits: Limits):
    def up(node: Node, kids: list[Exact], _ctx: object) -> Exact:
        if isinstance(node, Num):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, Fraction, float)):
                raise InvalidAnswer(f"not a number: {v!r}")
            return _checked(v, limits)
        if isinstance(node, Const):
            if node.name not in _CONST:
                raise InvalidAnswer(f"unknown constant '{node.name}'")
            return _CONST[node.name]
        if isinstance(node, Sym):
            if node.name in _CONST:
                return _CONST[node.name]
            raise InvalidAnswer(f"'{node.name}' is a symbol; a number is expected here",
                                expected="a number or arithmetic on numbers",
                                example="(5*5*1 + 1)*6")
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
                    return _checked(_exp(b), limits)
                return _checked(_exact_power(a, b, limits), limits)
            raise InvalidAnswer(f"unknown operator '{op}'")
        if isinstance(node, Call):
            name = FUNCTION_ALIASES.get(node.func, node.func)
            if name in ("min", "max"):
                if len(kids) < 2:
                    raise InvalidAnswer(f"{name}(...) takes at least 2 arguments")
                return _checked((min if name == "min" else max)(kids), limits)
            fn = _EXACT_FUNCS.get(name)
            if fn is None:
                raise InvalidAnswer(f"the function '{node.func}' cannot be evaluated here",
                                    expected="one of " + ", ".join(sorted(_EXACT_FUNCS)))
            if len(kids) != 1:
                raise InvalidAnswer(f"{node.func}(...) takes 1 argument, got {len(kids)}",
                                    example=f"{node.func}(2)")
            return _checked(fn(kids[0]), limits)
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


def _sigmoid_array(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


_ARRAY_FUNCS = {
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "sigmoid": _sigmoid_array,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "abs": np.abs,
    "floor": np.floor,
    "ceil": np.ceil,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
}


def _num_float(v: Exact) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def apply_array_function(func: str, args: list[np.ndarray]) -> np.ndarray:
    """A whitelisted function applied element-wise to arrays (shared by every array evaluator)."""
    name = FUNCTION_ALIASES.get(func, func)
    if name in ("min", "max"):
        if len(args) < 2:
            raise InvalidAnswer(f"{name}(...) takes at least 2 arguments")
        f = np.minimum if name == "min" else np.maximum
        acc = args[0]
        for k in args[1:]:
            acc = f(acc, k)
        return acc
    fn = _ARRAY_FUNCS.get(name)
    if fn is None:
        raise InvalidAnswer(f"the function '{func}' cannot be evaluated here",
                            expected="one of " + ", ".join(sorted(_ARRAY_FUNCS)))
    if len(args) != 1:
        raise InvalidAnswer(f"{func}(...) takes 1 argument, got {len(args)}")
    return fn(args[0])


def _array_up(env: Mapping[str, np.ndarray]):
    def up(node: Node, kids: list[np.ndarray], _ctx: object) -> np.ndarray:
        if isinstance(node, Num):
            return np.float64(_num_float(node.value))
        if isinstance(node, Const):
            return np.float64(_CONST.get(node.name, math.nan))
        if isinstance(node, Sym):
            if node.name in env:
                return np.asarray(env[node.name], dtype=np.float64)
            if node.name in _CONST:
                return np.float64(_CONST[node.name])
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
