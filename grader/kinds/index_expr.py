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
from grader.parsing.ast import Num, walk
from grader.parsing.formula import function_table, read_formula
from grader.parsing.lexer import fail
from grader.sampling import Sample

REL_TOL = 1e-6
ABS_TOL = 1e-9


def _literals_fit_floats(node: Any, raw: str) -> None:
    """Index formulas are evaluated in float64: a literal past its range (`1e400`, exact when
    parsed) cannot be, so it is unreadable here, as `1e999` is everywhere."""
    for item in walk(node):
        if isinstance(item, Num):
            try:
                float(item.value)
            except OverflowError:
                text = item.text or str(item.value)[:20]
                raise fail(f"the number {text} is too large", raw, max(0, raw.find(text)), too_complex=True,
                           expected="a number below 1e308", example="1.2e-3") from None


class IndexExpr(SampledKind):
    name = "index-expr"

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
        self.examples = self._neutral_examples()  # type: ignore[misc]
        self._last: tuple[Any, Mapping[str, np.ndarray], tuple[int, ...], np.ndarray] | None = None

    def _neutral_examples(self) -> tuple[str, ...]:
        """Forms written with the part's own tensors and indices, with neutral coefficients:
        examples are shown to students, so they are never a part's answer (as the formulas
        of another part once were)."""
        name, arity = next(iter(self.tensors.items()), ("T", 1))
        taken = {*self.indices, *self.tensors, *self.scalars}
        free = list(self.free) or ["i"]
        at = [free[p % len(free)] for p in range(max(arity, 1))]
        s = next((i for i in self.indices if i not in self.free), None) or next(
            n for n in ("k", "q", "r", "p", "k_9") if n not in taken
        )
        summed = at[:-1] + [s]
        return (
            f"3*{name}[{','.join(at)}] - 5",
            f"sum_{{{s}}} {name}[{','.join(summed)}]^2/7",
            rf"\frac{{1}}{{7}} \sum_{{{s}}} {name}_{{{','.join(summed)}}}",
        )

    def describe(self) -> str:
        tensors = ", ".join(f"{t}[{','.join('·' * n)}]" for t, n in self.tensors.items())
        return f"a formula for the entry at ({', '.join(self.free)}) using {tensors}" + (
            f" and {', '.join(self.scalars)}" if self.scalars else ""
        )

    def parse(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            raise InvalidAnswer("expected a formula as text", example=self.examples[0])
        with self.own_example():
            node = read_formula(raw, self.scalars, self.functions, indices=self.indices, tensors=self.tensors,
                                elementwise=self.free)
        _literals_fit_floats(node, raw)
        return node

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
        feedback, reveals = self.miss_feedback(ok, values, truth)
        return Match(0.0, feedback, details, reveals)

    def _values(self, answer: Any, env: Mapping[str, np.ndarray], sizes: tuple[int, ...]) -> np.ndarray:
        """The formula on every free-index tuple; the last result is kept, since the reference,
        its alternatives and named mistakes share one set of random tensors."""
        last = self._last
        if last is not None and last[1] is env and last[0] == answer and last[2] == sizes:
            return last[3]
        values = IndexEvaluator(env, self.free, sizes, self.base, self.tensors).evaluate(answer)
        self._last = (answer, env, sizes, values)  # holding env keeps the identity test sound
        return values

    def miss_feedback(self, ok: np.ndarray, values: np.ndarray, truth: np.ndarray) -> tuple[str, str]:
        """(feedback, reveals): where the formula first disagrees, and the true value there
        (which only the `reference` feedback level shows)."""
        where = tuple(int(i) for i in np.argwhere(~ok)[0])
        draw, idx = where[0], where[1:]
        at = ", ".join(f"{n}={i + self.base}" for n, i in zip(self.free, idx)) or "the only entry"
        agree = int(ok[draw].sum())
        mine, true = values[where], truth[where]
        yours = "not a finite number" if not np.isfinite(mine) else f"{mine:.6g}"
        return (
            f"First disagrees at {at} (random draw {draw + 1} of {ok.shape[0]}): your formula gives "
            f"{yours}, which is not what autograd gives. It agrees at {agree} of {ok[draw].size} index values in that draw.",
            f"Autograd gives {true:.6g} there.",
        )
