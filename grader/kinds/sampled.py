"""What formula kinds share: a `Sample` as the target, evaluation at its points, feedback.

A formula is never compared as text. The student's formula is evaluated (vectorised, by
`grader.parsing.eval_array`) at the sampled points of the reference, and agrees only if it
matches the truth at every point; NaN and ∞ never agree. On a miss the feedback shows one
point where the two differ, chosen with the smallest symbol values so it is easy to check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from grader.errors import InvalidAnswer
from grader.kinds.base import Kind, Match
from grader.kinds.tolerance import within
from grader.parsing import eval_array, fmt_number
from grader.parsing.lexer import FORMULA_EXAMPLE
from grader.sampling import Sample, checked_indices


class SampledKind(Kind):
    """A kind whose targets are `Sample`s (the truth at seeded points)."""

    sampled = True

    @contextmanager
    def own_example(self) -> Iterator[None]:
        """An unreadable formula's hint shows this part's example (in its own symbols), not
        the reader's generic one, whose names the part may not declare."""
        try:
            yield
        except InvalidAnswer as exc:
            if exc.example in (None, FORMULA_EXAMPLE) and self.examples:
                exc.example = self.examples[0]
            raise

    def normalise(self, value: Any) -> Sample:
        if not isinstance(value, Sample):
            raise TypeError(f"a {self.name} part's reference must return a grader.sampling.Sample, got {type(value).__name__}")
        env = {k: np.asarray(v, dtype=np.float64) for k, v in value.env.items()}
        truth = np.asarray(value.value, dtype=np.float64)
        if truth.ndim == 0:
            raise ValueError("a Sample's value needs a first axis of points")
        for k, v in env.items():
            if v.ndim == 0 or v.shape[0] != truth.shape[0]:
                raise ValueError(f"sample symbol {k!r} has shape {v.shape}; the value has {truth.shape[0]} points")
        return Sample(env=env, value=truth, meta=dict(value.meta))

    def encode(self, value: Any) -> dict[str, Any]:
        return self.normalise(value).to_json()

    def decode(self, data: Any) -> Sample:
        return Sample.from_json(data)

    def proof(self, answer: Any, target: Sample, checked: Sample | None = None) -> Any:
        """The second method where sampling agreed: sympy's verdict against the reference's
        symbolic form (its model answer, read by this kind), or None (no form, or undecided).
        `checked`: the points sampling agreed at, where an exact difference may show."""
        formula = target.meta.get("formula")
        if not formula:
            return None
        reference = self._reference_form(str(formula))
        if reference is None:
            return None
        return self.prove(answer, reference, point_values(checked) if checked is not None else [])

    def agreed(self, answer: Any, target: Sample, checked: Sample, details: dict[str, Any]) -> Match:
        """The verdict on an answer that agrees at every checked point: right, unless the proof
        shows it differs; `details["method"]` says which method decided."""
        proof = self.proof(answer, target, checked)
        if proof is not None:
            details["method"] = PROVED
        if proof == "different":
            return Match(0.0, DIFFERS.format(n=checked.n_points), details)
        return Match(1.0, "", details)

    def _reference_form(self, text: str) -> Any:
        cache = self.__dict__.setdefault("_forms", {})
        if text not in cache:
            try:
                cache[text] = self.parse(text)
            except InvalidAnswer:  # a model answer this kind cannot read: key check reports it
                cache[text] = None
        return cache[text]

    def prove(self, answer: Any, reference: Any, points: list[dict[str, float]]) -> Any:
        """Kinds with a symbolic form say whether two parsed answers are the same formula."""
        return None

    def with_values(self, reference: Any, values: Any) -> Sample:
        """The reference's points with other true values (a named mistake, an alternative)."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 0 or values.shape[0] != reference.n_points:
            values = np.broadcast_to(values, np.shape(reference.value)).copy()
        # the reference's symbolic form is the reference's only: a mistake is not proved against it
        meta = {k: v for k, v in reference.meta.items() if k != "formula"}
        return Sample(env=reference.env, value=values, meta=meta)


SAMPLED = "sampled points"
PROVED = "sympy"


#: What a student is told when sampling agreed but sympy shows the formula differs.
DIFFERS = (
    "Your formula agrees at all {n} points checked, but it is not the same formula: "
    "sympy shows the two differ at other values of the symbols."
)


def points_phrase(sample: Sample, noun: str = "points") -> str:
    """`checked at 51 of a pool of 99 sampled points`, or `checked at 24 sampled points`."""
    meta = sample.meta
    if meta.get("blocks") and meta.get("block") and meta.get("check"):
        each = int(meta.get("edge", 0)) + int(meta["check"]) * int(meta["block"])
        if each < sample.n_points:
            return f"checked at {each} of a pool of {sample.n_points} sampled {noun}"
    return f"checked at {sample.n_points} sampled {noun}"


def point_values(sample: Sample) -> list[dict[str, float]]:
    """Each point's symbol values as numbers (an indexed symbol such as h_i: its first entry)."""
    return [
        {k: float(np.asarray(v)[p].flat[0]) for k, v in sample.env.items()} for p in range(sample.n_points)
    ]


def shown(value: Any, meta: Mapping[str, Any]) -> str:
    """A formula's value at a point for feedback: where the part's values are integers, with the
    digits that show why it is not one (`136.0000139`, not `136`)."""
    return fmt_number(value, 15 if meta.get("integer") else 6)


def sample_details(sample: Sample, checked: "Checked | None" = None) -> dict[str, Any]:
    """What a verdict says about its points: the method that decided (sampling, unless a proof
    did: `method` is then "sympy"), the key's seed, how many points were checked and, for a
    pooled sample, the pool's size and the answer's own seed that chose the points."""
    details: dict[str, Any] = {
        "method": SAMPLED,
        "seed": sample.meta.get("seed"),
        "n_points": checked.sample.n_points if checked is not None else sample.n_points,
    }
    if checked is not None and checked.seed is not None:
        details["pool"] = sample.n_points
        details["points_seed"] = checked.seed
        truth = sample.meta.get("method", SAMPLED)
        if truth != SAMPLED:  # how the truth at the points was computed
            details["computed_by"] = truth
    return details


@dataclass
class Checked:
    """The points one answer is checked at (`grader.sampling.checked_indices`)."""

    sample: Sample
    seed: int | None


def checked_points(sample: Sample, answer_text: str) -> Checked:
    """Every edge point of a pooled sample, and the blocks the answer's own seed chooses."""
    rows, seed = checked_indices(sample.meta, sample.n_points, answer_text)
    if seed is None:
        return Checked(sample, None)
    return Checked(sample.subset(rows), seed)


def agree(got: np.ndarray, truth: np.ndarray, meta: Mapping[str, Any], rel_tol: float, abs_tol: float) -> np.ndarray:
    """Where a formula's values agree with the truth: within the tolerance, and exactly where
    the part's values are integers (a count at integer points: `3V + 1.0003` is not 3V + 1)."""
    ok = within(got, truth, rel_tol, abs_tol)
    if meta.get("integer"):
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(truth) & (truth == np.round(truth))
        ok = np.where(integral, got == truth, ok)
    return ok


def _pad(a: np.ndarray, ndim: int) -> np.ndarray:
    """Trailing axes of 1 up to `ndim`: aligns arrays on their first (point) axis."""
    return a.reshape(a.shape + (1,) * (ndim - a.ndim)) if a.ndim >= 1 else a


def evaluate(node: Any, env: Mapping[str, np.ndarray], truth: np.ndarray) -> tuple[np.ndarray, np.ndarray] | str:
    """The formula's values and the truth broadcast to one shape, or a message why they cannot be.

    Both are aligned on the first (point) axis: `-2(y-z)` with shape (n,) meets a truth of
    shape (n, 4) for `h_i`, and a formula broadcast over `h_i` meets a truth of shape (n, 1).
    """
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(eval_array(node, dict(env)), dtype=np.float64)
    except InvalidAnswer as exc:
        return exc.message
    truth = np.asarray(truth, dtype=np.float64)
    ndim = max(out.ndim, truth.ndim)
    try:
        shape = np.broadcast_shapes(_pad(out, ndim).shape, _pad(truth, ndim).shape)
    except ValueError:
        return f"the formula has values of shape {out.shape} where {truth.shape} was expected"
    return np.broadcast_to(_pad(out, ndim), shape), np.broadcast_to(_pad(truth, ndim), shape)


def pick_miss(ok: np.ndarray, env: Mapping[str, np.ndarray]) -> tuple[int, ...]:
    """The disagreeing element whose point has the smallest symbol values (easiest to check)."""
    misses = np.argwhere(~ok)
    points = misses[:, 0]
    size = np.zeros(ok.shape[0])
    for v in env.values():
        a = np.abs(np.asarray(v, dtype=np.float64).reshape(ok.shape[0], -1))
        size += np.nan_to_num(a, nan=np.inf).sum(axis=1)
    best = int(np.argmin(size[points]))
    return tuple(int(i) for i in misses[best])


def point_text(
    env: Mapping[str, np.ndarray],
    where: tuple[int, ...],
    index: Mapping[str, Any] | None = None,
    digits: int = 4,
) -> str:
    """`V=7, H=10` or `i=2, y=1, h_i=0.41`: the symbol values at one element of the sample.

    `where` is (point, *trailing); `index` (a Sample's meta["index"], e.g. {"i": [1, 4]})
    names the trailing axes so the element is shown as `i=2`, else as `(entry 2 of 4)`.
    """
    p, rest = where[0], where[1:]
    parts: list[str] = []
    named = bool(rest) and index is not None and len(index) == len(rest)
    if named:
        for (name, bounds), r in zip(index.items(), rest):  # type: ignore[union-attr]
            lo = bounds[0] if isinstance(bounds, (list, tuple)) and bounds else 0
            parts.append(f"{name}={int(lo) + r}")
    for name, arr in env.items():
        at = np.asarray(arr)[p]
        if at.size == 1:
            parts.append(f"{name}={fmt_number(at.reshape(()).item(), digits)}")
        elif at.ndim == len(rest) and all(r < n or n == 1 for r, n in zip(rest, at.shape)):
            element = tuple(min(r, n - 1) for r, n in zip(rest, at.shape))
            text = f"{name}={fmt_number(at[element], digits)}"
            if not named:
                text += f" (entry {int(np.ravel_multi_index(element, at.shape)) + 1} of {at.size})"
            parts.append(text)
        else:
            shown = ", ".join(fmt_number(x, digits) for x in at.ravel()[:8])
            parts.append(f"{name}=[{shown}{', …' if at.size > 8 else ''}]")
    return ", ".join(parts)
