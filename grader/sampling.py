"""Sample points for formula answers: symbol domains, seeded draws and the `Sample` record.

Formula parts (expr, shape with formula entries, index-expr) are never compared as text: both
the student's formula and the truth are evaluated at the same sampled points. Seeds derive
from the assignment and part id so every run and every regrade sees the same points.
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


@dataclass(frozen=True)
class Count:
    """An integer-valued symbol (a size, a count) drawn from [lo, hi] inclusive.

    `lo` may be a function of symbols drawn before it (by name, as arrays over the points), for
    a bound that depends on them: `Count(lambda K, D: D * (K - 1) + 1, 40)` for a valid size.
    """

    lo: int | Callable[..., Any] = 1
    hi: int = 64

    def draw(self, rng: np.random.Generator, n: int, env: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        if callable(self.lo):
            lo = np.asarray(call(self.lo, (), env or {}, "a symbol's lower bound")).astype(int)
            return rng.integers(lo, self.hi, endpoint=True).astype(np.float64)
        return rng.integers(self.lo, self.hi, size=n, endpoint=True).astype(np.float64)


Domain = Real | Count


def draw(rng: np.random.Generator, domains: Mapping[str, Domain], n: int) -> dict[str, np.ndarray]:
    """Independent draws of every symbol, `n` points each (in declaration order, so seeded)."""
    env: dict[str, np.ndarray] = {}
    for name, dom in domains.items():
        env[name] = dom.draw(rng, n, env) if isinstance(dom, Count) else dom.draw(rng, n)
    return env


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
