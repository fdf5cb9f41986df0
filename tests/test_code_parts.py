"""Code parts end to end: a function, an nn.Module with autograd, a hand-written backward.

References and mistakes are the seed's (nyu-dl-hw2 section 2, in _code_fixtures). Each named
mistake, written as student code, must be recognised by name; the expectations are the
mistakes' own definitions, not outputs copied from the grader.
"""

from __future__ import annotations

import textwrap

import pytest
from _code_fixtures import (  # noqa: F401 - code_sandbox is a fixture
    code_sandbox,
    CONV,
    CONV_BACKWARD,
    CONV_BACKWARD_NO_STRIDE,
    CONV_BACKWARD_RIGHT,
    CONV_BACKWARD_WRONG_SIGN,
    CONV_FLIPPED,
    CONV_NO_STRIDE,
    CONV_RIGHT,
    RNN,
    RNN_DETACHED,
    RNN_NO_TERM,
    RNN_RIGHT,
    RNN_SWAPPED,
)

from grader.code.check import separation
from grader.code.grade import grade_code
from grader.code.harness import Source
from grader.code.spec import CodeSpec, Variant, expect
from grader.sandbox import Limits


@pytest.fixture(scope="module")
def sandbox(code_sandbox):
    return code_sandbox


@pytest.fixture(scope="module")
def expectations():
    return {id(s): expect(s) for s in (CONV, CONV_BACKWARD, RNN)}


def _grade(sandbox, expectations, spec, code):
    return grade_code(sandbox, spec, expectations[id(spec)], [Source(name="hw2.py", code=textwrap.dedent(code))], Limits(seconds=10))


@pytest.mark.parametrize("spec", [CONV, CONV_BACKWARD, RNN], ids=["conv", "conv-backward", "rnn"])
def test_every_pair_of_variants_is_separated_on_every_probe(spec, expectations):
    assert separation(spec, expectations[id(spec)]) == []


def test_separation_reports_a_variant_equal_to_the_reference():
    twin = CodeSpec(entry="f", reference=lambda x: 2 * x, inputs={"x": (3,)}, variants=(Variant("same", forward=lambda x: x + x),))
    assert any("'reference' and 'same'" in p for p in separation(twin, expect(twin)))


def test_probes_are_seeded_and_rounded_to_their_dtype():
    first, again = expect(CONV), expect(CONV)
    assert all((a.inputs["x"] == b.inputs["x"]).all() for a, b in zip(first, again))
    float32 = next(p for p in first if p.dtype == "float32")
    assert (float32.inputs["x"].astype("float32").astype("float64") == float32.inputs["x"]).all()


@pytest.mark.parametrize(
    ("code", "mistake", "failed"),
    [
        (CONV_RIGHT, None, None),
        (CONV_FLIPPED, "kernel flipped", "values"),
        (CONV_NO_STRIDE, "stride ignored", "shape"),
        ("import torch\ndef conv1d(x, W):\n    return torch.nn.functional.conv1d(x.sum(1, keepdim=True), W.sum(1, keepdim=True), stride=2)\n", "channels summed before the kernel", "values"),
        ("import torch\ndef conv1d(x, W):\n    return torch.nn.functional.conv1d(x, W, stride=2) * 1.5\n", None, "values"),
        ("import torch\ndef conv1d(x, W):\n    return torch.nn.functional.conv1d(x.double(), W.double(), stride=2)\n", None, "dtype"),
        ("def conv1d(x):\n    return x\n", None, "signature"),
        ("def convolve(x, W):\n    return x\n", None, "code"),
        ("def conv1d(x, W)\n    return x\n", None, "code"),
    ],
    ids=["right", "flipped", "no-stride", "channels-summed", "scaled", "float64-output", "arity", "missing-name", "syntax-error"],
)
def test_conv_forward(sandbox, expectations, code, mistake, failed):
    verdict = _grade(sandbox, expectations, CONV, code)
    assert verdict.mistake == mistake, verdict.feedback
    assert verdict.status == ("correct" if failed is None else "incorrect"), verdict.feedback
    if failed:
        assert [c.name for c in verdict.checks if not c.passed][0] == failed, verdict.checks
    else:
        assert [c.name for c in verdict.checks] == ["signature", "shape", "dtype", "values", "gradients"]


def test_conv_feedback_names_the_mistake_and_hides_the_reference(sandbox, expectations):
    verdict = _grade(sandbox, expectations, CONV, CONV_FLIPPED)
    assert "kernel flipped" in verdict.feedback and "does not flip the kernel" in verdict.feedback
    reference = expectations[id(CONV)][0].reference[0]
    assert f"{reference.flat[0]:.3f}" not in verdict.feedback and "(1, 1, 2)" not in verdict.feedback


def test_wrong_shape_feedback_shows_only_the_students_shape(sandbox, expectations):
    verdict = _grade(sandbox, expectations, CONV, CONV_NO_STRIDE)
    assert "(1, 1, 3)" in verdict.feedback and "(1, 1, 2)" not in verdict.feedback


@pytest.mark.parametrize(
    ("code", "status", "mistake", "gradcheck"),
    [
        (CONV_BACKWARD_RIGHT, "correct", None, True),
        (CONV_BACKWARD_NO_STRIDE, "incorrect", "backward of a stride-1 convolution", False),
        (CONV_BACKWARD_WRONG_SIGN, "incorrect", None, False),
    ],
    ids=["right", "no-stride", "wrong-sign"],
)
def test_conv_backward_and_gradcheck(sandbox, expectations, code, status, mistake, gradcheck):
    verdict = _grade(sandbox, expectations, CONV_BACKWARD, code)
    assert verdict.status == status, verdict.feedback
    assert verdict.mistake == mistake
    checks = {c.name: c.passed for c in verdict.checks}
    assert checks["values"] is True
    assert checks.get("gradcheck") is gradcheck


def test_gradcheck_holds_a_backward_to_the_students_own_forward(sandbox, expectations):
    # forward flipped and backward the flipped forward's: wrong against the reference, yet
    # consistent with itself, which gradcheck confirms
    code = CONV_BACKWARD_RIGHT.replace("* W)", "* W.flip(-1))").replace("* W[None]).sum(1)", "* W.flip(-1)[None]).sum(1)").replace(
        "return grad_x, grad_W", "return grad_x, grad_W.flip(-1)"
    )
    verdict = _grade(sandbox, expectations, CONV_BACKWARD, code)
    checks = {c.name: c.passed for c in verdict.checks}
    assert checks["values"] is False
    assert checks["gradients"] is False and checks["gradcheck"] is True


@pytest.mark.parametrize(
    ("code", "mistake", "failed"),
    [(RNN_RIGHT, None, None), (RNN_SWAPPED, "gates swapped", "values"), (RNN_NO_TERM, "recurrent term missing", "values"), (RNN_DETACHED, None, "gradients")],
    ids=["right", "gates-swapped", "term-missing", "detached"],
)
def test_rnn_module(sandbox, expectations, code, mistake, failed):
    verdict = _grade(sandbox, expectations, RNN, code)
    assert verdict.mistake == mistake, verdict.feedback
    assert verdict.status == ("correct" if failed is None else "incorrect"), verdict.feedback
    if failed:
        assert [c.name for c in verdict.checks if not c.passed][0] == failed
    else:
        assert "gradients" in [c.name for c in verdict.checks if c.passed]


def test_rnn_parameter_names_are_required(sandbox, expectations):
    verdict = _grade(sandbox, expectations, RNN, RNN_RIGHT.replace("self.W_x", "self.U"))
    assert verdict.status == "incorrect"
    assert "no parameter 'W_x'" in verdict.feedback


def test_a_part_without_code_is_missing(sandbox, expectations):
    verdict = grade_code(sandbox, CONV, expectations[id(CONV)], [])
    assert verdict.status == "missing" and "# grader:" in verdict.feedback
