"""Rejected input: messages say where (column + caret excerpt), what was expected, and show
an accepted form."""

from __future__ import annotations

import pytest

from grader.errors import InvalidAnswer, TooComplex
from grader.parsing import Limits, canonical, eval_exact, parse_math, parse_number, resolve_names


def caret_column(message: str) -> int:
    """Column (1-based) of the character the caret line points at, in the excerpt line."""
    first, caret = message.split("\n")[:2]
    idx = caret.index("^")
    return idx


def error(fn, text):
    with pytest.raises(InvalidAnswer) as info:
        fn(text)
    return info.value


def test_missing_operand_after_operator():
    e = error(parse_math, "3*V+*1")
    assert "expected a number, a symbol or '('" in e.message
    assert "after '+'" in e.message
    assert "at column 5" in e.message
    assert e.position == 4
    assert e.expected and "a number, a symbol or '('" in e.expected
    assert e.example
    # the caret points at the offending '*'
    first = e.message.split("\n")[0]
    assert first[caret_column(e.message)] == "*"
    assert "3*V+*1" in first


def test_formula_ending_early():
    e = error(parse_math, "3*V+")
    assert "ends too early" in e.message and "after '+'" in e.message
    assert "column 5" in e.message
    assert "a number, a symbol or '('" in e.expected


def test_unclosed_bracket_points_at_the_opener():
    e = error(parse_math, "2*(y-z")
    assert "'(' is never closed" in e.message
    assert "column 3" in e.message and e.position == 2
    assert e.expected == "a closing ')'"


def test_unmatched_closer():
    e = error(parse_math, "3+4)")
    assert "')' has no matching '('" in e.message and "column 4" in e.message


def test_mismatched_brackets():
    e = error(parse_math, "(a+b]")
    assert "opened at column 1" in e.message and "closed by ']'" in e.message
    assert "column 5" in e.message


def test_two_numbers_side_by_side():
    e = error(parse_math, "2 3")
    assert "two numbers side by side" in e.message and "column 3" in e.message
    assert "2*3" in e.example


def test_decimal_comma_hint():
    e = error(parse_number, "0,9933")
    assert "decimal comma" in e.message and "ambiguous" in e.message
    assert e.example == "0.9933"


def test_comma_in_a_formula():
    e = error(parse_math, "61,706 x")
    assert "unexpected ','" in e.message and "decimal point" in e.message


def test_forbidden_latex_command_is_named():
    e = error(parse_math, "1 + \\input{/etc/passwd}")
    assert "'\\input'" in e.message and "not allowed" in e.message
    assert "column 5" in e.message
    assert e.example


def test_unknown_latex_command_is_named():
    e = error(parse_math, "\\foo x")
    assert "unknown LaTeX command '\\foo'" in e.message
    assert "\\frac" in e.expected


def test_unsupported_latex_command_with_hint():
    e = error(parse_math, "\\prod_i x_i")
    assert "\\prod" in e.message and "write the factors out" in e.message


def test_bidi_override_rejected():
    e = error(parse_math, "a\u202eb")
    assert "text-direction" in e.message and "U+202E" in e.message
    assert "column 2" in e.message
    assert "\u202e" not in e.message  # the excerpt never echoes the control character


def test_nul_rejected():
    e = error(parse_math, "x\x00")
    assert "control character" in e.message and "NUL" in e.message and "column 2" in e.message
    assert "\x00" not in e.message


def test_a_chain_of_equalities_reads_its_last_side():
    # issue 10 §5: the working before the last '=' is not read (the seed 004 answer to 1(c))
    assert canonical(parse_math("a = b = c")) == "c"
    assert canonical(parse_math(r"\frac{\partial R}{\partial v_j} = \frac{\partial R}{\partial z} = -2(y-z) h_i")) \
        == "-2*(y - z)*h_i"
    e = error(parse_math, "a = b =")
    assert "nothing after '='" in e.message and "column 7" in e.message


def test_sum_without_index():
    e = error(parse_math, "\\sum x_i")
    assert "a sum needs its index" in e.message
    assert e.example.startswith("sum_{i=1}^{4}")


def test_subscript_without_name():
    e = error(parse_math, "(a)_i")
    assert "only a name can have a subscript" in e.message


def test_unknown_name_lists_what_is_accepted():
    e = error(lambda t: resolve_names(parse_math(t), symbols=["V"]), "3q + 1")
    assert "unknown name 'q'" in e.message
    assert "symbols: V" in e.message and "functions: " in e.message and "exp" in e.message
    assert e.example == "2*V + 1"


def test_emoji_and_combining_marks():
    e = error(parse_math, "x + 😀")
    assert "unsupported character" in e.message and "U+1F600" in e.message and "column 5" in e.message
    e = error(parse_math, "x\u0301")
    assert "combining mark" in e.message and "U+0301" in e.message


def test_caps_raise_too_complex():
    with pytest.raises(TooComplex) as info:
        parse_math("x" * 2001)
    assert "too long" in info.value.message and "2000" in info.value.message
    with pytest.raises(TooComplex) as info:
        parse_math("(" * 61 + "1" + ")" * 61)
    assert "nested more than 60" in info.value.message
    with pytest.raises(TooComplex) as info:
        parse_math("1" * 41)
    assert "41 digits" in info.value.message
    with pytest.raises(TooComplex) as info:
        parse_math("+".join(["x"] * 300))
    assert "nested too deeply" in info.value.message


def test_custom_limits():
    small = Limits(max_length=10, max_nesting=2, max_digits=3, max_nodes=5)
    with pytest.raises(TooComplex):
        parse_math("1+2+3+4+5+6", limits=small)
    with pytest.raises(TooComplex):
        parse_math("(((1)))", limits=small)
    with pytest.raises(TooComplex):
        parse_math("1234", limits=small)
    with pytest.raises(TooComplex):
        parse_math("1+2+3+4", limits=small)  # 7 nodes > 5
    assert parse_math("((1))", limits=small).value == 1


def test_evaluation_errors_are_clear():
    e = error(lambda t: eval_exact(parse_math(t)), "1/(2-2)")
    assert "division by zero" in e.message
    e = error(lambda t: eval_exact(parse_math(t)), "x + 1")
    assert "'x' is a symbol" in e.message
    e = error(lambda t: eval_exact(parse_math(t)), "x_i")
    assert "indices are not allowed" in e.message


def test_feedback_paragraph():
    e = error(parse_math, "3*V+*1")
    fb = e.feedback()
    assert "Expected a number, a symbol or '('" in fb and "An accepted form:" in fb
