"""Training parts: the student's training step runs under instructor code in the sandbox; the
loss curve it produces is judged (no NaN, no spike, a low final loss) and named mistakes found."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch
from _code_fixtures import code_sandbox  # noqa: F401 - a fixture
from torch import nn

from grader.code.grade import curve_checks, grade_curve
from grader.code.harness import Source
from grader.code.spec import CurveSpec, CurveVariant, expect_curves, run_fixture
from grader.sandbox import Limits

FIXTURE = '''
import torch
from torch import nn

def run(step, arrays, seed):
    torch.manual_seed(seed)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(64, 1)
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(60):
        step(model, optimizer, x, y)
        with torch.no_grad():
            losses.append(float(nn.functional.mse_loss(model(x), y)))
    return {"losses": torch.tensor(losses)}
'''


def forgot_zero_grad(model, optimizer, x, y):
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()


SPEC = CurveSpec(
    entry="train_step",
    fixture=FIXTURE,
    final_below=0.05,
    variants=(CurveVariant("zero_grad forgotten", forgot_zero_grad, feedback="Gradients accumulate unless optimizer.zero_grad() runs each step."),),
)

RIGHT = """
import torch
def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
"""


@pytest.fixture(scope="module")
def sandbox(code_sandbox):
    return code_sandbox


@pytest.fixture(scope="module")
def curves():
    return expect_curves(SPEC)


def _grade(sandbox, curves, code):
    return grade_curve(sandbox, SPEC, curves, [Source(name="train.py", code=textwrap.dedent(code))], Limits(seconds=10))


def test_the_fixture_runs_the_same_in_the_grader_and_in_the_sandbox(sandbox, curves):
    def right(model, optimizer, x, y):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()

    outcome = sandbox.run({"kind": "fixture", "entry": "train_step", "fixture": FIXTURE, "seed": 0}, [{"name": "t.py", "code": RIGHT}], {}, Limits(seconds=10))
    assert np.allclose(outcome.arrays["losses"], run_fixture(SPEC, right), rtol=1e-6)


def test_a_right_step_is_correct(sandbox, curves):
    verdict = _grade(sandbox, curves, RIGHT)
    assert verdict.status == "correct", verdict.feedback


def test_clipping_is_an_accepted_fix(sandbox, curves):
    verdict = _grade(sandbox, curves, RIGHT.replace("    optimizer.step()", "    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)\n    optimizer.step()"))
    assert verdict.status == "correct", verdict.feedback


def test_zero_grad_forgotten_is_named(sandbox, curves):
    verdict = _grade(sandbox, curves, RIGHT.replace("    optimizer.zero_grad()\n", ""))
    assert verdict.status == "incorrect"
    assert verdict.mistake == "zero_grad forgotten"
    assert "spikes" in verdict.feedback or "known mistake" in verdict.feedback
    assert "zero_grad() runs each step" in verdict.feedback


def test_nan_and_a_step_that_learns_nothing(sandbox, curves):
    nan = _grade(sandbox, curves, RIGHT.replace("loss.backward()", "(loss * float('nan')).backward()"))
    assert nan.status == "incorrect" and "NaN" in nan.feedback
    idle = _grade(sandbox, curves, "def train_step(model, optimizer, x, y):\n    pass\n")
    assert idle.status == "incorrect" and "final loss" in idle.feedback


def test_a_runaway_training_step_is_stopped(sandbox, curves):
    verdict = grade_curve(sandbox, SPEC, curves, [Source(name="t.py", code="def train_step(*a):\n    while True:\n        pass\n")], Limits(seconds=1))
    assert verdict.status == "incorrect" and "ran longer" in verdict.feedback


@pytest.mark.parametrize(
    ("losses", "passed"),
    [([3.0, 2.0, 1.0, 0.04, 0.01, 0.01, 0.01, 0.01], True), ([3.0, 2.0, 3.5, 0.01, 0.01, 0.01, 0.01, 0.01], False), ([3.0, 2.9, 2.8, 2.7, 2.6, 2.5], False)],
)
def test_curve_rules(losses, passed):
    checks = curve_checks(SPEC, np.array(losses))
    assert all(c.passed for c in checks) is passed


def test_jitter_near_zero_is_no_spike_above_the_floor():
    jitter = np.array([1.4, 0.5, 0.01, 0.001, 0.004, 0.002, 0.003, 0.001])
    assert not all(c.passed for c in curve_checks(SPEC, jitter))  # 4x the lowest loss
    floored = CurveSpec(entry="train_step", fixture=FIXTURE, final_below=0.05, spike_floor=0.05)
    assert all(c.passed for c in curve_checks(floored, jitter))
    assert not all(c.passed for c in curve_checks(floored, np.array([1.4, 0.5, 0.01, 0.2, 0.01, 0.01, 0.01, 0.01])))


def test_the_named_mistake_curve_comes_from_its_definition_and_spikes():
    # the variant curve comes from the variant's own definition, run by the fixture
    torch.manual_seed(0)
    curve = expect_curves(SPEC)["zero_grad forgotten"]
    assert curve.shape == (60,) and curve.max() / curve.min() > SPEC.spike_ratio
