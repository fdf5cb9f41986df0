"""The second method for formula parts: where sampling cannot decide, a proof with sympy.

Sampling can only refute: a formula that agrees at every checked point may still differ
elsewhere (`3V + 1 + 10^6 exp(-(V-4017)^2)`). So an answer that agrees at every point is
compared with the reference's symbolic form, the part's model answer read by the same parser
(`grader key check` shows it agrees with the truth at every point of the pool), as sympy
expressions built from both parse trees (`grader.parsing.symbolic`; never from text). Symbols
carry their domain's assumptions (a count is a positive integer), so `3.0000009V - 3V` is
known to be non-zero. Cheap steps first (the difference as built, expanded, cancelled), then
`simplify` for small formulas: `equal`, `different` (sympy shows the difference is non-zero),
or None when sympy cannot tell (then the sampling verdict stands).
"""

from __future__ import annotations

import importlib
from typing import Any, Literal, Mapping

from grader.parsing.ast import Node, node_count
from grader.parsing.symbolic import Unsupported, to_symbolic
from grader.sampling import Count, Domain, Real

Proof = Literal["equal", "different"] | None

#: Formulas larger than this (nodes of both trees) are left to sampling.
PROOF_NODES = 300
#: `simplify` (much dearer than expand/cancel) only below this.
SIMPLIFY_NODES = 80


def sympy_module() -> Any:
    """sympy, imported on first use (the part loop imports it outside a part's budget)."""
    return importlib.import_module("sympy")


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


def prove(answer: Node, reference: Node, names: list[str], domains: Mapping[str, Domain]) -> Proof:
    """Whether `answer` and `reference` are the same function on the symbols' domains."""
    size = node_count(answer) + node_count(reference)
    if size > PROOF_NODES:
        return None
    sp = sympy_module()
    try:
        syms = symbols_for(sp, names, domains)
        difference = to_symbolic(answer, sp, syms) - to_symbolic(reference, sp, syms)
        steps = [lambda e: e, sp.expand, sp.cancel] + ([sp.simplify] if size <= SIMPLIFY_NODES else [])
        for step in steps:
            difference = step(difference)
            verdict = _decide(difference)
            if verdict is not None:
                return verdict
    except (Unsupported, RecursionError):
        return None
    except Exception:  # sympy cannot tell (a polynomial error, an unsupported case): sampling's verdict stands
        return None
    return None
