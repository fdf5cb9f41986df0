"""The one bracket matcher and the one maths-wrapper stripper, and the readers that share them."""

from __future__ import annotations

import re

import pytest

from grader.errors import InvalidAnswer
from grader.kinds import Shape, Vector
from grader.parsing import parse_math
from grader.parsing.brackets import Event, Pairs, Unbalanced, depths, enclosed, match, split_top
from grader.parsing.text import strip_math, unwrap_math

PAIRS = Pairs({"(": ")", "[": "]"})


def events(text: str) -> list[Event]:
    return [Event(i, ch) for i, ch in enumerate(text) if ch in "()[]"]


def test_match_gives_the_depth_outside_each_bracket():
    assert match(events("([])()"), PAIRS) == [0, 1, 1, 0, 0, 0]
    assert match([], PAIRS) == []


@pytest.mark.parametrize(
    "text, problem, at, opener",
    [
        ("())", "unopened", 2, None),
        ("(]", "mismatched", 1, 0),
        ("([)", "mismatched", 2, 1),
        ("(()", "unclosed", None, 0),
        ("(((", "too deep", 2, None),
    ],
)
def test_match_says_which_bracket_breaks_the_nesting(text, problem, at, opener):
    with pytest.raises(Unbalanced) as info:
        match(events(text), PAIRS, max_depth=2)
    exc = info.value
    assert exc.problem == problem
    assert (exc.event.pos if exc.event else None) == at
    assert (exc.opener.pos if exc.opener else None) == opener


def test_raw_text_counts_a_latex_delimiter_once_and_an_escaped_brace_not_at_all():
    assert depths(r"\lfloor x \rfloor") == [0] * 7 + [1] * 3 + [0] * 7
    assert depths(r"\{1\}") == [0, 0, 0, 0, 0]
    assert depths(r"\{1\}", escaped_braces=True) == [0, 0, 1, 1, 0]
    assert split_top("a, (b, c), [d, e]", re.compile(r",\s*")) == ["a", "(b, c)", "[d, e]"]
    assert enclosed("(1, 2)") == "(" and enclosed("(1+2)*(3)") is None


def test_each_reader_words_the_same_finding_its_own_way():
    with pytest.raises(InvalidAnswer, match=r"the '\[' opened at column 1 is closed by '\)'"):
        parse_math("[x + 1)")
    with pytest.raises(InvalidAnswer, match=r"'\)' at position 6 does not match '\[' at position 1"):
        Vector(2).parse("[1, 2)")
    with pytest.raises(InvalidAnswer, match=r"'\(' at position 1 is never closed"):
        Shape().parse("(3, 4")


def test_an_equation_splits_only_at_an_equals_sign_outside_brackets():
    assert parse_math("dR/dw_i = 2 x") == parse_math("2 x")
    assert parse_math(r"\sum_{i=1}^{4} w_i = 3") == parse_math("3")  # the '=' in the subscript is inside braces
    # a left-hand side whose brackets do not match is not split: the bracket is named
    with pytest.raises(InvalidAnswer, match=r"'\)' has no matching '\('"):
        parse_math("-2(y-z)-z) sum_{i=1}^{4} w_i h_i")


@pytest.mark.parametrize(
    "text, inner, offset",
    [
        ("3V + 1", "3V + 1", 0),
        ("  3V + 1 ", "  3V + 1 ", 0),
        ("$3V + 1$", "3V + 1", 1),
        (" $$ 3V $$", " 3V ", 3),
        (r"\( 3V \)", " 3V ", 2),
        (r"$ \[ 3V \] $", " 3V ", 4),
        ("$$", "", 1),
    ],
)
def test_maths_wrappers_are_stripped_in_one_place(text, inner, offset):
    assert unwrap_math(text) == (inner, offset)
    assert text[offset:offset + len(inner)] == inner  # positions still point into the typed text
    assert strip_math(text) == inner.strip()


def test_formulas_and_tables_unwrap_alike():
    assert parse_math(r"$\( 3V + 1 \)$") == parse_math("3V + 1")
    assert Vector(2).parse(r"$\( [1, 2] \)$").tolist() == [1.0, 2.0]
