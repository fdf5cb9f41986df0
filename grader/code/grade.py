"""Grading one code part: tests run in the sandbox, verdicts reached here.

Checks, in order, each only once the previous holds: the signature exists; then on every probe
the output's shape, its dtype, its values; then gradients (autograd through the student's code,
or the student's hand-written backward), then gradcheck of that backward against the student's
own forward. Each test runs in its own sandboxed child; a test that runs out of time ends the
part there, and the verdict reports what the tests before it established (partial results).
Feedback never shows a reference value or shape: only what the student's code did.
"""

from __future__ import annotations

import signal
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from grader.code.check import all_close, matching_variant, relative_error, shapes
from grader.sandbox.harness import GRADCHECK_CAP, ErrorInfo, Facts, Source
from grader.code.spec import CodeSpec, CurveSpec, KnownCurve, Probe
from grader.sandbox import Ending, Limits, Sandbox

CheckName = Literal["code", "signature", "shape", "dtype", "values", "gradients", "gradcheck", "curve"]
# gradcheck's own default tolerances
GRADCHECK_TOL = (1e-3, 1e-5)

_ENDINGS = {
    Ending.timeout: "ran longer than its {seconds:g} s limit and was stopped",
    Ending.cpu: "used more than its CPU time and was stopped",
    Ending.memory: "ran out of memory (limit {memory} MB)",
    Ending.crashed: "stopped without an answer ({detail})",
    Ending.output_too_large: "tried to send back more than {output} MB",
}


class Check(BaseModel):
    name: CheckName
    passed: bool
    message: str = ""


class TestRecord(BaseModel):
    test: str
    ending: Ending
    seconds: float = 0.0
    max_rss_kb: int = 0


class CodeVerdict(BaseModel):
    status: Literal["correct", "incorrect", "invalid", "missing", "error"]
    checks: list[Check] = Field(default_factory=list)
    mistake: str | None = Field(None, description="The named mistake the code's results match.")
    feedback: str = ""
    tests: list[TestRecord] = Field(default_factory=list)
    console: str = Field("", description="What the student's code printed (the tail).")


class _Stop(Exception):
    """A test ended the part (out of time, memory, or a crash of the sandbox)."""


class _Run:
    """One part's tests against one sandbox, recorded as they go."""

    def __init__(self, sandbox: Sandbox, entry: str, sources: list[Source], limits: Limits) -> None:
        self.sandbox, self.entry, self.limits = sandbox, entry, limits
        self.sources = [s.model_dump() for s in sources]
        self.records: list[TestRecord] = []
        self.console = ""
        self.stopped: Check | None = None

    def test(self, label: str, check: CheckName, test: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[Facts, dict[str, np.ndarray]]:
        """Run one test; its facts (validated) and arrays. Raises _Stop when it ended the part."""
        outcome = self.sandbox.run({"entry": self.entry, **test}, self.sources, arrays, self.limits)
        self.records.append(TestRecord(test=label, ending=outcome.ending, seconds=round(outcome.elapsed, 4), max_rss_kb=outcome.max_rss_kb))
        if outcome.console:
            self.console = outcome.console
        if outcome.ending is Ending.sandbox_error:
            self.stopped = Check(name=check, passed=False, message=f"the grader could not run this test ({outcome.note or 'sandbox failure'})")
            raise _Stop
        if outcome.ending is not Ending.finished:
            detail = _death(outcome.exit) if outcome.ending is Ending.crashed else ""
            text = _ENDINGS.get(outcome.ending, outcome.ending.value).format(
                seconds=self.limits.seconds, memory=self.limits.memory_mb, output=self.limits.output_mb, detail=outcome.note or detail or "no answer"
            )
            self.stopped = Check(name=check, passed=False, message=f"{label}: your code {text}")
            raise _Stop
        try:
            return Facts.model_validate(outcome.facts), outcome.arrays
        except ValidationError:
            self.stopped = Check(name=check, passed=False, message=f"{label}: your code sent back an answer the grader cannot read")
            raise _Stop from None


def _death(exit: int) -> str:
    if exit < 0:
        try:
            return f"killed by signal {signal.Signals(-exit).name}"
        except ValueError:
            return f"killed by signal {-exit}"
    return f"the process exited with status {exit}"


def _error_text(error: ErrorInfo) -> str:
    where = ""
    if error.frames:
        last = error.frames[-1]
        where = f" at {last.file}, line {last.line}: {last.text.strip()}"
    return f"{error.type}: {error.message}{where}"


def _inputs(spec: CodeSpec, probe: Probe, grad: bool = False) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    items = [{"array": f"in:{k}", "dtype": probe.dtype, "requires_grad": grad and k in spec.grad_inputs} for k in spec.inputs]
    arrays = {f"in:{k}": v for k, v in probe.inputs.items()}
    arrays.update({f"param:{k}": v for k, v in probe.params.items()})
    return items, arrays


def _module(spec: CodeSpec, probe: Probe) -> dict[str, Any] | None:
    if spec.kind != "module":
        return None
    return {"init": list(spec.init), "params": {k: f"param:{k}" for k in spec.params}, "dtype": probe.dtype}


def _signature_check(spec: CodeSpec, facts: Facts) -> Check:
    sig = facts.signature
    kind = sig.type if sig else "nothing"
    if spec.kind == "module" and kind != "module":
        return Check(name="signature", passed=False, message=f"{spec.entry} should be a class deriving from torch.nn.Module; it is a {kind}")
    if spec.kind == "function" and kind != "function":
        return Check(name="signature", passed=False, message=f"{spec.entry} should be a function; it is a {kind}")
    assert sig is not None
    params = sig.forward if spec.kind == "module" else sig.params
    positional = [p for p in params if p.kind in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")]
    variadic = any(p.kind == "VAR_POSITIONAL" for p in params)
    required = [p for p in positional if not p.default]
    want = len(spec.inputs)
    if not variadic and (len(required) > want or len(positional) < want):
        names = ", ".join(spec.signature or tuple(spec.inputs))
        return Check(name="signature", passed=False, message=f"{spec.entry} takes {len(required)} required arguments; it should take ({names})")
    return Check(name="signature", passed=True)


def grade_code(sandbox: Sandbox, spec: CodeSpec, probes: list[Probe], sources: list[Source], limits: Limits | None = None) -> CodeVerdict:
    """Run the part's tests on the student's code and judge them against `probes` (from spec.expect)."""
    if not sources:
        return CodeVerdict(status="missing", feedback=f"no code for this part was found (tag the cell with `# grader: <part id>`, defining {spec.entry})")
    run = _Run(sandbox, spec.entry, sources, limits or Limits())
    checks: list[Check] = []
    mistake: str | None = None
    try:
        facts, _ = run.test("loading your code", "code", {"kind": "signature"}, {})
        if facts.error:
            checks.append(Check(name="code", passed=False, message=_error_text(facts.error)))
            raise _Stop
        checks.append(_signature_check(spec, facts))
        if not checks[-1].passed:
            raise _Stop
        mistake = _forward_checks(run, spec, probes, checks)
        # a hand-written backward is judged on its own even when the forward is wrong;
        # autograd's gradients follow from the forward, so they are checked only after it holds
        if spec.backward or all(c.passed for c in checks):
            mistake = _gradient_checks(run, spec, probes, checks) or mistake
    except _Stop:
        pass
    if run.stopped is not None:
        checks.append(run.stopped)
    # a part that asks for a hand-written backward is judged on it: the forward's own checks
    # are reported (the backward's gradcheck is held to that forward) but cost nothing here
    ignored = {"shape", "dtype", "values"} if spec.backward else set()
    if ignored and any(c.name in ignored and not c.passed for c in checks):
        ignored.add("gradcheck")  # a right backward cannot match finite differences of a wrong forward
    return _verdict(spec.entry, checks, mistake, run, {v.name: v.feedback for v in spec.variants}, ignored)


def _forward_checks(run: _Run, spec: CodeSpec, probes: list[Probe], checks: list[Check]) -> str | None:
    answers: dict[int, list[np.ndarray]] = {}
    wrong_shape = wrong_dtype = wrong_values = 0
    worst = 0.0
    for probe in probes:
        items, arrays = _inputs(spec, probe)
        facts, got = run.test(f"probe {probe.index + 1} ({probe.dtype})", "values", {"kind": "call", "inputs": items, "module": _module(spec, probe)}, arrays)
        if facts.error:
            checks.append(Check(name="values", passed=False, message=f"on probe {probe.index + 1} ({probe.dtype}) your code raised {_error_text(facts.error)}"))
            raise _Stop
        outs = [got.get(f"out{i}") for i in range(len(facts.dtypes))]
        outs_ok = [o for o in outs if o is not None]
        answers[probe.index] = outs_ok
        if shapes(outs_ok) != shapes(probe.reference):
            wrong_shape += 1
            continue
        dtypes = facts.dtypes
        if any(d not in (f"torch.{probe.dtype}", f"numpy.{probe.dtype}") for d in dtypes):
            wrong_dtype += 1
            dtype_seen = ", ".join(sorted(set(dtypes)))
            continue
        if not all_close(outs_ok, probe.reference, spec.tolerances[probe.dtype]):
            wrong_values += 1
            worst = max(worst, relative_error(outs_ok, probe.reference))
    n = len(probes)
    mistake = matching_variant(answers, probes, spec) if (wrong_shape or wrong_values) else None
    named = f" This matches a known mistake: {mistake}." if mistake else ""
    if wrong_shape:
        got = ", ".join(str(s) for s in shapes(next(iter(answers.values()))))
        checks.append(Check(name="shape", passed=False, message=f"the output has the wrong shape on {wrong_shape} of {n} probes (yours: {got}).{named}"))
        return mistake
    checks.append(Check(name="shape", passed=True))
    if wrong_dtype:
        checks.append(Check(name="dtype", passed=False, message=f"the output's dtype ({dtype_seen}) differs from the input's on {wrong_dtype} of {n} probes: keep the input's dtype"))
        return None
    checks.append(Check(name="dtype", passed=True))
    if wrong_values:
        checks.append(Check(name="values", passed=False, message=f"the values differ from the expected ones on {wrong_values} of {n} probes (largest relative error {worst:.2g}).{named}"))
        return mistake
    checks.append(Check(name="values", passed=True))
    return None


def _gradient_checks(run: _Run, spec: CodeSpec, probes: list[Probe], checks: list[Check]) -> str | None:
    if not spec.grad_inputs and not (spec.kind == "module" and spec.params):
        return None
    answers: dict[int, list[np.ndarray]] = {}
    wrong = 0
    worst = 0.0
    for probe in probes:
        items, arrays = _inputs(spec, probe, grad=True)
        arrays.update({f"cot{i}": c for i, c in enumerate(probe.cotangents)})
        cot_names = [f"cot{i}" for i in range(len(probe.cotangents))]
        if spec.backward:
            test = {"kind": "vjp", "inputs": items, "cotangents": cot_names, "backward": spec.backward}
        else:
            test = {"kind": "grad", "inputs": items, "cotangents": cot_names, "module": _module(spec, probe)}
        facts, arrays_back = run.test(f"gradients, probe {probe.index + 1} ({probe.dtype})", "gradients", test, arrays)
        if facts.error:
            checks.append(Check(name="gradients", passed=False, message=f"computing gradients on probe {probe.index + 1} raised {_error_text(facts.error)}"))
            raise _Stop
        expected_names = sorted(probe.reference_grads)
        if spec.backward:
            got = {f"input{i}": arrays_back.get(f"grad{i}") for i in range(len(spec.inputs))}
        else:
            got = {k: arrays_back.get(k) for k in expected_names}
        mine = [got.get(k) for k in expected_names]
        if any(m is None for m in mine):
            missing = [k.replace("param:", "").replace("input", "input ") for k, m in zip(expected_names, mine) if m is None]
            checks.append(Check(name="gradients", passed=False, message=f"no gradient reaches {', '.join(missing)} (detached, or computed outside autograd)"))
            raise _Stop
        answers[probe.index] = [m for m in mine if m is not None]
        expected = [probe.reference_grads[k] for k in expected_names]
        if not all_close(answers[probe.index], expected, spec.tolerances[probe.dtype]):
            wrong += 1
            worst = max(worst, relative_error(answers[probe.index], expected))
    mistake = None
    if wrong:
        mistake = matching_variant(answers, probes, spec, grads=True)
        named = f" This matches a known mistake: {mistake}." if mistake else ""
        checks.append(Check(name="gradients", passed=False, message=f"the gradients differ from the expected ones on {wrong} of {len(probes)} probes (largest relative error {worst:.2g}).{named}"))
    else:
        checks.append(Check(name="gradients", passed=True))
    if spec.backward and spec.gradcheck:  # whatever the forward did: is the backward its own?
        _gradcheck(run, spec, probes, checks)
    return mistake


def _gradcheck(run: _Run, spec: CodeSpec, probes: list[Probe], checks: list[Check]) -> None:
    probe = next((p for p in probes if p.dtype == "float64"), probes[0])
    if sum(v.size for v in probe.inputs.values()) > GRADCHECK_CAP:
        return
    items, arrays = _inputs(spec, probe, grad=True)
    facts, jacobians = run.test("gradcheck", "gradcheck", {"kind": "gradcheck", "inputs": items, "backward": spec.backward}, arrays)
    if facts.error:
        checks.append(Check(name="gradcheck", passed=False, message=f"gradcheck raised {_error_text(facts.error)}"))
        return
    agree = bool(facts.gradcheck)
    rtol, atol = GRADCHECK_TOL
    for i in range(len(spec.inputs)):
        numerical, analytical = jacobians.get(f"numerical{i}"), jacobians.get(f"analytical{i}")
        if numerical is None or analytical is None or numerical.shape != analytical.shape:
            agree = False
        elif not np.allclose(analytical, numerical, rtol=rtol, atol=atol):
            agree = False
    message = "" if agree else "torch.autograd.gradcheck: your backward does not match finite differences of your forward"
    checks.append(Check(name="gradcheck", passed=agree, message=message))


def _verdict(entry: str, checks: list[Check], mistake: str | None, run: _Run, notes: dict[str, str], ignored: set[str] = frozenset()) -> CodeVerdict:  # type: ignore[assignment]
    failed = [c for c in checks if not c.passed and c.name not in ignored]
    if not any(c.name == "gradients" for c in checks):  # the backward was never reached: the forward's failure stands
        failed = [c for c in checks if not c.passed]
    if run.stopped is not None and run.stopped.message.startswith("the grader could not"):
        status: Literal["correct", "incorrect", "invalid", "missing", "error"] = "error"
    else:
        status = "incorrect" if failed else "correct"
    if status == "correct":
        feedback = f"{entry}: correct on all {len(run.records)} tests"
        if any(not c.passed for c in checks):
            feedback = f"your backward's gradients are correct; your {entry} itself is not (its own part grades it), so gradcheck against it is not counted"
    else:
        passed = [c.name for c in checks if c.passed]
        feedback = failed[0].message + (f" (passed: {', '.join(passed)})" if passed else "")
        if mistake and notes.get(mistake):
            feedback += f" {notes[mistake]}"
    return CodeVerdict(status=status, checks=checks, mistake=mistake, feedback=feedback, tests=run.records, console=run.console)


def curve_checks(spec: CurveSpec, losses: np.ndarray) -> list[Check]:
    """No NaN, no spike, a low enough final loss: each reported, none revealing a target curve."""
    if losses.ndim != 1 or losses.size == 0:
        return [Check(name="curve", passed=False, message="the training produced no loss curve")]
    if not np.all(np.isfinite(losses)):
        first = int(np.argmin(np.isfinite(losses)))
        return [Check(name="curve", passed=False, message=f"the loss became NaN or infinite at step {first + 1}")]
    lowest = np.maximum(np.minimum.accumulate(losses), max(spec.spike_floor, 1e-12))
    ratios = losses[1:] / lowest[:-1]
    checks = []
    if ratios.size and ratios.max() > spec.spike_ratio:
        step = int(np.argmax(ratios > spec.spike_ratio)) + 2
        checks.append(Check(name="curve", passed=False, message=f"the loss spikes: at step {step} it is {ratios.max():.3g} times the lowest loss before it (allowed: {spec.spike_ratio:g})"))
    else:
        checks.append(Check(name="curve", passed=True))
    final = float(losses[-spec.final_window :].mean())
    if final >= spec.final_below:
        checks.append(Check(name="curve", passed=False, message=f"the final loss ({final:.3g}, mean of the last {spec.final_window} steps) is not below {spec.final_below:g}"))
    return checks


def grade_curve(sandbox: Sandbox, spec: CurveSpec, variant_curves: dict[str, KnownCurve], sources: list[Source], limits: Limits | None = None) -> CodeVerdict:
    """Run the student's training step under the fixture in the sandbox; judge the loss curve."""
    if not sources:
        return CodeVerdict(status="missing", feedback=f"no code for this part was found (tag the cell with `# grader: <part id>`, defining {spec.entry})")
    run = _Run(sandbox, spec.entry, sources, limits or Limits())
    checks: list[Check] = []
    mistake = None
    try:
        facts, curve = run.test("training", "curve", {"kind": "fixture", "fixture": spec.fixture, "seed": spec.seed}, {})
        if facts.error:
            checks.append(Check(name="code", passed=False, message=_error_text(facts.error)))
        else:
            losses = curve.get("losses", np.zeros(0)).astype(np.float64).reshape(-1)
            mistake = next((n for n, c in variant_curves.items() if c.matches(losses, spec.rtol)), None)
            if mistake:
                checks.append(Check(name="curve", passed=False, message=f"the training matches a known mistake: {mistake}."))
            checks += curve_checks(spec, losses)
    except _Stop:
        pass
    if run.stopped is not None:
        checks.append(run.stopped)
    return _verdict(spec.entry, checks, mistake, run, {v.name: v.feedback for v in spec.variants})
