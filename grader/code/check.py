"""Judging what a sandboxed test sent back, in the grader's process (numpy only).

Closeness is numpy's `allclose` rule, |student - expected| <= atol + rtol * |expected|, with
the probe dtype's tolerances; a student output with NaN or infinity is never close. A named
mistake is recognised when the student's results match that variant's on every probe the
student's code answered; `separation` checks, for `grader key check`, that the reference and
every variant are told apart on every probe (or a named mistake could never be named).
"""

from __future__ import annotations

from itertools import combinations
from typing import Iterable

import numpy as np

from grader.code.spec import CodeSpec, Probe


def close(student: np.ndarray, expected: np.ndarray, tolerance: tuple[float, float]) -> bool:
    if student.shape != expected.shape:
        return False
    if student.dtype.kind not in "biufc":
        return False
    values = student.astype(np.complex128 if student.dtype.kind == "c" else np.float64)
    if not np.all(np.isfinite(values)):
        return False
    rtol, atol = tolerance
    return bool(np.allclose(values, expected, rtol=rtol, atol=atol))


def all_close(student: list[np.ndarray], expected: list[np.ndarray], tolerance: tuple[float, float]) -> bool:
    return len(student) == len(expected) and all(close(s, e, tolerance) for s, e in zip(student, expected))


def relative_error(student: list[np.ndarray], expected: list[np.ndarray]) -> float:
    """The largest difference relative to the largest expected magnitude (for feedback: no values)."""
    worst = 0.0
    for s, e in zip(student, expected):
        if s.shape != e.shape:
            return float("inf")
        scale = max(float(np.max(np.abs(e))) if e.size else 0.0, 1e-12)
        diff = np.abs(s.astype(np.float64) - e)
        if not np.all(np.isfinite(diff)):
            return float("inf")
        worst = max(worst, float(np.max(diff)) / scale if diff.size else 0.0)
    return worst


def shapes(arrays: Iterable[np.ndarray]) -> list[tuple[int, ...]]:
    return [tuple(a.shape) for a in arrays]


def matching_variant(answers: dict[int, list[np.ndarray]], probes: list[Probe], spec: CodeSpec, grads: bool = False) -> str | None:
    """The named mistake whose results the student's equal on every answered probe, if one does."""
    if not answers:
        return None
    for variant in spec.variants:
        ok = True
        for probe in probes:
            if probe.index not in answers:
                continue
            expected = _variant_results(probe, variant.name, grads)
            if expected is None or not all_close(answers[probe.index], expected, spec.tolerances[probe.dtype]):
                ok = False
                break
        if ok:
            return variant.name
    return None


def _variant_results(probe: Probe, name: str, grads: bool) -> list[np.ndarray] | None:
    if grads:
        found = probe.variant_grads.get(name)
        return [found[k] for k in sorted(found)] if found else None
    return probe.variants.get(name)


def separation(spec: CodeSpec, probes: list[Probe]) -> list[str]:
    """Pairs of (reference, variants) that some probe does not tell apart; empty when all are."""
    problems: list[str] = []
    for probe in probes:
        tol = spec.tolerances[probe.dtype]
        outputs: dict[str, list[np.ndarray]] = {"reference": probe.reference, **probe.variants}
        grads: dict[str, list[np.ndarray]] = {"reference": [probe.reference_grads[k] for k in sorted(probe.reference_grads)]}
        grads.update({n: [g[k] for k in sorted(g)] for n, g in probe.variant_grads.items()})
        for a, b in combinations(sorted(set(outputs) | set(grads)), 2):
            same_out = a not in outputs or b not in outputs or all_close(outputs[a], outputs[b], tol)
            same_grad = a not in grads or b not in grads or all_close(grads[a], grads[b], tol)
            if same_out and same_grad:
                problems.append(f"{spec.entry}: {a!r} and {b!r} agree on probe {probe.index} ({probe.dtype})")
    return problems
