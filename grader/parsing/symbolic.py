"""A formula tree as a sympy expression, built from the grader's own parse tree, never from text.

The caller passes the sympy module in (this package never imports it: sympy is imported only
where a proof is wanted, outside a part's budget) and the symbols to use for each name (with
the assumptions of their domains). Numbers stay exact (`1.0003` is 10003/10000), functions and
constants come from the vocabulary's `sympy` entries. Index and sum nodes have no symbolic
form here: `Unsupported`.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from typing import Any, Mapping

from grader.parsing.ast import BinOp, Call, Const, Index, Neg, Node, Num, Sum, Sym, fold
from grader.parsing.canonical import canonical
from grader.parsing.vocabulary import VOCABULARY


#: A numeric exponent beyond this is left to sampling (`10^(10^9)` would be computed exactly).
MAX_EXPONENT = 64
#: Nor is a power of a number with more bits than this.
MAX_POWER_BITS = 20_000


_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


class Unsupported(ValueError):
    """The tree has a node with no symbolic form (an index, a sum, an unknown name)."""


def to_symbolic(node: Node, sp: Any, symbols: Mapping[str, Any], opaque: frozenset[str] = frozenset()) -> Any:
    """The sympy expression of `node`; `symbols` maps each symbol name to a sympy Symbol.

    A call of a function in `opaque` (`floor`, `ceil`) becomes an integer symbol named by the
    call's canonical text: the same call in two formulas is the same symbol, so it cancels,
    and nothing is claimed of two calls written differently. (sympy's own floor is dear: it
    asks its assumptions about the argument, seconds for a conv size.)"""
    constants = {c.name: c for c in VOCABULARY.constants}
    calls: dict[str, Any] = {}

    def up(n: Node, kids: list[Any], _ctx: object) -> Any:
        if isinstance(n, Num):
            v = n.value
            if isinstance(v, bool):
                raise Unsupported("not a number")
            if isinstance(v, Fraction):
                return sp.Rational(v.numerator, v.denominator)
            if isinstance(v, int):
                return sp.Integer(v)
            return sp.Rational(Fraction(v))  # a float literal, exactly as read
        if isinstance(n, Sym):
            if n.name in symbols:
                return symbols[n.name]
            if n.name in constants:
                return constants[n.name].sympy(sp)
            raise Unsupported(f"no symbol for {n.name!r}")
        if isinstance(n, Const):
            if n.name not in constants:
                raise Unsupported(f"unknown constant {n.name!r}")
            return constants[n.name].sympy(sp)
        if isinstance(n, Neg):
            return -kids[0]
        if isinstance(n, BinOp):
            a, b = kids
            if n.op in _ARITHMETIC:
                return _ARITHMETIC[n.op](a, b)
            if n.op == "^":
                if b.is_number and (_too_large(b) or _huge(a, b)):
                    raise Unsupported("a power too large to expand")  # sympy would compute it exactly
                return sp.exp(b) if isinstance(n.a, Const) and n.a.name == "e" else a**b
            raise Unsupported(f"operator {n.op!r}")
        if isinstance(n, Call):
            entry = VOCABULARY.function(n.func)
            if entry is None:
                raise Unsupported(f"function {n.func!r}")
            if entry.name in opaque:
                text = canonical(n)
                return calls.setdefault(text, sp.Symbol(text, integer=True))
            return entry.sympy(sp, *kids)
        if isinstance(n, (Index, Sum)):
            raise Unsupported("indices and sums have no symbolic form here")
        raise Unsupported(type(n).__name__)

    return fold(node, up)


def plainly_convertible(node: Node, symbols: Mapping[str, Any], opaque: frozenset[str] = frozenset()) -> bool:
    """True only if `to_symbolic` surely builds `node` without sympy evaluating a number it
    could reject or turn into nan (a large power, `tan(pi/2)`): numbers (no booleans, finite
    floats), declared symbols and constants, + - * /, a declared symbol to a literal integer
    power of at most MAX_EXPONENT, and calls of `opaque` functions. False means "ask sympy",
    never "different". Two equal trees passing it are equal as built (`x - x` is 0), so a
    proof needs no sympy (grader.kinds.symbolic)."""
    constants = {c.name for c in VOCABULARY.constants}
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, Num):
            v = n.value
            if isinstance(v, bool) or (isinstance(v, float) and not math.isfinite(v)):
                return False
        elif isinstance(n, Sym):
            if n.name not in symbols and n.name not in constants:
                return False
        elif isinstance(n, Const):
            if n.name not in constants:
                return False
        elif isinstance(n, Neg):
            todo.append(n.x)
        elif isinstance(n, BinOp):
            if n.op == "^":
                b = n.b
                if not (isinstance(n.a, Sym) and n.a.name in symbols and isinstance(b, Num) and type(b.value) is int and abs(b.value) <= MAX_EXPONENT):
                    return False
            elif n.op in _ARITHMETIC:
                todo += (n.a, n.b)
            else:
                return False
        elif isinstance(n, Call):
            entry = VOCABULARY.function(n.func)
            if entry is None or entry.name not in opaque:
                return False
            # an opaque call is one symbol named by its text: its arguments are never built
        else:
            return False
    return True


def _too_large(exponent: Any) -> bool:
    try:
        return not bool(exponent.is_finite) or bool(abs(exponent) > MAX_EXPONENT)
    except TypeError:  # not comparable (complex): leave it to sampling
        return True


def _huge(base: Any, exponent: Any) -> bool:
    """A rational base to a numeric power with more than MAX_POWER_BITS bits: `((2^64)^64)^64`
    keeps every exponent small and still grows past any memory."""
    if not getattr(base, "is_Rational", False):
        return False
    bits = max(int(base.p).bit_length(), int(base.q).bit_length())
    try:
        return bits * float(abs(exponent)) > MAX_POWER_BITS
    except TypeError:
        return True
