"""The four problem sets nyu-intro-ml-hw8, ai6126-hw1, nyu-dl-hw2 and assignment4.

Every reference (computed in the problem sets with torch modules, F.conv*, autograd) is checked
here against a value computed independently: plain Python loops, hand-derived formulas in
numpy, the output-size formula of the PyTorch docs. For formula parts the check runs at the
sampled points of the reference itself (the env it carries). Nothing is copied from the sets.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.keys.build import build_key
from grader.models import Status, Submission
from grader.problemset import ProblemSet
from grader.scoring import AssignmentGrader

PROBLEMS = Path(__file__).resolve().parent.parent / "problems"


def load(stem: str):
    """Import problems/<stem>.py as `load_problem_sets` does; return (module, problem set)."""
    name = f"grader_problems_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PROBLEMS / f"{stem}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        module.hw.module_file = PROBLEMS / f"{stem}.py"
    module = sys.modules[name]
    return module, module.hw


def sample(ps: ProblemSet, part_id: str, seed: int = 0):
    """A formula part's reference at the points of `seed`: its Sample (env, value)."""
    return ps.parts[part_id].compute(seed=seed).reference


_KEYS: dict = {}


def key_of(stem: str):
    """The answer key of a set, built once per test session."""
    if stem not in _KEYS:
        _KEYS[stem] = build_key(load(stem)[1])
    return _KEYS[stem]


def named(ps: ProblemSet, part_id: str, name: str, kind: str = "mistakes", seed: int = 0):
    """The value of a named mistake (or alternative) as the library computes it: for a formula
    part, its values at the points of `seed` (those of `sample(ps, part_id, seed)`)."""
    part = ps.parts[part_id]
    found = [i for i, v in enumerate(getattr(part, kind)) if v.name == name]
    assert len(found) == 1, f"{part_id}: no {kind[:-1]} named {name!r}"
    value = getattr(part.compute(seed=seed), kind)[found[0]]
    return value.value if part.kind.sampled else value


def named_answer(ps: ProblemSet, part_id: str, name: str, kind: str = "mistakes"):
    """The declaration of a named mistake (or alternative): its name, marks and note."""
    return next(v for v in getattr(ps.parts[part_id], kind) if v.name == name)


def sigmoid(a):
    return np.exp(-np.logaddexp(0.0, -np.asarray(a, dtype=float)))


# =================================================================================================
# ids, marks and kinds, as in docs homeworks.md
# =================================================================================================
SPEC = {
    "nyu_intro_ml_hw8": ("nyu-intro-ml-hw8", 15, {
        "q1a.kmin": (0.5, "int"), "q1a.kmax": (0.5, "int"), "q1b": (1, "shape"),
        "q1c.value": (0.5, "int"), "q1c.where": (0.5, "location"),
        "q1d.value": (0.5, "int"), "q1d.where": (0.5, "location"), "q1e": (1, "location"),
        "q2a": (1, "shape"), "q2b.in": (0.5, "int"), "q2b.out": (0.5, "int"), "q2c": (1, "int"),
        "q2d": (1, "int"), "q3a": (2, "index-expr"), "q3b": (2, "index-expr"), "q3c": (2, "index-expr"),
    }),
    "ai6126_hw1": ("ai6126-hw1", 20, {
        "q1.conv1": (1, "int"), "q1.conv4": (1, "int"), "q1.conv7": (1, "int"), "q1.linear9": (1, "int"),
        "q1.linear11": (1, "int"), "q1.total": (1, "int"),
        "q2.matrix": (2, "matrix"), "q2.result": (1, "vector"), "q2.output": (1, "matrix"), "q2.steps": (1, "text"),
        "q3.i": (1, "text"), "q3.ii": (1, "expr"), "q3.iii": (2, "number"), "q3.iv": (1, "choice"),
        "q4": (2, "text"), "q5": (2, "text"),
    }),
    "nyu_dl_hw2": ("nyu-dl-hw2", 50, {
        "q1.1a": (2, "shape"), "q1.1b": (3, "shape-formula"),
        "q1.1c.i.shape": (1, "shape"), "q1.1c.i.expr": (1, "index-expr"),
        "q1.1c.ii.shape": (2, "shape"), "q1.1c.ii.expr": (2, "index-expr"),
        "q1.1c.iii.shape": (2, "shape"), "q1.1c.iii.expr": (2, "index-expr"),
        "q1.1c.iv.shape": (1, "shape"), "q1.1c.iv.expr": (3, "index-expr"), "q1.1c.iv.explain": (1, "text"),
        "q1.2a": (5, "text"), "q1.2b": (2, "shape-formula"), "q1.2c.shape": (2, "shape-formula"),
        "q1.2c.expr": (6, "text"), "q1.2c.similar": (2, "text"), "q1.2d.answer": (1, "choice"),
        "q1.2d.why": (2, "text"),
        "q1.3.1": (2, "text"), "q1.3.2": (2, "text"), "q1.3.3": (3, "text"), "q1.3.4": (3, "text"),
    }),
    "assignment4": ("assignment4", 12, {
        "q1a": (1, "int"), "q1b": (2, "expr"), "q1c": (3, "index-expr"), "q2a": (1, "int"), "q2b": (1, "shape"),
        "q3a.answer": (1, "choice"), "q3a.why": (1, "text"), "q3b.answer": (1, "choice"), "q3b.why": (1, "text"),
    }),
}


def kind_class(name: str):
    import grader.kinds as kinds
    from grader.kinds.index_expr import IndexExpr
    from grader.kinds.text import Text

    return {
        "int": kinds.Int, "number": kinds.Number, "vector": kinds.Vector, "matrix": kinds.Matrix,
        "shape": kinds.Shape, "shape-formula": kinds.ShapeFormula, "location": kinds.Location,
        "expr": kinds.Expr, "index-expr": IndexExpr, "choice": kinds.Choice, "text": Text,
    }[name]


@pytest.mark.parametrize("stem", sorted(SPEC))
def test_ids_marks_kinds_and_total(stem):
    assignment, total, parts = SPEC[stem]
    _, ps = load(stem)
    assert ps.id == assignment
    assert list(ps.parts) == list(parts)  # exactly these ids, in the sheet's order
    for part_id, (marks, kind) in parts.items():
        part = ps.parts[part_id]
        assert part.marks == marks, part_id
        assert type(part.kind) is kind_class(kind), (part_id, type(part.kind).__name__)
        assert part.manual == (kind == "text"), part_id
        assert part.prompt, f"{part_id} has no prompt"
    assert math.fsum(m for m, _ in parts.values()) == total
    assert ps.total == total == ps.expected_total


@pytest.mark.parametrize("stem", sorted(SPEC))
def test_key_builds_and_is_json(stem):
    _, ps = load(stem)
    key = key_of(stem)
    data = json.loads(json.dumps(key.model_dump(mode="json")))
    assert data["assignment"] == ps.id and data["total"] == SPEC[stem][1]
    for part in key.parts:
        if ps.parts[part.id].manual:
            assert part.reference is None
        else:
            assert part.reference is not None, part.id
        if ps.parts[part.id].kind.sampled:
            assert part.seed is not None


@pytest.mark.parametrize("stem", sorted(SPEC))
def test_model_answers_earn_full_marks(stem):
    """The solutions typed in the sets, graded end to end, earn every automatic mark."""
    _, ps = load(stem)
    grader = AssignmentGrader(ps, key_of(stem))
    answers = {p.id: p.solutions[0] for p in ps if p.solutions}
    assert {p.id for p in ps if not p.manual} == set(answers)
    report = grader.grade(Submission(assignment=ps.id, student="model", answers=answers, source="test"))
    for result in report.parts:
        if result.id in answers:
            assert result.status is Status.correct, (result.id, result.feedback)
    for p in ps:  # every further model answer too
        for text in p.solutions[1:]:
            result = grader.grade(Submission(assignment=ps.id, student="m", answers={p.id: text}, source="t"))
            assert result.parts[list(ps.parts).index(p.id)].status is Status.correct, (p.id, text)


# =================================================================================================
# nyu-intro-ml-hw8
# =================================================================================================
X1 = [[0, 0, 0, 0, 0], [0, 3, 3, 3, 0], [0, 3, 3, 3, 0], [0, 3, 2, 3, 0], [0, 3, 2, 3, 0], [0, 0, 0, 0, 0]]
W1 = [[1, -1], [1, -1]]


def loop_correlation(x, w):
    rows, cols = len(x) - len(w) + 1, len(x[0]) - len(w[0]) + 1
    return [[sum(w[a][b] * x[i + a][j + b] for a in range(len(w)) for b in range(len(w[0]))) for j in range(cols)]
            for i in range(rows)]


def test_hw8_q1_against_loops():
    _, ps = load("nyu_intro_ml_hw8")
    z = np.array(loop_correlation(X1, W1), dtype=float)
    assert ps.parts["q1a.kmin"]() == 0 and ps.parts["q1a.kmax"]() == len(W1) - 1
    assert ps.parts["q1b"]() == z.shape == (6 - 2 + 1, 5 - 2 + 1)
    assert ps.parts["q1c.value"]() == z.max() == 6
    assert ps.parts["q1d.value"]() == z.min() == -6
    for pid, mask in (("q1c.where", z == z.max()), ("q1d.where", z == z.min()), ("q1e", z == 0)):
        target = ps.parts[pid]()
        np.testing.assert_array_equal(target.mask, mask)
        np.testing.assert_array_equal(target.values, z)
    # the flipped-kernel mistake: a true convolution of X with W
    flipped = np.array(loop_correlation(X1, [row[::-1] for row in W1[::-1]]))
    np.testing.assert_array_equal(named(ps, "q1c.where", "kernel flipped").mask, flipped == flipped.max())


def test_hw8_q2_against_arithmetic():
    _, ps = load("nyu_intro_ml_hw8")
    h, w, c, k, m = 48, 64, 10, 3, 20
    assert ps.parts["q2a"]() == (h - k + 1, w - k + 1, m) == (46, 62, 20)
    assert (ps.parts["q2b.in"](), ps.parts["q2b.out"]()) == (c, m)
    assert ps.parts["q2c"]() == 46 * 62 * 20 * 3 * 3 * 10 == 5_133_600
    assert ps.parts["q2d"]() == k * k * c * m + m == 1820
    assert named(ps, "q2d", "bias forgotten") == 1800


def check_layer_env(env):
    """The forward pass recorded in a q3 sample, recomputed with loops: Z, U = σ(Z), dZ."""
    for d in range(env["X"].shape[0]):
        x, w, b = env["X"][d], env["W"][d], env["b"][d]
        k1s, k2s, ns, ms = w.shape
        z = np.zeros(env["Z"][d].shape)
        for i, j, m in np.ndindex(*z.shape):
            z[i, j, m] = sum(w[a, c, n, m] * x[i + a, j + c, n] for a in range(k1s) for c in range(k2s) for n in range(ns)) + b[m]
        np.testing.assert_allclose(env["Z"][d], z, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(env["U"], sigmoid(env["Z"]), rtol=1e-12)
    if "dZ" in env:
        np.testing.assert_allclose(env["dZ"], env["dU"] * env["U"] * (1 - env["U"]), rtol=1e-10, atol=1e-14)


def test_hw8_q3a_dJ_dZ():
    _, ps = load("nyu_intro_ml_hw8")
    s = sample(ps, "q3a")
    check_layer_env(s.env)
    assert s.env["X"].shape[0] >= 3
    assert "dZ" not in s.env and "dZ" not in ps.parts["q3a"].kind.tensors  # the unknown itself is not given
    np.testing.assert_allclose(s.value, s.env["dU"] * s.env["U"] * (1 - s.env["U"]), rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(named(ps, "q3a", "sigmoid derivative missing"), s.env["dU"])
    report = AssignmentGrader(ps, key_of("nyu_intro_ml_hw8")).grade(
        Submission(assignment=ps.id, student="s", answers={"q3a": "dZ[i,j,m]"}, source="t"))
    assert next(r for r in report.parts if r.id == "q3a").status is Status.invalid


def test_hw8_q3b_dJ_dW():
    _, ps = load("nyu_intro_ml_hw8")
    s = sample(ps, "q3b", seed=1)
    check_layer_env(s.env)
    X, dZ = s.env["X"], s.env["dZ"]
    D, I, J, M = dZ.shape
    expected = np.zeros(s.env["W"].shape)
    for d, k1, k2, n, m in np.ndindex(*expected.shape):
        expected[d, k1, k2, n, m] = sum(dZ[d, i, j, m] * X[d, i + k1, j + k2, n] for i in range(I) for j in range(J))
    np.testing.assert_allclose(s.value, expected, rtol=1e-10, atol=1e-12)
    # the mistake with dU in place of dZ: the same sum over dU
    dU = s.env["dU"]
    wrong = np.zeros_like(expected)
    for d, k1, k2, n, m in np.ndindex(*wrong.shape):
        wrong[d, k1, k2, n, m] = sum(dU[d, i, j, m] * X[d, i + k1, j + k2, n] for i in range(I) for j in range(J))
    np.testing.assert_allclose(named(ps, "q3b", "sigmoid derivative missing", seed=1), wrong, rtol=1e-10, atol=1e-12)


def test_hw8_q3c_dJ_dX():
    _, ps = load("nyu_intro_ml_hw8")
    s = sample(ps, "q3c", seed=2)
    check_layer_env(s.env)
    W, dZ = s.env["W"], s.env["dZ"]
    D, K1, K2, N, M = W.shape
    _, I, J, _ = dZ.shape

    def dz(d, i, j, m):
        return dZ[d, i, j, m] if 0 <= i < I and 0 <= j < J else 0.0

    expected, unflipped = np.zeros(s.env["X"].shape), np.zeros(s.env["X"].shape)
    taps = [(a, b, m) for a in range(K1) for b in range(K2) for m in range(M)]
    for d, i, j, n in np.ndindex(*expected.shape):
        expected[d, i, j, n] = sum(dz(d, i - a, j - b, m) * W[d, a, b, n, m] for a, b, m in taps)
        unflipped[d, i, j, n] = sum(dz(d, i + a, j + b, m) * W[d, a, b, n, m] for a, b, m in taps)
    np.testing.assert_allclose(s.value, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(named(ps, "q3c", "indices not reversed", seed=2), unflipped, rtol=1e-10, atol=1e-12)


# =================================================================================================
# ai6126-hw1
# =================================================================================================
def test_ai6126_q1_counts_and_table():
    mod, ps = load("ai6126_hw1")
    conv = lambda c_in, c_out, k: (k * k * c_in + 1) * c_out  # noqa: E731
    dense = lambda n_in, n_out: n_in * n_out + n_out  # noqa: E731
    expected = {"conv1": conv(1, 6, 5), "conv4": conv(6, 16, 5), "conv7": conv(16, 120, 5),
                "linear9": dense(120, 84), "linear11": dense(84, 10)}
    for layer, count in expected.items():
        assert ps.parts[f"q1.{layer}"]() == count
    assert ps.parts["q1.total"](*expected.values()) == sum(expected.values()) == 61706
    assert ps.parts["q1.total"](1, 2, 3, 4, 5) == 15  # follow-through: the student's own counts
    assert key_of("ai6126_hw1").part("q1.total").follow_through == [[f"q1.{k}" for k in expected]]
    # the model is the sheet's: its output shapes are the table's
    table = {"conv1": (6, 28, 28), "maxpool3": (6, 14, 14), "conv4": (16, 10, 10), "maxpool6": (16, 5, 5),
             "conv7": (120, 1, 1), "linear9": (84,), "linear11": (10,), "logsoftmax12": (10,)}
    for layer, shape in table.items():
        assert mod.OUTPUT_SHAPES[layer] == shape


X2 = [[20, 15, 10, 5], [30, 25, 20, 15], [40, 35, 30, 25], [50, 45, 40, 35]]
K2 = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]


def test_ai6126_q2_toeplitz_is_the_valid_conv():
    _, ps = load("ai6126_hw1")
    matrix = ps.parts["q2.matrix"]().numpy()
    expected = np.zeros((4, 16))
    for row, (i, j) in enumerate(np.ndindex(2, 2)):
        for p, q in np.ndindex(4, 4):
            if 0 <= p - i < 3 and 0 <= q - j < 3:
                expected[row, 4 * p + q] = K2[p - i][q - j]
    np.testing.assert_array_equal(matrix, expected)
    assert all(len(r) == 16 for r in matrix.tolist())  # (the seed's printed row 1 has 15 entries)
    conv = np.array(loop_correlation(X2, K2), dtype=float)
    np.testing.assert_array_equal(conv, -40)
    flat = np.array(X2, dtype=float).ravel()
    np.testing.assert_array_equal(matrix @ flat, conv.ravel())

    import torch

    result = ps.parts["q2.result"](torch.tensor(expected))
    np.testing.assert_array_equal(result.numpy(), conv.ravel())
    np.testing.assert_array_equal(ps.parts["q2.output"](result).numpy(), conv)
    # follow-through from a wrong matrix: W·x with the student's own W
    own = torch.tensor(-expected)
    np.testing.assert_array_equal(ps.parts["q2.result"](own).numpy(), -expected @ flat)


def test_ai6126_q2_follow_through_when_graded():
    _, ps = load("ai6126_hw1")
    flipped = -np.array(ps.parts["q2.matrix"]().numpy())  # the Sobel kernel rotated 180° is its negative
    report = AssignmentGrader(ps, key_of("ai6126_hw1")).grade(Submission(
        assignment=ps.id, student="s", source="t",
        answers={"q2.matrix": flipped.tolist(), "q2.result": "40 40 40 40", "q2.output": [[40, 40], [40, 40]]}))
    by_id = {r.id: r for r in report.parts}
    assert by_id["q2.matrix"].status is not Status.correct
    assert by_id["q2.result"].status is Status.correct and "follow-through" in (by_id["q2.result"].matched or "")
    assert by_id["q2.output"].status is Status.correct


def test_ai6126_q3_cross_entropy():
    _, ps = load("ai6126_hw1")
    s = sample(ps, "q3.ii")
    y, yhat = s.env["y"], s.env["yhat"]
    assert set(y) == {0.0, 1.0} and ((yhat > 0) & (yhat < 1)).all()
    np.testing.assert_allclose(s.value, -(y * np.log(yhat) + (1 - y) * np.log(1 - yhat)), rtol=1e-12)
    by_hand = -(math.log(0.2) + math.log(1 - 0.5) + math.log(1 - 0.1)) / 3
    assert float(ps.parts["q3.iii"]()) == pytest.approx(by_hand, rel=1e-12)
    assert float(named(ps, "q3.iii", "summed instead of averaged")) == pytest.approx(3 * by_hand)
    assert ps.parts["q3.iv"]() == "smaller"


# =================================================================================================
# nyu-dl-hw2
# =================================================================================================
def docs_out(size, k, p, s, d):
    """Output size from the nn.Conv2d docs: ⌊(size + 2p − d(k−1) − 1)/s + 1⌋."""
    return np.floor((size + 2 * p - d * (k - 1) - 1) / s + 1)


def test_dl_q1_1a_and_b_against_the_docs_formula():
    _, ps = load("nyu_dl_hw2")
    assert ps.parts["q1.1a"]() == (docs_out(10, 5, 0, 2, 1), docs_out(11, 5, 0, 2, 1)) == (3, 4)
    s = sample(ps, "q1.1b")
    e = s.env
    assert set(e) == set("CHWKPSDF")
    expected = np.stack([e["F"], docs_out(e["H"], e["K"], e["P"], e["S"], e["D"]),
                         docs_out(e["W"], e["K"], e["P"], e["S"], e["D"])], axis=1)
    np.testing.assert_array_equal(s.value, expected)
    assert (s.value >= 1).all()
    # both named mistakes are told apart from the truth at some sampled point, and earn 1.5
    for name in ("floor missing", "dilation ignored"):
        assert named_answer(ps, "q1.1b", name).marks == 1.5 and not np.allclose(named(ps, "q1.1b", name), s.value)
    no_floor = named(ps, "q1.1b", "floor missing")
    np.testing.assert_allclose(no_floor[:, 1], (e["H"] + 2 * e["P"] - e["D"] * (e["K"] - 1) - 1) / e["S"] + 1)
    np.testing.assert_array_equal(named(ps, "q1.1b", "dilation ignored")[:, 2],
                                  docs_out(e["W"], e["K"], e["P"], e["S"], 1))


def test_dl_q1_1c_shapes():
    _, ps = load("nyu_dl_hw2")
    positions = (7 - 5) // 2 + 1
    expected = {"q1.1c.i.shape": ((1, positions), (positions,)),
                "q1.1c.ii.shape": ((1, positions, 1, 2, 5), (positions, 2, 5)),
                "q1.1c.iii.shape": ((1, positions, 2, 7), (positions, 2, 7)),
                "q1.1c.iv.shape": ((1, 2, 5), (2, 5))}
    for pid, (shape, squeezed) in expected.items():
        assert ps.parts[pid]() == shape
        assert ps.parts[pid].compute().alternatives == [squeezed]


def test_dl_q1_1c_index_formulas():
    _, ps = load("nyu_dl_hw2")
    stride, size = 2, 5
    # (i) f[j] = Σ_c Σ_k W[1,c,k] x[c, 2(j−1)+k]   (loops below are 0-based)
    s = sample(ps, "q1.1c.i.expr")
    x, W = s.env["x"], s.env["W"]
    assert x.shape[0] >= 3 and x.shape[1:] == (2, 7) and W.shape[1:] == (1, 2, 5)
    f = np.array([[sum(W[d, 0, c, k] * x[d, c, stride * j + k] for c in range(2) for k in range(size)) for j in range(2)]
                  for d in range(x.shape[0])])
    np.testing.assert_allclose(s.value, f, rtol=1e-12)
    # (ii) ∂f[j]/∂W[1,c,k] = x[c, 2(j−1)+k]
    s = sample(ps, "q1.1c.ii.expr", seed=1)
    x = s.env["x"]
    expected = np.array([[[[x[d, c, stride * j + k] for k in range(size)] for c in range(2)] for j in range(2)]
                         for d in range(x.shape[0])])
    np.testing.assert_array_equal(s.value, expected)
    # (iii) ∂f[j]/∂x[c,n] = W[1, c, n−2(j−1)], 0 out of range
    s = sample(ps, "q1.1c.iii.expr", seed=2)
    W = s.env["W"]
    expected = np.zeros(s.value.shape)
    for d, j, c, n in np.ndindex(*expected.shape):
        if 0 <= n - stride * j < size:
            expected[d, j, c, n] = W[d, 0, c, n - stride * j]
    np.testing.assert_array_equal(s.value, expected)
    # (iv) ∂ℓ/∂W[1,c,k] = Σ_j g[j] x[c, 2(j−1)+k]
    s = sample(ps, "q1.1c.iv.expr", seed=3)
    x, g = s.env["x"], s.env["g"]
    expected = np.array([[[sum(g[d, j] * x[d, c, stride * j + k] for j in range(2)) for k in range(size)] for c in range(2)]
                         for d in range(x.shape[0])])
    np.testing.assert_allclose(s.value, expected, rtol=1e-12)
    no_stride = np.array([[[sum(g[d, j] * x[d, c, j + k] for j in range(2)) for k in range(size)] for c in range(2)]
                          for d in range(x.shape[0])])
    np.testing.assert_allclose(named(ps, "q1.1c.iv.expr", "stride ignored", seed=3), no_stride, rtol=1e-12)


def test_dl_q1_2_rnn_shapes():
    _, ps = load("nyu_dl_hw2")
    s = sample(ps, "q1.2b")
    m, n = s.env["m"], s.env["n"]
    np.testing.assert_array_equal(s.value, m[:, None])  # c[t] ∈ R^m
    np.testing.assert_array_equal(named(ps, "q1.2b", "column vector", "alternatives"),
                                  np.stack([m, np.ones_like(m)], axis=1))
    s = sample(ps, "q1.2c.shape")
    m, n = s.env["m"], s.env["n"]
    assert (m != n).any()
    np.testing.assert_array_equal(s.value, np.stack([m, n], axis=1))  # W_x ∈ R^{m×n}
    assert ps.parts["q1.2d.answer"]() == "yes"


# =================================================================================================
# assignment4
# =================================================================================================
def test_a4_counts_and_sizes():
    _, ps = load("assignment4")
    assert ps.parts["q1a"]() == 3 + 4
    assert ps.parts["q2a"]() == 20 * (5 * 5 + 1) == 520
    side = 28 - 5 + 1
    assert ps.parts["q2b"]() == (side, side)
    assert sorted(ps.parts["q2b"].compute().alternatives) == sorted([(side,), (20, side, side), (side, side, 20)])


def test_a4_q1b_dR_dw():
    _, ps = load("assignment4")
    s = sample(ps, "q1b")
    y, z, h = s.env["y"], s.env["z"], s.env["h_i"]
    assert y.shape == z.shape == (4 * 24, 1) and h.shape == (4 * 24, 4)  # a pool of 4 blocks of 24 networks
    np.testing.assert_allclose(s.value, -2 * (y - z) * h, rtol=1e-12)


def test_a4_q1c_dR_dv():
    _, ps = load("assignment4")
    s = sample(ps, "q1c")
    w, h, x, y, z = (s.env[k] for k in ("w", "h", "x", "y", "z"))
    D = w.shape[0]
    assert D >= 3 and w.shape == (D, 4) and h.shape == (D, 4) and x.shape == (D, 6) and y.shape == z.shape == (D,)
    np.testing.assert_allclose(z, (w * h).sum(axis=1), rtol=1e-12)  # z = Σ w_i h_i
    # −2(y − z) Σ_{i=1..4} w_i h_i (1 − h_i) x_{i+j−1}, j = 1..3 (0-based below)
    expected = np.array([[-2 * (y[d] - z[d]) * sum(w[d, i] * h[d, i] * (1 - h[d, i]) * x[d, i + j] for i in range(4))
                          for j in range(3)] for d in range(D)])
    np.testing.assert_allclose(s.value, expected, rtol=1e-10)
    np.testing.assert_allclose(named(ps, "q1c", "factor 2 missing"), expected / 2, rtol=1e-10)
    np.testing.assert_allclose(named(ps, "q1c", "sign flipped"), -expected, rtol=1e-10)
    no_slope = np.array([[-2 * (y[d] - z[d]) * sum(w[d, i] * x[d, i + j] for i in range(4)) for j in range(3)]
                         for d in range(D)])
    np.testing.assert_allclose(named(ps, "q1c", "sigmoid derivative missing"), no_slope, rtol=1e-10)


def test_a4_lstm_claims():
    """The sheet's LSTM by hand: with x_t = 0 the gates are σ(U h_{t−1}) (not 0, as the seed's
    justification says), and h_t differs from h_{t−1}; the gates are never negative."""
    _, ps = load("assignment4")
    rng = np.random.default_rng(7)
    n = 4
    U = {g: rng.normal(size=(n, n)) for g in "ifoc"}
    h_prev, c_prev = rng.normal(size=n), rng.normal(size=n)
    i, f, o = (sigmoid(U[g] @ h_prev) for g in "ifo")
    assert (i > 0).all() and (f > 0).all() and (o > 0).all()
    c_t = f * c_prev + i * np.tanh(U["c"] @ h_prev)
    h_t = o * np.tanh(c_t)
    assert not np.allclose(h_t, h_prev)
    assert ps.parts["q3a.answer"]() == "false"
    assert (sigmoid(np.array([-800.0, -50.0, 0.0, 50.0])) >= 0).all()
    assert ps.parts["q3b.answer"]() == "true"


# =================================================================================================
# graded end to end: the named mistakes and accepted readings are recognised from typed answers
# =================================================================================================
RECOGNISED = [
    ("nyu_intro_ml_hw8", {"q3a": "dU[i,j,m]"}, "q3a", "mistake: sigmoid derivative missing", 0),
    ("nyu_intro_ml_hw8", {"q3b": "sum_{i,j} dU[i,j,m] X[i+k1,j+k2,n]"}, "q3b", "mistake: sigmoid derivative missing", 0),
    ("nyu_intro_ml_hw8", {"q3c": "sum_{k1,k2,m} dZ[i+k1,j+k2,m] W[k1,k2,n,m]"}, "q3c", "mistake: indices not reversed", 0),
    ("nyu_intro_ml_hw8", {"q1c.where": "(2, 0)"}, "q1c.where", "mistake: kernel flipped", 0),
    ("nyu_intro_ml_hw8", {"q1e": "Z[1,2]"}, "q1e", "reference", 1),
    ("ai6126_hw1", {"q1.conv1": "150", "q1.conv4": "2416", "q1.conv7": "1", "q1.linear9": "10164",
                    "q1.linear11": "850", "q1.total": "150+2416+1+10164+850"}, "q1.total",
     "follow-through: q1.conv1, q1.conv4, q1.conv7, q1.linear9, q1.linear11", 1),
    ("ai6126_hw1", {"q3.ii": "y log(yhat) + (1-y) log(1-yhat)"}, "q3.ii", "mistake: sign missing", 0),
    ("nyu_dl_hw2", {"q1.1b": "F x ((H+2P-D(K-1)-1)/S+1) x ((W+2P-D(K-1)-1)/S+1)"}, "q1.1b", "mistake: floor missing", 1.5),
    ("nyu_dl_hw2", {"q1.1b": "F x (floor((H+2P-K)/S)+1) x (floor((W+2P-K)/S)+1)"}, "q1.1b", "mistake: dilation ignored", 1.5),
    ("nyu_dl_hw2", {"q1.1c.ii.shape": "2x2x5"}, "q1.1c.ii.shape", "alternative: size-1 dimensions squeezed", 2),
    ("nyu_dl_hw2", {"q1.1c.iii.expr": "W_{1, c, n - 2(j-1)}"}, "q1.1c.iii.expr", "reference", 2),
    ("nyu_dl_hw2", {"q1.2b": "m x 1"}, "q1.2b", "alternative: column vector", 2),
    ("assignment4", {"q1c": "-(y-z) sum_i w_i h_i(1-h_i) x_{i+j-1}"}, "q1c", "mistake: factor 2 missing", 0),
    ("assignment4", {"q1c": "2(y-z) sum_i w_i h_i(1-h_i) x_{i+j-1}"}, "q1c", "mistake: sign flipped", 0),
    ("assignment4", {"q1c": "-2(y-z) sum_i w_i x_{i+j-1}"}, "q1c", "mistake: sigmoid derivative missing", 0),
    ("assignment4", {"q2b": "24"}, "q2b", "alternative: side length only", 1),
]


@pytest.mark.parametrize("stem, answers, part_id, matched, score", RECOGNISED)
def test_typed_answers_are_recognised(stem, answers, part_id, matched, score):
    _, ps = load(stem)
    report = AssignmentGrader(ps, key_of(stem)).grade(Submission(assignment=ps.id, student="s", answers=answers, source="t"))
    result = next(r for r in report.parts if r.id == part_id)
    assert (result.matched, result.score) == (matched, score), result.feedback
