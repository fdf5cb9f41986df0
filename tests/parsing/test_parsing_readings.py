"""What a fair TA reads (issue 10 §5), reader by reader; each input here was refused or misread
before.  Where a person would hesitate, the answer is invalid with a hint naming both readings."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from grader.errors import InvalidAnswer
from grader.kinds import Choice, Expr, Int, Number, Shape, ShapeFormula
from grader.kinds.choice import Chosen
from grader.kinds.index_expr import IndexExpr
from grader.parsing import canonical, eval_array, parse_math, parse_number
from grader.sampling import Count


def invalid(fn, raw) -> InvalidAnswer:
    with pytest.raises(InvalidAnswer) as info:
        fn(raw)
    return info.value


# -- an exponent binds to the last factor of an implicit product -----------------------------------
WXNM = Expr(["w", "x", "n", "m"])


@pytest.mark.parametrize("text,read", [
    ("wx^2", "w*x^2"),
    ("nm^(-1)", "n*m^-1"),
    ("3wx^2", "3*(w*x^2)"),
    ("(wx)^2", "(w*x)^2"),  # brackets: the whole product
    ("w x^2", "w*x^2"),
])
def test_an_exponent_binds_to_the_last_factor(text, read):
    assert WXNM.canonical(WXNM.parse(text)) == read


def test_wx_squared_has_the_value_of_w_times_x_squared():
    env = {"w": np.array([2.0]), "x": np.array([3.0]), "n": np.array([6.0]), "m": np.array([4.0])}
    assert eval_array(WXNM.parse("wx^2"), env)[0] == 18.0  # not (2*3)^2 = 36
    assert eval_array(WXNM.parse("nm^(-1)"), env)[0] == 1.5  # n/m, not 1/(n*m)


# -- a number with a short label or unit around it -------------------------------------------------
@pytest.mark.parametrize("text,value", [
    ("7 parameters", 7),
    ("7 parameters.", 7),
    ("J ≈ 0.8026", Fraction(4013, 5000)),
    ("Total params: 61,706", 61706),
    ("Total params: $61,706$", 61706),
    ("0.8026.", Fraction(4013, 5000)),
    ("10 channels", 10),
    ("520 weights in total", 520),
])
def test_a_number_with_a_label_or_unit_is_the_number(text, value):
    assert parse_number(text) == value


def test_a_known_name_after_a_number_is_maths_not_a_unit():
    assert parse_number("2 pi") == pytest.approx(2 * math.pi)
    assert parse_number("3 e") == pytest.approx(3 * math.e)
    assert "unknown name 'x'" in invalid(parse_number, "3 x").message  # a lone x is no unit


# -- a chain of equalities: the last side is graded ---------------------------------------------
def test_a_chain_of_equalities_is_graded_by_its_last_side():
    assert parse_number("3*3*64 + 64 = 576 + 64 = 640") == 640
    assert Int().parse("params = 3*3*64 + 64 = 640") == 640
    e = Expr(["y", "z", "h_i"])
    assert e.canonical(e.parse(r"\frac{\partial R}{\partial w_i} = \frac{\partial R}{\partial z} h_i = -2(y-z)h_i")) \
        == "-2*(y - z)*h_i"


# -- shapes in words and a one-dimensional tuple --------------------------------------------------
def test_shapes_in_words_and_a_python_tuple():
    assert Shape().parse("46 by 62 by 20") == (46, 62, 20)
    assert Shape().parse("(2,)") == (2,)
    assert Shape().parse("[2,]") == (2,)
    assert "empty" in invalid(Shape().parse, "(2,,)").message
    f = ShapeFormula({"K": Count(1, 9), "m": Count(1, 9)})
    assert f.canonical(f.parse("K by m")) == "K × m"


def test_by_stays_a_product_where_b_and_y_are_declared():
    f = ShapeFormula({"b": Count(1, 9), "y": Count(1, 9), "K": Count(1, 9)})
    assert f.canonical(f.parse("K by")) == "K*(b*y)"


# -- a choice followed by its reason -----------------------------------------------------------------
def test_a_choice_followed_by_its_reason_is_the_choice_and_the_reason_is_kept():
    c = Choice(["true", "false"])
    got = c.parse("false — because h_t depends on h_{t-1}")
    assert got == "false" and isinstance(got, Chosen) and got.reason == "because h_t depends on h_{t-1}"
    assert c.parse("False, h_t depends on h_{t-1}") == "false"
    assert c.parse("True (the gates are all zero)") == "true"
    assert c.compare(got, "false").full


def test_two_options_are_not_a_choice_and_a_reason():
    c = Choice(["yes", "no"])
    assert "not one of the options" in invalid(c.parse, "yes, no").message
    assert "not one of the options" in invalid(c.parse, "y, because").message  # abbreviated: unsure


# -- integer division, x as a multiplication sign, floor and ceil ----------------------------------
@pytest.mark.parametrize("text,value", [
    ("7//2", 3), ("-7//2", -4), ("(5*5*1 + 1)*6 // 4", 39),
    ("3 x 4", 12), ("6x6x256", 9216), ("3 X 4", 12), ("2 x (3 + 1)", 8),
    ("floor(7/2)", 3), ("ceil(3.5)", 4), (r"\lfloor 7/2 \rfloor", 3), (r"\lceil 7/2 \rceil", 4),
])
def test_integer_division_times_sign_floor_and_ceil(text, value):
    got = parse_number(text)
    assert got == value and isinstance(got, int)


def test_integer_division_in_a_shape_formula_is_floor_division():
    f = ShapeFormula({"H": Count(1, 99), "K": Count(1, 9), "S": Count(1, 4)})
    node = f.parse("(H - K)//S + 1")[0]
    env = {"H": np.array([28.0]), "K": np.array([5.0]), "S": np.array([2.0])}
    assert eval_array(node, env)[0] == 12.0  # floor(23/2) + 1


# -- index formulas: dU[i][j][m] and σ(Z) -----------------------------------------------------------
INDEX = IndexExpr({"Z": 3, "dU": 3, "U": 3, "W": 4}, free=("i", "j", "m"), indices=("k1", "k2", "n"))


@pytest.mark.parametrize("text,read", [
    ("dU[i][j][m]", "dU[i, j, m]"),
    ("σ(Z)(1-σ(Z)) dU", "sigmoid(Z[i, j, m])*(1 - sigmoid(Z[i, j, m]))*dU[i, j, m]"),
    ("\\sigma(Z[i][j][m])", "sigmoid(Z[i, j, m])"),
])
def test_index_formula_readings(text, read):
    assert INDEX.canonical(INDEX.parse(text)) == read


def test_a_bare_tensor_of_another_arity_still_needs_its_indices():
    assert "index it" in invalid(INDEX.parse, "W").message


# -- full-width characters (NFKC of width and font variants only) ---------------------------------
def test_full_width_and_mathematical_letters_read_as_plain_ones():
    assert parse_number("６１，７０６") == 61706
    assert Shape().parse("４６×６２×２０") == (46, 62, 20)
    assert Choice(["true", "false"]).parse("ＦＡＬＳＥ") == "false"
    e = Expr(["V", "x"])
    assert e.canonical(e.parse("３Ｖ＋１")) == "3*V + 1"
    assert e.canonical(e.parse("𝑥 + 1")) == "x + 1"  # mathematical italic, pasted from an editor
    assert e.canonical(e.parse("V²")) == "V^2"  # a superscript is still a power, not a digit


# -- LaTeX digit grouping --------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["61,\\!706", "61\\,706", "61{,}706", "$61,\\!706$", "61\\;706"])
def test_latex_digit_grouping(text):
    assert parse_number(text) == 61706


def test_a_latex_decimal_comma_is_still_ambiguous():
    assert "decimal comma" in invalid(parse_number, "0{,}5").message


# -- functions: cosh, sec, tanh and function powers ------------------------------------------------
def test_hyperbolic_and_reciprocal_trigonometric_functions():
    assert parse_number("cosh(0)") == 1 and parse_number("sec(0)") == 1
    assert parse_number("tanh(1)") == pytest.approx(0.7615941559557649, rel=1e-15)
    assert parse_number(r"\cosh 1") == pytest.approx(1.5430806348152437, rel=1e-15)
    e = Expr(["y"], functions=["cosh", "sec", "tanh"])
    assert e.canonical(e.parse(r"\sec y + cosh(y) tanh y")) == "sec(y) + cosh(y)*tanh(y)"


@pytest.mark.parametrize("text,read", [
    (r"\tan^2 y", "tan(y)^2"),
    ("tan^2(y)", "tan(y)^2"),
    (r"\tan^{2} y + 1", "tan(y)^2 + 1"),
    ("log^2 n", "log(n)^2"),
    (r"\log^2 n", "log(n)^2"),
])
def test_function_powers(text, read):
    e = Expr(["y", "n"], functions=["tan", "log"])
    assert e.canonical(e.parse(text)) == read


def test_a_function_to_the_minus_one_names_both_readings():
    e = Expr(["y"], functions=["sin"])
    message = invalid(e.parse, r"\sin^{-1} y").message
    assert "arcsin" in message and "1/sin" in message


# -- §4: an int part gives full marks only to an exact integer --------------------------------------
def test_an_int_part_needs_an_exact_integer():
    k = Int()
    tiny = k.parse("exp(-1000)")  # about 5e-435: not 0
    assert not k.compare(tiny, 0).full and "not exactly whole" in k.compare(tiny, 0).feedback
    assert k.parse(k.canonical(tiny)) == 0  # the echo (≈0) reads back
    assert k.compare(k.parse("exp(0)"), 1).full and k.compare(k.parse("sqrt(16)"), 4).full
    assert k.compare(k.parse(6.0), 6).full  # a native float is a number as written
    assert k.compare(k.parse("2.904e5"), 290400).full
    assert Number().compare(Number().parse("exp(-1000)"), 0.0).full  # a number part: within tolerance


def test_a_native_date_is_not_a_number():
    import datetime

    for kind in (Int(), Number()):
        assert "read as a date" in invalid(kind.parse, datetime.date(2020, 1, 1)).message


# -- the caret points into the text as typed ------------------------------------------------------
@pytest.mark.parametrize("text,broke", [
    ("3*V+*1", 4),
    ("３＊Ｖ＋＊１", 4),  # full-width, folded for reading, shown as typed
    ("3*V\u200b+*1", 5),  # a zero-width space dropped while reading
    ("y\u0302 +* 1", 4),  # a decomposed ŷ composed while reading
    (r"$\frac{1}{2} + \foo$", 15),
])
def test_an_error_position_indexes_the_text_as_typed(text, broke):
    e = invalid(parse_math, text)
    assert e.position == broke and e.source == text and f"at column {broke + 1}" in e.message


def test_the_feedback_puts_the_excerpt_and_caret_on_lines_of_their_own():
    e = invalid(parse_math, "３＊Ｖ＋＊１")
    prefixed = "Could not read this answer: " + e.feedback()
    excerpt, caret = prefixed.split("\n")[-2:]
    assert excerpt == "    ３＊Ｖ＋＊１" and caret == "    " + " " * 8 + "^"  # four wide characters before it
