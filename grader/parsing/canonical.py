"""``canonical``: an unambiguous ASCII echo of a tree that parses back to an equal tree.

Explicit ``*``, minimal parentheses (computed from the grammar's precedences), computed
iteratively.  A ``Sum`` is a prefix operator whose body runs to the end of the product, so
an expression that *ends* in an unparenthesised sum is "open" and gets parentheses when
anything would follow it inside the same product.
"""

from __future__ import annotations

import re
from fractions import Fraction

from grader.parsing.ast import BinOp, Call, Const, Index, Neg, Node, Num, Sum, Sym, fold
from grader.parsing.vocabulary import VOCABULARY

ADD, MUL, NEG, POW, ATOM = 1, 2, 3, 4, 5

_LITERAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DIGITS = re.compile(r"[0-9]+")


def _num_text(node: Num) -> tuple[str, int]:
    if node.text and _LITERAL.fullmatch(node.text):
        # '5.' echoes as '5': a final period is read as the end of a sentence
        return (node.text[:-1] if node.text.endswith(".") else node.text), ATOM
    v = node.value
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, Fraction) and v.denominator == 1:
        v = v.numerator
    if isinstance(v, int):
        return (str(v), ATOM) if v >= 0 else (f"-{-v}", NEG)
    if isinstance(v, Fraction):
        body = f"{abs(v.numerator)}/{v.denominator}"
        return (body, MUL) if v >= 0 else (f"-({body})", NEG)
    r = repr(float(v))
    if r in ("inf", "-inf", "nan"):
        return r, ATOM
    return (r, ATOM) if not r.startswith("-") else (r, NEG)


def _wrap(item: tuple[str, int, bool], ok: bool) -> str:
    text, _, _ = item
    return text if ok else f"({text})"


def _up(node: Node, kids: list[tuple[str, int, bool]], _ctx: object) -> tuple[str, int, bool]:
    """Returns (text, precedence, open_tail)."""
    if isinstance(node, Num):
        text, prec = _num_text(node)
        return text, prec, False
    if isinstance(node, Sym):
        return node.name, ATOM, False
    if isinstance(node, Const):
        return node.name, ATOM, False
    if isinstance(node, Neg):
        (x,) = kids
        _, p, opn = x
        if isinstance(node.x, Sum):
            return "-" + x[0], NEG, True
        if isinstance(node.x, Neg) and not isinstance(node.x.x, Sum):  # '--x' not '-(-(x))': chains must not nest brackets
            return "-" + x[0], NEG, opn
        ok = p >= POW
        return "-" + _wrap(x, ok), NEG, opn and ok
    if isinstance(node, BinOp):
        a, b = kids
        op = node.op
        if op in "+-":
            right_ok = b[1] >= MUL
            text = f"{a[0]} {op} {_wrap(b, right_ok)}"
            return text, ADD, b[2] and right_ok
        if op in "*/":
            left_ok = a[1] >= MUL and not a[2]
            if isinstance(node.b, Sum):
                right_ok = True
            else:
                right_ok = b[1] > NEG and not b[2]  # 'a*(-b)' rather than 'a*-b'
            text = f"{_wrap(a, left_ok)}{op}{_wrap(b, right_ok)}"
            return text, MUL, b[2] and right_ok
        # power: the base must be an atom, the exponent a signed power
        # '(wx)^2' keeps its brackets, and so does a name like 'log' ('log^2 n' is a function power)
        left_ok = a[1] >= ATOM and not a[2] and not (
            isinstance(node.a, Sym) and (node.a.grouped or node.a.name in VOCABULARY.prefix))
        right_ok = b[1] >= NEG and not b[2]
        if isinstance(node.b, Call) and node.b.func not in VOCABULARY.reserved:
            right_ok = False  # 'x^f(y)' would read as x^f * (y)
        if isinstance(node.b, BinOp):
            right_ok = False  # 'R^(f(x)^c)': a call in a power tower binds differently
        return f"{_wrap(a, left_ok)}^{_wrap(b, right_ok)}", POW, False
    if isinstance(node, Call):
        return f"{node.func}({', '.join(k[0] for k in kids)})", ATOM, False
    if isinstance(node, Index):
        if len(node.indices) == 1:
            only = node.indices[0]
            if isinstance(only, Sym) or (isinstance(only, Num) and _DIGITS.fullmatch(kids[0][0])):
                return f"{node.base}_{kids[0][0]}", ATOM, False
        return f"{node.base}[{', '.join(k[0] for k in kids)}]", ATOM, False
    if isinstance(node, Sum):
        it = iter(kids)
        lower = next(it) if node.lower is not None else None
        upper = next(it) if node.upper is not None else None
        body = next(it)
        head = "sum_{" + ",".join(node.indices)
        if lower is not None:
            head += "=" + lower[0]
        head += "}"
        if upper is not None:
            head += "^{" + upper[0] + "}"
        body_ok = body[1] >= MUL
        return f"{head} {_wrap(body, body_ok)}", MUL, True
    raise TypeError(f"not an expression node: {type(node).__name__}")


def canonical(node: Node) -> str:
    """ASCII echo of ``node``: ``2*(y - z)*h_i``, ``sum_{i=1}^{4} w_i*h_i``."""
    from grader.parsing.parser import guarded

    return guarded(lambda: fold(node, _up)[0])
