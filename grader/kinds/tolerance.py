"""The one tolerance rule every numeric comparison uses, and how feedback states it.

An answer `a` agrees with a target `t` when |a − t| ≤ rel_tol·|t| + abs_tol, element-wise for
arrays; NaN and ∞ never agree. Feedback states the tolerance, never the reference itself
(students would copy it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.parsing import fmt_number

# Float comparisons at exactly the tolerance edge (0.5% of 100 is 0.5) must not fail on the
# last bit of rounding, so the allowed error gets a few ulps of slack.
_EDGE_SLACK = 1e-12


def within(answer: Any, target: Any, rel_tol: float, abs_tol: Any) -> Any:
    """|a − t| ≤ rel_tol·|t| + abs_tol, element-wise for arrays; NaN and ∞ never agree."""
    a = np.asarray(answer, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        allowed = (rel_tol * np.abs(t) + abs_tol) * (1 + _EDGE_SLACK)
        ok = np.abs(a - t) <= allowed
    return ok & np.isfinite(a) & np.isfinite(t)


def fmt_percent(rel_tol: float) -> str:
    return f"{rel_tol * 100:g}%"


def tolerance_phrase(rel_tol: float, abs_tol: float) -> str:
    if rel_tol > 0:
        return f"accepted within {fmt_percent(rel_tol)} of the reference"
    return f"accepted within ±{fmt_number(abs_tol)} of the reference"
