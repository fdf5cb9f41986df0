"""`grader key check`: is a committed key current, and does every part grade its own answer?

Two questions, as a careful instructor would ask them before publishing:
1. Staleness: the key's problem-source hash matches the source, and the stored values equal
   a fresh computation (so a hand-edited reference is caught).
2. Self-test: the reference written in each accepted syntax earns full marks; each named
   mistake does not; model answers of formula parts earn full marks; formula parts have
   enough valid (finite) sample points.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from grader.errors import InvalidAnswer
from grader.keys import AnswerKey, build_key
from grader.kinds import LocationTarget
from grader.kinds.base import Kind
from grader.sampling import Sample
from grader.models import Status
from grader.problemset import ProblemSet
from grader.renderings import renderings
from grader.scoring import AssignmentGrader, GradingContext

MIN_SAMPLE_POINTS = 3


class Finding(BaseModel):
    part: str | None
    problem: str


class KeyCheckReport(BaseModel):
    assignment: str
    stale: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    forms_checked: int = 0
    mistakes_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.stale and not self.findings


def _rounded(data: Any) -> Any:
    """JSON data with floats rounded to 12 significant digits (platform noise is not drift)."""
    if isinstance(data, float):
        return float(f"{data:.12g}") if math.isfinite(data) else repr(data)
    if isinstance(data, list):
        return [_rounded(x) for x in data]
    if isinstance(data, dict):
        return {k: _rounded(v) for k, v in data.items()}
    return data


def staleness(ps: ProblemSet, stored: AnswerKey, fresh: AnswerKey) -> list[str]:
    problems = []
    if stored.source_hash != fresh.source_hash:
        problems.append("the problem source changed since the key was built (hash mismatch)")
    if stored.torch_version != fresh.torch_version:
        problems.append(f"built with torch {stored.torch_version}, this machine has {fresh.torch_version}")
    fresh_parts = {p.id: p for p in fresh.parts}
    for part in stored.parts:
        other = fresh_parts.pop(part.id, None)
        if other is None:
            problems.append(f"part {part.id} is in the key but not in the problem set")
        elif _rounded(part.model_dump(mode="json")) != _rounded(other.model_dump(mode="json")):
            problems.append(f"part {part.id}: stored values differ from a fresh computation")
    for missing in fresh_parts:
        problems.append(f"part {missing} is in the problem set but not in the key")
    return problems


def same_target(kind: Kind, a: Any, b: Any) -> bool:
    """Whether two targets (e.g. a named mistake and the reference) cannot be told apart."""
    if isinstance(a, Sample):
        return a.value.shape == b.value.shape and bool(np.allclose(a.value, b.value, rtol=1e-9, atol=1e-12))
    if isinstance(a, LocationTarget):
        return bool(np.array_equal(a.mask, b.mask))
    return kind.compare(a, b).full


def self_test(ps: ProblemSet, key: AnswerKey) -> tuple[list[Finding], int, int]:
    grader = AssignmentGrader(ps, key)
    findings: list[Finding] = []
    forms = mistakes = 0
    for pg in grader.graders:
        part, kind = pg.part, pg.kind
        if kind.manual:
            continue
        candidates = list(part.solutions) if kind.sampled else renderings(kind, pg.reference)
        if kind.sampled:
            sample = pg.reference
            finite = int(np.isfinite(np.asarray(sample.value)).reshape(sample.n_points, -1).all(axis=1).sum())
            if finite < MIN_SAMPLE_POINTS:
                findings.append(Finding(part=part.id, problem=f"only {finite} valid sample points"))
        if not candidates:
            findings.append(Finding(part=part.id, problem="no model answer to self-test (add solutions=...)"))
        for form in candidates:
            forms += 1
            result = pg.grade(form, GradingContext())
            if result.status is not Status.correct:
                findings.append(Finding(part=part.id, problem=f"the model answer {form!r} is graded {result.status.value}: {result.feedback}"))
        for variant, target in pg.mistakes:
            mistakes += 1
            if same_target(kind, target, pg.reference):
                findings.append(Finding(part=part.id, problem=f"the named mistake '{variant.name}' equals the reference"))
    return findings, forms, mistakes


def check_key(ps: ProblemSet, stored: AnswerKey | None) -> KeyCheckReport:
    fresh = build_key(ps)
    report = KeyCheckReport(assignment=ps.id)
    if stored is None:
        report.stale.append("no committed key: run `grader key build`")
        stored = fresh
    else:
        report.stale = staleness(ps, stored, fresh)
    try:
        report.findings, report.forms_checked, report.mistakes_checked = self_test(ps, stored)
    except InvalidAnswer as exc:  # a model answer the instructor wrote cannot be read
        report.findings.append(Finding(part=None, problem=exc.feedback()))
    return report
