"""What an answer key stores for a code part, and the grading data read back from it.

The key holds everything grading needs, so a code part is graded from the key alone (like
every other part): no problem set is imported and torch is never imported in the grader's
process (the zygote imports its own). For a function or module part: the declaration (entry,
signature, probe shapes, tolerances, which variants are hand-written backwards, limits) and
the probes computed by `spec.expect` in the trusted process: inputs, output gradients, and the
reference's and each named mistake's outputs and gradients. For a training part: the
instructor's fixture, the curve rules, and each named mistake's loss curve with the number of
its leading steps any machine reproduces (`spec.reproducible_steps`).

Arrays are stored as {"shape": [...], "values": [...]} (float64 repr is exact in JSON), so
`grader key check` compares them a tensor at a time and a fresh build is byte-identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.code.spec import CodeSpec, CurveSpec, CurveVariant, KnownCurve, Probe, Variant, expect, expect_curves
from grader.sandbox import Limits


def _array(a: np.ndarray) -> dict[str, Any]:
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "values": [float(v) for v in a.reshape(-1)]}


def _unarray(data: dict[str, Any]) -> np.ndarray:
    return np.asarray(data["values"], dtype=np.float64).reshape(data["shape"])


def _arrays(d: dict[str, np.ndarray]) -> dict[str, Any]:
    return {k: _array(v) for k, v in d.items()}


def _unarrays(d: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: _unarray(v) for k, v in d.items()}


def _not_here(*args: Any) -> Any:
    raise RuntimeError("the reference of a code part runs only when its key is built")


def encode_code(spec: CodeSpec, backward_variants: set[str], after: tuple[str, ...], limits: Limits) -> dict[str, Any]:
    """A function or module part's key data: its declaration and its probes (computes them)."""
    probes = expect(spec)
    return {
        "form": spec.kind,
        "entry": spec.entry,
        "inputs": {k: list(s) for k, s in spec.inputs.items()},
        "params": {k: list(s) for k, s in spec.params.items()},
        "init": list(spec.init),
        "signature": list(spec.signature),
        "grad_inputs": list(spec.grad_inputs),
        "backward": spec.backward,
        "gradcheck": spec.gradcheck,
        "dtypes": list(spec.dtypes),
        "tolerances": {k: list(v) for k, v in spec.tolerances.items() if k in spec.dtypes},
        "variants": [{"name": v.name, "feedback": v.feedback, "backward": v.name in backward_variants} for v in spec.variants],
        "after": list(after),
        "limits": limits.model_dump(),
        "probes": [
            {
                "index": p.index,
                "dtype": p.dtype,
                "inputs": _arrays(p.inputs),
                "params": _arrays(p.params),
                "cotangents": [_array(c) for c in p.cotangents],
                "reference": [_array(r) for r in p.reference],
                "reference_grads": _arrays(p.reference_grads),
                "variants": {n: [_array(o) for o in outs] for n, outs in p.variants.items()},
                "variant_grads": {n: _arrays(g) for n, g in p.variant_grads.items()},
            }
            for p in probes
        ],
    }


def encode_curve(spec: CurveSpec, after: tuple[str, ...], limits: Limits) -> dict[str, Any]:
    """A training part's key data: the fixture, the curve rules and each mistake's loss curve."""
    return {
        "form": "training",
        "entry": spec.entry,
        "fixture": spec.fixture,
        "final_below": spec.final_below,
        "spike_ratio": spec.spike_ratio,
        "spike_floor": spec.spike_floor,
        "final_window": spec.final_window,
        "seed": spec.seed,
        "rtol": spec.rtol,
        "variants": [{"name": v.name, "feedback": v.feedback} for v in spec.variants],
        # a curve with its reproducible steps and the tolerance it is matched with: what
        # `grader key check` needs to tell drift from another machine's rounding
        "curves": {name: {**_array(c.losses), "steps": c.steps, "rtol": spec.rtol} for name, c in expect_curves(spec).items()},
        "after": list(after),
        "limits": limits.model_dump(),
    }


def decode_code(data: dict[str, Any]) -> tuple[CodeSpec, list[Probe]]:
    """The grading data of a function or module part (a spec whose functions are not here)."""
    spec = CodeSpec(
        entry=data["entry"],
        reference=_not_here,
        inputs={k: tuple(s) for k, s in data["inputs"].items()},
        kind=data["form"],
        params={k: tuple(s) for k, s in data["params"].items()},
        init=tuple(data["init"]),
        signature=tuple(data["signature"]),
        grad_inputs=tuple(data["grad_inputs"]),
        backward=data["backward"],
        gradcheck=data["gradcheck"],
        variants=tuple(Variant(v["name"], feedback=v["feedback"]) for v in data["variants"]),
        dtypes=tuple(data["dtypes"]),
        tolerances={k: (float(v[0]), float(v[1])) for k, v in data["tolerances"].items()},
    )
    probes = [
        Probe(
            index=p["index"],
            dtype=p["dtype"],
            inputs=_unarrays(p["inputs"]),
            params=_unarrays(p["params"]),
            cotangents=[_unarray(c) for c in p["cotangents"]],
            reference=[_unarray(r) for r in p["reference"]],
            reference_grads=_unarrays(p["reference_grads"]),
            variants={n: [_unarray(o) for o in outs] for n, outs in p["variants"].items()},
            variant_grads={n: _unarrays(g) for n, g in p["variant_grads"].items()},
        )
        for p in data["probes"]
    ]
    return spec, probes


def decode_curve(data: dict[str, Any]) -> tuple[CurveSpec, dict[str, KnownCurve]]:
    """The grading data of a training part: its rules and the named mistakes' curves."""
    spec = CurveSpec(
        entry=data["entry"],
        fixture=data["fixture"],
        final_below=float(data["final_below"]),
        spike_ratio=float(data["spike_ratio"]),
        spike_floor=float(data["spike_floor"]),
        final_window=int(data["final_window"]),
        seed=int(data["seed"]),
        variants=tuple(CurveVariant(v["name"], _not_here, v["feedback"]) for v in data["variants"]),
        rtol=float(data["rtol"]),
    )
    # (a key written before curves carried their reproducible steps: every step counts)
    return spec, {name: KnownCurve(_unarray(c), int(c.get("steps", np.prod(c["shape"])))) for name, c in data["curves"].items()}


def limits_of(data: dict[str, Any]) -> Limits:
    return Limits.model_validate(data.get("limits") or {})
