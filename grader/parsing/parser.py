"""``parse_math``: student text -> expression tree, with a lark LALR(1) parser.

Pipeline: :func:`lexer.clean` (length cap first, control/bidi characters) -> optional
``$...$`` wrappers (:func:`text.unwrap_math`) and equation split -> :func:`lexer.tokenize` (one linear pass: LaTeX,
unicode, numbers, bracket matching and the nesting cap) -> LALR parse with an inline
builder that creates the AST bottom-up while counting nodes and tree depth (so an oversize
tree is rejected while it is being built, and nothing ever recurses).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import lark
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer

from grader.errors import InvalidAnswer, TooComplex
from grader.parsing.ast import BinOp, Call, Const, Index, Neg, Node, Num, Sum, Sym
from grader.parsing.grammar import GRAMMAR
from grader.parsing.lexer import (
    BRACKET_TEXT,
    ENDS_OPERAND,
    FORMULA_EXAMPLE,
    NUMBER_EXAMPLE,
    clean,
    fail,
    reject_forbidden_commands,
    split_equation,
    tokenize,
)
from grader.parsing.limits import LIMITS, Limits
from grader.parsing.text import unwrap_math
from grader.parsing.vocabulary import VOCABULARY

# a decimal literal's exponent beyond this is evaluated in floating point (inf -> TooComplex)
MAX_EXACT_DECIMAL_EXPONENT = 400


class _TokenListLexer(Lexer):
    """The parser's lexer stage: the tokens were already produced by :mod:`lexer`."""

    __future_interface__ = 2

    def __init__(self, lexer_conf: Any) -> None:  # noqa: D107 - lark interface
        pass

    def lex(self, lexer_state: Any, parser_state: Any):  # noqa: D102 - lark interface
        return iter(lexer_state.text)


def number_value(literal: str, text: str, pos: int) -> int | Fraction | float:
    """Exact value of a decimal literal (int or Fraction); float only for huge exponents."""
    if literal.isdigit():
        return int(literal)
    mantissa, _, exp = literal.lower().partition("e")
    exponent = int(exp) if exp else 0
    if abs(exponent) > MAX_EXACT_DECIMAL_EXPONENT:
        value = float(literal)
        if value == float("inf"):
            raise fail(f"the number {literal} is too large", text, pos, too_complex=True,
                       expected="a number below 1e308", example="1.2e-3")
        return value
    if mantissa.endswith("."):
        mantissa = mantissa[:-1]
    frac = Fraction(mantissa) * (Fraction(10) ** exponent)
    return frac.numerator if frac.denominator == 1 else frac


class _Builder(Transformer):
    """Inline LALR callbacks building the AST; per-parse state lives in a thread-local."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    # -- per-parse state
    def begin(self, text: str, limits: Limits) -> None:
        self.local.text = text
        self.local.limits = limits
        self.local.depth = {}
        self.local.count = 0

    def end(self) -> None:
        self.local.depth = {}

    def _mk(self, node: Node, kids: list[Any], pos: int) -> Node:
        st = self.local
        depth = 1
        for k in kids:
            if k is not None:
                d = st.depth.get(id(k), 1) + 1
                if d > depth:
                    depth = d
        st.count += 1
        limits: Limits = st.limits
        if depth > limits.max_tree_depth:
            raise fail(f"the formula is nested too deeply (more than {limits.max_tree_depth} "
                       "levels of operations)", st.text, pos, too_complex=True,
                       expected=f"at most {limits.max_tree_depth} nested operations",
                       example="a shorter formula, e.g. with a sum: sum_{i=1}^{4} w_i h_i")
        if st.count > limits.max_nodes:
            raise fail(f"the formula is too large (more than {limits.max_nodes} parts)",
                       st.text, pos, too_complex=True,
                       expected=f"at most {limits.max_nodes} numbers, names and operations")
        st.depth[id(node)] = depth
        return node

    @staticmethod
    def _pos(items: list[Any]) -> int:
        for it in items:
            if isinstance(it, Token):
                return it.start_pos or 0
        return 0

    @staticmethod
    def _nodes(items: list[Any]) -> list[Any]:
        return [it for it in items if not isinstance(it, Token)]

    # -- leaves
    def number(self, items: list[Any]) -> Node:
        tok = items[0]
        value = number_value(str(tok), self.local.text, tok.start_pos)
        return self._mk(Num(value, str(tok)), [], tok.start_pos)

    def name(self, items: list[Any]) -> Node:
        tok = items[0]
        node: Node = Const(str(tok)) if str(tok) in VOCABULARY.constant_values else Sym(str(tok))
        return self._mk(node, [], tok.start_pos)

    # -- operators
    def _bin(self, op: str, items: list[Any]) -> Node:
        a, b = self._nodes(items)
        return self._mk(BinOp(op, a, b), [a, b], self._pos(items))

    def add(self, items: list[Any]) -> Node:
        return self._bin("+", items)

    def sub(self, items: list[Any]) -> Node:
        return self._bin("-", items)

    def mul(self, items: list[Any]) -> Node:
        return self._bin("*", items)

    def imul(self, items: list[Any]) -> Node:
        return self._bin("*", items)

    def div(self, items: list[Any]) -> Node:
        return self._bin("/", items)

    def pow(self, items: list[Any]) -> Node:
        return self._bin("^", items)

    def neg(self, items: list[Any]) -> Node:
        (x,) = self._nodes(items)
        return self._mk(Neg(x), [x], self._pos(items))

    def pos(self, items: list[Any]) -> Node:
        (x,) = self._nodes(items)
        return x

    def group(self, items: list[Any]) -> Node:
        (x,) = self._nodes(items)
        if isinstance(x, Sym) and not x.grouped:
            return self._mk(Sym(x.name, grouped=True), [], self._pos(items))
        return x

    # -- calls and brackets
    def _call(self, func: str, args: list[Node], pos: int) -> Node:
        return self._mk(Call(func, tuple(args)), args, pos)

    def prefix_call(self, items: list[Any]) -> Node:
        tok, arg = items
        return self._call(str(tok), [arg], tok.start_pos)

    def prefix_power(self, items: list[Any]) -> Node:
        """``\\tan^2 y``, ``log^2 n``: the power of the function's value, ``(tan y)^2``."""
        tok, caret, exponent, arg = items
        if isinstance(exponent, Neg) or (isinstance(exponent, Num) and exponent.value < 0):
            name = str(tok)
            raise fail(f"'{name}^{{-1}}' could mean the inverse function (arc{name}) or "
                       f"1/{name}(...): write the one you mean", self.local.text, caret.start_pos,
                       expected=f"1/{name}(x) or a named inverse", example=f"1/{name}(x)")
        call = self._call(str(tok), [arg], tok.start_pos)
        return self._mk(BinOp("^", call, exponent), [call, exponent], tok.start_pos)

    def floordiv(self, items: list[Any]) -> Node:
        a, b = self._nodes(items)
        quotient = self._mk(BinOp("/", a, b), [a, b], self._pos(items))
        return self._call("floor", [quotient], self._pos(items))

    def call(self, items: list[Any]) -> Node:
        tok = items[0]
        args = items[2]
        if str(tok) == "sum":
            return self._sum_call(args, tok.start_pos)
        return self._call(str(tok), args, tok.start_pos)

    def abs_(self, items: list[Any]) -> Node:
        return self._call("abs", self._nodes(items), self._pos(items))

    def floor_(self, items: list[Any]) -> Node:
        return self._call("floor", self._nodes(items), self._pos(items))

    def ceil_(self, items: list[Any]) -> Node:
        return self._call("ceil", self._nodes(items), self._pos(items))

    def sqrt_(self, items: list[Any]) -> Node:
        return self._call("sqrt", self._nodes(items), self._pos(items))

    def frac(self, items: list[Any]) -> Node:
        return self._bin("/", items)

    def args(self, items: list[Any]) -> list[Node]:
        return self._nodes(items)

    # -- indices
    def subscript(self, items: list[Any]) -> list[Node]:
        if len(items) == 1:
            tok = items[0]
            if tok.type == "NUMBER":
                return [self._mk(Num(int(str(tok)), str(tok)), [], tok.start_pos)]
            return [self._mk(Sym(str(tok)), [], tok.start_pos)]
        return items[1]

    def subscripted(self, items: list[Any]) -> Node:
        tok, _, indices = items
        return self._mk(Index(str(tok), tuple(indices)), indices, tok.start_pos)

    def bracket_index(self, items: list[Any]) -> Node:
        tok, _, indices, _ = items
        return self._mk(Index(str(tok), tuple(indices)), indices, tok.start_pos)

    # -- sums
    def sumvar(self, items: list[Any]) -> str:
        toks = [str(t) for t in items if t.type in ("NAME", "NUMBER")]
        return "_".join(toks)

    def sumvars(self, items: list[Any]) -> list[str]:
        return [it for it in items if isinstance(it, str) and not isinstance(it, Token)]

    def sumsub(self, items: list[Any]) -> tuple[list[str], Node | None]:
        if len(items) == 1:
            return [items[0]], None
        names = items[1]
        lower = items[3] if len(items) == 5 else None
        return names, lower

    def sumsup(self, items: list[Any]) -> Node:
        if len(items) == 2:
            tok = items[1]
            if tok.type == "NUMBER":
                return self.number([tok])
            return self.name([tok])
        return items[2]

    def sumop(self, items: list[Any]) -> Node:
        tok = items[0]
        names, lower = items[2]
        upper = items[3] if len(items) == 5 else None
        body = items[-1]
        self._check_sum_names(names, tok.start_pos)
        node = Sum(tuple(names), lower, upper, body)
        return self._mk(node, [lower, upper, body], tok.start_pos)

    def _check_sum_names(self, names: list[str], pos: int) -> None:
        seen = set()
        for n in names:
            if n in seen:
                raise fail(f"the sum index '{n}' is listed twice", self.local.text, pos,
                           expected="distinct index names", example="sum_{i,j} x_{i,j}")
            if n in VOCABULARY.constant_values:
                raise fail(f"'{n}' is a constant and cannot be a sum index", self.local.text,
                           pos, expected="an index name such as i or k", example="sum_{k} w_k")
            seen.add(n)

    def _sum_call(self, args: list[Node], pos: int) -> Node:
        text = self.local.text
        example = "sum(w_i*h_i, i)"
        if len(args) < 2:
            raise fail("sum(...) needs the summand and at least one index name", text, pos,
                       expected="sum(expression, index, ...)", example=example)
        names = []
        for a in args[1:]:
            if isinstance(a, Sym):
                names.append(a.name)
            elif (isinstance(a, Index) and len(a.indices) == 1 and isinstance(a.indices[0], Num)
                  and isinstance(a.indices[0].value, int)):
                names.append(f"{a.base}_{a.indices[0].text or a.indices[0].value}")
            else:
                raise fail("after the summand, sum(...) takes index names only", text, pos,
                           expected="sum(expression, index, ...)", example=example)
        self._check_sum_names(names, pos)
        return self._mk(Sum(tuple(names), None, None, args[0]), [args[0]], pos)


_BUILDER = _Builder()
def _cache_file() -> str | bool:
    """Where lark keeps the analysed grammar (10x faster start: one submission in a fresh
    process). A private folder, not the shared temp dir, because lark's cache is a pickle."""
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grader"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return False
    digest = hashlib.sha256(f"{GRAMMAR}{lark.__version__}".encode()).hexdigest()[:16]
    return str(folder / f"formula-grammar-{digest}.lark.pickle")


_PARSER = Lark(GRAMMAR, parser="lalr", lexer=_TokenListLexer, transformer=_BUILDER,
               strict=True, maybe_placeholders=False, cache=_cache_file())
_PARSE_LOCK = threading.RLock()

# -- error messages -------------------------------------------------------------------------

_OPERAND_START = {"NUMBER", "NAME", "FNAME", "TNAME", "LFUNC", "SQRT", "FRAC", "SUM",
                  "LPAR", "LSQB", "LBRACE", "LBAR", "LFLOOR", "LCEIL"}
_BINARY = {"PLUS", "MINUS", "STAR", "SLASH", "DSLASH", "CARET"}
_SHOW = {"PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'", "DSLASH": "'//'", "CARET": "'^'",
         "UNDERSCORE": "'_'", "COMMA": "','", "EQUAL": "'='", "$END": "the end of the formula"}
_SHOW.update({k: f"'{v}'" for k, v in BRACKET_TEXT.items()})


def _show_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the formula"
    value = str(tok)
    if tok.type in ("NUMBER", "NAME", "FNAME", "TNAME"):
        return f"'{value}'"
    return f"'{value}'" if value else _SHOW.get(tok.type, tok.type)


def _describe_expected(expected: set[str]) -> str:
    parts = []
    if expected & _OPERAND_START:
        parts.append("a number, a symbol or '('")
    if expected & {"STAR", "SLASH"} or (expected & _BINARY and not expected & _OPERAND_START):
        parts.append("an operator (+ - * / ^)")
    for t in ("RPAR", "RSQB", "RBRACE", "RBAR", "RFLOOR", "RCEIL", "COMMA", "UNDERSCORE",
              "EQUAL", "CARET"):
        if t in expected and not (t == "CARET" and expected & _BINARY):
            parts.append(_SHOW[t])
    if "$END" in expected:
        parts.append("the end of the formula")
    if not parts:
        parts = sorted(expected)
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def _syntax_error(e: UnexpectedToken, tokens: list[Token], text: str, example: str) -> InvalidAnswer:
    tok = e.token
    expected_set = set(e.expected or ())
    expected = _describe_expected(expected_set)
    at_end = tok.type == "$END"
    idx = len(tokens) if at_end else next(
        (k for k, t in enumerate(tokens) if t.start_pos == tok.start_pos and t.type == tok.type),
        len(tokens))
    prev = tokens[idx - 1] if idx > 0 else None
    pos = (prev.end_pos if prev is not None and prev.end_pos is not None else len(text)) \
        if at_end else (tok.start_pos or 0)

    if prev is not None and prev.type == "SUM" and tok.type != "UNDERSCORE":
        what = "a sum needs its index (and optionally its limits) right after it"
        return fail(what, text, pos, expected="'_' and the index", example="sum_{i=1}^{4} w_i h_i")
    if tok.type == "NUMBER" and prev is not None and prev.type in ENDS_OPERAND:
        what = (f"two numbers side by side ({_show_token(prev)} then {_show_token(tok)}): "
                "write '*' between factors, and write a number without spaces")
        return fail(what, text, pos, expected="an operator between the two numbers",
                    example="61706  or  2*3")
    if tok.type in ("COMMA", "RPAR", "RSQB") and prev is not None and prev.type in ("LPAR", "LSQB", "COMMA"):
        what = "an empty argument"
        return fail(what, text, pos, expected="an argument", example="max(a, b)")
    if tok.type == "COMMA":
        what = ("unexpected ',': commas only separate arguments, as in max(a, b); write numbers "
                "without thousands separators and with a decimal point (1.5, not 1,5)")
        return fail(what, text, pos, expected=expected, example=example)
    if tok.type == "EQUAL":
        what = "unexpected '=': only one '=' is allowed, outside brackets"
        return fail(what, text, pos, expected=expected, example="dR/dw_i = -2*(y - z)*h_i")
    if tok.type == "UNDERSCORE" and prev is not None:
        what = f"unexpected '_' after {_show_token(prev)}: only a name can have a subscript"
        return fail(what, text, pos, expected=expected, example="x_{i+j-1}")
    if at_end:
        after = f" after {_show_token(prev)}" if prev is not None else ""
        what = f"the formula ends too early{after}: expected {expected}"
        return fail(what, text, pos, expected=expected, example=example)
    if prev is None:
        what = f"a formula cannot start with {_show_token(tok)}: expected {expected}"
        return fail(what, text, pos, expected=expected, example=example)
    what = f"expected {expected} after {_show_token(prev)}, found {_show_token(tok)}"
    return fail(what, text, pos, expected=expected, example=example)


# -- public ---------------------------------------------------------------------------------


# A label in front of a number (`Total params: 61,706`) and a unit or word after it (`7
# parameters`, `10 channels`): a person reads the number.  A word the vocabulary knows (`2 pi`,
# `3 e`) is maths, not a unit, and `x` between numbers is a multiplication sign.
_LABEL = re.compile(r"\s*[A-Za-z][A-Za-z0-9 ().'-]{0,40}:(?!=)\s*")
_UNIT = re.compile(r"(?<=[0-9)\]}.])\s+([A-Za-z][A-Za-z'-]*(?:\s+[A-Za-z][A-Za-z'-]*){0,2})\s*$")


def _final_period(text: str, start: int, end: int) -> int:
    """`end` without a sentence's final full stop (`... = 640.`, `7 parameters.`)."""
    stop = len(text[start:end].rstrip()) + start
    if stop - start >= 2 and text[stop - 1] == "." and text[stop - 2] not in ". ":
        return stop - 1
    return end


def _number_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The number inside a short label or unit around it, as (start, end) in `text`."""
    m = _LABEL.match(text, start, end)
    if m and m.end() < end:
        start = m.end()
    end = _final_period(text, start, end)
    m = _UNIT.search(text[:end], start)
    if m:
        words = m.group(1).split()
        known = VOCABULARY.written_in("number") | set(VOCABULARY.constant_names)
        if not any(w in known or w in ("x", "X") for w in words):
            end = _final_period(text, start, m.start())
    return start, end


def _parse(text: str, limits: Limits, example: str, what: str = "formula",
           grouping: bool = False) -> Node:
    full = clean(text, limits, what=what)
    try:
        return _parse_clean(full, limits, example, what, grouping)
    except InvalidAnswer as e:
        # errors point into the cleaned text (or the prefix of it that was tokenized); columns
        # count the text as typed, so map them back through the cleaning
        if e.source is not None and full.startswith(e.source):
            e.relocate(text, None if e.position is None else full.raw_position(e.position))
        raise


def _parse_clean(full: str, limits: Limits, example: str, what: str, grouping: bool) -> Node:
    reject_forbidden_commands(full)
    label = _LABEL.match(full) if what == "number" else None  # `Total params: $61,706$`
    skip = label.end() if label and label.end() < len(full) else 0
    inner, offset = unwrap_math(full[skip:])
    body, offset = split_equation(inner, full, skip + offset)
    if not body.strip():
        raise InvalidAnswer("the answer is empty", position=0, expected="a formula or a number",
                            example=example)
    start, end = offset, offset + len(body)
    if what == "number":
        start, end = _number_span(full, start, end)
    else:
        end = _final_period(full, start, end)
    # tokenize the right-hand side in place so that columns refer to the full text
    tokens = tokenize(full[:end], start, limits, example, grouping)
    if not tokens:
        raise InvalidAnswer("the answer is empty", position=0, expected="a formula or a number",
                            example=example)
    with _PARSE_LOCK:
        _BUILDER.begin(full, limits)
        try:
            return _PARSER.parse(tokens)
        except UnexpectedToken as e:
            raise _syntax_error(e, tokens, full, example) from None
        except UnexpectedInput as e:  # pragma: no cover - custom lexer: only tokens
            raise InvalidAnswer(f"could not read the formula ({e.__class__.__name__})",
                                example=example) from None
        finally:
            _BUILDER.end()


def parse_math(text: str, *, limits: Limits = LIMITS) -> Node:
    """Parses one formula answer into an (unresolved) expression tree.

    Raises :class:`InvalidAnswer` (``TooComplex`` for cap violations) for anything it cannot
    read; no other exception escapes.
    """
    return guarded(_parse, text, limits, FORMULA_EXAMPLE)


def parse_number_expr(text: str, *, limits: Limits = LIMITS) -> Node:
    """``parse_math`` with number-flavoured examples in its messages (for parse_number)."""
    return guarded(_parse, text, limits, NUMBER_EXAMPLE, "number", True)


def guarded(fn, *args, **kwargs):
    """Calls ``fn``; anything but InvalidAnswer becomes InvalidAnswer/TooComplex."""
    try:
        return fn(*args, **kwargs)
    except InvalidAnswer:
        raise
    except (RecursionError, MemoryError, OverflowError) as e:
        raise TooComplex(f"the answer is too large or complex to check ({type(e).__name__})",
                         expected="a smaller formula") from None
    except Exception as e:  # noqa: BLE001 - the contract: only InvalidAnswer escapes
        raise InvalidAnswer(f"could not read the answer ({type(e).__name__}: {e})") from None
