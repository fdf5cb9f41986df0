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
from grader.sandbox.harness import Source
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
    assert curve.losses.shape == (60,) and curve.losses.max() / curve.losses.min() > SPEC.spike_ratio


# -- curves that are chaotic: matched over the steps any machine reproduces ---------------------
REPO = __import__("pathlib").Path(__file__).resolve().parents[1]

PLAIN_SGD = """
import json, sys, torch
from torch import nn
torch.set_num_threads(1)

def step(model, optimizer, x, y):  # the homework's named mistake "no fix: plain SGD"
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()

scope = {}
exec(sys.stdin.read(), scope)
print(json.dumps([float(v) for v in scope["run"](step, {}, 0)["losses"]]))
"""


def _training_part():
    from grader.code.expectations import decode_curve
    from grader.keys.build import read_key

    key = read_key(REPO / "reference" / "nyu-dl-hw2-code.json")
    data = next(p.reference for p in key.parts if isinstance(p.reference, dict) and p.reference.get("form") == "training")
    return data, *decode_curve(data)


def test_a_chaotic_curve_is_matched_over_the_steps_other_cpu_kernels_reproduce():
    """The exploding-gradient curve of nyu-dl-hw2-code 2.3 depends, after its first spikes, on
    the last bits of the CPU's kernels (the committed curve was built on one machine, graded
    on others). Recomputed in a fresh process with PyTorch's plain, unvectorised kernels
    (ATEN_CPU_CAPABILITY=default: other rounding, as on another CPU), it is still that named
    mistake: the key compares the steps it knows every machine reproduces, and those are
    fewer than all of them."""
    import json
    import os
    import subprocess
    import sys

    data, spec, curves = _training_part()
    known = curves["no fix: plain SGD"]
    assert 0 < known.steps < len(known.losses)  # chaotic: not every step is reproducible
    for capability in ("default", None):
        env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"} | ({"ATEN_CPU_CAPABILITY": capability} if capability else {})
        done = subprocess.run([sys.executable, "-c", PLAIN_SGD], input=spec.fixture, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        losses = np.asarray(json.loads(done.stdout))
        assert known.matches(losses, spec.rtol), capability
        assert not curves["zero_grad forgotten"].matches(losses, spec.rtol)


def test_reproducible_steps_end_where_one_ulp_of_noise_makes_the_curve_depart():
    # a smooth, convex problem: noise never grows, every step reproduces
    from grader.code.spec import reproducible_steps

    right = lambda model, optimizer, x, y: (optimizer.zero_grad(), nn.functional.mse_loss(model(x), y).backward(), optimizer.step())  # noqa: E731
    smooth = run_fixture(SPEC, right)
    assert reproducible_steps(SPEC, right, smooth) == len(smooth)
    # a step that is the logistic map at r = 3.9 (chaos: a difference doubles every step or
    # two): its losses depart from their one-ulp noisy copies within a few dozen steps
    def logistic(model, optimizer, x, y):
        with torch.no_grad():
            for p in model.parameters():
                q = p.abs().remainder(1)
                p.copy_(3.9 * q * (1 - q))

    wild = run_fixture(SPEC, logistic)
    assert 0 < reproducible_steps(SPEC, logistic, wild) < len(wild) // 2


def test_a_curve_drifts_only_within_its_reproducible_steps():
    from grader.keys.check import drift

    stored = {"shape": [4], "values": [1.0, 0.5, 0.25, 0.125], "steps": 2, "rtol": 1e-3}
    later = dict(stored, values=[1.0, 0.5, 9.0, 9.0], steps=3)  # apart after step 2: another CPU
    assert drift({"curve": stored}, {"curve": later}) == []
    early = dict(stored, values=[1.0, 0.6, 0.25, 0.125])
    (line,) = drift({"curve": stored}, {"curve": early})
    assert "curve.values[1]" in line and "first 2 steps" in line
    assert drift({"curve": stored}, {"curve": dict(stored, rtol=1e-2)}) != []  # the rule itself changed


def test_a_key_written_before_curves_had_steps_compares_every_step():
    from grader.code.expectations import decode_curve

    data, _, _ = _training_part()
    old = dict(data, curves={n: {"shape": c["shape"], "values": c["values"]} for n, c in data["curves"].items()})
    _, curves = decode_curve(old)
    assert all(c.steps == len(c.losses) for c in curves.values())
