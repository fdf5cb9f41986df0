"""The vocabulary: one table of function and constant names that every reader uses.

The test that matters most is the last group: a function added as one `Function` entry is
read, resolved, evaluated (exactly and on arrays), echoed, split correctly in table rows and
accepted by the kinds the entry names, with no other change anywhere.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import sympy

from grader.errors import InvalidAnswer
from grader.kinds import Expr, IndexExpr, Matrix, Number, ShapeFormula, Vector
from grader.parsing import (
    DEFAULT_FUNCTIONS,
    VOCABULARY,
    Call,
    Function,
    Sym,
    canonical,
    eval_array,
    eval_exact,
    parse_math,
    parse_number,
    resolve_names,
)
from grader.parsing.vocabulary import FUNCTIONS, KIND_TAGS, Vocabulary
from grader.sampling import Count, Real, Sample

# Points inside every one-argument function's domain (log, sqrt need positive arguments).
POINTS = [Fraction(1, 3), Fraction(9, 4), 2, Fraction(7, 10)]


def _value_at(f: Function, args: list) -> float:
    return float(eval_exact(resolve_names(parse_math(f"{f.name}({', '.join(map(str, args))})"),
                                          symbols=(), functions=[f.name])))


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.name)
def test_exact_array_and_sympy_agree(f: Function):
    """Each entry's three implementations are the same function."""
    arg_lists = [[p] for p in POINTS] if f.arity == (1, 1) else [list(POINTS[:2]), list(POINTS[:3])]
    for args in arg_lists:
        exact = _value_at(f, args)
        array = float(f.array(*[np.float64(float(a)) for a in args]))
        symbolic = float(f.sympy(sympy, *[sympy.Rational(a.numerator, a.denominator) if isinstance(a, Fraction) else sympy.Integer(a) for a in args]))
        assert exact == pytest.approx(array, rel=1e-12), args
        assert exact == pytest.approx(symbolic, rel=1e-12), args


def test_constants_evaluate_and_have_sympy_counterparts():
    for c in VOCABULARY.constants:
        assert eval_exact(resolve_names(parse_math(c.name), symbols=())) == c.value
        assert float(c.sympy(sympy)) == pytest.approx(c.value, rel=1e-15)


def test_every_spelling_resolves_to_its_name():
    for f in FUNCTIONS:
        for spelling in f.spellings:
            node = resolve_names(parse_math(f"{spelling}(1, 2)" if f.arity[0] == 2 else f"{spelling}(1)"),
                                 symbols=(), functions=[spelling])
            assert node == Call(f.name, node.args), spelling
        for command in f.latex:
            text = rf"\{command}{{4}}" if command == "sqrt" else (rf"\{command}(1, 2)" if f.arity[0] == 2 else rf"\{command} 2")
            node = resolve_names(parse_math(text), symbols=(), functions=[f.name, *f.synonyms])
            assert VOCABULARY.aliases.get(node.func, node.func) == f.name, command


def test_prefix_functions_apply_without_parentheses_and_others_do_not():
    for f in FUNCTIONS:
        for spelling in f.reserved:
            text = f"2 {spelling} 3"
            if f.prefix:
                assert parse_math(text).b == Call(spelling, (parse_math("3"),)), spelling
            else:  # read as a name, which the resolver then rejects: a function needs its '('
                with pytest.raises(InvalidAnswer):
                    resolve_names(parse_math(text), symbols=(), functions=[spelling])


def test_the_derived_views_cover_the_whole_table():
    assert set(VOCABULARY.reserved) == {s for f in FUNCTIONS for s in f.reserved}
    assert DEFAULT_FUNCTIONS == VOCABULARY.allowed_in("formula")
    assert set(DEFAULT_FUNCTIONS) >= {"exp", "log", "ln", "sqrt", "sigmoid", "floor", "ceil"}
    assert VOCABULARY.aliases["ln"] == "log" and VOCABULARY.aliases["σ"] == "sigmoid"
    assert VOCABULARY.aliases["s"] == "sigmoid" and "s" not in VOCABULARY.allowed_in("number")
    with pytest.raises(ValueError, match="unknown kind tag"):
        VOCABULARY.allowed_in("matrix")


def test_a_spelling_names_one_function_only():
    clash = Function("lg", (1, 1), math.log10, np.log10, lambda sp, x: sp.log(x, 10), synonyms=("ln",))
    with pytest.raises(ValueError, match="'ln' spells both log and lg"):
        Vocabulary((*FUNCTIONS, clash), VOCABULARY.constants)
    with pytest.raises(ValueError, match="unknown kind tags"):
        Function("lg", (1, 1), math.log10, np.log10, lambda sp, x: x, kinds=frozenset({"numbr"}))


def test_number_answers_accept_the_number_functions_and_only_those():
    assert parse_number("sigma(0)") == 0.5 and parse_number("σ(0)") == 0.5 and parse_number("ln(1)") == 0
    with pytest.raises(InvalidAnswer) as info:
        parse_number("relu(0)")
    listed = ", ".join(VOCABULARY.allowed_in("number"))
    assert f"the functions {listed} and the constants pi, e" in info.value.message
    assert listed == "exp, log, ln, sqrt, sigmoid, tanh, floor, ceil, sin, cos, tan, sec, csc, cot, sinh, cosh"


# -- one entry is all a new function needs --------------------------------------------------------

SOFTPLUS = Function(
    "softplus", (1, 1),
    exact=lambda v: math.log1p(math.exp(float(v))),
    array=lambda x: np.log1p(np.exp(x)),
    sympy=lambda sp, x: sp.log(1 + sp.exp(x)),
    kinds=frozenset({"number", "expr", "index-expr", "formula"}),
    aliases=("sp",), latex=("softplus",), prefix=True,
)


@pytest.fixture()
def softplus():
    with VOCABULARY.extended(SOFTPLUS):
        yield
    assert VOCABULARY.function("softplus") is None


def test_softplus_is_unknown_without_its_entry():
    with pytest.raises(InvalidAnswer, match="unknown function or name 'softplus'"):
        parse_number("softplus(0)")


def test_one_entry_makes_softplus_work_everywhere(softplus):
    ln2 = math.log(2)
    # numbers: typed, in number parts, in vector and matrix entries (one entry with its argument)
    assert parse_number("softplus(0)") == pytest.approx(ln2)
    assert parse_number("2 softplus 0") == pytest.approx(2 * ln2)  # a prefix function
    assert parse_number(r"\softplus(0)") == pytest.approx(ln2)  # its LaTeX spelling
    assert Number().compare(Number().parse("softplus(0)"), ln2).full
    assert Vector(2).parse("softplus (0) 1").tolist() == pytest.approx([ln2, 1.0])
    assert Matrix(1, 2).parse("sp (0) 2")[0].tolist() == pytest.approx([ln2, 2.0])  # its alias
    # formulas: resolved by default in the kinds the entry names, evaluated, echoed, re-read
    node = resolve_names(parse_math("softplus(x)^2"), symbols=["x"])
    assert node.a == Call("softplus", (Sym("x"),))
    assert canonical(node) == "softplus(x)^2"
    assert canonical(parse_math("2^softplus(x)")) == "2^softplus(x)"  # reserved: binds after ^
    x = np.array([-1.0, 0.0, 3.0])
    assert eval_array(node, {"x": x}) == pytest.approx(np.log1p(np.exp(x)) ** 2)
    expr = Expr({"x": Real(-3, 3)})
    sample = expr.normalise(Sample({"x": x}, np.log1p(np.exp(x))))
    assert expr.compare(expr.parse("softplus(x)"), sample).full
    assert expr.compare(expr.parse("log(1 + exp(x))"), sample).full
    index = IndexExpr({"w": 1}, free=("i",))
    assert index.parse("softplus(w[i])") == Call("softplus", (index.parse("w[i]"),))
    # not in the kinds the entry leaves out
    with pytest.raises(InvalidAnswer, match="not accepted"):
        ShapeFormula({"H": Count(1, 9)}).parse("softplus(H)")
    # the arity comes from the entry
    with pytest.raises(InvalidAnswer, match=r"softplus\(\.\.\.\) takes 1 argument, got 2"):
        parse_number("softplus(1, 2)")
    assert float(SOFTPLUS.sympy(sympy, sympy.Integer(0))) == pytest.approx(ln2)


def test_kind_tags_are_the_kinds_that_read_functions():
    assert KIND_TAGS == {"number", "expr", "index-expr", "shape-formula", "formula"}
    assert Expr(["x"]).functions.keys() >= set(VOCABULARY.allowed_in("expr"))
    assert set(ShapeFormula({"H": Count(1, 9)}).functions) == set(VOCABULARY.allowed_in("shape-formula"))
