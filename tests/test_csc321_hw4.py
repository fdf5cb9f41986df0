"""csc321-hw4: every reference against an independent computation (hand arithmetic, plain loops,
the chain rule by hand), then conventions, named mistakes and follow-through through the real
key builder and scoring engine, and the demo class in submissions/csc321-hw4."""

from __future__ import annotations

import importlib.util
import math
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from grader.keys.build import build_key
from grader.models import Status, Submission
from grader.scoring import AssignmentGrader

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "problems" / "csc321_hw4.py"
DEMO = ROOT / "submissions" / "csc321-hw4"

LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc1", "fc2", "out"]
COLUMNS = ["in_units", "out_units", "params", "connections"]
GRADED = [(layer, col) for layer in LAYERS for col in COLUMNS if (layer, col) not in {("conv1", "in_units"), ("out", "out_units")}]

# The sheet's data, as printed.
X = [[1, 2, 1, -1], [0, 0, 1, -1], [1, 0, 1, -1], [1, 1, 0, 0]]
K = [[-1, 0, -1], [0, 1, 1], [1, 0, -1]]
BIAS = -1
x = [1, 3, 2, 1, 1, 0, 1]
W1 = [-1, 2, -1]
MANUAL_MARKS = 1 + 0.5 + 2 + 1


@pytest.fixture(scope="module")
def module():
    spec = importlib.util.spec_from_file_location("grader_problems_csc321_hw4", SOURCE)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    mod.hw.module_file = SOURCE
    return mod


@pytest.fixture(scope="module")
def hw(module):
    return module.hw


@pytest.fixture(scope="module")
def key(hw):
    return build_key(hw)


@pytest.fixture(scope="module")
def grade(hw, key):
    grader = AssignmentGrader(hw, key)

    def run(answers: dict, student: str = "s0000"):
        report = grader.grade(Submission(assignment="csc321-hw4", student=student, answers=answers, source="test"))
        return report, {p.id: p for p in report.parts}

    return run


# -- AlexNet by hand arithmetic ----------------------------------------------------------------------
def side(n: int, k: int, s: int = 1, p: int = 0) -> int:
    return (n + 2 * p - k) // s + 1


def hand_alexnet(widths, groups, size, conv1_pad):
    """Each cell of the table from the output-size formula, layer by layer."""
    convs = [(11, 4, conv1_pad, True), (5, 1, 2, True), (3, 1, 1, False), (3, 1, 1, False), (3, 1, 1, True)]
    rows, c_in, n = {}, 3, size
    for i, ((k, s, p, pooled), c_out, g) in enumerate(zip(convs, widths, groups), 1):
        m = side(n, k, s, p)
        fan_in = c_in // g * k * k
        out_units = c_out * m * m
        rows[f"conv{i}"] = dict(in_units=c_in * n * n, out_units=out_units, params=c_out * (fan_in + 1),
                                connections=out_units * fan_in, with_bias=out_units * (fan_in + 1))
        n, c_in = (side(m, 3, 2) if pooled else m), c_out
    f_in = c_in * n * n  # 6×6×256 after the last pooling (torchvision's adaptive pool keeps 6×6)
    for name, f_out in (("fc1", 4096), ("fc2", 4096), ("out", 1000)):
        rows[name] = dict(in_units=f_in, out_units=f_out, params=f_out * (f_in + 1), connections=f_out * f_in,
                          with_bias=f_out * (f_in + 1))
        f_in = f_out
    return rows


HAND = {
    "paper": hand_alexnet((96, 256, 384, 384, 256), (1, 2, 1, 2, 2), 227, 0),
    "paper-ungrouped": hand_alexnet((96, 256, 384, 384, 256), (1,) * 5, 227, 0),
    "torchvision": hand_alexnet((64, 192, 384, 256, 256), (1,) * 5, 224, 2),
}


@pytest.mark.parametrize("convention", list(HAND))
def test_alexnet_tables_match_hand_arithmetic(module, convention):
    table = module.alexnet_table(convention)
    for layer in LAYERS:
        for col in COLUMNS:
            assert table[layer][col][0] == HAND[convention][layer][col], (convention, layer, col)
        assert table[layer]["connections+bias"][0] == HAND[convention][layer]["with_bias"]


def test_paper_reading_per_layer(module):
    t = {layer: {c: v[0] for c, v in row.items()} for layer, row in module.alexnet_table("paper").items()}
    assert t["conv1"]["out_units"] == 55 * 55 * 96 and t["conv1"]["params"] == 11 * 11 * 3 * 96 + 96
    assert t["conv2"]["in_units"] == 27 * 27 * 96 and t["conv2"]["out_units"] == 27 * 27 * 256
    assert t["conv2"]["params"] == 5 * 5 * 48 * 256 + 256  # two towers of 48 input maps
    assert t["conv3"]["params"] == 3 * 3 * 256 * 384 + 384  # conv3 sees both towers
    assert t["conv4"]["params"] == 3 * 3 * 192 * 384 + 384
    assert t["conv5"]["params"] == 3 * 3 * 192 * 256 + 256
    assert t["fc1"]["in_units"] == 6 * 6 * 256 and t["fc1"]["params"] == 6 * 6 * 256 * 4096 + 4096
    assert t["fc2"]["params"] == 4096 * 4096 + 4096 and t["out"]["params"] == 4096 * 1000 + 1000
    assert t["conv1"]["connections"] == 55 * 55 * 96 * 11 * 11 * 3


def test_alexnet_is_built_on_meta(module):
    with torch.device("meta"):
        net, size = module.CONVENTIONS["paper"]()
    assert size == 227 and all(p.is_meta for p in net.parameters())


# -- the problem set's shape ---------------------------------------------------------------------------
def test_every_part_with_marks_and_kind(hw, key):
    expected = {f"q1.{layer}.{col}": (0.4, "int") for layer, col in GRADED}
    expected |= {
        "q2a": (3, "matrix"), "q2a.work": (1, "text"), "q2b": (1.5, "matrix"), "q2b.work": (0.5, "text"),
        "q3a.conv": (0.5, "vector"), "q3a.h": (0.5, "vector"), "q3a.z": (0.5, "number"), "q3a.y": (0.5, "number"),
        "q3a.loss": (1, "number"), "q3b": (4, "vector"), "q3c": (2, "text"), "q3d.params": (2, "expr"),
        "q3d.how": (1, "text"),
    }
    assert len(GRADED) == 30
    assert {p.id: (p.marks, p.kind.name) for p in hw} == expected
    assert "q1.conv1.in_units" not in hw.parts and "q1.out.out_units" not in hw.parts
    assert hw.total == 30 == hw.expected_total == key.total
    assert math.isclose(sum(hw.parts[f"q1.{layer}.{col}"].marks for layer, col in GRADED), 12)
    assert hw.parts["q2a"].kind.per_entry and not hw.parts["q2b"].kind.per_entry
    assert hw.parts["q3b"].kind.length == 3
    assert all(p.prompt for p in hw)


def test_model_answers_earn_full_marks(hw, grade):
    answers = {p.id: p.solutions for p in hw if p.solutions}
    assert len(answers) == 30 + 3  # every Q1 cell, q3a.y, q3a.loss, q3d.params
    assert hw.parts["q1.conv1.params"].solutions[-1] == "(11*11*3+1)*96"
    for i in range(2):
        _, parts = grade({pid: forms[min(i, len(forms) - 1)] for pid, forms in answers.items()})
        assert all(parts[pid].status is Status.correct for pid in answers), i


def test_follow_through_routes(key):
    routes = {p.id: p.follow_through for p in key.parts if p.follow_through}
    assert routes == {
        "q3a.h": [["q3a.conv"]], "q3a.z": [["q3a.h"]], "q3a.y": [["q3a.z"]],
        "q3a.loss": [["q3a.y"], ["q3a.z"]], "q3b": [["q3a.h", "q3a.y"]],
    }


# -- Q2 by loops ----------------------------------------------------------------------------------------
def correlate(image, kernel, pad, bias):
    n, k = len(image), len(kernel)
    padded = [[0] * (n + 2 * pad) for _ in range(n + 2 * pad)]
    for i in range(n):
        for j in range(n):
            padded[i + pad][j + pad] = image[i][j]
    m = n + 2 * pad - k + 1
    return [[sum(padded[i + a][j + b] * kernel[a][b] for a in range(k) for b in range(k)) + bias for j in range(m)]
            for i in range(m)]


def pool(image, reduce):
    return [[reduce([image[2 * i + a][2 * j + b] for a in (0, 1) for b in (0, 1)]) for j in range(2)] for i in range(2)]


def flipped(kernel):
    return [row[::-1] for row in kernel[::-1]]


def values(part_key):
    return {v.name: np.asarray(v.value) for v in part_key.mistakes}


def test_q2a_reference_and_mistakes_by_loops(key):
    part = key.part("q2a")
    np.testing.assert_array_equal(part.reference, correlate(X, K, 1, BIAS))
    m = values(part)
    np.testing.assert_array_equal(m["kernel flipped"], correlate(X, flipped(K), 1, BIAS))
    np.testing.assert_array_equal(m["bias left out"], correlate(X, K, 1, 0))
    np.testing.assert_array_equal(m["no padding"], correlate(X, K, 0, BIAS))
    assert m["no padding"].shape == (2, 2)


def test_q2b_reference_and_mistakes_by_loops(key):
    part = key.part("q2b")
    np.testing.assert_array_equal(part.reference, pool(X, max))
    m = values(part)
    np.testing.assert_array_equal(m["average pooling"], pool(X, lambda v: sum(v) / 4))
    np.testing.assert_array_equal(m["pooled the result of (a)"], pool(correlate(X, K, 1, BIAS), max))


# -- Q3 by hand ---------------------------------------------------------------------------------------
def forward(w=W1):
    conv = [sum(w[k] * x[i + k] for k in range(3)) for i in range(5)]
    h = [max(c, 0) for c in conv]
    z = sum(h) + 1
    y = 1 / (1 + math.exp(-z))
    return conv, h, z, y, -math.log(1 - y)  # t = 0


def chain_rule(h, y, relu=True):
    """dL/dw_k = Σ_i dL/dz · w2_i · 1[h_i > 0] · x_{i+k}, with dL/dz = y − t = y and w2_i = 1."""
    return [sum(y * (1 if (h[i] > 0 or not relu) else 0) * x[i + k] for i in range(5)) for k in range(3)]


def test_q3_forward_by_hand(key):
    conv, h, z, y, loss = forward()
    np.testing.assert_allclose(key.part("q3a.conv").reference, conv)
    np.testing.assert_allclose(key.part("q3a.h").reference, h)
    assert key.part("q3a.z").reference == pytest.approx(z)
    assert key.part("q3a.y").reference == pytest.approx(y, rel=1e-12)
    assert key.part("q3a.loss").reference == pytest.approx(loss, rel=1e-12)
    assert loss == pytest.approx(math.log(1 + math.exp(5)))


def test_q3b_by_the_chain_rule(key):
    _, h, _, y, _ = forward()
    part = key.part("q3b")
    np.testing.assert_allclose(part.reference, chain_rule(h, y), rtol=1e-12)
    m = values(part)
    np.testing.assert_allclose(m["sign flipped"], [-g for g in chain_rule(h, y)], rtol=1e-12)
    np.testing.assert_allclose(m["ReLU derivative ignored"], chain_rule(h, y, relu=False), rtol=1e-12)


def test_q3b_from_h_and_y_equals_end_to_end_autograd(module):
    f64 = torch.float64
    w = torch.tensor(W1, dtype=f64, requires_grad=True)
    pre = torch.nn.functional.conv1d(torch.tensor(x, dtype=f64)[None, None], w[None, None])[0, 0]
    z = torch.relu(pre).sum() + 1
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(0.0, dtype=f64))
    loss.backward()
    _, h, _, y, _ = forward()
    got = module.q3b(torch.tensor(h, dtype=f64), y)
    torch.testing.assert_close(got, w.grad, rtol=1e-12, atol=1e-12)


def test_q3d_counts_a_real_conv1d(module, key):
    assert [module.conv1d_params(v) for v in (1, 7, 300)] == [4, 22, 901]
    sample = key.part("q3d.params").reference
    V = np.asarray(sample["env"]["V"])
    assert len(V) >= 20 and V.min() >= 1 and V.max() <= 5000 and len(set(V)) > 10
    np.testing.assert_array_equal(sample["value"], 3 * V + 1)
    (forgot,) = key.part("q3d.params").mistakes
    assert forgot.name == "bias forgotten" and forgot.marks == 1
    np.testing.assert_array_equal(forgot.value["value"], 3 * V)


# -- grading: conventions, mistakes, follow-through ---------------------------------------------------------
CONVENTION_ANSWERS = [(conv, bias) for conv in HAND for bias in (False, True)]


@pytest.mark.parametrize("convention,bias", CONVENTION_ANSWERS)
def test_every_convention_accepted_and_named(grade, convention, bias):
    def value(layer, col):
        return HAND[convention][layer]["with_bias" if bias and col == "connections" else col]

    answers = {f"q1.{layer}.{col}": str(value(layer, col)) for layer, col in GRADED}
    report, parts = grade(answers)
    named = 0
    for layer, col in GRADED:
        r = parts[f"q1.{layer}.{col}"]
        assert r.status is Status.correct and r.score == pytest.approx(0.4), (r.id, r.feedback)
        if value(layer, col) != HAND["paper"][layer][col]:  # a reading other than the reference
            assert convention in r.feedback or "bias counted as a connection" in r.feedback, (r.id, r.feedback)
            assert r.matched.startswith("alternative:")
            named += 1
    assert report.score == pytest.approx(12)
    assert named > 0 or convention == "paper" and not bias


def test_torchvision_reading_named(grade):
    _, parts = grade({"q1.conv1.params": "(11*11*3+1)*64", "q1.conv2.connections": "27*27*192*(5*5*64+1)"})
    assert parts["q1.conv1.params"].matched == "alternative: torchvision"
    assert "torchvision" in parts["q1.conv1.params"].feedback
    assert parts["q1.conv2.connections"].matched == "alternative: torchvision (bias counted as a connection)"


def test_q1_wrong_and_bias_forgotten(grade):
    _, parts = grade({"q1.conv2.params": str(5 * 5 * 48 * 256), "q1.conv3.out_units": "13*13*385"})
    assert parts["q1.conv2.params"].matched == "mistake: biases left out"
    assert parts["q1.conv2.params"].score == 0
    assert parts["q1.conv3.out_units"].status is Status.incorrect


def matrix_text(rows):
    return "\n".join(" ".join(f"{v:g}" for v in row) for row in rows)


@pytest.mark.parametrize("part,answer,name", [
    ("q2a", correlate(X, flipped(K), 1, BIAS), "kernel flipped"),
    ("q2a", correlate(X, K, 1, 0), "bias left out"),
    ("q2a", correlate(X, K, 0, BIAS), "no padding"),
    ("q2b", pool(X, lambda v: sum(v) / 4), "average pooling"),
    ("q2b", pool(correlate(X, K, 1, BIAS), max), "pooled the result of (a)"),
])
def test_q2_mistakes_named(grade, part, answer, name):
    _, parts = grade({part: matrix_text(answer)})
    r = parts[part]
    assert r.matched == f"mistake: {name}" and name in r.feedback
    # the marking scheme states no marks for these mistakes, but a named mistake never scores below
    # the same answer's per-entry credit (q2a: 3 marks over 16 entries; q2b has no per-entry credit)
    right = sum(a == t for ra, rt in zip(answer, correlate(X, K, 1, BIAS)) for a, t in zip(ra, rt)) if part == "q2a" and len(answer) == 4 else 0
    assert r.score == pytest.approx(3 * right / 16)
    assert r.status is (Status.partial if right else Status.incorrect)


def test_q2a_per_entry_credit_and_padding_hint(grade):
    right = correlate(X, K, 1, BIAS)
    slip = [row[:] for row in right]
    slip[3][3] += 1
    _, parts = grade({"q2a": matrix_text(slip)})
    assert parts["q2a"].score == pytest.approx(3 * 15 / 16) and parts["q2a"].status is Status.partial
    # any 2×2 answer is the unpadded output, even with a slip in it: the feedback says so
    unpadded = correlate(X, K, 0, BIAS)
    unpadded[1][1] += 1
    _, parts = grade({"q2a": matrix_text(unpadded)})
    assert parts["q2a"].score == 0 and "padding" in parts["q2a"].feedback and "2×2" in parts["q2a"].feedback


@pytest.mark.parametrize("name,relu,sign", [("sign flipped", True, -1), ("ReLU derivative ignored", False, 1)])
def test_q3b_mistakes_named(grade, name, relu, sign):
    _, h, _, y, _ = forward()
    grad = [sign * g for g in chain_rule(h, y, relu)]
    _, parts = grade({"q3b": "[" + ", ".join(f"{g:.4f}" for g in grad) + "]"})
    assert parts["q3b"].matched == f"mistake: {name}" and name in parts["q3b"].feedback
    assert parts["q3b"].score == 0


@pytest.mark.parametrize("answer", ["3V + 1", "1+3*V", r"3 \cdot V + 1", r"\frac{6V+2}{2}", "3*V+1"])
def test_q3d_equivalent_forms(grade, answer):
    _, parts = grade({"q3d.params": answer})
    assert parts["q3d.params"].status is Status.correct and parts["q3d.params"].score == 2


def test_q3d_bias_forgotten_earns_one_of_two(grade):
    _, parts = grade({"q3d.params": "3V"})
    r = parts["q3d.params"]
    assert r.score == 1 and r.status is Status.partial and "bias forgotten" in r.feedback
    _, parts = grade({"q3d.params": "3V + 2"})
    assert parts["q3d.params"].score == 0
    _, parts = grade({"q3d.params": "3V + T"})
    assert parts["q3d.params"].status is Status.invalid and "V" in parts["q3d.params"].feedback


def test_follow_through_along_the_whole_chain(grade):
    conv, _, _, _, _ = forward()
    conv[0] -= 2  # one arithmetic slip in the conv output, carried on consistently
    h = [max(c, 0) for c in conv]
    z = sum(h) + 1
    y = 1 / (1 + math.exp(-z))
    loss = -math.log(1 - y)
    grad = chain_rule(h, y)
    answers = {
        "q3a.conv": str(conv), "q3a.h": str(h), "q3a.z": str(z), "q3a.y": f"{y:.5f}", "q3a.loss": f"{loss:.4f}",
        "q3b": "[" + ", ".join(f"{g:.4f}" for g in grad) + "]",
    }
    report, parts = grade(answers)
    assert parts["q3a.conv"].status is Status.incorrect and parts["q3a.conv"].score == 0
    for pid, used in [("q3a.h", "q3a.conv"), ("q3a.z", "q3a.h"), ("q3a.y", "q3a.z"), ("q3a.loss", "q3a.y"), ("q3b", "q3a.h")]:
        r = parts[pid]
        assert r.status is Status.correct and r.score == r.max_score, (pid, r.feedback)
        assert r.matched.startswith("follow-through") and "follow-through" in r.feedback and used in r.feedback
    assert report.score == pytest.approx(0.5 * 3 + 1 + 4)


def test_loss_follows_through_from_the_logit(grade):
    z = 4  # b(2) forgotten
    _, parts = grade({"q3a.conv": "3 0 -1 1 -2", "q3a.h": "3 0 0 1 0", "q3a.z": str(z), "q3a.y": "0.9",
                      "q3a.loss": f"{math.log(1 + math.exp(z)):.4f}"})
    assert parts["q3a.z"].status is Status.incorrect and parts["q3a.y"].status is Status.incorrect
    assert parts["q3a.loss"].matched == "follow-through: q3a.z" and parts["q3a.loss"].score == 1


def test_no_follow_through_for_an_inconsistent_answer(grade):
    _, parts = grade({"q3a.conv": "3 1 -1 1 -2", "q3a.h": "3 0 0 1 0", "q3a.z": "7"})
    assert parts["q3a.h"].matched == "reference"
    assert parts["q3a.z"].status is Status.incorrect and parts["q3a.z"].matched is None


# -- the demo class ----------------------------------------------------------------------------------------
def demo(student):
    return tomllib.loads((DEMO / student / "answers.toml").read_text())


def test_demo_class_grades_without_errors(grade, hw):
    students = sorted(p.name for p in DEMO.iterdir() if (p / "answers.toml").exists())
    assert len(students) >= 8
    results = {}
    for s in students:
        data = demo(s)
        assert data["assignment"] == "csc321-hw4"
        report, parts = grade(data["answers"], s)
        assert not any(p.status is Status.error for p in report.parts), s
        results[s] = (report, parts)
    full = hw.total - MANUAL_MARKS
    assert results["s1001"][0].score == pytest.approx(full)  # canonical forms
    assert results["s1002"][0].score == pytest.approx(full)  # other forms, bias counted as connection
    assert results["s1003"][0].score == pytest.approx(full)  # torchvision reading
    statuses = {s: {p.status for p in r.parts} for s, (r, _) in results.items()}
    assert Status.invalid in statuses["s1007"] and Status.missing in statuses["s1008"]
    assert any("q3e" in w for w in results["s1009"][0].warnings)
    matched = {s: {p.matched or "" for p in r.parts} for s, (r, _) in results.items()}
    assert any(m.startswith("follow-through") for m in matched["s1006"])
    assert any(m.startswith("alternative: paper-ungrouped") for m in matched["s1004"])
    assert results["s1004"][1]["q3d.params"].score == 1
