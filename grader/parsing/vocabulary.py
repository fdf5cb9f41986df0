"""The vocabulary: every function and constant name a student may write, in one table.

Each :class:`Function` entry says everything any reader needs: how many arguments it takes,
its other spellings (ASCII, unicode, LaTeX), whether it may be written without parentheses,
which kinds accept it without declaring it, how it evaluates on exact scalars and on numpy
arrays, and its sympy counterpart.  The lexer, resolver, evaluators, canonical echo, number
reader, table reader and formula reader all ask :data:`VOCABULARY`; none keeps a list of its
own, so adding a function is one entry in :data:`FUNCTIONS`.

Spellings of a function, from strongest to weakest:
- ``name``: the canonical spelling: every other spelling is renamed to it, the evaluators look
  it up, and :func:`grader.parsing.canonical` echoes it.
- ``synonyms`` (``ln``): as reserved as the name: applied without parentheses where the name
  may be, and admitted wherever the function is.
- ``aliases`` (``sigma``): usually a symbol elsewhere, so only a call (``sigma(x)``) is read as
  the function, and a part that declares the symbol keeps it as a symbol.
- ``declared_aliases`` (``s``): the function only where a part lists that spelling.
- ``unicode`` (``σ``): characters that spell an alias in raw text (the lexer reads ``σ`` and
  ``\\sigma`` as ``sigma``); the table reader needs them before any lexing.
- ``latex``: commands read as the function (``\\log``, ``\\ln``).

``kinds`` names where a function is accepted without being declared: ``number`` (every number
read by ``parse_number``: int and number parts, vector and matrix entries, shape sizes),
``expr``, ``index-expr`` and ``shape-formula`` (those kinds' default ``functions``) and
``formula`` (``resolve_names`` when the caller names no functions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.errors import InvalidAnswer
from grader.parsing import maths

KIND_TAGS = frozenset({"number", "expr", "index-expr", "shape-formula", "formula"})


@dataclass(frozen=True)
class Function:
    """One function: its spellings, arity, where it is accepted and how it evaluates."""

    name: str
    #: (least, most) arguments; most None: any number.
    arity: tuple[int, int | None]
    #: the value on exact scalars (int/Fraction/float; see grader.parsing.maths)
    exact: Callable[..., Any]
    #: the value on float64 arrays, element-wise
    array: Callable[..., np.ndarray]
    #: the sympy expression: ``sympy(sp, *args)`` with ``sp`` the sympy module
    sympy: Callable[..., Any]
    kinds: frozenset[str] = frozenset()
    synonyms: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    declared_aliases: tuple[str, ...] = ()
    unicode: tuple[str, ...] = ()
    latex: tuple[str, ...] = ()
    #: may be applied to the next operand without parentheses (``log x``, ``\\log x``)
    prefix: bool = False

    def __post_init__(self) -> None:
        unknown = self.kinds - KIND_TAGS
        if unknown:
            raise ValueError(f"{self.name}: unknown kind tags {sorted(unknown)}")

    @property
    def reserved(self) -> tuple[str, ...]:
        """The spellings that are always this function: the name and its synonyms."""
        return (self.name, *self.synonyms)

    @property
    def spellings(self) -> tuple[str, ...]:
        return (*self.reserved, *self.aliases, *self.declared_aliases, *self.unicode)

    def check_arity(self, written: str, count: int) -> None:
        """Raises InvalidAnswer unless ``count`` arguments suit the function (as ``written``)."""
        lo, hi = self.arity
        if lo <= count and (hi is None or count <= hi):
            return
        want = f"{lo}" if lo == hi else f"at least {lo}"
        raise InvalidAnswer(
            f"{written}(...) takes {want} argument{'s' if lo != 1 or hi != 1 else ''}, got {count}",
            expected=f"{want} argument(s)",
            example=f"{written}(x)" if lo == 1 else f"{written}(a, b)")


@dataclass(frozen=True)
class Constant:
    """A named constant (its Greek and LaTeX spellings are the lexer's letters: π, \\pi)."""

    name: str
    value: float
    sympy: Callable[[Any], Any]


_ANY = frozenset({"number", "expr", "index-expr", "formula"})
_NUMBER = frozenset({"number"})
_NUMBER_FORMULA = frozenset({"number", "formula"})

FUNCTIONS: tuple[Function, ...] = (
    Function("exp", (1, 1), maths.exp, np.exp, lambda sp, x: sp.exp(x),
             kinds=_ANY, latex=("exp",), prefix=True),
    Function("log", (1, 1), maths.log, np.log, lambda sp, x: sp.log(x),
             kinds=_ANY, synonyms=("ln",), latex=("log", "ln"), prefix=True),
    Function("sqrt", (1, 1), maths.sqrt, np.sqrt, lambda sp, x: sp.sqrt(x),
             kinds=frozenset({"number", "expr", "formula"}), latex=("sqrt",), prefix=True),
    Function("sigmoid", (1, 1), maths.sigmoid, maths.sigmoid_array, lambda sp, x: 1 / (1 + sp.exp(-x)),
             kinds=frozenset({"number", "index-expr", "formula"}), aliases=("sigma",),
             declared_aliases=("s",), unicode=("σ",), prefix=True),
    Function("tanh", (1, 1), maths.float_of(math.tanh), np.tanh, lambda sp, x: sp.tanh(x),
             kinds=_NUMBER_FORMULA, latex=("tanh",), prefix=True),
    Function("relu", (1, 1), lambda v: v if v > 0 else 0, lambda x: np.maximum(x, 0.0),
             lambda sp, x: sp.Max(x, 0), kinds=frozenset({"formula"})),
    Function("abs", (1, 1), abs, np.abs, lambda sp, x: sp.Abs(x), kinds=frozenset({"formula"})),
    Function("floor", (1, 1), math.floor, np.floor, lambda sp, x: sp.floor(x),
             kinds=frozenset({"number", "shape-formula", "formula"}), latex=("floor",)),
    Function("ceil", (1, 1), math.ceil, np.ceil, lambda sp, x: sp.ceiling(x),
             kinds=frozenset({"number", "shape-formula", "formula"}), latex=("ceil",)),
    Function("sin", (1, 1), maths.float_of(math.sin), np.sin, lambda sp, x: sp.sin(x),
             kinds=_NUMBER, latex=("sin",), prefix=True),
    Function("cos", (1, 1), maths.float_of(math.cos), np.cos, lambda sp, x: sp.cos(x),
             kinds=_NUMBER, latex=("cos",), prefix=True),
    Function("tan", (1, 1), maths.float_of(math.tan), np.tan, lambda sp, x: sp.tan(x),
             kinds=_NUMBER, latex=("tan",), prefix=True),
    Function("sec", (1, 1), maths.reciprocal_of(math.cos), lambda x: 1 / np.cos(x),
             lambda sp, x: sp.sec(x), kinds=_NUMBER, latex=("sec",), prefix=True),
    Function("csc", (1, 1), maths.reciprocal_of(math.sin), lambda x: 1 / np.sin(x),
             lambda sp, x: sp.csc(x), kinds=_NUMBER, latex=("csc",), prefix=True),
    Function("cot", (1, 1), maths.reciprocal_of(math.tan), lambda x: 1 / np.tan(x),
             lambda sp, x: sp.cot(x), kinds=_NUMBER, latex=("cot",), prefix=True),
    Function("sinh", (1, 1), maths.float_of(math.sinh), np.sinh, lambda sp, x: sp.sinh(x),
             kinds=_NUMBER_FORMULA, latex=("sinh",), prefix=True),
    Function("cosh", (1, 1), maths.float_of(math.cosh), np.cosh, lambda sp, x: sp.cosh(x),
             kinds=_NUMBER_FORMULA, latex=("cosh",), prefix=True),
    Function("min", (2, None), lambda *a: min(a), maths.fold_arrays(np.minimum),
             lambda sp, *a: sp.Min(*a), kinds=frozenset({"formula"}), latex=("min",)),
    Function("max", (2, None), lambda *a: max(a), maths.fold_arrays(np.maximum),
             lambda sp, *a: sp.Max(*a), kinds=frozenset({"formula"}), latex=("max",)),
)

CONSTANTS: tuple[Constant, ...] = (
    Constant("pi", math.pi, lambda sp: sp.pi),
    Constant("e", math.e, lambda sp: sp.E),
)


class Vocabulary:
    """The lookups every reader needs, built once from the entries."""

    def __init__(self, functions: Iterable[Function], constants: Iterable[Constant]) -> None:
        self._build(tuple(functions), tuple(constants))

    def _build(self, functions: tuple[Function, ...], constants: tuple[Constant, ...]) -> None:
        by_spelling: dict[str, Function] = {}
        for f in functions:
            for s in f.spellings:
                if s in by_spelling:
                    raise ValueError(f"'{s}' spells both {by_spelling[s].name} and {f.name}")
                by_spelling[s] = f
        self.functions = functions
        self.constants = constants
        self._by_spelling = by_spelling
        #: every spelling other than the name -> the name (``ln`` -> ``log``, ``σ`` -> ``sigmoid``)
        self.aliases: dict[str, str] = {s: f.name for s, f in by_spelling.items() if s != f.name}
        #: spellings that are always a function: a call after ``^`` binds (``2^exp(x)``)
        self.reserved: frozenset[str] = frozenset(s for f in functions for s in f.reserved)
        #: spellings that may be applied without parentheses (``y log x``)
        self.prefix: frozenset[str] = frozenset(s for f in functions if f.prefix for s in f.reserved)
        #: LaTeX command -> the spelling it is read as
        self.latex: dict[str, str] = {
            cmd: cmd if cmd in f.reserved else f.name for f in functions for cmd in f.latex
        }
        self.constant_names: tuple[str, ...] = tuple(c.name for c in constants)
        self.constant_values: dict[str, float] = {c.name: c.value for c in constants}
        self._allowed = {tag: tuple(s for f in functions if tag in f.kinds for s in f.reserved)
                         for tag in KIND_TAGS}
        self._accepted = {tag: tuple(dict.fromkeys(s for f in functions if tag in f.kinds
                                                  for s in (*f.reserved, *f.aliases)))
                          for tag in KIND_TAGS}
        self._written = {tag: frozenset(s for f in functions if tag in f.kinds
                                        for s in (*f.reserved, *f.aliases, *f.unicode))
                         for tag in KIND_TAGS}

    def function(self, spelling: str) -> Function | None:
        """The entry any spelling names, or None."""
        return self._by_spelling.get(spelling)

    def allowed_in(self, kind: str) -> tuple[str, ...]:
        """The reserved spellings (names and synonyms) a kind accepts without a declaration."""
        return self._allowed[_tag(kind)]

    def accepted_in(self, kind: str) -> tuple[str, ...]:
        """What a kind accepts without a declaration: its allowed spellings and their aliases
        (``sigma`` with ``sigmoid``), for a reader that declares nothing (number answers)."""
        return self._accepted[_tag(kind)]

    def implied(self, spelling: str) -> tuple[str, ...]:
        """Spellings admitted along with a function: its synonyms and aliases."""
        f = self._by_spelling.get(spelling)
        return (*f.synonyms, *f.aliases) if f is not None else ()

    def written_in(self, kind: str) -> frozenset[str]:
        """Every way a function a kind accepts is written in raw text (before lexing)."""
        return self._written[_tag(kind)]

    @contextmanager
    def extended(self, *functions: Function) -> Iterator[Vocabulary]:
        """For tests: these entries as well, for the duration of the block."""
        saved = (self.functions, self.constants)
        self._build(saved[0] + functions, saved[1])
        try:
            yield self
        finally:
            self._build(*saved)


def _tag(kind: str) -> str:
    if kind not in KIND_TAGS:
        raise ValueError(f"unknown kind tag {kind!r} (one of {', '.join(sorted(KIND_TAGS))})")
    return kind


VOCABULARY = Vocabulary(FUNCTIONS, CONSTANTS)
