"""``parse_number``: the front door for ``int`` and ``number`` answers."""

from __future__ import annotations

import sys
from fractions import Fraction

from grader.errors import InvalidAnswer, TooComplex
from grader.parsing.evaluate import eval_exact
from grader.parsing.limits import LIMITS, Limits
from grader.parsing.parser import guarded, parse_number_expr
from grader.parsing.resolve import resolve_names

# σ and \sigma are the usual spellings of the logistic sigmoid (answer-format.md, expr).
_FLOAT_MAX = Fraction(sys.float_info.max)
_FLOAT_TINY = Fraction(1, 10**300)
NUMBER_FUNCTIONS = ("exp", "log", "ln", "sqrt", "sigmoid", "sigma")


def parse_number(text: str, *, limits: Limits = LIMITS) -> int | Fraction | float:
    """Reads an ``int``/``number`` answer: a literal (``61706``, ``61,706``, ``61 706``,
    ``61_706``, ``-6``, ``−6``, ``.5``, ``9.933e-1``, ``1.2×10^-3``) or arithmetic with
    ``+ - * / ^ **``, ``exp log ln sqrt sigmoid`` and ``pi e`` (``log`` is natural).

    Returns an int when the value is an exact integer (``6.0`` -> 6, ``12/4`` -> 3), a
    Fraction for other exact values (``3/4``, ``0.9933``), a float otherwise (anything
    through exp/log/sqrt/pi/e, or past the exact-size cap).
    Raises :class:`InvalidAnswer` / ``TooComplex`` for anything unreadable, including a
    decimal comma (``1,5``).
    """

    def run() -> int | Fraction | float:
        node = parse_number_expr(text, limits=limits)
        try:
            resolved = resolve_names(node, symbols=(), functions=NUMBER_FUNCTIONS, limits=limits)
        except InvalidAnswer as e:
            if "this part accepts" not in e.message:
                raise
            raise InvalidAnswer(
                e.message.split(";")[0] + "; a number answer accepts digits, + - * / ^ ( ), "
                "the functions exp, log, ln, sqrt, sigmoid and the constants pi, e",
                position=e.position, expected="a number or arithmetic on numbers",
                example="(5*5*1 + 1)*6") from None
        value = eval_exact(resolved, limits=limits)
        # An exact value past float range cannot be compared or echoed: as "too large" as a
        # float overflow would be.
        if isinstance(value, (int, Fraction)) and abs(value) > _FLOAT_MAX:
            raise TooComplex("the number is too large", expected="a number below 1e308",
                             example="(5*5*1 + 1)*6")
        if value and abs(value) < _FLOAT_TINY:
            raise TooComplex("the number is too small to check (closer to 0 than 1e-300)",
                             expected="0 or a number above 1e-300 in size", example="1.2e-3")
        return value

    return guarded(run)
