"""Evaluate a tensor-index formula for every free-index tuple at once (numpy broadcasting).

A formula such as ``sum_{k1,k2,m} dZ[i-k1, j-k2, m] * W[k1, k2, n, m]`` is evaluated on a
grid: axis 0 is the random draw, then one axis per free index (``i j n``), then one axis
per summation variable. Every array keeps all axes (size 1 where it does not vary), so
broadcasting lines up and a sum reduces its own axis with ``keepdims``.

Semantics (answer-format.md, index-expr):
- a tensor read outside the tensor is 0 (as is a read at a non-integer index);
- a sum with limits runs over them (inclusive); a sum without limits runs over every value
  that keeps all the tensors it reads in range: the body is masked by the in-range test of
  each read that involves the sum's variables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from grader.errors import InvalidAnswer, TooComplex
from grader.parsing import BinOp, Call, Const, Index, Neg, Node, Num, Sum, Sym, free_symbols
from grader.parsing.ast import walk
from grader.parsing.evaluate import apply_array_function
from grader.parsing.vocabulary import VOCABULARY

#: Largest number of grid cells alive at once (draws × free × nested sums); beyond it the
#: formula is "too complex to check" rather than a memory hog.
MAX_CELLS = 4_000_000
#: Largest explicit range of a sum (``sum_{i=1}^{N}``).
MAX_RANGE = 10_000
INTEGRAL_TOL = 1e-9


@dataclass
class _Bound:
    """A summation variable: its axis and the in-range masks collected from its body."""

    axes: list[int]
    limited: bool
    masks: list[np.ndarray] = field(default_factory=list)


class IndexEvaluator:
    """Evaluates resolved index formulas against one sample of tensors.

    `env` maps tensor names to arrays of shape (draws, *tensor_shape) and scalar names to
    arrays of shape (draws,); `free` lists the free indices in the order of the truth's
    axes, `free_sizes` their ranges, `base` the first index value (0 or 1).
    """

    def __init__(
        self,
        env: Mapping[str, np.ndarray],
        free: tuple[str, ...],
        free_sizes: tuple[int, ...],
        base: int,
        tensors: Mapping[str, int],
    ) -> None:
        self.env = {k: np.asarray(v, dtype=np.float64) for k, v in env.items()}
        self.free = free
        self.free_sizes = free_sizes
        self.base = base
        self.tensors = dict(tensors)
        self.draws = next(iter(self.env.values())).shape[0] if self.env else 1
        # A sum without limits scans this window; any index that keeps a tensor in range lies
        # inside it, because every index expression is an offset of at most the free ranges.
        dims = [s for name in self.tensors if name in self.env for s in self.env[name].shape[1:]]
        self.pad = max(dims + list(free_sizes) + [1]) * 2

    # -- public -------------------------------------------------------------------------------
    def evaluate(self, node: Node) -> np.ndarray:
        """Values of `node` with shape (draws, *free_sizes)."""
        sums = [n for n in walk(node) if isinstance(n, Sum)]
        n_axes = 1 + len(self.free) + sum(len(s.indices) for s in sums)
        self.ndim = n_axes
        self.next_axis = 1 + len(self.free)
        self.check_size(node)
        variables = {name: self.axis_values(1 + k, self.base + np.arange(size)) for k, (name, size) in enumerate(zip(self.free, self.free_sizes))}
        with np.errstate(all="ignore"):
            out = self.value_of(node, variables, [])
        out = np.asarray(out, dtype=np.float64)
        out = out.reshape(out.shape + (1,) * (self.ndim - out.ndim)) if out.ndim < self.ndim else out
        out = out.reshape(out.shape[: 1 + len(self.free)]) if out.ndim else out
        return np.broadcast_to(out, (self.draws, *self.free_sizes))

    # -- helpers ------------------------------------------------------------------------------
    def axis_values(self, axis: int, values: np.ndarray) -> np.ndarray:
        shape = [1] * self.ndim
        shape[axis] = len(values)
        return np.asarray(values, dtype=np.float64).reshape(shape)

    def full(self, arr: np.ndarray) -> np.ndarray:
        """A draw-indexed array (draws, ...) with all grid axes."""
        return arr.reshape((arr.shape[0],) + (1,) * (self.ndim - 1))

    def check_size(self, node: Node) -> None:
        """Refuse formulas whose nested sums would need more than MAX_CELLS cells."""
        base_cells = self.draws * math.prod(self.free_sizes)
        stack: list[tuple[Node, int]] = [(node, base_cells)]
        while stack:
            n, cells = stack.pop()
            if isinstance(n, Sum):
                width = self.range_width(n)
                cells *= width ** len(n.indices)
                if cells > MAX_CELLS:
                    raise TooComplex(
                        "the sums in this formula range over too many index values to check",
                        expected="sums over the kernel or channel indices only",
                    )
                stack.append((n.body, cells))
                continue
            from grader.parsing.ast import children

            stack.extend((c, cells) for c in children(n))

    def range_width(self, node: Sum) -> int:
        if node.lower is None and node.upper is None:
            return 2 * self.pad + 1
        lo, hi = self.limits(node)
        return max(hi - lo + 1, 1)

    def limits(self, node: Sum) -> tuple[int, int]:
        if node.lower is None or node.upper is None:
            raise InvalidAnswer(
                "a sum needs both limits or none",
                expected="sum_{k=1}^{3} ... or sum_{k} ...",
                example="sum_{k=1}^{3} a_k b_k",
            )
        bounds = []
        for side in (node.lower, node.upper):
            if free_symbols(side):
                raise InvalidAnswer(
                    "the limits of a sum must be numbers", example="sum_{k=1}^{3} a_k b_k"
                )
            value = float(np.asarray(self.value_of(side, {}, [])).reshape(-1)[0])
            if not math.isfinite(value) or abs(value - round(value)) > INTEGRAL_TOL:
                raise InvalidAnswer("the limits of a sum must be whole numbers", example="sum_{k=1}^{3} a_k b_k")
            bounds.append(int(round(value)))
        lo, hi = bounds
        if hi - lo + 1 > MAX_RANGE:
            raise TooComplex(f"a sum over {hi - lo + 1} values is too long to check")
        return lo, hi

    # -- the evaluator (recursion is bounded by the parser's tree-depth cap) ---------------------
    def value_of(self, node: Node, variables: dict[str, np.ndarray], bounds: list[tuple[frozenset[str], _Bound]]) -> np.ndarray:
        if isinstance(node, Num):
            return np.float64(float(node.value))
        if isinstance(node, Const):
            return np.float64(VOCABULARY.constant_values.get(node.name, math.nan))
        if isinstance(node, Sym):
            if node.name in variables:
                return variables[node.name]
            if node.name in self.env and node.name not in self.tensors:
                return self.full(self.env[node.name])
            raise InvalidAnswer(f"'{node.name}' has no value here", expected="a declared index, scalar or tensor")
        if isinstance(node, Neg):
            return -self.value_of(node.x, variables, bounds)
        if isinstance(node, BinOp):
            a = self.value_of(node.a, variables, bounds)
            b = self.value_of(node.b, variables, bounds)
            if node.op == "+":
                return a + b
            if node.op == "-":
                return a - b
            if node.op == "*":
                return a * b
            if node.op == "/":
                return a / b
            if node.op == "^":
                return np.power(a, b)
            raise InvalidAnswer(f"unknown operator '{node.op}'")
        if isinstance(node, Call):
            return apply_array_function(node.func, [self.value_of(a, variables, bounds) for a in node.args])
        if isinstance(node, Index):
            return self.read(node, variables, bounds)
        if isinstance(node, Sum):
            return self.sum(node, variables, bounds)
        raise InvalidAnswer(f"not an expression: {type(node).__name__}")

    def read(self, node: Index, variables: dict[str, np.ndarray], bounds: list[tuple[frozenset[str], _Bound]]) -> np.ndarray:
        """`T[e1, ..., ek]`: gather with an in-range mask; outside the tensor the value is 0."""
        if node.base not in self.env:
            raise InvalidAnswer(f"the tensor '{node.base}' has no value here")
        tensor = self.env[node.base]
        dims = tensor.shape[1:]
        if len(node.indices) != len(dims):
            raise InvalidAnswer(f"'{node.base}' takes {len(dims)} indices, got {len(node.indices)}")
        positions = [self.value_of(e, variables, bounds) for e in node.indices]
        ok: np.ndarray = np.ones((1,) * self.ndim, dtype=bool)
        gathered = []
        for pos, dim in zip(positions, dims):
            pos = np.asarray(pos, dtype=np.float64)
            rounded = np.rint(pos)
            inside = (np.abs(pos - rounded) <= INTEGRAL_TOL) & (rounded - self.base >= 0) & (rounded - self.base < dim)
            ok = ok & inside
            gathered.append(np.clip(np.nan_to_num(rounded - self.base, nan=0.0), 0, dim - 1).astype(np.intp))
        draw = np.arange(self.draws).reshape((self.draws,) + (1,) * (self.ndim - 1))
        value = np.where(ok, tensor[(draw, *gathered)], 0.0)
        # Tell every enclosing sum without limits which of its values keep this read in range.
        used = set()
        for e in node.indices:
            used |= free_symbols(e)
        for depth, (names, bound) in enumerate(bounds):
            if bound.limited or not names & used:
                continue
            # A read inside a nested sum keeps this variable in range if it does so for some
            # value of the inner variables.
            inner = tuple(a for _, b in bounds[depth + 1 :] for a in b.axes if ok.shape[a] > 1)
            bound.masks.append(ok.any(axis=inner, keepdims=True) if inner else ok)
        return value

    def sum(self, node: Sum, variables: dict[str, np.ndarray], bounds: list[tuple[frozenset[str], _Bound]]) -> np.ndarray:
        limited = node.lower is not None or node.upper is not None
        if limited:
            lo, hi = self.limits(node)
            values = np.arange(lo, hi + 1)
        else:
            values = self.base + np.arange(-self.pad, self.pad + 1)
        inner = dict(variables)
        axes = []
        for name in node.indices:
            axis = self.next_axis
            self.next_axis += 1
            axes.append(axis)
            inner[name] = self.axis_values(axis, values)
        bound = _Bound(axes, limited)
        body = np.asarray(self.value_of(node.body, inner, bounds + [(frozenset(node.indices), bound)]), dtype=np.float64)
        if not limited:
            if not bound.masks:
                raise InvalidAnswer(
                    f"the sum over {', '.join(node.indices)} has no limits and reads no tensor with "
                    f"{'that index' if len(node.indices) == 1 else 'those indices'}, so its range is unknown",
                    expected="limits, e.g. sum_{k=1}^{3}",
                    example="sum_{k=1}^{3} a_k b_k",
                )
            mask = bound.masks[0]
            for m in bound.masks[1:]:
                mask = mask & m
            body = np.where(mask, body, 0.0)
        body = body.reshape(body.shape + (1,) * (self.ndim - body.ndim)) if body.ndim < self.ndim else body
        return body.sum(axis=tuple(axes), keepdims=True)
