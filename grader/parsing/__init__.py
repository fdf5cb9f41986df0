"""Reading what students type: numbers and formulas (ASCII, unicode and a LaTeX subset).

Student text never reaches eval/exec/sympify: :func:`parse_math` tokenizes it in one linear
pass (:mod:`.lexer`) and builds the tree with a lark LALR(1) parser (:mod:`.grammar`,
:mod:`.parser`); every step is bounded by :class:`Limits`, and every tree walk uses an
explicit stack.  Public functions raise only :class:`grader.errors.InvalidAnswer` (or its
subclass ``TooComplex``) for unreadable or oversize input.
"""

from grader.parsing.ast import BinOp, Call, Const, Index, Neg, Node, Num, Sum, Sym
from grader.parsing.canonical import canonical
from grader.parsing.evaluate import eval_array, eval_exact
from grader.parsing.limits import LIMITS, Limits
from grader.parsing.numbers import NUMBER_FUNCTIONS, parse_number
from grader.parsing.parser import parse_math
from grader.parsing.resolve import (
    DEFAULT_FUNCTIONS,
    FUNCTION_ALIASES,
    free_symbols,
    resolve_names,
)

__all__ = [
    "Node", "Num", "Sym", "Const", "Neg", "BinOp", "Call", "Index", "Sum",
    "parse_math", "resolve_names", "eval_exact", "eval_array", "parse_number", "canonical",
    "Limits", "LIMITS", "free_symbols", "DEFAULT_FUNCTIONS", "FUNCTION_ALIASES",
    "NUMBER_FUNCTIONS",
]
