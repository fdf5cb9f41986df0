"""Sample points for formula answers: symbol domains, seeded draws and the `Sample` record.

Formula parts (expr, shape with formula entries, index-expr) are never compared as text: both
the student's formula and the truth are evaluated at the same sampled points. Seeds derive
from the assignment and part id so every run and every regrade sees the same points.

A formula part in symbols (expr, shape formulas) keeps a *pool* in its key: first its edge
points (each count symbol at its smallest values, V = 1, 2, 3, the others drawn), then
`Points.pool` blocks of `n` points spanning the whole domain (counts over a wide range are
drawn half uniformly, half log-uniformly, so that small and middling values are there too;
each block satisfies `Points.where` on its own). An answer is checked at every edge point
and at `Points.checked` blocks chosen by a seed derived from the answer's text
(`checked_indices`): a student cannot tune a formula to fixed points, two students typing the
same formula get the same points, and a regrade is reproducible. The pool is computed once
with the key, so grading still reads the key alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from grader.calling import call


def seed_for(*parts: str) -> int:
    """A stable 63-bit seed from strings (Python's hash() is salted per process)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class Real:
    """A real-valued symbol drawn uniformly from [lo, hi]."""

    lo: float = -3.0
    hi: float = 3.0

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.lo, self.hi, size=n)


#: A count over more values than this is drawn half log-uniformly (small values matter most:
#: a formula tuned to agree above V = 125 must meet V = 7 and V = 40 too).
WIDE_COUNT = 64
#: How many of a count's smallest values are edge points (V = 1, 2, 3).
EDGE_VALUES = 3


@dataclass(frozen=True)
class Count:
    """An integer-valued symbol (a size, a count) drawn from [lo, hi] inclusive.

    `lo` may be a function of symbols drawn before it (by name, as arrays over the points), for
    a bound that depends on them: `Count(lambda K, D: D * (K - 1) + 1, 40)` for a valid size.
    """

    lo: int | Callable[..., Any] = 1
    hi: int = 64

    def lower(self, n: int, env: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """The lower bound at each of `n` points (a function of earlier symbols, or a number)."""
        if callable(self.lo):
            lo = np.asarray(call(self.lo, (), env or {}, "a symbol's lower bound")).astype(np.int64)
            return np.broadcast_to(lo, (n,)).copy()
        return np.full(n, int(self.lo), dtype=np.int64)

    def draw(self, rng: np.random.Generator, n: int, env: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        lo = self.lower(n, env)
        width = np.maximum(self.hi - lo + 1, 1)
        uniform = rng.integers(lo, np.maximum(lo, self.hi), endpoint=True)
        if int(width.max(initial=1)) <= WIDE_COUNT:
            return uniform.astype(np.float64)
        # log-uniform offsets from lo: every decade of the range gets its share of points
        logged = lo + np.floor(width.astype(np.float64) ** rng.random(n)).astype(np.int64) - 1
        pick = rng.random(n) < 0.5
        return np.minimum(np.where(pick, logged, uniform), self.hi).astype(np.float64)


Domain = Real | Count


def draw(
    rng: np.random.Generator, domains: Mapping[str, Domain], n: int, fixed: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None
) -> dict[str, np.ndarray]:
    """Independent draws of every symbol, `n` points each (in declaration order, so seeded).

    `fixed[name] = (rows, offsets)` sets a count at those rows to its lower bound plus the
    offset (clipped to its upper bound) before later symbols are drawn, so that bounds which
    depend on it still hold (the edge points)."""
    env: dict[str, np.ndarray] = {}
    for name, dom in domains.items():
        env[name] = dom.draw(rng, n, env) if isinstance(dom, Count) else dom.draw(rng, n)
        if fixed and name in fixed and isinstance(dom, Count):
            rows, offsets = fixed[name]
            lo = dom.lower(n, env)
            env[name][rows] = np.minimum(lo[rows] + offsets, dom.hi).astype(np.float64)
    return env


def edge_draw(rng: np.random.Generator, domains: Mapping[str, Domain]) -> dict[str, np.ndarray]:
    """The edge points: for each count symbol, one point at each of its EDGE_VALUES smallest
    values (V = 1, 2, 3; a bound that depends on other symbols: its least valid values), the
    other symbols drawn. Empty (no points) when no symbol is a count."""
    counts = [name for name, dom in domains.items() if isinstance(dom, Count)]
    n = EDGE_VALUES * len(counts)
    fixed = {
        name: (np.arange(k * EDGE_VALUES, (k + 1) * EDGE_VALUES), np.arange(EDGE_VALUES))
        for k, name in enumerate(counts)
    }
    if not n:
        return {name: np.zeros(0) for name in domains}
    return draw(rng, domains, n, fixed)


@dataclass(frozen=True)
class Points:
    """Where a formula part is checked: how many points, and how each is drawn.

    By default the kind's symbols are drawn from their domains (`n` points, default the kind's
    `n_points`) and the reference is called at each point with the symbols by name. `domains`
    replaces some of those domains for the draw (a bound that depends on other symbols);
    `where(**symbols)` (arrays over the points) must hold of the whole draw, else it is drawn
    again. `setup(gen, **symbols)` makes one point's random tensors (a layer's inputs, its
    forward and backward pass) from `gen`, a torch generator seeded for the part; its results
    are given to the reference by name, and those the kind declares become the points a
    student's formula is evaluated at. `method` and `meta` describe the points in the key.
    """

    n: int | None = None
    setup: Callable[..., Mapping[str, Any]] | None = None
    where: Callable[..., Any] | None = None
    domains: Mapping[str, Domain] = field(default_factory=dict)
    method: str = "sampled points"
    meta: Mapping[str, Any] = field(default_factory=dict)
    #: Formula parts in symbols: blocks of `n` points in the key's pool, and how many of them
    #: an answer is checked at (chosen by the answer's seed), besides every edge point.
    pool: int = 4
    checked: int = 2


@dataclass
class Sample:
    """Points at which a formula is checked: the symbol values and the true value there.

    `env` maps each symbol a student may use to an array whose first axis is the point;
    `value` holds the truth with the same first axis. `meta` records how it was drawn.
    """

    env: dict[str, np.ndarray]
    value: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        return int(np.asarray(self.value).shape[0])

    def subset(self, rows: np.ndarray) -> "Sample":
        """The same sample at some of its points (rows of the first axis)."""
        return Sample(
            env={k: np.asarray(v)[rows] for k, v in self.env.items()},
            value=np.asarray(self.value)[rows],
            meta=self.meta,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "env": {k: np.asarray(v).tolist() for k, v in self.env.items()},
            "value": np.asarray(self.value).tolist(),
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Sample":
        return cls(
            env={k: np.asarray(v, dtype=np.float64) for k, v in data["env"].items()},
            value=np.asarray(data["value"], dtype=np.float64),
            meta=dict(data.get("meta", {})),
        )


def checked_indices(meta: Mapping[str, Any], n_points: int, answer_text: str) -> tuple[np.ndarray, int | None]:
    """The rows of a pooled sample an answer is checked at, and the seed that chose them.

    Every edge point, then `check` of the `blocks` blocks, chosen by a seed derived from the
    key's seed and the answer's canonical text. A sample without a pool (hand-made, or an
    index formula's draws): every point, and no seed."""
    blocks, block, check = meta.get("blocks"), meta.get("block"), meta.get("check")
    if not blocks or not block or not check or check >= blocks:
        return np.arange(n_points), None
    edge = int(meta.get("edge", 0))
    seed = seed_for("points", str(meta.get("seed")), answer_text)
    chosen = np.sort(np.random.default_rng(seed).choice(int(blocks), size=int(check), replace=False))
    rows = [np.arange(edge)] + [edge + b * int(block) + np.arange(int(block)) for b in chosen]
    return np.concatenate(rows), seed
