"""The one calling convention: every function of a problem set is called by its parameters' names,
and the library does the drawing, the per-point loop, the conversions and the torch generators."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from grader.calling import CallError, call
from grader.keys.build import build_key
from grader.kinds import Expr, Int, Number, ShapeFormula, Vector
from grader.kinds.index_expr import IndexExpr
from grader.problemset import MAX_DEALS, ProblemSet
from grader.sampling import Count, Points, Real, draw, edge_draw
from grader.variants import Integer, IntVector, OneOf, variant_code

f64 = torch.float64


# -- grader.calling -----------------------------------------------------------------------------
def test_used_values_come_first_then_names():
    def fn(a, b, X, scale=2):
        return (a, b, X, scale)

    assert call(fn, [1, 2], {"X": "x", "other": 0}) == (1, 2, "x", 2)
    assert call(fn, [1, 2], {"X": "x", "scale": 5}) == (1, 2, "x", 5)
    assert call(lambda *counts: sum(counts), [1, 2, 3], {"X": 1}) == 6


def test_a_name_nobody_gives_is_a_clear_error():
    def fn(h, Xx):
        return h

    with pytest.raises(CallError, match=r"asks for 'Xx', which is not given \(it may ask for: K, X\)"):
        call(fn, [1], {"X": 1, "K": 2}, "part q2a")
    with pytest.raises(CallError, match="takes 0 of the 1 values"):
        call(lambda: 0, [1], {})


# -- plain parts ----------------------------------------------------------------------------------
def small_set() -> ProblemSet:
    hw = ProblemSet("conv-sheet")
    hw.given(x=IntVector(4, -2, 2, printed=[1, -1, 2, 0]), w=IntVector(2, -1, 1, printed=[1, -1]),
             bias=OneOf(-1, 1, printed=-1))

    @hw.require("the output is not constant")
    def _(x, w):
        out = torch.nn.functional.conv1d(x[None, None], w[None, None])[0, 0]
        return bool((out != out[0]).any())

    @hw.part("conv", 1, Vector(3))
    def conv(x, w, bias):
        """Slide w = {w} over x = {x} and add the bias {bias}."""
        return torch.nn.functional.conv1d(x[None, None], w[None, None])[0, 0] + bias

    @conv.mistake("bias left out", note="Add the bias {bias}.")
    def _(x, w):
        return torch.nn.functional.conv1d(x[None, None], w[None, None])[0, 0]

    @hw.part("total", 1, Number(), uses=["conv"])
    def total(out):
        """The sum of your outputs, Σ_{i} out_i."""
        return out.sum()

    @hw.part("fixed", 1, Int())
    def fixed():
        return 4

    return hw


def test_printed_inputs_reach_references_mistakes_prompts_and_notes():
    hw = small_set()
    key = build_key(hw)
    conv = key.part("conv")
    assert conv.reference == [1.0, -4.0, 1.0]  # [1·1 + (−1)(−1), −1 − 2, 2 − 0] − 1
    assert conv.mistakes[0].value == [2.0, -3.0, 2.0] and conv.mistakes[0].note == "Add the bias \u22121."
    assert conv.prompt == "Slide w = [1, -1] over x = [1, -1, 2, 0] and add the bias \u22121."
    assert key.part("total").prompt == "The sum of your outputs, Σ_{i} out_i."  # not an input: left alone
    assert key.part("total").reference == -2.0
    assert hw.parts["conv"]().tolist() == [1.0, -4.0, 1.0]
    assert hw.parts["conv"](bias=1).tolist() == [3.0, -2.0, 3.0]  # an input given by name wins
    assert hw.parts["total"](np.array([1.0, 2.0, 3.5])) == 6.5  # arrays arrive as float64 tensors


def test_which_parts_vary_follows_uses():
    assert small_set().varying_parts() == ["conv", "total"]


def test_a_variant_is_reproduced_byte_for_byte_from_its_code_and_meets_the_constraints():
    hw = small_set()
    codes = [variant_code(seed) for seed in (1, 2, 3, 4, 5)]
    dealt = [hw.deal(code) for code in codes]
    again = [hw.deal(code) for code in codes]
    assert [v.model_dump_json() for v in dealt] == [v.model_dump_json() for v in again]
    assert len({json.dumps(v.values) for v in dealt}) == 5
    for v in dealt:
        assert hw.violated(v) == [] and set(v.values) == {"x", "w", "bias"}
        key = build_key(hw, v)
        x, w, bias = (np.array(v.values[n], dtype=float) for n in ("x", "w", "bias"))
        expected = np.array([x[i] * w[0] + x[i + 1] * w[1] for i in range(3)]) + bias
        assert key.part("conv").reference == expected.tolist()
        assert key.part("total").reference == pytest.approx(expected.sum())
        assert f"x = [{', '.join(str(int(a)) for a in x)}]" in key.part("conv").prompt


def test_constraints_that_never_hold_are_reported():
    hw = ProblemSet("never")
    hw.given(a=Integer(0, 3, printed=0))
    hw.require("a is 7")(lambda a: a == 7)
    assert hw.violated() == ["a is 7"]
    with pytest.raises(ValueError, match=f"after {MAX_DEALS} draws"):
        hw.deal(variant_code(9))


def test_declarations_are_checked_where_they_are_written():
    hw = small_set()
    with pytest.raises(ValueError, match="before the parts"):
        hw.given(y=Integer(0, 1, printed=0))
    with pytest.raises(ValueError, match="not inputs of the sheet"):
        hw.require("y is small")(lambda y: y < 2)
    with pytest.raises(TypeError, match="must be a draw"):
        ProblemSet("p").given(a=3)


# -- formula parts: the library draws the points ------------------------------------------------
def test_symbols_are_drawn_as_before_and_given_one_point_at_a_time():
    hw = ProblemSet("formulas")
    symbols = {"V": Count(1, 5000)}

    @hw.part("params", 1, Expr(symbols), points=Points(pool=1))  # no pool: one draw, as of old
    def params(V):
        assert isinstance(V, int)
        return torch.nn.Conv1d(V, 1, 3, device="meta").weight.numel() + 1

    @params.mistake("bias forgotten")
    def _(V):
        return 3 * V

    computed = hw.parts["params"].compute(seed=42)
    env = draw(np.random.default_rng(42), symbols, 24)  # the hand-written draw of old
    np.testing.assert_array_equal(computed.reference.env["V"], env["V"])
    np.testing.assert_array_equal(computed.reference.value, 3 * env["V"] + 1)
    np.testing.assert_array_equal(computed.mistakes[0].value, 3 * env["V"])
    # every symbol a count and every value an integer: compared exactly
    assert computed.reference.meta == {"method": "sampled points", "seed": 42, "integer": True}
    assert computed.mistakes[0].env is computed.reference.env  # every target shares the points


def test_a_formula_part_keeps_a_pool_edge_points_first_then_blocks_spanning_the_domain():
    hw = ProblemSet("pool")
    symbols = {"V": Count(1, 5000), "y": Real(0, 1)}

    @hw.part("params", 1, Expr(symbols), solutions=("3V + 1",))
    def params(V):
        return 3 * V + 1

    s = hw.parts["params"].compute(seed=42).reference
    assert s.meta == {
        "method": "sampled points", "seed": 42, "edge": 3, "block": 24, "blocks": 4, "check": 2, "formula": "3V + 1",
    }  # y is real: no exact comparison
    assert s.n_points == 3 + 4 * 24
    assert s.env["V"][:3].tolist() == [1, 2, 3]  # the count's smallest values, always checked
    np.testing.assert_array_equal(s.value, 3 * s.env["V"] + 1)
    # the same stream as by hand: the edge points, then each block
    rng = np.random.default_rng(42)
    parts = [edge_draw(rng, symbols)] + [draw(rng, symbols, 24) for _ in range(4)]
    np.testing.assert_array_equal(s.env["V"], np.concatenate([p["V"] for p in parts]))
    # a wide count is drawn log-uniformly too: small and middling values are in the pool
    pool = s.env["V"][3:]
    assert (pool < 100).sum() >= 10 and (pool > 1000).sum() >= 20


def test_where_redraws_and_bounds_may_depend_on_earlier_symbols():
    hw = ProblemSet("conditions")
    symbols = {"K": Count(1, 5), "H": Count(1, 40), "y": Real(0, 1)}
    points = Points(8, domains={"H": Count(lambda K: K, 40)}, where=lambda K: (K > 3).any(), method="conv sizes", pool=1)

    @hw.part("out", 1, ShapeFormula(symbols), points=points)
    def out(K, H):
        return (H - K + 1,)

    s = hw.parts["out"].compute(seed=5).reference
    assert (s.env["H"] >= s.env["K"]).all() and (s.env["K"] > 3).any()
    np.testing.assert_array_equal(s.value[:, 0], s.env["H"] - s.env["K"] + 1)
    # the same stream as a hand-written loop
    rng = np.random.default_rng(5)
    while True:
        k = rng.integers(1, 5, size=8, endpoint=True).astype(float)
        h = rng.integers(k.astype(int), 40, endpoint=True).astype(float)
        y = rng.uniform(0, 1, size=8)
        if (k > 3).any():
            break
    np.testing.assert_array_equal(s.env["K"], k)
    np.testing.assert_array_equal(s.env["H"], h)
    np.testing.assert_array_equal(s.env["y"], y)
    assert s.meta["method"] == "conv sizes"


def layer(gen: torch.Generator) -> dict[str, torch.Tensor]:
    x = torch.randn(5, generator=gen, dtype=f64, requires_grad=True)
    w = torch.randn(2, generator=gen, dtype=f64)
    out = torch.nn.functional.conv1d(x[None, None], w[None, None])[0, 0]
    (out.sum()).backward()
    return {"x": x, "w": w, "out": out, "dx": x.grad}


def test_a_setup_gets_a_seeded_torch_generator_and_its_tensors_reach_the_functions_by_name():
    hw = ProblemSet("draws")
    kind = IndexExpr({"x": 1, "w": 1}, free=("n",), indices=("k",), base=0)

    @hw.part("dx", 1, kind, points=Points(3, setup=layer, method="autograd", meta={"shapes": [5]}))
    def dx(dx):
        return dx

    @dx.mistake("kernel flipped")
    def _(x, w):
        assert not x.requires_grad and x.is_contiguous()
        return torch.autograd.functional.jacobian(lambda v: torch.nn.functional.conv1d(v[None, None], w.flip(0)[None, None])[0, 0], x).sum(0)

    computed = hw.parts["dx"].compute(seed=11)
    s = computed.reference
    assert list(s.env) == ["x", "w"] and s.env["x"].shape == (3, 5)
    assert s.meta == {"method": "autograd", "draws": 3, "shapes": [5], "seed": 11}
    # the old bridge, by hand: a torch generator seeded from the part's numpy stream
    gen = torch.Generator().manual_seed(int(np.random.default_rng(11).integers(2**31)))
    by_hand = [layer(gen) for _ in range(3)]
    np.testing.assert_array_equal(s.env["x"], np.stack([d["x"].detach().numpy() for d in by_hand]))
    np.testing.assert_array_equal(s.value, np.stack([d["dx"].numpy() for d in by_hand]))
    flipped = computed.mistakes[0].value
    assert flipped.shape == s.value.shape and not np.allclose(flipped, s.value)


def test_a_formula_name_nothing_gives_is_a_clear_error():
    hw = ProblemSet("gap")

    @hw.part("f", 1, IndexExpr({"x": 1, "g": 1}, free=("n",)), points=Points(2, setup=layer))
    def f(dx):
        return dx

    with pytest.raises(ValueError, match="nothing gives the formula's 'g'"):
        hw.parts["f"].compute()
    with pytest.raises(ValueError, match="how many points"):
        ProblemSet("n").part("f", 1, ShapeFormula({"m": Count(1, 3)}))(lambda m: (m,)).compute()
