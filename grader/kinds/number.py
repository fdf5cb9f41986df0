"""A real number checked within a tolerance.

A `number` part accepts |answer − reference| ≤ rel_tol·|reference| + abs_tol
(`grader.kinds.tolerance`). The default 0.5% means any answer correct to three significant
figures passes, so nobody loses marks for rounding alone; when an answer misses, the feedback
states the tolerance (never the reference itself, which students would then copy).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from grader.kinds.base import Kind, Match
from grader.kinds.tolerance import fmt_percent, tolerance_phrase, within
from grader.kinds.values import scalar_of
from grader.parsing.numbers import float_value, fmt_number, read_number


class Number(Kind):
    """A real number, e.g. a loss or an activation; tensors from references become floats."""

    name = "number"
    # Neutral values (no part's answer): examples are shown to students, in hints and templates.
    examples = ("0.25", "2.5e-1", "-log(0.3)/7", "1.2×10^-3")

    def __init__(self, rel_tol: float = 0.005, abs_tol: float = 1e-9) -> None:
        if rel_tol < 0 or abs_tol < 0:
            raise ValueError("tolerances must be non-negative")
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol

    def parse(self, raw: Any) -> float:
        return float_value(read_number(raw))

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

    def forms(self, value: Any) -> list[Any]:
        r = float(value)
        forms: list[Any] = [repr(r), r, f"{r:.3g}", f"{r:.6e}"]
        if r != 0 and np.isfinite(r):
            exp = int(np.floor(np.log10(abs(r))))
            mant = r / 10**exp
            forms += [f"{mant:.6f}×10^{exp}", f"{mant:.6f} \\times 10^{{{exp}}}", f"{mant:.6f}*10**{exp}"]
        if r < 0:
            forms.append("\u2212" + repr(-r))
        return forms

    def describe(self) -> str:
        return f"a number (within {fmt_percent(self.rel_tol)})" if self.rel_tol else "a number"
