"""What a code part asks for, and what the grader expects of it (computed in the trusted process).

A `CodeSpec` names the function or `nn.Module` the student writes, its signature, seeded probe
inputs, the float64 torch reference, per-dtype tolerances and named mistake variants written
as code. `expect()` evaluates the reference and every variant on the probes, in float64, here
in the grader (or when a key is built), never in a sandbox child: the child gets the probe
inputs only (`probe_inputs`), so no reference value is ever where student code runs.

Probes are `torch.randn` draws from a seeded generator: random and asymmetric, so a flipped or
transposed kernel gives different outputs on every probe (`check.separation` verifies it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np

DTYPES = ("float32", "float64")
# (rtol, atol) per dtype of the probe inputs: float32 arithmetic against a float64 reference
TOLERANCES: dict[str, tuple[float, float]] = {"float32": (1e-4, 1e-5), "float64": (1e-7, 1e-9), "float16": (1e-2, 1e-3)}


@dataclass(frozen=True)
class Variant:
    """A named mistake, written as code with the reference's signature.

    `forward` replaces the reference (its outputs and autograd gradients are the mistake's);
    `backward` replaces the reference gradient function of a part with a hand-written backward.
    """

    name: str
    forward: Callable[..., Any] | None = None
    backward: Callable[..., Any] | None = None
    feedback: str = ""


@dataclass(frozen=True)
class CodeSpec:
    """A function part (`reference(*inputs)`) or a module part (`reference(params, *inputs)`)."""

    entry: str
    reference: Callable[..., Any]
    inputs: dict[str, tuple[int, ...]]
    kind: Literal["function", "module"] = "function"
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)  # module parameters by name
    init: tuple[Any, ...] = ()  # module constructor arguments
    signature: tuple[str, ...] = ()  # expected parameter names (function) or forward's (module)
    grad_inputs: tuple[str, ...] = ()  # inputs whose gradient is compared (autograd)
    backward: str | None = None  # name of the student's hand-written backward(grad_out..., *inputs)
    gradcheck: bool = False  # gradcheck the student's backward against their own forward
    variants: tuple[Variant, ...] = ()
    seed: int = 0
    probes: int = 2  # per dtype
    dtypes: tuple[str, ...] = DTYPES
    tolerances: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(TOLERANCES))

    def __post_init__(self) -> None:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.entry}: variant names repeat")
        for name in self.grad_inputs:
            if name not in self.inputs:
                raise ValueError(f"{self.entry}: gradient of unknown input {name!r}")
        if self.backward and tuple(self.grad_inputs) != tuple(self.inputs):
            raise ValueError(f"{self.entry}: a hand-written backward returns the gradient of every input; list them all in grad_inputs")


@dataclass
class Probe:
    """One probe: inputs (float64 values exactly representable in `dtype`), cotangents, and
    what the reference and each variant give on them (float64)."""

    index: int
    dtype: str
    inputs: dict[str, np.ndarray]
    params: dict[str, np.ndarray]
    cotangents: list[np.ndarray]
    reference: list[np.ndarray]
    reference_grads: dict[str, np.ndarray]
    variants: dict[str, list[np.ndarray]] = field(default_factory=dict)
    variant_grads: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _evaluate(spec: CodeSpec, fn: Callable[..., Any], inputs: dict[str, Any], params: dict[str, Any], cotangents: list[np.ndarray] | None) -> tuple[list[np.ndarray], dict[str, np.ndarray], list[np.ndarray]]:
    """Outputs of `fn` on the probe, the gradients of <outputs, cotangents>, the cotangents used."""
    import torch

    xs = {k: torch.from_numpy(v).requires_grad_(k in spec.grad_inputs) for k, v in inputs.items()}
    ps = {k: torch.from_numpy(v).requires_grad_(True) for k, v in params.items()}
    args = list(xs.values())
    outs = _as_list(fn(ps, *args) if spec.kind == "module" else fn(*args))
    if cotangents is None:
        gen = torch.Generator().manual_seed(spec.seed + 7919)
        cotangents = [torch.randn(o.shape, generator=gen, dtype=torch.float64).numpy() for o in outs]
    wrt = {f"input{i}": t for i, (k, t) in enumerate(xs.items()) if k in spec.grad_inputs}
    wrt.update({f"param:{k}": p for k, p in ps.items()})
    grads: dict[str, np.ndarray] = {}
    if wrt and len(outs) == len(cotangents) and all(o.shape == c.shape for o, c in zip(outs, cotangents)):
        total = sum((o * torch.from_numpy(c)).sum() for o, c in zip(outs, cotangents))
        for name, g in zip(wrt, torch.autograd.grad(total, list(wrt.values()), allow_unused=True)):
            grads[name] = (g if g is not None else torch.zeros_like(wrt[name])).detach().numpy().copy()
    return [o.detach().numpy().copy() for o in outs], grads, cotangents


def expect(spec: CodeSpec) -> list[Probe]:
    """Evaluate reference and variants on every probe (trusted, float64)."""
    import torch

    probes: list[Probe] = []
    gen = torch.Generator().manual_seed(spec.seed)
    index = 0
    for dtype in spec.dtypes:
        for _ in range(spec.probes):
            cast = getattr(torch, dtype)

            def draw(shape: tuple[int, ...]) -> np.ndarray:
                # rounded to the probe's dtype, then held in float64: the reference sees exactly
                # the numbers the student's code will see
                return torch.randn(shape, generator=gen, dtype=torch.float64).to(cast).to(torch.float64).numpy()

            inputs = {k: draw(s) for k, s in spec.inputs.items()}
            params = {k: draw(s) for k, s in spec.params.items()}
            with torch.enable_grad():
                ref, ref_grads, cots = _evaluate(spec, spec.reference, inputs, params, None)
                probe = Probe(index, dtype, inputs, params, cots, ref, ref_grads)
                for variant in spec.variants:
                    if variant.forward is not None:
                        outs, grads, _ = _evaluate(spec, variant.forward, inputs, params, cots)
                        probe.variants[variant.name] = outs
                        probe.variant_grads[variant.name] = grads
                    if variant.backward is not None:
                        xs = [torch.from_numpy(v) for v in inputs.values()]
                        grads_out = _as_list(variant.backward(*[torch.from_numpy(c) for c in cots], *xs))
                        names = [f"input{i}" for i in range(len(spec.inputs))]
                        probe.variant_grads[variant.name] = {n: g.detach().numpy().copy() for n, g in zip(names, grads_out)}
            probes.append(probe)
            index += 1
    return probes


# -- training curves ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CurveVariant:
    """A named training mistake: a training step written as code (e.g. zero_grad forgotten)."""

    name: str
    step: Callable[..., Any]
    feedback: str = ""


@dataclass(frozen=True)
class CurveSpec:
    """A training part: instructor code (`fixture`, source text defining
    `run(entry, arrays, seed) -> {"losses": [...]}`) trains a seeded model on a seeded task,
    calling the student's `entry` once per step and measuring the loss itself. The curve is
    judged: finite, no loss above `spike_ratio` times the lowest loss before it (counted as at
    least `spike_floor`, so the jitter of a loss near zero is no spike), and the mean of the
    last `final_window` losses below `final_below`."""

    entry: str
    fixture: str
    final_below: float
    spike_ratio: float = 1.5
    spike_floor: float = 0.0
    final_window: int = 5
    seed: int = 0
    variants: tuple[CurveVariant, ...] = ()
    rtol: float = 1e-3  # a student's curve within this of a variant's is that mistake


def run_fixture(spec: CurveSpec, step: Callable[..., Any]) -> np.ndarray:
    """The fixture driving a trusted training step (a variant), in the grader's process: the
    fixture is the instructor's own code, never the student's."""
    import builtins

    scope: dict[str, Any] = {"__name__": "__fixture__", "__builtins__": builtins}
    exec(compile(spec.fixture, "<fixture>", "exec", dont_inherit=True), scope)  # noqa: S102 - instructor code
    return np.asarray(scope["run"](step, {}, spec.seed)["losses"], dtype=np.float64)


@dataclass(frozen=True)
class KnownCurve:
    """A loss curve the key knows (a named mistake's) and how many of its leading steps any
    machine reproduces (`reproducible_steps`): a student's curve is that mistake when it has
    the same length and agrees with it, within `rtol`, over those steps."""

    losses: np.ndarray
    steps: int

    def matches(self, losses: np.ndarray, rtol: float) -> bool:
        n = self.steps
        return losses.shape == self.losses.shape and bool(np.allclose(losses[:n], self.losses[:n], rtol=rtol, atol=1e-8))


#: One-ulp noise runs per curve, and the share of `rtol` at which a noisy run has departed.
NOISY_RUNS = 3
DEPARTED = 0.1


def _with_noise(step: Callable[..., Any], seed: int) -> Callable[..., Any]:
    """`step`, then every parameter it trained scaled by 1 ± one ulp of its dtype (a fixed
    random sign per entry): the size of the rounding differences between two CPUs' kernels."""
    import torch

    generator = torch.Generator().manual_seed(seed)

    def noisy(*args: Any, **kwargs: Any) -> Any:
        out = step(*args, **kwargs)
        with torch.no_grad():
            for arg in [*args, *kwargs.values()]:
                tensors = list(arg.parameters()) if isinstance(arg, torch.nn.Module) else [arg] if isinstance(arg, torch.Tensor) and arg.requires_grad else []
                for t in tensors:
                    if t.is_floating_point():
                        sign = torch.randint(0, 2, t.shape, generator=generator).to(t.dtype) * 2 - 1
                        t.mul_(1 + torch.finfo(t.dtype).eps * sign)
        return out

    return noisy


def reproducible_steps(spec: CurveSpec, step: Callable[..., Any], losses: np.ndarray) -> int:
    """How many leading losses of `losses` (the fixture driving `step`) another machine gives
    too. Training can be chaotic: once a gradient explodes, the last-bit rounding differences
    between CPUs' kernels grow until two machines' curves part (seen: a curve built on one
    machine and recomputed on another agreed to 1e-4 for 30 steps and then not at all). So the
    curve is run again a few times with one-ulp noise after every step; the reproducible
    prefix ends at the first step where any noisy run departs by more than a tenth of `rtol`
    (noisy runs part a few steps before two real machines do)."""
    steps = len(losses)
    for seed in range(NOISY_RUNS):
        noisy = run_fixture(spec, _with_noise(step, seed))
        if noisy.shape != losses.shape:
            return 0
        departed = ~np.isclose(noisy, losses, rtol=DEPARTED * spec.rtol, atol=1e-8, equal_nan=True)
        if departed.any():
            steps = min(steps, int(np.argmax(departed)))
    return steps


def expect_curves(spec: CurveSpec) -> dict[str, KnownCurve]:
    """Each named training mistake's loss curve, with its reproducible steps."""
    out = {}
    for v in spec.variants:
        losses = run_fixture(spec, v.step)
        out[v.name] = KnownCurve(losses, reproducible_steps(spec, v.step, losses))
    return out
