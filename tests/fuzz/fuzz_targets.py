"""What the fuzz tests feed and to which parsers: strategies and the targets' invariants.

Shared by the short CI tests (`test_fuzz_parsers.py`) and the long run (`run_long.py`).
Invariants, for every input: the parser returns or raises `InvalidAnswer` (nothing else),
within the per-part budget; an accepted answer re-parses from its canonical echo to the same
value (numbers up to the 10 significant digits the echo shows; formulas by a canonical echo
that is a fixed point).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

from grader.errors import InvalidAnswer
from grader.run.pool import DEFAULT_BUDGET
from grader.kinds import Choice, Expr, Int, Location, Matrix, Number, Shape, ShapeFormula, Vector
from grader.kinds.index_expr import IndexExpr
from grader.parsing import fmt_number
from grader.parsing import canonical, parse_math, parse_number
from grader.sampling import Count

# -- the grammar's pieces --------------------------------------------------------------------
# Inputs are built with a plain random.Random (hypothesis hands it over via st.randoms, and the
# long run seeds it directly): hypothesis' own recursive strategies cost ~40 ms a draw here,
# a hundred times the parse they feed.
NUMBERS = [
    "0.9933", "9.933e-1", "1.2×10^-3", r"1.2 \times 10^{-3}", "3/4", "−6", "61 706", "61,706", "61_706",
    "1e999999", "9**9**9", "1,5", ".5", "5.", "1e-400", "0x1F", "١٢", "½", "∞", "NaN", "10^{-3}", "2.5E+3",
    # issue 10 readings: LaTeX grouping, full-width digits, x and // between numbers
    "61,\\!706", "61\\,706", "61{,}706", "６１，７０６", "６１７０６", "6x6x256", "3 x 4", "7//2", "0{,}5",
]
SYMBOLS = [
    "x", "y", "z", "V", "h_i", "x_{i+j-1}", "ŷ", "yhat", "σ", "sigma", "w_i", "H", "K", "P", "S", "D", "W", "F",
    "C", "X[i+k1, j+k2, n]", "W[k1,k2,n,m]", "dZ[i,j,m]", "x_{c,2(j-1)+k}", r"\hat{y}", r"\sigma", "α", "θ_1",
    "e", "pi", r"\pi", "i", "j", "k", "Z[1,3]",
]
UNARY = ["-", "+", "−", ""]
BINARY = ["+", "-", "*", "/", "^", "**", "·", "×", "−", "⋅", " ", r" \cdot ", r" \times ", "÷", "%", ", ", " x ", "; ", "\n", " & ", r" \\ "]
FUNCS = ["exp", "log", "ln", "sqrt", "sigmoid", "s", "σ", "floor", "ceil", "relu", "sin", "tanh", "cosh", "sec", "cot"]
LATEX_FUNCS = [r"\log", r"\exp", r"\sqrt", r"\sigma", r"\ln", r"\hat", r"\mathbb", r"\tanh", r"\cosh", r"\sec"]
WRAPS = [
    "({})", r"\left( {} \right)", "[{}]", "{{{}}}", "⌊{}⌋", r"\lfloor {} \rfloor", "e^{{{}}}", "sum_{{i,j}} {}",
    r"\sum_{{k=1}}^{{4}} {}", r"\sum_{{k_1,k_2}} {}", "sum({}, i, j)", "dR/dw_i = {}", "${}$", "R^{{{}}}",
    r"\begin{{bmatrix}} {} \end{{bmatrix}}", "tensor([{}])",
    # issue 10 readings: equality chains, labels and units, a final period, function powers
    "a = b = {}", "{} = 3*3*64 + 64 = 640", "J ≈ {}", "Total params: {}", "{} parameters", "{}.", "{} by 7",
    r"\tan^2 {}", r"\log^{{2}} {}", "log^2 {}", r"\sin^{{-1}} {}", "{}//3", "{}[i][j]", "({},)",
    "{} — because h_t depends on h_{{t-1}}",
]


def _number(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.3:
        return str(rng.randint(-10**6, 10**6))
    if pick < 0.5:
        return repr(rng.choice([rng.uniform(-1e3, 1e3), rng.expovariate(1e-3), 10 ** rng.uniform(-300, 300)]))
    if pick < 0.6:
        return f"{rng.randint(0, 10**9):,}"
    return rng.choice(NUMBERS)


def formula(rng: random.Random, depth: int = 0) -> str:
    """A formula built from the grammar's pieces (numbers, symbols, operators, brackets, LaTeX...)."""
    if depth > 5 or rng.random() < 0.35 + 0.1 * depth:
        return _number(rng) if rng.random() < 0.45 else rng.choice(SYMBOLS)
    sub = lambda: formula(rng, depth + 1)  # noqa: E731
    pick = rng.random()
    if pick < 0.35:
        return sub() + rng.choice(BINARY) + sub()
    if pick < 0.45:
        return rng.choice(UNARY) + sub()
    if pick < 0.65:
        return rng.choice(WRAPS).format(sub())
    if pick < 0.75:
        return f"{rng.choice(FUNCS)}({sub()})"
    if pick < 0.82:
        return f"{rng.choice(LATEX_FUNCS)}{{{sub()}}}"
    if pick < 0.88:
        return rf"\frac{{{sub()}}}{{{sub()}}}"
    if pick < 0.94:
        return f"{sub()}{rng.choice(['^', '_'])}{{{sub()}}}"
    return sub() + sub()  # implicit multiplication


# Answers written the accepted ways (answer-format.md), to be mutated.
VALID = [
    "61706", "61,706", "61 706", "61_706", "-6", "0.9933", "9.933e-1", "1.2×10^-3", r"1.2 \times 10^{-3}",
    "3/4", "−6", "(5*5*1+1)*6", "-1/3*(log(0.2)+log(0.5)+log(0.9))", "[[2, 1], [1, 1]]", "[2 1; 1 1]",
    r"\begin{bmatrix} 2 & 1 \\ 1 & 1 \end{bmatrix}", "2 1\n1 1", "[1, 2, 3]", "1 2 3", "46x62x20",
    "46 × 62 × 20", "(46, 62, 20)", r"\mathbb{R}^{46 \times 62 \times 20}", "R^{46×62×20}", "N×46×62×20",
    "(1, 3)", "1,3", "Z[1,3]", "2(y-z)h_i", "3V+1", r"\frac{a}{b}", r"-(y \log \hat{y} + (1-y)\log(1-\hat{y}))",
    "-(y*log(yhat)+(1-y)*log(1-yhat))", "floor((H+2P-D(K-1)-1)/S)+1",
    "F x (floor((H+2P-D(K-1)-1)/S)+1) x (floor((W+2P-D(K-1)-1)/S)+1)",
    "sum_{i,j} dZ[i,j,m]*X[i+k1,j+k2,n]", r"\sum_{k_1,k_2} W[k_1,k_2,n,m] dZ_{i-k_1,j-k_2,m}",
    "-2(y-z) sum_{i=1}^{4} w_i h_i (1-h_i) x_{i+j-1}", "x_{c,2(j-1)+k}", "smaller", "larger", "Same", "s",
    "dR/dw_i = -2(y-z)h_i", "σ(x)(1-σ(x))", "⌊(H-K)/S⌋+1", "$3V + 1$",
    # issue 10 readings
    "7 parameters", "7 parameters.", "J ≈ 0.8026", "Total params: 61,706", "3*3*64 + 64 = 576 + 64 = 640", "640.",
    "46 by 62 by 20", "(2,)", "false — because h_t depends on h_{t-1}", "False, h_t depends on h_{t-1}", "３Ｖ＋１",
    "６１，７０６", "４６×６２×２０", r"\tan^2 y", "log^2 n", r"\sin^{-1} x", "wx^2", "nm^(-1)", "dU[i][j][m]",
    "σ(Z)(1-σ(Z)) dU", "cosh(0) + sec(0) + tanh(1)", "floor(7/2) + ceil(3.5)", "(H-K)//S + 1", "61,\\!706",
    "3 x 4", "6x6x256", "exp(-1000)",
]
FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}  # ASCII -> its full-width form
INSERTS = list("()[]{}^_*/+-−,;.$\\ \n\t\x00\u202e\u200b×") + [r"\frac", r"\left(", "^{", "_{", "**", "1e309", "9**9"]


def mutated(rng: random.Random) -> str:
    """A valid answer with a few random edits."""
    text = rng.choice(VALID)
    for _ in range(rng.randint(1, 4)):
        i = rng.randint(0, len(text))
        j = rng.randint(i, min(len(text), i + 6))
        op = rng.randrange(6)
        if op == 5:  # full-width: what an East Asian input method types
            text = text[:i] + "".join(FULL_WIDTH.get(c, c) for c in text[i:j]) + text[j:]
        elif op == 0:
            text = text[:i] + rng.choice(INSERTS) + text[i:]
        elif op == 1:
            text = text[:i] + text[j:]
        elif op == 2:
            text = text[:i] + text[i:j] * rng.randint(2, 40) + text[j:]
        elif op == 3:
            text = text[:i] + text[i:j][::-1] + text[j:]
        else:
            text = text[:i]
    return text


_PLANES = [(0x20, 0x7E), (0xA0, 0x24F), (0xFF00, 0xFFEF), (0x370, 0x3FF), (0x590, 0x6FF), (0x2000, 0x2BFF), (0x1D400, 0x1D7FF), (0x0, 0x10FFFF)]


def unicode_text(rng: random.Random) -> str:
    """Random code points, mostly from blocks near what students type (maths, Greek, RTL)."""
    out = []
    for _ in range(rng.randint(0, 40)):
        lo, hi = rng.choice(_PLANES)
        cp = rng.randint(lo, hi)
        out.append(chr(cp) if not 0xD800 <= cp <= 0xDFFF else "?")
    return "".join(out)


def native(rng: random.Random, depth: int = 0) -> object:
    """A TOML/JSON value (kinds with structure also accept arrays)."""
    pick = rng.random()
    if depth < 4 and pick < 0.3:
        return [native(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    if depth < 4 and pick < 0.35:
        return {str(k): native(rng, depth + 1) for k in range(rng.randint(0, 3))}
    return rng.choice([
        rng.randint(-10, 10), rng.randint(-2**70, 2**70), rng.uniform(-10, 10), float("nan"), float("inf"),
        True, None, _number(rng), rng.choice(SYMBOLS), 1e308, -0.0,
    ])


def answer(rng: random.Random) -> object:
    """One input of any family: grammar-shaped, mutated valid, random unicode or native."""
    family = rng.random()
    if family < 0.35:
        return formula(rng)
    if family < 0.6:
        return mutated(rng)
    if family < 0.7:
        return rng.choice(VALID)
    if family < 0.85:
        return unicode_text(rng)
    return native(rng)


ANSWERS = st.one_of(st.randoms(use_true_random=False).map(answer), st.text(max_size=40))
TEXT = st.one_of(st.randoms(use_true_random=False).map(formula), st.randoms(use_true_random=False).map(mutated))


# -- the targets -----------------------------------------------------------------------------
def _close(a: Any, b: Any) -> bool:
    """Equal values, up to the 10 significant digits a numeric echo shows."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=0, equal_nan=True))
    exact = (int, Fraction)
    if isinstance(a, exact) and isinstance(b, exact):  # may be far beyond float range
        return a == b or abs(Fraction(a) - Fraction(b)) <= abs(Fraction(a)) * Fraction(1, 10**9)
    if isinstance(a, (int, float, Fraction)) and isinstance(b, (int, float, Fraction)):
        try:
            fa, fb = float(a), float(b)
        except OverflowError:
            return False
        return fa == fb or math.isclose(fa, fb, rel_tol=1e-9) or (math.isnan(fa) and math.isnan(fb))
    return a == b


@dataclass(frozen=True)
class Target:
    name: str
    parse: Callable[[Any], Any]
    echo: Callable[[Any], str]
    same: Callable[[Any, Any], bool]
    text_only: bool = False


def _kind_target(name: str, kind: Any, same: Callable[[Any, Any], bool] = _close) -> Target:
    return Target(name, kind.parse, kind.canonical, same)


def _by_echo(echo: Callable[[Any], str]) -> Callable[[Any, Any], bool]:
    return lambda a, b: echo(a) == echo(b)


_EXPR = Expr(["y", "z", "h_i", "yhat", "V", "w", "x", "n", "m"], functions=["exp", "log", "sqrt", "tan", "sin", "tanh", "cosh", "sec"])
_SHAPE_F = ShapeFormula({s: Count(1, 9) for s in "CHWKPSDF"})
_INDEX = IndexExpr({"X": 3, "W": 4, "Z": 3, "dZ": 3, "dU": 3, "w": 1, "h": 1, "x": 1}, free=("i", "j", "m"),
                   scalars=("y", "z"), indices=("k1", "k2", "n", "k", "c"))

TARGETS = [
    Target("parse_math", parse_math, canonical, _by_echo(canonical), text_only=True),
    Target("parse_number", parse_number, lambda v: fmt_number(v, 12), _close, text_only=True),
    _kind_target("int", Int()),
    _kind_target("number", Number()),
    _kind_target("vector", Vector(3)),
    _kind_target("matrix", Matrix(2, 2)),
    _kind_target("shape", Shape()),
    _kind_target("shape-batch", Shape(batch=True)),
    _kind_target("shape-formula", _SHAPE_F, _by_echo(_SHAPE_F.canonical)),
    _kind_target("location", Location(base=0, name="Z")),
    _kind_target("choice", Choice(["smaller", "larger", "same"])),
    _kind_target("choice-tf", Choice(["true", "false"])),
    _kind_target("expr", _EXPR, _by_echo(_EXPR.canonical)),
    _kind_target("index-expr", _INDEX, _by_echo(_INDEX.canonical)),
]


# Problems found by fuzzing and reported, not yet fixed: recognised precisely, so that any
# other problem of the same parser still fails. Remove an entry when its fix lands.
KNOWN_ISSUES: list[Callable[[Target, Any], bool]] = []


@dataclass
class Outcome:
    accepted: bool
    seconds: float
    problem: str | None = None  # an invariant broken: the unhandled exception or the round trip


def check(target: Target, raw: Any, budget: float = DEFAULT_BUDGET) -> Outcome:
    """Run one input through one target and check the invariants."""
    t0 = time.perf_counter()
    try:
        value = target.parse(raw)
    except InvalidAnswer:
        return Outcome(False, time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - the invariant under test
        return Outcome(False, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"[:300])
    seconds = time.perf_counter() - t0
    if seconds > budget:
        return Outcome(True, seconds, f"took {seconds:.2f} s (budget {budget:g} s)")
    try:
        echo = target.echo(value)
        again = target.parse(echo)
    except Exception as exc:  # noqa: BLE001
        return Outcome(True, seconds, f"echo does not re-parse: {type(exc).__name__}: {exc}"[:300])
    if not target.same(value, again):
        return Outcome(True, seconds, f"echo {echo!r} re-parses to a different value")
    return Outcome(True, seconds)


def known(target: Target, raw: Any) -> bool:
    return any(issue(target, raw) for issue in KNOWN_ISSUES)
