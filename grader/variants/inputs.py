"""The numbers of a sheet that may vary per student: each declared as a draw with its printed value.

    hw.given(
        X=IntMatrix(4, 4, -1, 2, printed=[[1, 2, 1, -1], [0, 0, 1, -1], [1, 0, 1, -1], [1, 1, 0, 0]]),
        bias=Integer(-2, 2, printed=-1),
        size=OneOf(28, 32, 48, printed=32),
    )

Every value is exact (ints, `Fraction`s, nested lists of them) while it is drawn, stored and
shown; a reference receives it `delivered`: an int or a float for a scalar, a float64 tensor for
a vector or a matrix, the option itself for a choice. The printed value is what everyone gets
when variants are off, so it must be one the draw could give.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence

from grader.variants.generator import Generator

MINUS = "\u2212"  # the sheet's minus sign in running text: "bias −1"


def rational(value: Any) -> Fraction:
    """An exact rational from an int, a decimal string ("0.2"), "p/q", a Fraction, or a float
    read as the decimal it prints as (0.2 is 1/5, not the nearest binary fraction)."""
    if isinstance(value, bool):
        raise TypeError("true/false is not a number")
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(value)


def encode_number(value: int | Fraction) -> int | str:
    """JSON for an exact number: an int, else a decimal string when it terminates, else "p/q"."""
    value = Fraction(value)
    if value.denominator == 1:
        return int(value)
    text = decimal_text(value)
    return text if text is not None else f"{value.numerator}/{value.denominator}"


def decimal_text(value: Fraction, max_digits: int = 12) -> str | None:
    """`0.25` for 1/4; None when the decimal does not terminate within `max_digits` places."""
    scaled, places = value, 0
    while scaled.denominator != 1:
        scaled *= 10
        places += 1
        if places > max_digits:
            return None
    digits = str(abs(scaled.numerator)).rjust(places + 1, "0")
    whole, frac = digits[: len(digits) - places], digits[len(digits) - places :]
    return ("-" if value < 0 else "") + whole + ("." + frac.rstrip("0") if places else "")


def number_text(value: int | Fraction, minus: str = MINUS) -> str:
    """A number as a sheet prints it: `−1`, `0.2`, `1/3`."""
    text = str(encode_number(value))
    return minus + text[1:] if text.startswith("-") else text


class Input:
    """One varying number (or table of numbers) of the sheet; `label` names it on a sheet."""

    printed: Any
    label: str = ""

    def draw(self, gen: Generator) -> Any:
        raise NotImplementedError

    def deliver(self, value: Any) -> Any:
        """The value as a reference function receives it."""
        return value

    def encode(self, value: Any) -> Any:
        """JSON for the exact value (stored with keys and reports)."""
        return value

    def decode(self, data: Any) -> Any:
        return data

    def show(self, value: Any, spec: str = "") -> str:
        """The value in running text (a prompt's `{name}`)."""
        return str(value)

    def block(self, value: Any) -> str:
        """The value on its own lines (a problem sheet's list of inputs)."""
        return self.show(value)

    def describe(self) -> str:
        """What the draw ranges over, for staff (`grader sheets`, `grader key check`)."""
        raise NotImplementedError

    def _check_printed(self) -> None:
        if not self.admits(self.printed):
            raise ValueError(f"the printed value {self.printed!r} is not one this draw gives ({self.describe()})")

    def admits(self, value: Any) -> bool:
        raise NotImplementedError


class Integer(Input):
    """An integer in [lo, hi] (every `step`-th from lo)."""

    def __init__(self, lo: int, hi: int, *, printed: int, step: int = 1, label: str = "") -> None:
        if hi < lo or step < 1:
            raise ValueError(f"Integer({lo}, {hi}, step={step}) is an empty range")
        self.lo, self.hi, self.step, self.printed, self.label = int(lo), int(hi), int(step), printed, label
        self._check_printed()

    def draw(self, gen: Generator) -> int:
        return self.lo + self.step * gen.integer(0, (self.hi - self.lo) // self.step)

    def admits(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.lo <= value <= self.hi and (value - self.lo) % self.step == 0

    def show(self, value: Any, spec: str = "") -> str:
        return number_text(value, "-" if spec == "-" else MINUS)

    def describe(self) -> str:
        step = f" in steps of {self.step}" if self.step != 1 else ""
        return f"an integer from {self.lo} to {self.hi}{step}"


class Rational(Input):
    """A multiple of 1/denominator in [lo, hi] (e.g. a probability in tenths)."""

    def __init__(self, lo: Any, hi: Any, *, denominator: int, printed: Any, label: str = "") -> None:
        self.lo, self.hi, self.denominator, self.label = rational(lo), rational(hi), int(denominator), label
        if self.hi < self.lo or self.denominator < 1:
            raise ValueError(f"Rational({lo}, {hi}) is an empty range")
        self.printed = rational(printed)
        self._check_printed()

    def draw(self, gen: Generator) -> Fraction:
        return gen.rational(self.lo, self.hi, self.denominator)

    def admits(self, value: Any) -> bool:
        value = rational(value)
        return self.lo <= value <= self.hi and (value * self.denominator).denominator == 1

    def deliver(self, value: Any) -> float:
        return float(value)

    def encode(self, value: Any) -> int | str:
        return encode_number(value)

    def decode(self, data: Any) -> Fraction:
        return rational(data)

    def show(self, value: Any, spec: str = "") -> str:
        return number_text(value, "-" if spec == "-" else MINUS)

    def describe(self) -> str:
        return f"a multiple of 1/{self.denominator} from {number_text(self.lo, '-')} to {number_text(self.hi, '-')}"


class _Table(Input):
    """A vector or matrix of entries, each drawn from one scalar draw."""

    def __init__(self, shape: tuple[int, ...], entry: Integer | Rational, printed: Any, label: str) -> None:
        self.shape, self.entry, self.label = shape, entry, label
        self.printed = self._exact(printed)
        self._check_printed()

    def _exact(self, value: Any) -> Any:
        if isinstance(self.entry, Rational):
            return _map(value, rational)
        return value

    def draw(self, gen: Generator) -> list:
        if len(self.shape) == 1:
            return [self.entry.draw(gen) for _ in range(self.shape[0])]
        return [[self.entry.draw(gen) for _ in range(self.shape[1])] for _ in range(self.shape[0])]

    def admits(self, value: Any) -> bool:
        return _shape(value) == self.shape and all(self.entry.admits(v) for v in _flat(value))

    def deliver(self, value: Any) -> Any:
        import torch

        return torch.tensor(_map(value, float), dtype=torch.float64)

    def encode(self, value: Any) -> Any:
        return _map(value, encode_number)

    def decode(self, data: Any) -> Any:
        return _map(data, rational if isinstance(self.entry, Rational) else int)

    def show(self, value: Any, spec: str = "") -> str:
        open_, close = ("(", ")") if spec == "()" else ("[", "]")

        def text(v: Any) -> str:
            if isinstance(v, list):
                return open_ + ", ".join(text(x) for x in v) + close
            return number_text(v, "-")

        return text(value)

    def block(self, value: Any) -> str:
        if len(self.shape) == 1:
            return self.show(value)
        cells = [[number_text(v, "-") for v in row] for row in value]
        width = max(len(c) for row in cells for c in row)
        return "\n".join(" ".join(c.rjust(width) for c in row) for row in cells)

    def describe(self) -> str:
        if len(self.shape) == 1:
            return f"a vector of {self.shape[0]}, each {self.entry.describe()}"
        return f"a {self.shape[0]}×{self.shape[1]} matrix, each entry {self.entry.describe()}"


class IntVector(_Table):
    def __init__(self, n: int, lo: int, hi: int, *, printed: Sequence[int], step: int = 1, label: str = "") -> None:
        super().__init__((n,), Integer(lo, hi, printed=lo, step=step), list(printed), label)


class IntMatrix(_Table):
    def __init__(
        self, rows: int, cols: int, lo: int, hi: int, *, printed: Sequence[Sequence[int]], step: int = 1, label: str = ""
    ) -> None:
        super().__init__((rows, cols), Integer(lo, hi, printed=lo, step=step), [list(r) for r in printed], label)


class RationalVector(_Table):
    def __init__(self, n: int, lo: Any, hi: Any, *, denominator: int, printed: Sequence[Any], label: str = "") -> None:
        super().__init__((n,), Rational(lo, hi, denominator=denominator, printed=lo), list(printed), label)


class OneOf(Input):
    """One of a few options (a size, a shape): e.g. `OneOf(28, 32, 48, printed=32)`."""

    def __init__(self, *options: Any, printed: Any, label: str = "") -> None:
        if not options:
            raise ValueError("OneOf needs at least one option")
        self.options, self.label = tuple(options), label
        self.printed = printed
        self._check_printed()

    def draw(self, gen: Generator) -> Any:
        return gen.choice(self.options)

    def admits(self, value: Any) -> bool:
        return any(_same(value, o) for o in self.options)

    def encode(self, value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value

    def decode(self, data: Any) -> Any:
        for option in self.options:
            if _same(data, option):
                return option
        raise ValueError(f"{data!r} is not one of the options {self.options!r}")

    def show(self, value: Any, spec: str = "") -> str:
        if isinstance(value, (tuple, list)):
            return "(" + ", ".join(number_text(v, "-") if isinstance(v, int) else str(v) for v in value) + ")"
        return number_text(value, "-" if spec == "-" else MINUS) if isinstance(value, int) else str(value)

    def describe(self) -> str:
        return "one of " + ", ".join(self.show(o) for o in self.options)


def _same(a: Any, b: Any) -> bool:
    norm = lambda v: list(v) if isinstance(v, (tuple, list)) else v  # noqa: E731
    return type(a) is type(b) and a == b if not isinstance(a, (tuple, list)) else norm(a) == norm(b)


def _map(value: Any, fn: Any) -> Any:
    return [_map(v, fn) for v in value] if isinstance(value, (list, tuple)) else fn(value)


def _flat(value: Any) -> list:
    return [x for v in value for x in _flat(v)] if isinstance(value, (list, tuple)) else [value]


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)):
        return ()
    inner = {_shape(v) for v in value}
    if len(inner) > 1:
        return (-1,)
    return (len(value), *(inner.pop() if inner else ()))
