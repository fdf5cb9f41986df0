"""Sample points for formula answers: symbol domains, seeded draws and the `Sample` record.

Formula parts (expr, shape with formula entries, index-expr) are never compared as text: both
the student's formula and the truth are evaluated at the same sampled points. Seeds derive
from the assignment and part id so every run and every regrade sees the same points.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np


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
    """An integer-valued symbol (a size, a count) drawn from [lo, hi] inclusive."""

    lo: int = 1
    hi: int = 64

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(self.lo, self.hi, size=n, endpoint=True).astype(np.float64)


Domain = Real | Count


def draw(rng: np.random.Generator, domains: Mapping[str, Domain], n: int) -> dict[str, np.ndarray]:
    """Independent draws of every symbol, `n` points each (in declaration order, so seeded)."""
    return {name: dom.draw(rng, n) for name, dom in domains.items()}


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
