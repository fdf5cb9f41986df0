"""A scalar formula in declared symbols (`3V + 1`, `-2(y-z)h_i`), checked at sampled points.

Symbols: a mapping name -> `Domain` (how to draw it), or just names (drawn from `Real()`).
Indexed scalar symbols are declared by their canonical text (`"h_i"`); their sample values
may carry trailing axes (h_i of shape (n, 4), scalars (n, 1) or (n,)), and formulas
broadcast over them, aligned on the first (point) axis.

Functions are declared by name, with aliases, as `grader.parsing.formula` reads them; by
default those the vocabulary allows in `expr` (exp, log/ln, sqrt).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from grader.errors import InvalidAnswer
from grader.kinds.base import Match
from grader.kinds.sampled import (
    SampledKind, agree, checked_points, shown, evaluate, pick_miss, point_text, points_phrase, sample_details,
)
from grader.kinds.symbolic import prove
from grader.parsing import VOCABULARY
from grader.parsing import canonical as formula_text
from grader.parsing.formula import function_table, read_formula
from grader.parsing.numbers import fmt_number
from grader.sampling import Domain, Real, Sample, draw

if TYPE_CHECKING:
    from grader.parsing.ast import Node

EXPR_TEXT_LIMIT = 2_000
AGREE_REL = 1e-6
AGREE_ABS = 1e-9


class Expr(SampledKind):
    """A formula in declared symbols, equal to the truth at every sampled point."""

    name = "expr"

    def __init__(
        self,
        symbols: Mapping[str, Domain] | Sequence[str],
        functions: Sequence[str] | Mapping[str, str] | None = None,
        n_points: int = 24,
    ) -> None:
        if isinstance(symbols, str):
            symbols = [symbols]
        self.symbols: dict[str, Domain] = (
            dict(symbols) if isinstance(symbols, Mapping) else {s: Real() for s in symbols}
        )
        if functions is None:
            functions = VOCABULARY.allowed_in("expr")
        self.functions = function_table(functions, self.symbols)
        self.n_points = n_points
        # Formulas of the part's own symbols with neutral coefficients (no part's answer, as
        # `3V + 1` was): examples are shown to students, in hints and templates.
        a = next(iter(self.symbols), "V")
        b = list(self.symbols)[1] if len(self.symbols) > 1 else a
        self.examples = (  # type: ignore[misc]
            f"5{a} - 7",
            f"({a} - 4{b})^2/9" if b != a else f"{a}^2/9",
            rf"\frac{{{a}}}{{9}}",
        )

    def parse(self, raw: Any) -> Node:
        if isinstance(raw, bool):
            raise InvalidAnswer("true/false is not a formula", example=self.examples[0])
        if isinstance(raw, (int, float)):
            raw = repr(raw)
        if not isinstance(raw, str):
            raise InvalidAnswer(f"expected a formula as text, got {type(raw).__name__}", example=self.examples[0])
        if len(raw) > EXPR_TEXT_LIMIT:
            raise InvalidAnswer(
                f"the formula is {len(raw):,} characters long; at most {EXPR_TEXT_LIMIT:,} are read",
                example=self.examples[0],
            )
        with self.own_example():
            return read_formula(raw, list(self.symbols), self.functions)

    def compare(self, answer: Any, target: Any) -> Match:
        checked = checked_points(target, self.canonical(answer))
        sample: Sample = checked.sample
        truth = np.asarray(sample.value, dtype=np.float64)
        details = sample_details(target, checked)
        evaluated = evaluate(answer, sample.env, truth)
        if isinstance(evaluated, str):
            return Match(0.0, f"Your formula could not be evaluated: {evaluated}.", details)
        got, truth = evaluated
        ok = agree(got, truth, sample.meta, AGREE_REL, AGREE_ABS)
        if ok.all():
            return self.agreed(answer, target, sample, details)
        where = pick_miss(ok, sample.env)
        return Match(
            0.0,
            f"At {point_text(sample.env, where, sample.meta.get('index'))}: yours is {shown(got[where], sample.meta)}, which is not the right value.",
            details,
            reveals=f"The right value there is {fmt_number(truth[where])}.",
        )

    def prove(self, answer: Any, reference: Any, points: list[dict[str, float]]) -> Any:
        return prove(answer, reference, list(self.symbols), self.symbols, points)

    def canonical(self, value: Any) -> str:
        if isinstance(value, Sample):
            return f"a formula {points_phrase(value)}"
        return formula_text(value)

    def describe(self) -> str:
        return "a formula in " + ", ".join(self.symbols) if self.symbols else "a formula"

    # -- helpers for problem sets ------------------------------------------------------------
    def draw(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """`n_points` seeded values of every symbol."""
        return draw(rng, self.symbols, self.n_points)

    def sample(self, rng: np.random.Generator, truth: Callable[[dict[str, np.ndarray]], Any]) -> Sample:
        """Draw the symbols and record `truth(env)` there: a reference function in one line."""
        env = self.draw(rng)
        return Sample(env=env, value=np.asarray(truth(env), dtype=np.float64), meta={"method": "sampled points"})
