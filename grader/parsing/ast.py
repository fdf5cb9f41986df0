"""The expression tree every formula answer is read into.

Nodes are small frozen dataclasses (hashable, comparable).  ``Num.text`` is kept for echoing
but is *not* part of equality: ``Num(2, "2") == Num(2, "2.0")``.

Trees produced by :func:`grader.parsing.parse_math` are never deeper than
``Limits.max_tree_depth``, so the generated ``__eq__``/``__hash__``/``__repr__`` (which do
recurse) stay far below Python's recursion limit.  Everything in this package walks trees
with an explicit stack (:func:`walk`, :func:`fold`), never by recursion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterator, Union

__all__ = [
    "Num",
    "Sym",
    "Const",
    "Neg",
    "BinOp",
    "Call",
    "Index",
    "Sum",
    "Node",
    "children",
    "walk",
    "fold",
    "tree_depth",
    "node_count",
]


@dataclass(frozen=True)
class Num:
    """A numeric literal. ``value`` is an int, an exact Fraction (decimals) or a float."""

    value: int | Fraction | float
    text: str = field(default="", compare=False)


@dataclass(frozen=True)
class Sym:
    """A name: before resolution any identifier run; after, a declared symbol or index.

    ``grouped`` (not part of equality) marks a name written in brackets, ``(wx)^2``: the
    resolver binds a power of an unbracketed run of names to its last factor (``wx^2`` is
    ``w*x^2``), of a bracketed one to the whole product."""

    name: str
    grouped: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Const:
    """A mathematical constant: ``pi`` or ``e``."""

    name: str


@dataclass(frozen=True)
class Neg:
    x: "Node"


@dataclass(frozen=True)
class BinOp:
    """``op`` is one of ``+ - * / ^``."""

    op: str
    a: "Node"
    b: "Node"


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple["Node", ...]


@dataclass(frozen=True)
class Index:
    """``h_i``, ``x_{i+j-1}``, ``X[i+k1, j+k2, n]``."""

    base: str
    indices: tuple["Node", ...]


@dataclass(frozen=True)
class Sum:
    """``sum_{i,j} body``, ``sum_{i=1}^{4} body``, ``sum(body, i, j)``."""

    indices: tuple[str, ...]
    lower: "Node | None"
    upper: "Node | None"
    body: "Node"


Node = Union[Num, Sym, Const, Neg, BinOp, Call, Index, Sum]

NODE_TYPES = (Num, Sym, Const, Neg, BinOp, Call, Index, Sum)


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes, in source order (``Sum``: lower, upper when present, then body)."""
    if isinstance(node, (Num, Sym, Const)):
        return ()
    if isinstance(node, Neg):
        return (node.x,)
    if isinstance(node, BinOp):
        return (node.a, node.b)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Index):
        return node.indices
    if isinstance(node, Sum):
        out: list[Node] = []
        if node.lower is not None:
            out.append(node.lower)
        if node.upper is not None:
            out.append(node.upper)
        out.append(node.body)
        return tuple(out)
    raise TypeError(f"not an expression node: {type(node).__name__}")


def rebuild(node: Node, new_children: list[Any]) -> Node:
    """``node`` with its children replaced (same order as :func:`children`)."""
    if isinstance(node, (Num, Sym, Const)):
        return node
    if isinstance(node, Neg):
        return Neg(new_children[0])
    if isinstance(node, BinOp):
        return BinOp(node.op, new_children[0], new_children[1])
    if isinstance(node, Call):
        return Call(node.func, tuple(new_children))
    if isinstance(node, Index):
        return Index(node.base, tuple(new_children))
    if isinstance(node, Sum):
        it = iter(new_children)
        lower = next(it) if node.lower is not None else None
        upper = next(it) if node.upper is not None else None
        return Sum(node.indices, lower, upper, next(it))
    raise TypeError(f"not an expression node: {type(node).__name__}")


def walk(node: Node) -> Iterator[Node]:
    """Every node, pre-order, iteratively."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


_DESCEND = object()


def fold(
    root: Node,
    up: Callable[[Node, list[Any], Any], Any],
    down: Callable[[Node, Any], Any] | None = None,
    ctx: Any = None,
) -> Any:
    """Post-order fold with an explicit stack (no recursion, whatever the depth).

    ``up(node, child_results, ctx)`` computes a node's result from its children's.
    ``down(node, ctx)`` (optional) runs before the children are visited and returns either
    a list with one context per child, or ``(result,)`` wrapped in :class:`Stop` to give the
    node's result directly without visiting its children.
    """
    stack: list[tuple[Node, Any, bool]] = [(root, ctx, False)]
    out: list[Any] = []
    while stack:
        node, c, visited = stack.pop()
        if visited:
            k = len(children(node))
            if k:
                args = out[-k:]
                del out[-k:]
            else:
                args = []
            out.append(up(node, args, c))
            continue
        kids = children(node)
        if down is not None:
            d = down(node, c)
            if isinstance(d, Stop):
                out.append(d.result)
                continue
            ctxs = d
        else:
            ctxs = [c] * len(kids)
        stack.append((node, c, True))
        for child, cc in zip(reversed(kids), reversed(ctxs)):
            stack.append((child, cc, False))
    return out[0]


class Stop:
    """Returned by a ``down`` hook of :func:`fold` to short-circuit a subtree."""

    __slots__ = ("result",)

    def __init__(self, result: Any) -> None:
        self.result = result


def tree_depth(node: Node) -> int:
    """Number of nodes on the longest root-to-leaf path (iterative)."""
    best = 0
    stack = [(node, 1)]
    while stack:
        n, d = stack.pop()
        if d > best:
            best = d
        for c in children(n):
            stack.append((c, d + 1))
    return best


def node_count(node: Node) -> int:
    return sum(1 for _ in walk(node))
