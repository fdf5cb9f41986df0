"""Computing a part's values under the one calling convention (grader.calling).

A plain part's reference is one call: the used parts' values converted to float64 tensors, the
sheet's inputs by name. A formula part's reference is called once per sampled point: the
library draws the points (`grader.sampling.Points`), seeds the torch generator of a per-point
set-up, loops, converts and stacks the values into the `Sample` the kind checks answers against.
Its alternatives and named mistakes are called at the same points, so all targets share them.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from grader.calling import call, names_of
from grader.kinds.base import Kind
from grader.sampling import Count, Points, Real, Sample, draw, edge_draw

#: A torch generator for a set-up is seeded with this many bits drawn from the part's rng.
TORCH_SEED_RANGE = 2**31


@contextmanager
def one_thread() -> Iterator[None]:
    """Compute on one torch thread: a sheet's tensors are tiny, and on a busy machine torch's
    thread pool makes a 4×4 convolution hundreds of times slower than one thread does."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def to_torch(values: Sequence[Any]) -> list[Any]:
    """Used parts' values as a reference receives them: arrays become float64 tensors."""
    if not any(isinstance(v, np.ndarray) for v in values):
        return list(values)
    import torch

    return [torch.as_tensor(v, dtype=torch.float64) if isinstance(v, np.ndarray) else v for v in values]


def plain_value(kind: Kind, fn: Callable[..., Any], used: Sequence[Any], names: Mapping[str, Any], what: str) -> Any:
    """One value of a plain (not sampled) part, normalised by its kind."""
    return kind.normalise(call(fn, to_torch(used), names, what))


@dataclass
class PointSet:
    """The drawn points of a formula part: per point, what its functions may ask for by name,
    and the arrays (first axis: the point) a student's formula is evaluated on."""

    names: list[dict[str, Any]]
    env: dict[str, np.ndarray]
    meta: dict[str, Any]


def point_names(kind: Kind) -> list[str]:
    """What a student's formula may use: the kind's symbols, or its tensors and scalars."""
    tensors = getattr(kind, "tensors", None)
    if tensors is not None:
        return [*tensors, *getattr(kind, "scalars", ())]
    return list(getattr(kind, "symbols", {}))


def _domains(kind: Kind, points: Points) -> dict[str, Any]:
    symbols = getattr(kind, "symbols", {})
    declared = {n: d for n, d in symbols.items() if isinstance(d, (Real, Count))} if isinstance(symbols, dict) else {}
    declared.update((n, d) for n, d in points.domains.items() if n in declared)
    extra = {n: d for n, d in points.domains.items() if n not in declared}
    return declared | extra


def draw_points(kind: Kind, points: Points, seed: int, names: Mapping[str, Any], what: str) -> PointSet:
    """Draw a formula part's points from its seed, exactly as a problem file used to by hand:
    the symbols from a numpy generator (in order, again until `where` holds), then, for a
    set-up, one torch generator seeded from the same stream and used for every point in turn."""
    n = points.n if points.n is not None else getattr(kind, "n_points", None)
    if not n:
        raise ValueError(f"{what}: say how many points to check the formula at (Points(n=...))")
    rng = np.random.default_rng(seed)
    domains = _domains(kind, points)
    if points.setup is not None:  # a set-up says which symbols it needs; it makes the rest
        wanted = set(names_of(points.setup))
        domains = {s: d for s, d in domains.items() if s in wanted}

    def block() -> dict[str, np.ndarray]:
        symbols = draw(rng, domains, n)
        while points.where is not None and not call(points.where, (), symbols, f"{what}: the points' condition"):
            symbols = draw(rng, domains, n)
        return symbols

    pooled = pools(kind, points)
    if pooled:  # edge points, then the pool's blocks (see grader.sampling)
        parts = [edge_draw(rng, domains)] + [block() for _ in range(points.pool)]
        symbols = {s: np.concatenate([p[s] for p in parts]) for s in domains}
        edge = len(next(iter(parts[0].values()), ()))
    else:
        symbols = block()
    count = len(next(iter(symbols.values()))) if symbols else (edge + points.pool * n if pooled else n)

    per_point: list[dict[str, Any]] = [
        {s: (int(v[p]) if isinstance(domains[s], Count) else _scalar(v[p])) for s, v in symbols.items()} for p in range(count)
    ]
    made: dict[str, list[np.ndarray]] = {}
    if points.setup is not None:
        import torch

        gen = torch.Generator().manual_seed(int(rng.integers(TORCH_SEED_RANGE)))
        for point in per_point:
            outputs = call(points.setup, (), {**names, **point, "gen": gen}, f"{what}: the set-up")
            for key, value in outputs.items():
                value = _detached(value)
                point[key] = value
                made.setdefault(key, []).append(_numpy(value))

    env: dict[str, np.ndarray] = {}
    for name in point_names(kind):
        if name in symbols:
            env[name] = symbols[name]
        elif name in made:
            env[name] = np.stack(made[name])
        else:
            raise ValueError(f"{what}: nothing gives the formula's {name!r} at each point (draw it or return it from the set-up)")
    meta: dict[str, Any] = {"method": points.method}
    if hasattr(kind, "tensors"):  # an index formula is checked on random draws of tensors
        meta["draws"] = n
    if pooled:
        meta.update(edge=edge, block=n, blocks=points.pool, check=points.checked)
    # a part whose every symbol is a count may have integer values (then compared exactly)
    meta["counts"] = bool(env) and all(isinstance(domains.get(s), Count) for s in env)
    meta.update(points.meta)
    return PointSet(per_point, env, meta)


def pools(kind: Kind, points: Points) -> bool:
    """Whether a part's key keeps a pool of points (a formula in symbols: expr, shape formulas);
    an index formula's draws of random tensors are all checked, and few (they are large)."""
    return not hasattr(kind, "tensors") and points.pool > 1


def at_points(fn: Callable[..., Any], points: PointSet, names: Mapping[str, Any], what: str) -> np.ndarray:
    """`fn` at every point (the inputs and the point's values by name), stacked."""
    return np.stack([np.asarray(_numpy(call(fn, (), {**names, **point}, what)), dtype=np.float64) for point in points.names])


def sample(kind: Kind, points: PointSet, values: np.ndarray, seed: int, formula: str | None = None) -> Sample:
    """The reference: the points and the truth there, normalised by the kind. `integer`: every
    symbol is a count and every true value an integer, so answers are compared exactly there.
    `formula`: the part's model answer, the reference's symbolic form for a proof (its key
    check shows it agrees with the truth at every point of the pool)."""
    meta = {k: v for k, v in points.meta.items() if k != "counts"}
    values = np.asarray(values, dtype=np.float64)
    if points.meta.get("counts") and values.size and bool(np.all(np.isfinite(values) & (values == np.round(values)))):
        meta["integer"] = True
    if formula:
        meta["formula"] = formula
    return kind.normalise(Sample(env=points.env, value=values, meta={**meta, "seed": seed}))


def _scalar(value: Any) -> Any:
    import torch

    return torch.tensor(float(value), dtype=torch.float64)


def _detached(value: Any) -> Any:
    """A set-up's tensor as later functions receive it: detached and laid out contiguously."""
    detach = getattr(value, "detach", None)
    return detach().contiguous() if detach is not None else value


def _numpy(value: Any) -> Any:
    numpy = getattr(value, "numpy", None)
    if numpy is not None and hasattr(value, "detach"):
        return value.detach().numpy()
    return value
