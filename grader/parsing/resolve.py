"""Name resolution: which names in a parsed formula are symbols, indices, tensors, functions.

:func:`resolve_names` turns a parsed (unresolved) tree into one where every ``Sym`` is a
declared symbol, a declared or bound index variable, every ``Const`` a constant (pi, e),
every ``Call`` a function of :mod:`.vocabulary` (aliases renamed: ``s``/``sigma`` ->
``sigmoid``, ``ln`` -> ``log``) and every ``Index`` a declared tensor of the right arity.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from grader.errors import InvalidAnswer, TooComplex
from grader.parsing.ast import (
    BinOp,
    Call,
    Const,
    Index,
    Neg,
    Node,
    Num,
    Stop,
    Sum,
    Sym,
    fold,
    rebuild,
    tree_depth,
    walk,
)
from grader.parsing.lexer import normalize_name
from grader.parsing.limits import LIMITS, Limits
from grader.parsing.vocabulary import VOCABULARY

# resolve_names' functions when the caller names none (as the vocabulary was at import)
DEFAULT_FUNCTIONS: tuple[str, ...] = VOCABULARY.allowed_in("formula")

MAX_SPLIT_PIECES = 40

_NUMERIC_SUB = re.compile(r"([A-Za-z]+)_\{?([0-9]+)\}?")
_BRACED_SIMPLE = re.compile(r"_\{([A-Za-z0-9]+)\}")


def _symbol_key(text: str) -> str:
    """Spelling-insensitive key for indexed symbol names: ``h_{i}``, ``h[i]``, ``h_i`` -> ``h_i``."""
    s = text.replace(" ", "")
    m = re.fullmatch(r"([A-Za-z]+)\[(.*)\]", s)
    if m:
        s = f"{m.group(1)}_{{{m.group(2)}}}"
    return _BRACED_SIMPLE.sub(r"_\1", s)


def _index_name(name: str) -> str:
    """``k_1``/``k_{1}`` -> ``k1`` (index variable spelling)."""
    name = normalize_name(name)
    m = _NUMERIC_SUB.fullmatch(name)
    return m.group(1) + m.group(2) if m else name


def split_name(name: str, vocab: Collection[str], max_pieces: int = MAX_SPLIT_PIECES) -> list[str] | None:
    """Splits ``name`` completely into names of ``vocab``, preferring the longest name at
    each position (with backtracking, by dynamic programming from the end).  None if no
    complete split exists."""
    n = len(name)
    if n == 0:
        return None
    lengths = sorted({len(v) for v in vocab if v}, reverse=True)
    choice: list[int | None] = [None] * (n + 1)
    ok = [False] * (n + 1)
    ok[n] = True
    for i in range(n - 1, -1, -1):
        for L in lengths:
            if i + L <= n and ok[i + L] and name[i:i + L] in vocab:
                ok[i] = True
                choice[i] = L
                break
    if not ok[0]:
        return None
    pieces = []
    i = 0
    while i < n:
        L = choice[i]
        assert L is not None
        pieces.append(name[i:i + L])
        i += L
    if len(pieces) > max_pieces:
        return None
    return pieces


def _product(nodes: list[Node]) -> Node:
    out = nodes[0]
    for n in nodes[1:]:
        out = BinOp("*", out, n)
    return out


class _Resolver:
    def __init__(self, symbols: Collection[str], functions: Collection[str],
                 indices: Collection[str], tensors: Mapping[str, int], limits: Limits,
                 elementwise: tuple[str, ...] = ()) -> None:
        if isinstance(symbols, str) or isinstance(functions, str) or isinstance(indices, str):
            raise InvalidAnswer("internal: symbols/functions/indices must be collections of names")
        self.symbols = [normalize_name(s) for s in symbols]
        self.symbol_set = set(self.symbols)
        self.symbol_keys = {_symbol_key(s): s for s in self.symbols}
        self.indices = {_index_name(i) for i in indices}
        self.tensors = {normalize_name(k): int(v) for k, v in dict(tensors).items()}
        funcs = {normalize_name(f) for f in functions}
        # declaring an alias also admits its target (s -> sigmoid)
        self.functions = funcs | {VOCABULARY.aliases[f] for f in funcs if f in VOCABULARY.aliases}
        self.limits = limits
        self.elementwise = tuple(_index_name(i) for i in elementwise)

    # -- messages
    def accepted(self) -> str:
        parts = [f"symbols: {', '.join(sorted(self.symbol_set)) or 'none'}"]
        if self.indices:
            parts.append(f"indices: {', '.join(sorted(self.indices))}")
        if self.tensors:
            parts.append("tensors: " + ", ".join(f"{k} ({v} {'index' if v == 1 else 'indices'})"
                                                 for k, v in sorted(self.tensors.items())))
        parts.append(f"functions: {', '.join(sorted(self.functions)) or 'none'}")
        parts.append(f"constants: {', '.join(VOCABULARY.constant_names)}")
        return "; ".join(parts)

    def example(self) -> str:
        syms = sorted(self.symbol_set, key=lambda s: (len(s), s))
        if self.tensors:
            name, arity = sorted(self.tensors.items())[0]
            idx = sorted(self.indices)[:arity] or ["i"] * arity
            while len(idx) < arity:
                idx.append(idx[-1])
            return f"{name}[{', '.join(idx)}]"
        if syms:
            return f"2*{syms[0]}" + (f" + {syms[1]}" if len(syms) > 1 else " + 1")
        if self.functions:
            return f"{sorted(self.functions)[0]}(2)"
        return "2*(3 + 4)"

    def error(self, what: str) -> InvalidAnswer:
        return InvalidAnswer(f"{what}; this part accepts {self.accepted()}",
                             expected="one of the names this part declares",
                             example=self.example())

    # -- names
    def vocab(self, bound: frozenset[str]) -> set[str]:
        return self.symbol_set | self.indices | set(bound)

    def is_function(self, name: str) -> bool:
        return name in self.functions

    def function_name(self, name: str) -> str:
        return VOCABULARY.aliases.get(name, name)

    def sym(self, name: str, bound: frozenset[str]) -> Node:
        if name in bound or name in self.indices or name in self.symbol_set:
            return Sym(name)
        if name in VOCABULARY.constant_values:
            return Const(name)
        if name in self.tensors and self.tensors[name] == len(self.elementwise) \
                and not bound & set(self.elementwise):
            # 'σ(Z)' in a formula for the entry at (i, j, m): Z at that entry, Z[i, j, m]
            return Index(name, tuple(Sym(i) for i in self.elementwise))
        if name in self.tensors:
            raise self.error(f"'{name}' is a tensor with {self.tensors[name]} "
                             f"{'index' if self.tensors[name] == 1 else 'indices'}: index it, "
                             f"e.g. {name}[...]")
        if self.is_function(name):
            raise self.error(f"'{name}' is a function: write its argument in parentheses, "
                             f"e.g. {name}(x)")
        vocab = self.vocab(bound)
        pieces = split_name(name, vocab) or split_name(name, vocab | set(VOCABULARY.constant_names))
        if pieces:
            return _product([Const(p) if p in VOCABULARY.constant_values and p not in vocab else Sym(p)
                             for p in pieces])
        raise self.error(f"unknown name '{name}'")

    def check_call(self, node: Call, bound: frozenset[str]) -> None:
        """Raises unless ``node`` is a function call or a product (decided in :meth:`call`)."""
        self.call_plan(node, bound)

    def call_plan(self, node: Call, bound: frozenset[str]) -> tuple[str, object]:
        f = node.func
        nargs = len(node.args)
        if not self.is_function(f) and f.lower() != f and self.is_function(f.lower()) \
                and f not in self.vocab(bound):
            f = f.lower()  # ReLU(x), Exp(x), \text{Sigmoid}(x)
        if self.is_function(f):
            target = self.function_name(f)
            entry = VOCABULARY.function(target)
            if entry is not None:
                entry.check_arity(f, nargs)
            return "call", target
        vocab = self.vocab(bound)
        if f in vocab or f in VOCABULARY.constant_values:
            if nargs != 1:
                raise self.error(f"'{f}' is a symbol, not a function, so '{f}(...)' with "
                                 f"{nargs} arguments cannot be read as a product")
            return "mul", [f]
        if f in self.tensors:
            raise self.error(f"'{f}' is a tensor: index it with square brackets, e.g. {f}[i, j]")
        if VOCABULARY.function(f) is not None:
            why = " (a // b is floor(a/b))" if f == "floor" else ""
            raise self.error(f"the function '{f}' is not accepted in this part{why}")
        # 'xexp(y)' -> x*exp(y); 'ab(c)' -> a*b*(c)
        for j in range(1, len(f)):
            head, tail = f[:j], f[j:]
            if self.is_function(tail):
                pieces = split_name(head, vocab)
                if pieces:
                    self.call_plan(Call(tail, node.args), bound)
                    return "prefix", (pieces, tail)
        pieces = split_name(f, vocab) or split_name(f, vocab | set(VOCABULARY.constant_names))
        if pieces and nargs == 1:
            return "mul", pieces
        raise self.error(f"unknown function or name '{f}'")

    def index_plan(self, node: Index, bound: frozenset[str]) -> object:
        from grader.parsing.canonical import canonical  # local: avoids an import cycle

        base = node.base
        idx = node.indices
        # k_1 -> k1 when k1 is a declared (or bound) name; y_hat -> yhat
        if len(idx) == 1:
            only = idx[0]
            if isinstance(only, Num) and isinstance(only.value, int) and only.value >= 0:
                joined = f"{base}{only.text or only.value}"
                if joined in bound or joined in self.indices or joined in self.symbol_set:
                    return Stop(Sym(joined))
            if isinstance(only, Sym) and only.name in ("hat", "bar", "tilde") \
                    and base + only.name in self.symbol_set:
                return Stop(Sym(base + only.name))
        inner = ",".join(canonical(i).replace(" ", "") for i in idx)
        key = _symbol_key(f"{base}_{{{inner}}}")
        if key in self.symbol_keys:
            return Stop(Sym(self.symbol_keys[key]))
        if len(idx) > 1 and all(isinstance(i, (Sym, Num)) for i in idx):
            joined_key = _symbol_key(f"{base}_{''.join(canonical(i) for i in idx)}")
            if joined_key in self.symbol_keys:
                return Stop(Sym(self.symbol_keys[joined_key]))
        if base in self.tensors:
            want = self.tensors[base]
            if len(idx) != want:
                raise InvalidAnswer(
                    f"'{base}' takes {want} {'index' if want == 1 else 'indices'}, "
                    f"got {len(idx)} in {canonical(node)}",
                    expected=f"{want} {'index' if want == 1 else 'indices'}",
                    example=self.example())
            return None
        shown = canonical(node)
        if base in self.symbol_set:
            raise self.error(f"'{base}' is a scalar symbol and cannot be indexed ('{shown}')")
        raise self.error(f"unknown indexed name '{shown}'")

    # -- the walk
    def down(self, node: Node, bound: frozenset[str]):
        if isinstance(node, Index):
            plan = self.index_plan(node, bound)
            if isinstance(plan, Stop):
                return plan
            return [bound] * len(node.indices)
        if isinstance(node, Sum):
            names = [_index_name(n) for n in node.indices]
            for n in names:
                if n in self.tensors or self.is_function(n) or n in VOCABULARY.constant_values:
                    raise self.error(f"'{n}' cannot be a sum index (it is a "
                                     f"{'tensor' if n in self.tensors else 'function or constant'})")
            inner = bound | frozenset(names)
            ctxs = []
            if node.lower is not None:
                ctxs.append(bound)
            if node.upper is not None:
                ctxs.append(bound)
            ctxs.append(inner)
            return ctxs
        if isinstance(node, Call):
            self.check_call(node, bound)
            return [bound] * len(node.args)
        if isinstance(node, (Neg, BinOp)):
            return [bound] * (1 if isinstance(node, Neg) else 2)
        return []

    def up(self, node: Node, kids: list[Node], bound: frozenset[str]) -> Node:
        if isinstance(node, Num):
            return node
        if isinstance(node, Const):
            return Sym(node.name) if node.name in self.symbol_set else node
        if isinstance(node, Sym):
            return self.sym(node.name, bound)
        if isinstance(node, Call):
            kind, plan = self.call_plan(node, bound)
            if kind == "call":
                return Call(plan, tuple(kids))
            if kind == "mul":
                pieces = plan
                return BinOp("*", _product([self._piece(p, bound) for p in pieces]), kids[0])
            pieces, tail = plan
            head = _product([self._piece(p, bound) for p in pieces])
            return BinOp("*", head, Call(self.function_name(tail), tuple(kids)))
        if (isinstance(node, BinOp) and node.op == "^" and isinstance(node.a, Sym)
                and not node.a.grouped and isinstance(kids[0], BinOp) and kids[0].op == "*"):
            # 'wx^2' split into w*x: the exponent binds to the last factor, as in 'w x^2'
            head, last = kids[0].a, kids[0].b
            return BinOp("*", head, BinOp("^", last, kids[1]))
        if isinstance(node, Sum):
            names = tuple(_index_name(n) for n in node.indices)
            it = iter(kids)
            lower = next(it) if node.lower is not None else None
            upper = next(it) if node.upper is not None else None
            return Sum(names, lower, upper, next(it))
        return rebuild(node, kids)

    def _piece(self, name: str, bound: frozenset[str]) -> Node:
        if name in VOCABULARY.constant_values and name not in self.vocab(bound):
            return Const(name)
        return Sym(name)


def resolve_names(
    node: Node,
    *,
    symbols: Collection[str],
    functions: Collection[str] | None = None,
    indices: Collection[str] = (),
    tensors: Mapping[str, int] | None = None,
    limits: Limits = LIMITS,
    elementwise: tuple[str, ...] = (),
) -> Node:
    """Resolves every name of a parsed tree against what the part declares (``functions``
    None: those the vocabulary allows in any formula).  ``elementwise``: the indices of the
    entry an index formula gives; a tensor written bare with that many indices (``σ(Z)``)
    is read at them (``σ(Z[i, j, m])``).

    Raises :class:`InvalidAnswer` naming the unknown name and listing what is accepted.
    """
    from grader.parsing.parser import guarded

    def run() -> Node:
        names = VOCABULARY.allowed_in("formula") if functions is None else functions
        r = _Resolver(symbols, names, indices, tensors or {}, limits, tuple(elementwise))
        out = fold(node, r.up, r.down, frozenset())
        if tree_depth(out) > limits.max_tree_depth:
            raise TooComplex(f"the formula is nested too deeply (more than "
                             f"{limits.max_tree_depth} levels)",
                             expected=f"at most {limits.max_tree_depth} nested operations")
        if sum(1 for _ in walk(out)) > limits.max_nodes:
            raise TooComplex(f"the formula is too large (more than {limits.max_nodes} parts)")
        return out

    return guarded(run)


def free_symbols(node: Node) -> set[str]:
    """Names the tree depends on: ``Sym`` names not bound by an enclosing ``Sum``, plus the
    base names of ``Index`` nodes (tensors).  Constants and function names are excluded."""
    from grader.parsing.parser import guarded

    def run() -> set[str]:
        out: set[str] = set()
        stack: list[tuple[Node, frozenset[str]]] = [(node, frozenset())]
        while stack:
            n, bound = stack.pop()
            if isinstance(n, Sym):
                if n.name not in bound:
                    out.add(n.name)
            elif isinstance(n, Index):
                out.add(n.base)
                stack.extend((i, bound) for i in n.indices)
            elif isinstance(n, Sum):
                inner = bound | frozenset(n.indices)
                if n.lower is not None:
                    stack.append((n.lower, bound))
                if n.upper is not None:
                    stack.append((n.upper, bound))
                stack.append((n.body, inner))
            elif isinstance(n, Neg):
                stack.append((n.x, bound))
            elif isinstance(n, BinOp):
                stack.append((n.a, bound))
                stack.append((n.b, bound))
            elif isinstance(n, Call):
                stack.extend((a, bound) for a in n.args)
        return out

    return guarded(run)
