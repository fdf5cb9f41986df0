"""Tensor shapes: fixed sizes (`46×62×20`) or sizes given by formulas (`F × ⌊(H-K)/S⌋+1`).

Accepted wrappers: `(…)`, `[…]`, `R^{…}`, `\\mathbb{R}^{…}`, `ℝ^{…}`, `torch.Size([…])`, and
`Z ∈ …` in front. How dimensions are separated:
  * `Shape` (numbers only): `×`, `\\times`, `x`, `*`, `·`, commas, or just spaces.
  * `ShapeFormula` (entries are formulas): `×`, `\\times`, commas outside brackets, and `x`
    with spaces around it (` x `) or between two digits (`5x4`). `*` and `\\cdot` stay
    multiplication *inside* an entry, so `2*F × H` has two dimensions, `2F` and `H`.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import numpy as np

from grader.errors import InvalidAnswer
from grader.kinds.base import Kind, Match
from grader.kinds.sampled import (
    SampledKind, agree, checked_points, shown, evaluate, pick_miss, point_text, points_phrase, sample_details,
)
from grader.kinds.symbolic import prove
from grader.kinds.values import scalar_of, untensor
from grader.parsing import VOCABULARY
from grader.parsing import canonical as formula_text
from grader.parsing.brackets import enclosed, has_top, split_top
from grader.parsing.formula import function_table, read_formula
from grader.parsing.numbers import fmt_number, read_number
from grader.parsing.text import check_length, describe_native, example_for, fold_width, point_into, short, strip_math
from grader.sampling import Domain, Sample, draw

SHAPE_TEXT_LIMIT = 1_000
FORMULA_SHAPE_TEXT_LIMIT = 10_000
MAX_DIMS = 32

_SPACE_OF = re.compile(
    r"^(?:[^\W\d]\w*\s*(?:∈|\\in(?![A-Za-z]))\s*)?"  # `Z ∈ `
    r"(?:\\mathbb\s*\{\s*R\s*\}|\\mathbb\s+R|\\mathbb\{R\}|\\R(?![A-Za-z])|\\Re(?![A-Za-z])|ℝ|R)\s*\^\s*",
)
_SIZE_CALL = re.compile(r"^(?:torch\s*\.\s*)?Size\s*\((?P<inner>.*)\)$", re.S)
_IN = re.compile(r"^[^\W\d]\w*\s*(?:∈|\\in(?![A-Za-z]))\s*")
# `46 by 62 by 20`: "by" as a word between sizes
_BY = r"(?<=\s)by(?=\s)"
_FIXED_SEP = re.compile(r"\s*(?:×|\\times(?![A-Za-z])|[xX*·⋅,;]|\\cdot(?![A-Za-z])|" + _BY + r")\s*")
_SPACE = re.compile(r"\s+")
_BATCH = re.compile(r"^(?:-1|−1|N|B|n|None|batch|\?)$")
_UINT = re.compile(r"^\d{1,18}$")
MAX_SIZE = 10**12
SIZE_TOL = 1e-9


def _dims_text(shape: Sequence[int]) -> str:
    return "×".join(str(n) for n in shape) if shape else "()"


def _unwrap_shape(text: str, limit: int) -> str:
    """The list of dimensions inside any accepted wrapper (a Python tuple's trailing comma,
    `(2,)`, dropped)."""
    check_length(text, limit, "shape")
    text = strip_math(fold_width(text))
    m = _SIZE_CALL.match(text)
    if m:
        text = m.group("inner").strip()
    m = _SPACE_OF.match(text)
    if m:
        text = text[m.end() :].strip()
        if enclosed(text, "{"):
            text = text[1:-1].strip()
    else:
        text = _IN.sub("", text)
    bracketed = False
    while enclosed(text, "([{"):
        text, bracketed = text[1:-1].strip(), True
    if bracketed and text.endswith(",") and not text.endswith(",,"):
        text = text[:-1].rstrip()
    return text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _which(positions: Sequence[int]) -> str:
    if len(positions) == 1:
        return f"Dimension {positions[0]} is wrong"
    listed = ", ".join(str(p) for p in positions[:-1]) + f" and {positions[-1]}"
    return f"Dimensions {listed} are wrong"


class Shape(Kind):
    """A tensor shape with fixed sizes; with `batch`, a leading `N` or `-1` is allowed and ignored."""

    name = "shape"
    # A neutral shape (no part's answer): examples are shown to students, in hints and templates.
    examples = ("7×9×4", "7 x 9 x 4", "(7, 9, 4)", "[7, 9, 4]", r"\mathbb{R}^{7 \times 9 \times 4}")

    def __init__(self, batch: bool = False) -> None:
        self.batch = batch
        if batch:
            self.examples = self.examples + ("N×7×9×4", "(-1, 7, 9, 4)")  # type: ignore[misc]

    def parse(self, raw: Any) -> tuple[int, ...]:
        with example_for(self.examples[0]):
            return self._parse(raw)

    def _parse(self, raw: Any) -> tuple[int, ...]:
        if isinstance(raw, bool):
            raise InvalidAnswer("true/false is not a shape", example=self.examples[0])
        if isinstance(raw, int):
            entries: list[Any] = [raw]
        elif isinstance(raw, (list, tuple)):
            if len(raw) > MAX_DIMS:
                raise InvalidAnswer(f"a shape has at most {MAX_DIMS} dimensions", example=self.examples[0])
            entries = list(raw)
        elif isinstance(raw, str):
            text = _unwrap_shape(raw, SHAPE_TEXT_LIMIT)
            if not text:
                return ()
            parts = split_top(text, _FIXED_SEP) if has_top(text, _FIXED_SEP) else split_top(text, _SPACE)
            entries = [p.strip() for p in parts]
            if len(entries) > MAX_DIMS:
                raise InvalidAnswer(f"a shape has at most {MAX_DIMS} dimensions", example=self.examples[0])
        else:
            raise InvalidAnswer(f"expected a shape, got {describe_native(raw)}", example=self.examples[0])
        sizes: list[int] = []
        for i, entry in enumerate(entries, 1):
            if isinstance(entry, str) and _BATCH.match(entry.strip()) or entry == -1:
                if i == 1 and self.batch:
                    continue  # the batch dimension is not compared
                if i == 1:
                    raise InvalidAnswer(
                        f"this part's shape has no batch dimension: leave out {short(str(entry))!r}",
                        example=self.examples[0],
                    )
                raise InvalidAnswer(
                    f"dimension {i} ({short(str(entry))!r}) is not a size; only the first dimension may be a batch dimension",
                    example=self.examples[0],
                )
            sizes.append(self._size(entry, i))
        return tuple(sizes)

    def _size(self, entry: Any, position: int) -> int:
        if isinstance(entry, str):
            text = entry.strip()
            if not text:
                raise InvalidAnswer(
                    f"dimension {position} is empty (two separators in a row?)", example=self.examples[0]
                )
            if _UINT.match(text):
                return int(text)
            try:
                value = read_number(text)
            except InvalidAnswer:
                raise InvalidAnswer(
                    f"dimension {position} ({short(text)!r}) is not a number",
                    expected="whole-number sizes separated by × (this part's sizes are numbers, not formulas)",
                    example=self.examples[0],
                ) from None
        elif isinstance(entry, bool) or not isinstance(entry, (int, float)):
            raise InvalidAnswer(
                f"dimension {position} is {describe_native(entry)}, not a size", example=self.examples[0]
            )
        else:
            value = entry
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) and not (hasattr(value, "denominator") and value.denominator == 1):
            raise InvalidAnswer(
                f"dimension {position} ({fmt_number(value)}) is not a whole number", example=self.examples[0]
            )
        value = int(value)
        if value < 0:
            raise InvalidAnswer(f"dimension {position} ({value}) is negative", example=self.examples[0])
        if value > MAX_SIZE:
            raise InvalidAnswer(
                f"dimension {position} ({fmt_number(value)}) is larger than any tensor ({MAX_SIZE:,} at most)",
                example=self.examples[0],
            )
        return value

    def compare(self, answer: Any, target: Any) -> Match:
        a, t = tuple(answer), tuple(target)
        if a == t:
            return Match(1.0)
        if len(a) != len(t):
            text = f"Expected {_plural(len(t), 'dimension')}, got {len(a)}."
            if self.batch and len(a) == len(t) + 1:
                text += " Leave out the batch dimension, or write it as N."
            return Match(0.0, text)
        wrong = [i for i, (x, y) in enumerate(zip(a, t), 1) if x != y]
        return Match(0.0, f"{_which(wrong)}.")

    def normalise(self, value: Any) -> tuple[int, ...]:
        value = untensor(value)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, (int, np.integer)):
            value = [value]
        sizes = []
        for v in value:
            v = scalar_of(v)
            if isinstance(v, bool) or int(v) != v or v < 0:
                raise ValueError(f"a shape part's reference must be whole sizes, got {value!r}")
            sizes.append(int(v))
        return tuple(sizes)

    def canonical(self, value: Any) -> str:
        return _dims_text(tuple(value))

    def encode(self, value: Any) -> list[int]:
        return [int(n) for n in value]

    def decode(self, data: Any) -> tuple[int, ...]:
        return tuple(int(n) for n in data)

    def forms(self, value: Any) -> list[Any]:
        items = [str(d) for d in value]
        return [
            "x".join(items),
            " × ".join(items),
            "(" + ", ".join(items) + ")",
            "[" + ", ".join(items) + "]",
            "*".join(items),
            "R^{" + "×".join(items) + "}",
            "\\mathbb{R}^{" + " \\times ".join(items) + "}",
            [int(d) for d in value],
        ]

    def describe(self) -> str:
        return f"a shape such as {self.examples[0]}" + (" (a leading batch dimension N is ignored)" if self.batch else "")


# -- shapes whose sizes are formulas -----------------------------------------------------------------


def _formula_separator(symbols: Sequence[str]) -> re.Pattern[str]:
    x_between_digits = "" if "x" in symbols or "X" in symbols else r"|(?<=\d)[xX](?=\d)"
    # 'K by m': a word, unless it could be a product of declared symbols (b*y)
    by = "" if "by" in symbols or {"b", "y"} <= set(symbols) else "|" + _BY
    return re.compile(r"\s*(?:×|\\times(?![A-Za-z])|,|(?<=\s)[xX](?=\s)" + x_between_digits + by + r")\s*")


class ShapeFormula(SampledKind):
    """A shape whose sizes are formulas in declared symbols, checked at sampled settings.

    The reference returns a `Sample` whose `value` has shape (n_points, ndim): the true
    sizes (e.g. from a real `torch.nn.Conv2d`) at each sampled setting of the symbols.
    """

    name = "shape"

    def __init__(self, symbols: Mapping[str, Domain], functions: Sequence[str] | None = None) -> None:
        self.symbols: dict[str, Domain] = dict(symbols)
        if functions is None:
            functions = VOCABULARY.allowed_in("shape-formula")
        self.functions = function_table(functions, self.symbols)
        self._sep = _formula_separator(list(self.symbols))
        # Sizes that are formulas of the part's own symbols, but not plain symbols: a shape
        # such as `m × n` may well be a part's answer, and examples are shown to students.
        names = list(self.symbols)[:2] or ["H"]
        a, b = names[0], names[-1]
        self.examples = (  # type: ignore[misc]
            f"2{a} × ({b} + 3)",
            f"(2{a}, {b} + 3)",
            rf"\mathbb{{R}}^{{2{a} \times ({b} + 3)}}",
            f"2*{a} x ({b}+3)",
        )

    def parse(self, raw: Any) -> tuple[Any, ...]:
        with example_for(self.examples[0]):
            return self._parse(raw)

    def _parse(self, raw: Any) -> tuple[Any, ...]:
        if isinstance(raw, bool):
            raise InvalidAnswer("true/false is not a shape", example=self.examples[0])
        if isinstance(raw, (int, float)):
            raw = [raw]
        if isinstance(raw, (list, tuple)):
            if not raw or len(raw) > MAX_DIMS:
                raise InvalidAnswer(f"a shape has 1 to {MAX_DIMS} dimensions", example=self.examples[0])
            entries = [str(e) if not isinstance(e, str) else e for e in raw]
        elif isinstance(raw, str):
            text = _unwrap_shape(raw, FORMULA_SHAPE_TEXT_LIMIT)
            if not text:
                raise InvalidAnswer("the shape is empty", example=self.examples[0])
            entries = [e.strip() for e in split_top(text, self._sep)]
            if len(entries) > MAX_DIMS:
                raise InvalidAnswer(f"a shape has at most {MAX_DIMS} dimensions", example=self.examples[0])
        else:
            raise InvalidAnswer(f"expected a shape, got {describe_native(raw)}", example=self.examples[0])
        try:
            return tuple(self._entry(e, i) for i, e in enumerate(entries, 1))
        except InvalidAnswer as exc:
            raise point_into(exc, raw) from None

    def _entry(self, text: str, position: int) -> Any:
        if not text.strip():
            raise InvalidAnswer(
                f"dimension {position} is empty (two separators in a row?)", example=self.examples[0]
            )
        try:
            return read_formula(text, list(self.symbols), self.functions)
        except InvalidAnswer as exc:
            hint = ""
            if re.search(r"[xX*·⋅]", text):
                hint = "; dimensions are separated by ×, ' x ' (with spaces) or commas, and * multiplies inside one"
            raise InvalidAnswer(
                f"dimension {position} ({short(text)!r}): {exc.what.rstrip('.')}{hint}",
                position=exc.position,
                expected=exc.expected,
                example=self.examples[0],
                source=exc.source,
            ) from None

    def normalise(self, value: Any) -> Sample:
        sample = super().normalise(value)
        if sample.value.ndim == 1:
            sample = Sample(sample.env, sample.value.reshape(-1, 1), sample.meta)
        return sample

    def compare(self, answer: Any, target: Any) -> Match:
        checked = checked_points(target, self.canonical(answer))
        sample: Sample = checked.sample
        truth = np.asarray(sample.value, dtype=np.float64)
        if truth.ndim == 1:
            truth = truth.reshape(-1, 1)
        details = sample_details(target, checked)
        ndim = truth.shape[1]
        if len(answer) != ndim:
            return Match(0.0, f"Expected {_plural(ndim, 'dimension')}, got {len(answer)}.", details)
        for d, node in enumerate(answer):
            column = truth[:, d]
            evaluated = evaluate(node, sample.env, column)
            if isinstance(evaluated, str):
                return Match(0.0, f"Dimension {d + 1} could not be evaluated: {evaluated}.", details)
            got, column = evaluated
            ok = agree(got, column, sample.meta, SIZE_TOL, SIZE_TOL)  # integer sizes: exactly
            if not ok.all():
                where = pick_miss(ok, sample.env)
                return Match(
                    0.0,
                    f"Dimension {d + 1} disagrees at {point_text(sample.env, where[:1])}: "
                    f"you give {shown(got[where], sample.meta)}, which is not the size there.",
                    details,
                    reveals=f"The true size there is {fmt_number(column[where])}.",
                )
        return self.agreed(answer, target, sample, details)

    def prove(self, answer: Any, reference: Any, points: list[dict[str, float]]) -> Any:
        """Equal when every dimension is; different when one is shown to differ."""
        if len(answer) != len(reference):
            return None
        verdicts = [prove(a, r, list(self.symbols), self.symbols, points) for a, r in zip(answer, reference)]
        if "different" in verdicts:
            return "different"
        return "equal" if all(v == "equal" for v in verdicts) else None

    def canonical(self, value: Any) -> str:
        if isinstance(value, Sample):
            return f"a shape {points_phrase(value, 'settings')}"
        return " × ".join(formula_text(n) for n in value)

    def describe(self) -> str:
        return "a shape whose sizes are formulas in " + ", ".join(self.symbols)

    def draw(self, rng: np.random.Generator, n: int = 48) -> dict[str, np.ndarray]:
        """Seeded values of every symbol (for a problem set's reference function)."""
        return draw(rng, self.symbols, n)

