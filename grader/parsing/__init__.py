"""Reading what students type: numbers, formulas, tables (ASCII, unicode and a LaTeX subset).

Student text never reaches eval/exec/sympify: :func:`parse_math` tokenizes it in one linear
pass (:mod:`.lexer`) and builds the tree with a lark LALR(1) parser (:mod:`.grammar`,
:mod:`.parser`); every step is bounded by :class:`Limits`, and every tree walk uses an
explicit stack.  Every function and constant name comes from one table, :mod:`.vocabulary`.
Public functions raise only :class:`grader.errors.InvalidAnswer` (or its subclass
``TooComplex``) for unreadable or oversize input.

Readers per answer shape: :func:`parse_number` / :func:`read_number` (numbers),
:func:`read_formula` (formulas against declared names), :func:`read_table` (vectors and
matrices); :mod:`.brackets` and :mod:`.text` hold what they share.  This package imports
nothing from :mod:`grader.kinds`.
"""

from grader.parsing.ast import BinOp, Call, Const, Index, Neg, Node, Num, Sum, Sym
from grader.parsing.canonical import canonical
from grader.parsing.evaluate import eval_array, eval_exact
from grader.parsing.formula import function_table, read_formula
from grader.parsing.limits import LIMITS, Limits
from grader.parsing.numbers import fmt_number, parse_number, read_number
from grader.parsing.parser import parse_math
from grader.parsing.resolve import DEFAULT_FUNCTIONS, free_symbols, resolve_names
from grader.parsing.table import read_table
from grader.parsing.vocabulary import VOCABULARY, Constant, Function

__all__ = [
    "Node", "Num", "Sym", "Const", "Neg", "BinOp", "Call", "Index", "Sum",
    "parse_math", "resolve_names", "eval_exact", "eval_array", "parse_number", "canonical",
    "Limits", "LIMITS", "free_symbols", "DEFAULT_FUNCTIONS", "VOCABULARY", "Function",
    "Constant", "read_number", "fmt_number", "read_formula", "function_table", "read_table",
]
