"""Formulas over tensors and indices (`index-expr`), checked against autograd, never as text.

The part declares the tensors a student may use (name -> number of indices), the free
indices, scalar symbols and how the sheet numbers indices (base 0 or 1). The reference is a
`Sample` of several independent random draws: the tensors, and the true quantity (from
autograd on the real layer) for every free-index tuple. The student's formula is evaluated
for all tuples at once (`IndexEvaluator`) and must agree everywhere, in every draw.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from grader.errors import InvalidAnswer
from grader.kinds.base import Match
from grader.kinds.index_eval import IndexEvaluator
from grader.kinds.sampled import SampledKind, sample_details
from grader.kinds.tolerance import within
from grader.parsing import VOCABULARY, canonical
from grader.parsing.formula import function_table, read_formula
from grader.sampling import Sample

REL_TOL = 1e-6
ABS_TOL = 1e-9


class IndexExpr(SampledKind):
    name = "index-expr"
    examples = (
        "dU[i,j,m]*U[i,j,m]*(1-U[i,j,m])",
        "sum_{i,j} dZ[i,j,m]*X[i+k1,j+k2,n]",
        "\\sum_{k_1,k_2} W[k_1,k_2] x_{i+k_1}",
    )

    def __init__(
        self,
        tensors: Mapping[str, int],
        free: Sequence[str],
        scalars: Sequence[str] = (),
        indices: Sequence[str] = (),
        base: int = 0,
        functions: Sequence[str] | None = None,
    ) -> None:
        self.tensors = dict(tensors)
        self.free = tuple(free)
        self.scalars = tuple(scalars)
        self.indices = tuple(dict.fromkeys([*self.free, *indices]))
        self.base = base
        if functions is None:
            functions = VOCABULARY.allowed_in("index-expr")
        self.functions = function_table(functions, self.scalars)
        self._last: tuple[Any, Mapping[str, np.ndarray], tuple[int, ...], np.ndarray] | None = None

    def describe(self) -> str:
        tensors = ", ".join(f"{t}[{','.join('·' * n)}]" for t, n in self.tensors.items())
        return f"a formula for the entry at ({', '.join(self.free)}) using {tensors}" + (
            f" and {', '.join(self.scalars)}" if self.scalars else ""
        )

    def parse(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            raise InvalidAnswer("expected a formula as text", example=self.examples[0])
        return read_formula(raw, self.scalars, self.functions, indices=self.indices, tensors=self.tensors,
                            elementwise=self.free)

    def canonical(self, value: Any) -> str:
        return canonical(value) if not isinstance(value, Sample) else f"(sampled: {value.n_points} draws)"

    def compare(self, answer: Any, target: Sample) -> Match:
        truth = np.asarray(target.value, dtype=np.float64)
        details = sample_details(target) | {"method": "autograd on random tensors", "draws": target.n_points}
        try:
            values = self._values(answer, target.env, tuple(truth.shape[1:]))
        except InvalidAnswer as exc:
            return Match(0.0, f"The formula could not be evaluated: {exc.feedback()}", details)
        scale = float(np.nanmax(np.abs(truth))) if truth.size else 0.0
        ok = within(values, truth, REL_TOL, ABS_TOL + 1e-7 * scale)
        if ok.all():
            return Match(1.0, f"Agrees with autograd at every index in {target.n_points} random draws.", details)
        return Match(0.0, self.miss_feedback(ok, values, truth), details)

    def _values(self, answer: Any, env: Mapping[str, np.ndarray], sizes: tuple[int, ...]) -> np.ndarray:
        """The formula on every free-index tuple; the last result is kept, since the reference,
        its alternatives and named mistakes share one set of random tensors."""
        last = self._last
        if last is not None and last[1] is env and last[0] == answer and last[2] == sizes:
            return last[3]
        values = IndexEvaluator(env, self.free, sizes, self.base, self.tensors).evaluate(answer)
        self._last = (answer, env, sizes, values)  # holding env keeps the identity test sound
        return values

    def miss_feedback(self, ok: np.ndarray, values: np.ndarray, truth: np.ndarray) -> str:
        where = tuple(int(i) for i in np.argwhere(~ok)[0])
        draw, idx = where[0], where[1:]
        at = ", ".join(f"{n}={i + self.base}" for n, i in zip(self.free, idx)) or "the only entry"
        agree = int(ok[draw].sum())
        mine, true = values[where], truth[where]
        yours = "not a finite number" if not np.isfinite(mine) else f"{mine:.6g}"
        return (
            f"First disagrees at {at} (random draw {draw + 1} of {ok.shape[0]}): your formula gives "
            f"{yours}, autograd gives {true:.6g}. It agrees at {agree} of {ok[draw].size} index values in that draw."
        )
