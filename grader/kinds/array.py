"""Vectors and matrices, checked entry by entry within a tolerance.

Every way a student writes a table of numbers is read by `grader.parsing.table` (see its
docstring for the accepted forms); a vector may be a row or a column. With `per_entry`, each
right entry earns its share of the marks; otherwise every entry must be right.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from grader.kinds.base import Kind, Match
from grader.kinds.tolerance import tolerance_phrase, within
from grader.kinds.values import array_of
from grader.parsing.numbers import fmt_number
from grader.parsing.table import read_table
from grader.parsing.text import example_for

_SAMPLE_ENTRIES = ("2", "-1", "0.5", "3", "0", "1.25", "-4", "7")


def _sample(i: int) -> str:
    return _SAMPLE_ENTRIES[i % len(_SAMPLE_ENTRIES)]


def _entry(x: float) -> str:
    """An entry with enough digits to pass any tolerance (integers stay integers)."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def fmt_array(arr: np.ndarray) -> str:
    """`[2, 1, 1]` or `[[2, 1], [1, 1]]`: readable and accepted back by `parse`."""
    if arr.ndim == 1:
        return "[" + ", ".join(fmt_number(x, 10) for x in arr) + "]"
    return "[" + ", ".join(fmt_array(row) for row in arr) + "]"


def dims(shape: Sequence[int]) -> str:
    return "×".join(str(n) for n in shape)


def _first_wrong(ok: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(~ok)[0])


class _Array(Kind):
    """Shared compare/encode for vectors and matrices."""

    rel_tol: float
    abs_tol: float
    per_entry: bool

    def _where(self, index: tuple[int, ...]) -> str:
        if len(index) == 1:
            return f"at position {index[0] + 1}"
        return f"at row {index[0] + 1}, column {index[1] + 1}"

    def _shape_phrase(self, shape: tuple[int, ...]) -> str:
        raise NotImplementedError

    def compare(self, answer: Any, target: Any) -> Match:
        a = np.asarray(answer, dtype=np.float64)
        t = np.asarray(target, dtype=np.float64)
        if a.shape != t.shape:
            return Match(0.0, f"Expected {self._shape_phrase(t.shape)}, got {self._got(a.shape)}.")
        ok = within(a, t, self.rel_tol, self.abs_tol)
        right, total = int(ok.sum()), int(ok.size)
        if right == total:
            return Match(1.0)
        where = self._where(_first_wrong(ok))
        tol = f"Entries are {tolerance_phrase(self.rel_tol, self.abs_tol)}."
        if self.per_entry:
            return Match(right / total, f"{right} of {total} entries correct; first wrong entry {where}. {tol}")
        return Match(
            0.0,
            f"{right} of {total} entries correct, and every entry must be right for this part; "
            f"first wrong entry {where}. {tol}",
        )

    def _got(self, shape: tuple[int, ...]) -> str:
        if len(shape) == 1:
            return f"{shape[0]} entr{'y' if shape[0] == 1 else 'ies'}"
        return dims(shape)

    def canonical(self, value: Any) -> str:
        return fmt_array(np.asarray(value, dtype=np.float64))

    def encode(self, value: Any) -> list[Any]:
        return np.asarray(value, dtype=np.float64).tolist()

    def decode(self, data: Any) -> np.ndarray:
        return np.asarray(data, dtype=np.float64)


class Vector(_Array):
    """A vector of `length` numbers, typed as a row or a column."""

    name = "vector"

    def __init__(self, length: int, per_entry: bool = False, rel_tol: float = 0.005, abs_tol: float = 1e-9) -> None:
        if length < 1:
            raise ValueError("a vector has at least one entry")
        self.length = length
        self.per_entry = per_entry
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol
        entries = [_sample(i) for i in range(length)]
        self.examples = (  # type: ignore[misc]
            "[" + ", ".join(entries) + "]",
            " ".join(entries),
            "(" + ", ".join(entries) + ")",
            "\n".join(entries),
        )

    def parse(self, raw: Any) -> np.ndarray:
        with example_for(self.examples[0]):
            arr, _flat = read_table(raw)
        if arr.ndim == 2 and 1 in arr.shape:
            arr = arr.reshape(-1)  # a row or a column: the same vector
        return arr

    def normalise(self, value: Any) -> np.ndarray:
        arr = array_of(value)
        if arr.ndim != 1:
            if arr.size != max(arr.shape, default=1):
                raise ValueError(f"a vector part's reference has shape {arr.shape}")
            arr = arr.reshape(-1)
        return arr

    def _shape_phrase(self, shape: tuple[int, ...]) -> str:
        return f"a vector of {shape[0]} entries" if len(shape) == 1 else f"a {dims(shape)} array"

    def _got(self, shape: tuple[int, ...]) -> str:
        return super()._got(shape) if len(shape) == 1 else f"a {dims(shape)} matrix"

    def forms(self, value: Any) -> list[Any]:
        items = [_entry(x) for x in np.asarray(value)]
        return [
            " ".join(items),
            ", ".join(items),
            "[" + ", ".join(items) + "]",
            "(" + ", ".join(items) + ")",
            "\n".join(items),
            [float(x) for x in np.asarray(value)],
            "\\begin{bmatrix} " + " \\\\ ".join(items) + " \\end{bmatrix}",
        ]

    def describe(self) -> str:
        return f"a vector of {self.length} number{'s' if self.length != 1 else ''}"

    def mismatch(self, value: Any) -> str | None:
        shape = np.asarray(value).shape
        if shape == (self.length,):
            return None
        return f"declared Vector({self.length}) but the reference has {self._got(shape)}"


class Matrix(_Array):
    """A rows×cols matrix."""

    name = "matrix"

    def __init__(
        self, rows: int, cols: int, per_entry: bool = False, rel_tol: float = 0.005, abs_tol: float = 1e-9
    ) -> None:
        if rows < 1 or cols < 1:
            raise ValueError("a matrix has at least one row and one column")
        self.rows = rows
        self.cols = cols
        self.per_entry = per_entry
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol
        grid = [[_sample(r * cols + c) for c in range(cols)] for r in range(rows)]
        self.examples = (  # type: ignore[misc]
            "[" + ", ".join("[" + ", ".join(row) + "]" for row in grid) + "]",
            "\n".join(" ".join(row) for row in grid),
            "[" + "; ".join(" ".join(row) for row in grid) + "]",
            r"\begin{bmatrix} " + r" \\ ".join(" & ".join(row) for row in grid) + r" \end{bmatrix}",
        )

    def parse(self, raw: Any) -> np.ndarray:
        with example_for(self.examples[0]):
            arr, flat = read_table(raw)
        if arr.ndim == 1:  # a flat native list: a column only if the part asks for one
            arr = arr.reshape(-1, 1) if (flat and self.cols == 1 and self.rows == arr.size) else arr.reshape(1, -1)
        return arr

    def normalise(self, value: Any) -> np.ndarray:
        arr = array_of(value)
        while arr.ndim > 2 and arr.shape[0] == 1:  # conv outputs carry batch/channel axes of 1
            arr = arr[0]
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1) if (self.cols == 1 and self.rows == arr.size) else arr.reshape(1, -1)
        if arr.ndim != 2:
            raise ValueError(f"a matrix part's reference has shape {arr.shape}")
        return arr

    def _shape_phrase(self, shape: tuple[int, ...]) -> str:
        return f"a {dims(shape)} matrix"

    def forms(self, value: Any) -> list[Any]:
        m = np.asarray(value)
        rows = [[_entry(x) for x in row] for row in m]
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

    def describe(self) -> str:
        return f"a {self.rows}×{self.cols} matrix"

    def mismatch(self, value: Any) -> str | None:
        shape = np.asarray(value).shape
        if shape == (self.rows, self.cols):
            return None
        return f"declared Matrix({self.rows}, {self.cols}) but the reference is {dims(shape)}"
