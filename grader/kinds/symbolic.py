"""The second method for formula parts: where sampling cannot decide, a proof with sympy.

Sampling can only refute: a formula that agrees at every checked point may still differ
elsewhere (`3V + 1 + 10^6 exp(-(V-4017)^2)`). So an answer that agrees at every point is
compared with the reference's symbolic form, the part's model answer read by the same parser
(`grader key check` shows it agrees with the truth at every point of the pool), as sympy
expressions built from both parse trees (`grader.parsing.symbolic`; never from text). Symbols
carry their domain's assumptions (a count is a positive integer), so `3.0000009V - 3V` is
known to be non-zero. Cheap steps first (the difference as built, expanded, cancelled), then
the difference at checked points in exact arithmetic (a term below float64's resolution there
is still not zero), then `simplify` for small formulas: `equal`, `different` (sympy shows the
difference is non-zero), or None when sympy cannot tell (then the sampling verdict stands).
What neither method sees: a difference that is exactly zero at every checked point and that
sympy cannot simplify (a `floor` that is 1 at one unsampled setting only).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from contextvars import ContextVar
from fractions import Fraction
from typing import Any, Literal, Mapping, Sequence

from grader.parsing.ast import Node, node_count
from grader.parsing.symbolic import Unsupported, plainly_convertible, to_symbolic
from grader.sampling import Count, Domain, Real

Proof = Literal["equal", "different"] | None

#: Formulas larger than this (nodes of both trees) are left to sampling.
PROOF_NODES = 300
#: `simplify` (much dearer than expand/cancel) only below this.
SIMPLIFY_NODES = 80
#: Functions kept opaque in a proof: the same call on both sides cancels (grader.parsing.symbolic).
OPAQUE = frozenset({"floor", "ceil"})
#: Checked points at which an undecided difference is evaluated exactly.
WITNESS_POINTS = 12


#: How sympy's first import is run, when a proof needs it: the part loop sets the part's
#: `setup` hook here (grader.scoring), so the import (about a second) is outside the part's
#: budget, and a run whose proofs all end before sympy (grader.parsing.symbolic's
#: `plainly_convertible`) never imports it.
IMPORT_SETUP: ContextVar[Callable[[Callable[[], Any]], Any] | None] = ContextVar("sympy_import_setup", default=None)


def _import_sympy() -> Any:
    return importlib.import_module("sympy")


def sympy_module() -> Any:
    """sympy, imported on first use (through IMPORT_SETUP when one is set)."""
    setup = IMPORT_SETUP.get()
    if setup is None or "sympy" in sys.modules:
        return _import_sympy()
    return setup(_import_sympy)


def symbols_for(sp: Any, names: list[str], domains: Mapping[str, Domain]) -> dict[str, Any]:
    """A sympy Symbol per name with its domain's assumptions."""
    out: dict[str, Any] = {}
    for name in names:
        dom = domains.get(name)
        if isinstance(dom, Count):
            lo = dom.lo if not callable(dom.lo) else 1  # a bound from other symbols: a valid size, ≥ 1
            out[name] = sp.Symbol(name, integer=True, positive=True) if lo >= 1 else sp.Symbol(name, integer=True, nonnegative=True)
        elif isinstance(dom, Real) and dom.lo > 0:
            out[name] = sp.Symbol(name, positive=True)
        else:
            out[name] = sp.Symbol(name, real=True)
    return out


def _decide(expr: Any) -> Proof:
    if expr == 0:
        return "equal"
    return "different" if expr.is_zero is False else None


def _witness(sp: Any, difference: Any, syms: Mapping[str, Any], points: Sequence[Mapping[str, float]]) -> Proof:
    """"different" when the difference is exactly non-zero at one of the checked points (the
    point's values as exact rationals): a term too small for float64 to see there, such as
    `10^6 exp(-100(V-4017)^2)` at V = 4018, is still not zero. Never "equal"."""
    for point in points[:WITNESS_POINTS]:
        at = difference.xreplace({syms[k]: sp.Rational(Fraction(float(v))) for k, v in point.items() if k in syms})
        if at.free_symbols:
            return None
        if at.is_zero is False:
            return "different"
    return None


def prove(
    answer: Node, reference: Node, names: list[str], domains: Mapping[str, Domain], points: Sequence[Mapping[str, float]] = ()
) -> Proof:
    """Whether `answer` and `reference` are the same function on the symbols' domains; `points`
    (symbol values where sampling agreed) may witness a difference float64 cannot see."""
    size = node_count(answer) + node_count(reference)
    if size > PROOF_NODES:
        return None
    if answer == reference:
        declared = dict.fromkeys(names)
        if plainly_convertible(answer, declared, OPAQUE) and plainly_convertible(reference, declared, OPAQUE):
            return "equal"  # the difference as built is 0, sympy's first step: no need to import it
    sp = sympy_module()
    try:
        syms = symbols_for(sp, names, domains)
        difference = to_symbolic(answer, sp, syms, OPAQUE) - to_symbolic(reference, sp, syms, OPAQUE)
        steps = [lambda e: e, sp.expand, sp.cancel]
        for step in steps:
            difference = step(difference)
            verdict = _decide(difference)
            if verdict is not None:
                return verdict
        # a floor or ceil left over, or max/min/abs: float64 evaluates them exactly at the points
        # already, and simplify seldom proves their identities (the ceil form of a floor size):
        # sampling's verdict stands
        if any(s.name not in syms for s in difference.free_symbols) or difference.has(sp.Max, sp.Min, sp.Abs):
            return None
        if points and _witness(sp, difference, syms, points) == "different":
            return "different"
        if size <= SIMPLIFY_NODES:
            return _decide(sp.simplify(difference))
    except (Unsupported, RecursionError):
        return None
    except Exception:  # sympy cannot tell (a polynomial error, an unsupported case): sampling's verdict stands
        return None
    return None
