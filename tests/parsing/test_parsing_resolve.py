"""resolve_names and free_symbols."""

from __future__ import annotations

import pytest

from grader.errors import InvalidAnswer
from grader.parsing import (
    DEFAULT_FUNCTIONS,
    BinOp,
    Call,
    Const,
    Index,
    Num,
    Sum,
    Sym,
    canonical,
    free_symbols,
    parse_math,
    resolve_names,
)


def R(text, **kw):
    kw.setdefault("symbols", ())
    return resolve_names(parse_math(text), **kw)


def test_implicit_splits_by_longest_declared_name():
    assert R("yz", symbols=["y", "z"]) == BinOp("*", Sym("y"), Sym("z"))
    assert R("2xy", symbols=["x", "y"]) == BinOp("*", Num(2), BinOp("*", Sym("x"), Sym("y")))
    # longest match first: 'yhat' is one name, not y*h*a*t
    assert R("yhat", symbols=["y", "h", "a", "t", "yhat"]) == Sym("yhat")
    # backtracking: 'abc' with {ab, a, bc} splits a*bc
    assert R("abc", symbols=["ab", "a", "bc"]) == BinOp("*", Sym("a"), Sym("bc"))
    # the kernel index: k1 is one declared name
    assert R("k1 + k2", symbols=[], indices=["k1", "k2"]) == BinOp("+", Sym("k1"), Sym("k2"))


def test_unknown_name_lists_allowed_names():
    with pytest.raises(InvalidAnswer) as info:
        R("3q+1", symbols=["V"])
    msg = info.value.message
    assert "unknown name 'q'" in msg
    assert "symbols: V" in msg
    for f in ("exp", "log", "sqrt", "sigmoid"):
        assert f in msg
    with pytest.raises(InvalidAnswer) as info:
        R("x2", symbols=["x"])
    assert "unknown name 'x2'" in info.value.message


def test_declared_function_versus_symbol_call():
    assert R("s(x)", symbols=["x"], functions=["s"]) == Call("sigmoid", (Sym("x"),))
    assert R("σ(x)", symbols=["x"], functions=["σ"]) == Call("sigmoid", (Sym("x"),))
    assert R("\\sigma(x)", symbols=["x"], functions=["sigma"]) == Call("sigmoid", (Sym("x"),))
    # declaring an alias also admits the full name
    assert R("sigmoid(x)", symbols=["x"], functions=["s"]) == Call("sigmoid", (Sym("x"),))
    # s is a symbol here, so s(x) is a product
    assert R("s(x)", symbols=["x", "s"], functions=["exp"]) == BinOp("*", Sym("s"), Sym("x"))
    assert R("V(x+1)", symbols=["V", "x"]) == BinOp("*", Sym("V"), BinOp("+", Sym("x"), Num(1)))
    assert R("ln(x)", symbols=["x"]) == Call("log", (Sym("x"),))
    assert R("ReLU(x)", symbols=["x"]) == Call("relu", (Sym("x"),))
    assert R("\\text{Sigmoid}(x)", symbols=["x"]) == Call("sigmoid", (Sym("x"),))
    with pytest.raises(InvalidAnswer, match="'V' is a symbol, not a function"):
        R("V(x, 1)", symbols=["V", "x"])
    with pytest.raises(InvalidAnswer, match="unknown function or name 'f'"):
        R("f(x)", symbols=["x"])
    with pytest.raises(InvalidAnswer, match="'floor' is not accepted"):
        R("⌊x⌋", symbols=["x"], functions=["exp"])
    with pytest.raises(InvalidAnswer, match="'log' is a function"):
        R("2 log", symbols=["x"])
    with pytest.raises(InvalidAnswer, match="takes 1 argument"):
        R("exp(x, x)", symbols=["x"])


def test_constants():
    assert R("e^x", symbols=["x"]) == BinOp("^", Const("e"), Sym("x"))
    assert R("2pi", symbols=[]) == BinOp("*", Num(2), Const("pi"))
    # a part that declares e as a symbol gets the symbol
    assert R("e", symbols=["e"]) == Sym("e")


def test_indexed_scalar_symbols():
    want = BinOp("*", BinOp("*", Num(2), BinOp("-", Sym("y"), Sym("z"))), Sym("h_i"))
    for text in ("2(y-z)h_i", "2(y-z)h_{i}", "2(y-z)h[i]"):
        assert R(text, symbols=["y", "z", "h_i"]) == want
    with pytest.raises(InvalidAnswer) as info:
        R("h_j", symbols=["y", "z", "h_i"])
    assert "unknown indexed name 'h_j'" in info.value.message and "h_i" in info.value.message
    assert R("x_{i+j-1}", symbols=["x_{i+j-1}"]) == Sym("x_{i+j-1}")


def test_numeric_subscripts_become_declared_names():
    assert R("k_1", symbols=["k1"]) == Sym("k1")
    assert R("k_{1}", symbols=["k1"]) == Sym("k1")
    assert R("X[i+k_1, j+k_{2}, n]", indices=["i", "j", "k1", "k2", "n"], tensors={"X": 3}) == \
        Index("X", (BinOp("+", Sym("i"), Sym("k1")), BinOp("+", Sym("j"), Sym("k2")), Sym("n")))
    tree = R("\\sum_{k_1,k_2,n} W[k_1,k_2,n,m] X[i+k_1, j+k_2, n]",
             indices=["i", "j", "k1", "k2", "n", "m"], tensors={"X": 3, "W": 4})
    assert isinstance(tree, Sum) and tree.indices == ("k1", "k2", "n")


def test_tensors_and_arity():
    node = R("x_{c,2(j-1)+k}", indices=["c", "j", "k"], tensors={"x": 2})
    assert isinstance(node, Index) and node.base == "x" and len(node.indices) == 2
    with pytest.raises(InvalidAnswer) as info:
        R("X[i, j]", indices=["i", "j"], tensors={"X": 3})
    assert "'X' takes 3 indices, got 2" in info.value.message
    with pytest.raises(InvalidAnswer, match="is a tensor"):
        R("X + 1", tensors={"X": 3})
    with pytest.raises(InvalidAnswer, match="unknown name 'q'"):
        R("X[q, j, n]", indices=["i", "j", "n"], tensors={"X": 3})


def test_sum_indices_are_bound_in_the_body_only():
    tree = R("sum_{p} w_p h_p", tensors={"w": 1, "h": 1})
    assert tree == Sum(("p",), None, None,
                       BinOp("*", Index("w", (Sym("p"),)), Index("h", (Sym("p"),))))
    with pytest.raises(InvalidAnswer, match="unknown name 'p'"):
        R("(sum_{p} w_p) + p", tensors={"w": 1})
    # limits are outside the binding
    with pytest.raises(InvalidAnswer, match="unknown name 'p'"):
        R("sum_{p=1}^{p} w_p", tensors={"w": 1})
    q1c = R("-2(y-z) sum_{i=1}^{4} w_i h_i (1-h_i) x_{i+j-1}", symbols=["y", "z"],
            indices=["j"], tensors={"w": 1, "h": 1, "x": 1})
    assert free_symbols(q1c) == {"y", "z", "j", "w", "h", "x"}
    with pytest.raises(InvalidAnswer, match="cannot be a sum index"):
        R("sum_{w} w", tensors={"w": 1})


def test_sum_call_form():
    tree = R("sum(W[1,c,k] x[c, 2(j-1)+k], c, k)", indices=["j", "c", "k"],
             tensors={"W": 3, "x": 2})
    assert isinstance(tree, Sum) and tree.indices == ("c", "k") and tree.lower is None


def test_free_symbols():
    assert free_symbols(parse_math("3V+1")) == {"V"}
    assert free_symbols(parse_math("e^x + pi y")) == {"x", "y"}
    assert free_symbols(parse_math("sum_{i} x_i y")) == {"x", "y"}
    assert free_symbols(R("2(y-z)h_i", symbols=["y", "z", "h_i"])) == {"y", "z", "h_i"}


def test_default_functions():
    assert set(DEFAULT_FUNCTIONS) >= {"exp", "log", "ln", "sqrt", "sigmoid", "floor", "ceil",
                                      "abs", "tanh", "relu", "min", "max"}
    assert "factorial" not in DEFAULT_FUNCTIONS


def test_resolved_tree_echo():
    tree = R("-(y \\log \\hat{y} + (1-y)\\log(1-\\hat{y}))", symbols=["y", "ŷ"])
    assert canonical(tree) == "-(y*log(yhat) + (1 - y)*log(1 - yhat))"
