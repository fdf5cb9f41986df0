"""A value written the way students may write it, in every syntax answer-format.md accepts.

Used by `grader key check` (the reference in each accepted syntax must earn full marks) and
by the synthetic-class benchmark (realistic right answers in alternative forms). Formula
parts have no value to render: their model answers are the part's `solutions` texts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.kinds import Choice, Int, Location, LocationTarget, Matrix, Number, Shape, Vector
from grader.kinds.base import Kind


def _num(x: float) -> str:
    """An entry with enough digits to pass any tolerance (integers stay integers)."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _grouped(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


def render_int(v: int) -> list[Any]:
    forms: list[Any] = [str(v), v]
    if abs(v) >= 1000:
        forms += [_grouped(v, ","), _grouped(v, " "), _grouped(v, "_")]
    if v < 0:
        forms.append("\u2212" + str(-v))
    return forms


def render_number(r: float) -> list[Any]:
    forms: list[Any] = [repr(r), r, f"{r:.3g}", f"{r:.6e}"]
    if r != 0 and np.isfinite(r):
        exp = int(np.floor(np.log10(abs(r))))
        mant = r / 10**exp
        forms += [f"{mant:.6f}×10^{exp}", f"{mant:.6f} \\times 10^{{{exp}}}", f"{mant:.6f}*10**{exp}"]
    if r < 0:
        forms.append("\u2212" + repr(-r))
    return forms


def render_vector(v: np.ndarray) -> list[Any]:
    items = [_num(x) for x in v]
    return [
        " ".join(items),
        ", ".join(items),
        "[" + ", ".join(items) + "]",
        "(" + ", ".join(items) + ")",
        "\n".join(items),
        [float(x) for x in v],
        "\\begin{bmatrix} " + " \\\\ ".join(items) + " \\end{bmatrix}",
    ]


def render_matrix(m: np.ndarray) -> list[Any]:
    rows = [[_num(x) for x in row] for row in m]
    cols = "c" * m.shape[1]
    latex_body = " \\\\ ".join(" & ".join(r) for r in rows)
    return [
        "\n".join(" ".join(r) for r in rows),
        "\n".join("\t".join(r) for r in rows),
        "\n".join(", ".join(r) for r in rows),
        "[" + ", ".join("[" + ", ".join(r) + "]" for r in rows) + "]",
        "[" + "; ".join(" ".join(r) for r in rows) + "]",
        [[float(x) for x in row] for row in m],
        f"\\begin{{bmatrix}} {latex_body} \\end{{bmatrix}}",
        f"\\begin{{pmatrix}} {latex_body} \\end{{pmatrix}}",
        f"\\left[\\begin{{array}}{{{cols}}} {latex_body} \\end{{array}}\\right]",
    ]


def render_shape(s: tuple[int, ...]) -> list[Any]:
    items = [str(d) for d in s]
    forms: list[Any] = [
        "x".join(items),
        " × ".join(items),
        "(" + ", ".join(items) + ")",
        "[" + ", ".join(items) + "]",
        "*".join(items),
        "R^{" + "×".join(items) + "}",
        "\\mathbb{R}^{" + " \\times ".join(items) + "}",
        [int(d) for d in s],
    ]
    return forms


def render_location(t: LocationTarget, kind: Location) -> list[Any]:
    hits = np.argwhere(t.mask)
    if not len(hits):
        return []
    idx = [str(int(i) + kind.base) for i in hits[0]]
    return ["(" + ", ".join(idx) + ")", ",".join(idx), "[" + ", ".join(idx) + "]", f"{kind.array}[{','.join(idx)}]", [int(i) for i in idx]]


def render_choice(option: str, kind: Choice) -> list[Any]:
    forms: list[Any] = [option, option.upper(), option.capitalize()]
    first = option[0].lower()
    if sum(o.lower().startswith(first) for o in kind.options) == 1:
        forms.append(first.upper())
    return forms


def renderings(kind: Kind, value: Any) -> list[Any]:
    """Every accepted way of writing `value` for `kind` (empty for formula kinds)."""
    if isinstance(kind, Int):
        return render_int(int(value))
    if isinstance(kind, Number):
        return render_number(float(value))
    if isinstance(kind, Vector):
        return render_vector(np.asarray(value))
    if isinstance(kind, Matrix):
        return render_matrix(np.asarray(value))
    if isinstance(kind, Shape):
        return render_shape(tuple(value))
    if isinstance(kind, Location):
        return render_location(value, kind)
    if isinstance(kind, Choice):
        return render_choice(str(value), kind)
    return []
